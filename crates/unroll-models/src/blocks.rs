//! Building blocks shared by the models.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::ops::PadMode;
use unroll_physics::coils::normalise_maps;
use unroll_physics::{Complex, MultiCoilMri};

use crate::cpu_conv::conv2d;
use crate::unet::{Unet, UnetConfig};

/// A plain CNN `channels → features → … → features → channels` of 3×3 convolutions with ReLU in
/// between (none after the last layer), used as a residual correction `x + cnn(x)`: with bias, the
/// architecture of DnCNN (Zhang et al. 2017, without batch norm, as deepinv's `DnCNN`).
#[derive(Module, Debug)]
pub struct ResidualCnn {
    pub(crate) layers: Vec<Conv2d>,
}

impl ResidualCnn {
    /// `layers ≥ 2` convolutions, with or without bias; the last one starts at zero so the block is
    /// the identity at initialisation (a stable start for deep unrolled networks).
    pub fn new(channels: usize, features: usize, layers: usize, bias: bool, device: &Device) -> Self {
        assert!(layers >= 2, "a residual CNN needs at least 2 layers");
        let conv = |from: usize, to: usize, initializer: Initializer| {
            Conv2dConfig::new([from, to], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .with_bias(bias)
                .with_initializer(initializer)
                .init(device)
        };
        let default = Conv2dConfig::new([1, 1], [3, 3]).initializer;
        let mut convs: Vec<Conv2d> = Vec::with_capacity(layers);
        convs.push(conv(channels, features, default.clone()));
        for _ in 0..layers - 2 {
            convs.push(conv(features, features, default.clone()));
        }
        convs.push(conv(features, channels, Initializer::Zeros));
        Self { layers: convs }
    }

    /// `x + cnn(x)` on `[N, channels, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x.clone() + self.correction(x)
    }

    /// The correction `cnn(x)` alone.
    pub fn correction(&self, x: Tensor<4>) -> Tensor<4> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, conv) in self.layers.iter().enumerate() {
            h = conv2d(conv, h);
            if i < last {
                h = lean_relu(h);
            }
        }
        h
    }
}

/// `max(x, 0)`, whose backward pass keeps the 1-byte mask `x > 0` instead of `x` (Burn's `relu`
/// keeps its input: four times the memory, for every activation of an unrolled network).
pub fn lean_relu(x: Tensor<4>) -> Tensor<4> {
    let negative = x.clone().lower_equal_elem(0.0);
    x.mask_fill(negative, 0.0)
}

/// A convolution that keeps the size by replication ("edge") padding of `dilation·(k−1)/2` pixels
/// and no zero padding: the layout of DIRECT's and ATOMMIC's recurrent units.
#[derive(Module, Debug)]
pub struct EdgeConv {
    conv: Conv2d,
    pad: usize,
}

impl EdgeConv {
    /// A `kernel × kernel` convolution (odd `kernel`) `from → to` channels, PyTorch's default
    /// initialisation.
    pub fn new(from: usize, to: usize, kernel: usize, dilation: usize, bias: bool, device: &Device) -> Self {
        let conv = Conv2dConfig::new([from, to], [kernel, kernel])
            .with_dilation([dilation, dilation])
            .with_bias(bias)
            .init(device);
        Self { conv, pad: dilation * (kernel - 1) / 2 }
    }

    /// `[N, from, H, W] → [N, to, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let p = self.pad;
        conv2d(&self.conv, if p > 0 { x.pad([(p, p), (p, p)], PadMode::Edge) } else { x })
    }
}

/// A 1×1 convolution `from → to` with the given weight initialisation and a constant bias. The
/// weights are drawn at once without autodiff: Burn initialises parameters lazily, on the model's
/// device, and an orthogonal draw (a QR decomposition) on an autodiff device would be recorded in
/// the first forward pass's graph (hundreds of MiB for a RecurrentVarNet).
pub fn pointwise(from: usize, to: usize, weight: Initializer, bias: f64, device: &Device) -> Conv2d {
    let inner = device.clone().inner();
    let drawn: Tensor<4> = weight.init_with([to, from, 1, 1], Some(from), Some(to), &inner).val();
    pointwise_with(drawn, Some(Tensor::full([to], bias, &inner)), device)
}

/// A 1×1 convolution with the given weight `[to, from, 1, 1]` and bias `[to]` (or none), both on
/// any device.
pub fn pointwise_with(weight: Tensor<4>, bias: Option<Tensor<1>>, device: &Device) -> Conv2d {
    let [to, from, _, _] = weight.dims();
    let mut conv = Conv2dConfig::new([from, to], [1, 1]).with_bias(bias.is_some()).init(device);
    conv.weight = Param::from_tensor(Tensor::from_data(weight.into_data(), device));
    conv.bias = bias.map(|b| Param::from_tensor(Tensor::from_data(b.into_data(), device)));
    conv
}

/// Learned coil-sensitivity refinement (DIRECT's "SER", `mri.md` §1.6): the ACS estimate `S₀` of
/// the maps, refined coil by coil by a U-Net `U` (2 → 2 channels, 8 filters, 4 pools) trained
/// jointly with the model, then renormalised so that `Σ_c|S_c|² = 1` (0 outside the support).
/// Unlike DIRECT, which replaces `S₀` by `U(S₀)`, the refinement is residual, `S₀ + U(S₀)` with
/// `U`'s last convolution starting at zero, so training starts from the ACS maps rather than from
/// a random network's (the parameters are the same).
#[derive(Module, Debug)]
pub struct CoilRefinement {
    unet: Unet,
}

impl CoilRefinement {
    /// The refinement network of the reference configurations.
    pub fn new(device: &Device) -> Self {
        Self { unet: UnetConfig { chans: 8, pools: 4, dropout: 0.0 }.init(2, 2, device).with_zero_output() }
    }

    /// Refined maps `[N, C, H, W]` from the estimate `maps` `[N|1, C, H, W]`.
    pub fn forward(&self, maps: Complex<4>) -> Complex<4> {
        let [n, c, h, w] = maps.dims();
        let per_coil = maps.clone().map(|p| p.reshape([n * c, 1, h, w])).to_channels();
        let correction = Complex::from_channels(self.unet.forward(per_coil)).map(|p| p.reshape([n, c, h, w]));
        normalise_maps(maps + correction, 1e-12)
    }
}

/// The MRI operator a model works with: `op` itself, or `op` with its coil maps refined by
/// `refinement` (single-coil operators have no maps to refine).
pub fn mri_operator(op: &MultiCoilMri, refinement: Option<&CoilRefinement>) -> MultiCoilMri {
    match (refinement, op.maps()) {
        (Some(refinement), Some(maps)) => op.clone().with_maps(refinement.forward(maps.clone())),
        _ => op.clone(),
    }
}
