//! The unrolled plug-and-play ADMM of galaxy PSF deconvolution (Li & Alexander 2023;
//! `pnp-admm-galaxy.md` §3.1–3.2), for any blur.
//!
//! With `y ← max(y, 0)`, the PSF's transfer function `K` on the blur's working grid (zero-padded to
//! about twice the image for a linear convolution: [`Blur`]'s `Zero` boundary), `pad`/`crop` between
//! the image and that grid, and `α` the mean of `y` per sample:
//! - Wiener start: `z₀ = crop F⁻¹[conj(K)·F(pad y) / (|K|² + 1/α)]`, `u₀ = 0`;
//! - for `i = 1..N`, with `ρ_i > 0` predicted per galaxy:
//!   - `x = crop F⁻¹[(conj(K)·F(pad y) + F(pad(ρ_i z − u))) / (ρ_i + |K|²)]`, the minimiser of
//!     `½‖y − k∗x‖² + uᵀ(x − z) + ρ_i/2‖x − z‖²` (exact for a circular blur);
//!   - `z = D(ρ_i x + u)`: the reference's denoiser input, unnormalised (the exact prox would take
//!     `x + u/ρ_i`); one [`ResUnet`] shared by all iterations;
//!   - `u = u + ρ_i(x − z)` (an unscaled dual).
//!
//! `ρ` comes from a [`HyperNet`] looking at the PSF's power spectrum and `α`, or is a learned
//! constant per iteration (the "No SubNet" ablation). Returns `z_1 … z_N`.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, softplus};
use burn::tensor::ops::PadMode;
use serde::{Deserialize, Serialize};
use unroll_physics::{Blur, Complex, Fft2, Physics};

use crate::blocks::lean_relu;
use crate::cpu_conv::conv2d;
use crate::reconstructor::Reconstructor;

/// Side of the zero-padded PSF whose power spectrum the [`HyperNet`] reads (the reference's 128).
pub const HYPER_NET_SIDE: usize = 128;

/// Hyperparameters of [`GalaxyAdmm`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GalaxyAdmmConfig {
    /// Unrolled iterations `N` (the paper: 2, 4 or 8).
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    /// Predict `ρ` per galaxy with the [`HyperNet`]; `false`: one learned `ρ_i` per iteration.
    #[serde(default = "crate::context::on")]
    pub hyper_net: bool,
    /// Channels of the denoiser's four levels.
    #[serde(default = "default_levels")]
    pub levels: [usize; 4],
    /// Residual blocks per level.
    #[serde(default = "default_blocks")]
    pub blocks: usize,
}

fn default_iterations() -> usize {
    8
}
fn default_levels() -> [usize; 4] {
    [32, 64, 128, 256]
}
fn default_blocks() -> usize {
    2
}

impl Default for GalaxyAdmmConfig {
    fn default() -> Self {
        Self { iterations: default_iterations(), hyper_net: true, levels: default_levels(), blocks: default_blocks() }
    }
}

impl GalaxyAdmmConfig {
    /// Checks the hyperparameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        if self.iterations == 0 {
            return Err("iterations must be at least 1".into());
        }
        if self.levels.contains(&0) {
            return Err(format!("levels must be at least 1 each, got {:?}", self.levels));
        }
        Ok(())
    }

    /// A network for `channels`-channel images.
    pub fn init(&self, channels: usize, device: &Device) -> GalaxyAdmm {
        let rho = if self.hyper_net {
            RhoSource::Predicted(HyperNet::new(self.iterations, device))
        } else {
            // softplus(ln(e − 1)) = 1: the reference's vector of ones, kept positive.
            RhoSource::Constant(Param::from_tensor(Tensor::full(
                [self.iterations],
                (std::f64::consts::E - 1.0).ln(),
                device,
            )))
        };
        GalaxyAdmm { denoiser: ResUnet::new(channels, self.levels, self.blocks, device), rho }
    }
}

/// Where `ρ` comes from.
#[derive(Module, Debug)]
pub enum RhoSource {
    /// Predicted per galaxy.
    Predicted(HyperNet),
    /// `softplus(r_i)`, the same for every galaxy.
    Constant(Param<Tensor<1>>),
}

/// The network (see the module docs).
#[derive(Module, Debug)]
pub struct GalaxyAdmm {
    denoiser: ResUnet,
    rho: RhoSource,
}

/// The Fourier-space pieces of one batch: `conj(K)·F(pad y)` and `|K|²` on the working grid.
pub struct Spectra {
    blur: Blur,
    data: Complex<4>,
    power: Tensor<4>,
}

impl Spectra {
    /// The spectra of `y` for `blur`.
    pub fn new(blur: &Blur, y: Tensor<4>) -> Self {
        let data = blur
            .transfer()
            .clone()
            .conj_mul(Fft2::PLAIN_BACKWARD.forward(Complex::from_real(blur.embed_measurement(y))));
        Self { blur: blur.clone(), data, power: blur.transfer().clone().abs_sq() }
    }

    /// `crop F⁻¹[(conj(K)·F(pad y) + F(pad v)) / (ρ + |K|²)]`, `ρ` per sample (`[N]`).
    pub fn x_update(&self, v: Tensor<4>, rho: Tensor<1>) -> Tensor<4> {
        let fft = Fft2::PLAIN_BACKWARD;
        let rho = rho.unsqueeze_dims::<4>(&[1, 2, 3]);
        let numerator = self.data.clone() + fft.forward(Complex::from_real(self.blur.embed_image(v)));
        self.blur.crop_image(fft.inverse(numerator.mul_real((self.power.clone() + rho).recip())).re)
    }

    /// The Wiener start `crop F⁻¹[conj(K)·F(pad y) / (|K|² + 1/α)]`.
    fn wiener(&self, alpha: Tensor<1>) -> Tensor<4> {
        let inverse_alpha = alpha.clamp_min(1e-12).recip().unsqueeze_dims::<4>(&[1, 2, 3]);
        let filtered = self.data.clone().mul_real((self.power.clone() + inverse_alpha).recip());
        self.blur.crop_image(Fft2::PLAIN_BACKWARD.inverse(filtered).re)
    }

    /// `|F(h)|²` of the PSF `h` centred in a zero `HYPER_NET_SIDE²` frame (cropped to it if larger),
    /// `[N|1, 1, side, side]`.
    fn psf_power(&self) -> Tensor<4> {
        let fft = Fft2::PLAIN_BACKWARD;
        let [.., p, q] = self.power.dims();
        // The PSF on the grid has its centre at the origin; rolled to the middle of the grid.
        let psf = fft.inverse(self.blur.transfer().clone()).re.roll(&[(p / 2) as i64, (q / 2) as i64], &[2, 3]);
        let side = HYPER_NET_SIDE;
        let margins = |size: usize| {
            let extra = side.saturating_sub(size);
            (extra / 2, extra - extra / 2)
        };
        let framed = psf.pad([margins(p), margins(q)], PadMode::Constant(0.0));
        let [.., p, q] = framed.dims();
        let framed = framed.narrow(2, (p - side) / 2, side).narrow(3, (q - side) / 2, side);
        fft.forward(Complex::from_real(framed)).abs_sq()
    }
}

impl GalaxyAdmm {
    /// Number of iterations `N`.
    pub fn iterations(&self) -> usize {
        match &self.rho {
            RhoSource::Predicted(net) => net.iterations(),
            RhoSource::Constant(r) => r.dims()[0],
        }
    }

    /// `ρ` `[N, iterations]` for a batch of `n` galaxies.
    fn rho(&self, spectra: &Spectra, alpha: Tensor<1>, n: usize) -> Tensor<2> {
        match &self.rho {
            RhoSource::Predicted(net) => {
                let power = spectra.psf_power();
                let [m, ..] = power.dims();
                let power = if m == n { power } else { power.repeat_dim(0, n) };
                net.forward(power, alpha)
            }
            RhoSource::Constant(r) => softplus(r.val(), 1.0).unsqueeze_dim::<2>(0).repeat_dim(0, n),
        }
    }

    /// The iterates `z_1 … z_N` for the blur `blur` and its measurement `y` `[N, C, H, W]`.
    pub fn iterate(&self, blur: &Blur, y: Tensor<4>) -> Vec<Tensor<4>> {
        let y = y.clamp_min(0.0);
        let [n, ..] = y.dims();
        let alpha = y.clone().reshape([n as i64, -1]).mean_dim(1).reshape([n]);
        let spectra = Spectra::new(blur, y);
        let rho = self.rho(&spectra, alpha.clone(), n);
        let mut z = spectra.wiener(alpha);
        let mut u = z.zeros_like();
        (0..self.iterations())
            .map(|i| {
                let rho_i = rho.clone().narrow(1, i, 1).reshape([n]);
                let per_sample = rho_i.clone().unsqueeze_dims::<4>(&[1, 2, 3]);
                let x = spectra.x_update(z.clone() * per_sample.clone() - u.clone(), rho_i);
                z = self.denoiser.forward(x.clone() * per_sample.clone() + u.clone());
                u = u.clone() + (x - z.clone()) * per_sample;
                z.clone()
            })
            .collect()
    }
}

impl<Op: Physics> Reconstructor<Op> for GalaxyAdmm {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        let view = op.blur().expect("the galaxy ADMM needs a blur (checked when the config is loaded)");
        self.iterate(view.op, (view.measurement.to)(y)).into_iter().map(view.image.from).collect()
    }
}

/// The hyper-parameter network ("SubNet"): four down blocks (2×2 max-pool, then twice 3×3 conv →
/// batch norm → ReLU; channels 1 → 4 → 8 → 16 → 16) on the `128²` PSF power spectrum give 16·8·8
/// features; with `α` appended, an MLP 1025 → 64 → 64 → N with ReLUs, then softplus + 10⁻⁶.
#[derive(Module, Debug)]
pub struct HyperNet {
    pool: MaxPool2d,
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    mlp: Vec<Linear>,
}

impl HyperNet {
    /// A network predicting `iterations` values of `ρ`.
    pub fn new(iterations: usize, device: &Device) -> Self {
        let channels = [1, 4, 8, 16, 16];
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        for pair in channels.windows(2) {
            for (from, to) in [(pair[0], pair[1]), (pair[1], pair[1])] {
                convs.push(
                    Conv2dConfig::new([from, to], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_bias(false)
                        .init(device),
                );
                norms.push(BatchNormConfig::new(to).init(device));
            }
        }
        let side = HYPER_NET_SIDE >> 4;
        let features = 16 * side * side + 1;
        let mlp = [(features, 64), (64, 64), (64, iterations)]
            .into_iter()
            .map(|(from, to)| LinearConfig::new(from, to).init(device))
            .collect();
        Self { pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(), convs, norms, mlp }
    }

    /// Number of `ρ` values per galaxy.
    pub fn iterations(&self) -> usize {
        self.mlp.last().expect("three layers").weight.dims()[1]
    }

    /// `ρ` `[N, iterations]` from the power spectra `[N, 1, 128, 128]` and `α` `[N]`.
    pub fn forward(&self, power: Tensor<4>, alpha: Tensor<1>) -> Tensor<2> {
        let [n, ..] = power.dims();
        let mut h = power;
        for (i, (conv, norm)) in self.convs.iter().zip(&self.norms).enumerate() {
            if i % 2 == 0 {
                h = self.pool.forward(h);
            }
            h = relu(norm.forward(conv2d(conv, h)));
        }
        let mut h = Tensor::cat(vec![h.reshape([n as i64, -1]), alpha.reshape([n, 1])], 1);
        let last = self.mlp.len() - 1;
        for (i, layer) in self.mlp.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = relu(h);
            }
        }
        softplus(h, 1.0) + 1e-6
    }
}

/// DRUNet's residual block `x + conv(relu(conv(x)))` (3×3, no bias).
#[derive(Module, Debug)]
struct ResBlock {
    first: Conv2d,
    second: Conv2d,
}

fn conv3(from: usize, to: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [3, 3]).with_padding(PaddingConfig2d::Same).with_bias(false).init(device)
}

impl ResBlock {
    fn new(channels: usize, device: &Device) -> Self {
        Self { first: conv3(channels, channels, device), second: conv3(channels, channels, device) }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x.clone() + conv2d(&self.second, lean_relu(conv2d(&self.first, x)))
    }
}

/// A down level: residual blocks, then a 2×2 stride-2 convolution to the next level's channels.
#[derive(Module, Debug)]
struct DownLevel {
    blocks: Vec<ResBlock>,
    downsample: Conv2d,
}

/// An up level: a 2×2 stride-2 transposed convolution from the level below, then residual blocks.
#[derive(Module, Debug)]
struct UpLevel {
    upsample: ConvTranspose2d,
    blocks: Vec<ResBlock>,
}

fn blocks(channels: usize, count: usize, device: &Device) -> Vec<ResBlock> {
    (0..count).map(|_| ResBlock::new(channels, device)).collect()
}

fn run(blocks: &[ResBlock], x: Tensor<4>) -> Tensor<4> {
    blocks.iter().fold(x, |h, block| block.forward(h))
}

/// The denoiser: a DRUNet-style residual U-Net without noise-level input or biases (the
/// reference's `ResUNet`): head 3×3 conv; three down levels; a body of residual blocks; three up
/// levels with additive skips; tail 3×3 conv. The input is replication-padded (bottom, right) to a
/// multiple of 8 and the output cropped back.
#[derive(Module, Debug)]
pub struct ResUnet {
    head: Conv2d,
    down: Vec<DownLevel>,
    body: Vec<ResBlock>,
    up: Vec<UpLevel>,
    tail: Conv2d,
}

impl ResUnet {
    /// `channels → channels`, level widths `levels`, `count` residual blocks per level.
    pub fn new(channels: usize, levels: [usize; 4], count: usize, device: &Device) -> Self {
        let down = (0..3)
            .map(|l| DownLevel {
                blocks: blocks(levels[l], count, device),
                downsample: Conv2dConfig::new([levels[l], levels[l + 1]], [2, 2])
                    .with_stride([2, 2])
                    .with_bias(false)
                    .init(device),
            })
            .collect();
        let up = (0..3)
            .rev()
            .map(|l| UpLevel {
                upsample: ConvTranspose2dConfig::new([levels[l + 1], levels[l]], [2, 2])
                    .with_stride([2, 2])
                    .with_bias(false)
                    .init(device),
                blocks: blocks(levels[l], count, device),
            })
            .collect();
        Self {
            head: conv3(channels, levels[0], device),
            down,
            body: blocks(levels[3], count, device),
            up,
            tail: conv3(levels[0], channels, device),
        }
    }

    /// `[N, C, H, W] → [N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [.., rows, cols] = x.dims();
        let (ph, pw) = ((8 - rows % 8) % 8, (8 - cols % 8) % 8);
        let x = if ph + pw > 0 { x.pad([(0, ph), (0, pw)], PadMode::Edge) } else { x };
        let mut skips = vec![conv2d(&self.head, x)];
        for level in &self.down {
            let h = run(&level.blocks, skips.last().expect("the head").clone());
            skips.push(conv2d(&level.downsample, h));
        }
        let mut h = run(&self.body, skips.last().expect("three levels").clone());
        for level in &self.up {
            h = run(&level.blocks, level.upsample.forward(h + skips.pop().expect("a skip per level")));
        }
        let out = conv2d(&self.tail, h + skips.pop().expect("the head's skip"));
        out.narrow(2, 0, rows).narrow(3, 0, cols)
    }
}

#[cfg(test)]
mod tests {
    use unroll_physics::{BlurBoundary, Signal};

    use super::*;
    use crate::test_support::host;

    /// For a circular blur the x-update is the exact minimiser of
    /// `½‖y − k∗x‖² + uᵀ(x − z) + ρ/2‖x − z‖²`: `(AᵀA + ρI)x = Aᵀy + ρz − u`, checked by
    /// conjugate gradients on that system run to convergence (independent of the Fourier formula).
    #[test]
    fn the_x_update_solves_its_quadratic_problem() {
        let device = Device::flex();
        let psf = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32, 0.1, 0.05, 0.2, 0.3, 0.1, 0.05, 0.15, 0.05], [1, 1, 3, 3]),
            &device,
        );
        let blur = Blur::new(psf, [8, 9], BlurBoundary::Circular);
        let shape = [2, 1, 8, 9];
        let (y, z, u) = (
            Tensor::<4>::zeros(shape, &device).randn_like(1),
            Tensor::<4>::zeros(shape, &device).randn_like(2),
            Tensor::<4>::zeros(shape, &device).randn_like(3),
        );
        let rho = Tensor::<1>::from_floats([0.7, 3.0], &device);
        let per_sample = rho.clone().unsqueeze_dims::<4>(&[1, 2, 3]);
        let x = Spectra::new(&blur, y.clone()).x_update(z.clone() * per_sample.clone() - u.clone(), rho.clone());
        // (AᵀA + ρI)x = b is γ-scaled prox form (I + AᵀA/ρ)x = b/ρ: the operator's CG prox with
        // γ = 1/ρ on z' = (ρz − u)/ρ gives the same x.
        let options = unroll_physics::operator::CgOptions { max_iter: 500, rel_tol: 1e-7 };
        let expected = unroll_physics::operator::prox_l2_cg(
            &blur,
            (z * per_sample.clone() - u) / per_sample,
            y,
            rho.recip(),
            options,
        );
        let (x, expected) = (host(x), host(expected));
        let error = x.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(error < 1e-4, "x-update differs from the CG solution by {error}");
    }

    /// The hyper-parameter network gives one positive `ρ` per iteration per galaxy, even for
    /// inputs that drive its pre-activations far negative; the constant variant starts at 1.
    #[test]
    fn rho_is_positive() {
        let device = Device::flex();
        let net = HyperNet::new(4, &device);
        let power = Tensor::<4>::zeros([3, 1, HYPER_NET_SIDE, HYPER_NET_SIDE], &device).randn_like(4) * 1e3;
        let rho = net.forward(power, Tensor::from_floats([-1e3, 0.0, 1e3], &device));
        assert_eq!(rho.dims(), [3, 4]);
        let values = rho.into_data().convert::<f64>().try_to_vec::<f64>().unwrap();
        assert!(values.iter().all(|&r| r > 0.0 && r.is_finite()), "{values:?}");

        let model =
            GalaxyAdmmConfig { iterations: 3, hyper_net: false, levels: [4, 4, 4, 4], blocks: 1 }.init(1, &device);
        let psf = Tensor::<4>::ones([1, 1, 3, 3], &device) / 9.0;
        let blur = Blur::new(psf, [16, 16], BlurBoundary::Zero);
        let y = Tensor::<4>::zeros([2, 1, 16, 16], &device).randn_like(5).abs();
        let rho = model.rho(&Spectra::new(&blur, y.clone()), Tensor::from_floats([0.5, 0.5], &device), 2);
        let values = rho.into_data().convert::<f64>().try_to_vec::<f64>().unwrap();
        assert!(values.iter().all(|&r| (r - 1.0).abs() < 1e-5), "{values:?}");
        assert_eq!(model.iterate(&blur, y).len(), 3);
    }

    /// The denoiser has the parameter count of DRUNet's layout with these widths (no biases):
    /// 4,252,224 for levels 32/64/128/256 and 2 blocks; the hyper-parameter net 79,628 trainable
    /// parameters for 8 iterations, which Burn's `num_params` reports with the 176 running
    /// statistics of its batch norms (PyTorch keeps those as buffers).
    #[test]
    fn parameter_counts() {
        let device = Device::flex();
        assert_eq!(ResUnet::new(1, [32, 64, 128, 256], 2, &device).num_params(), 4_252_224);
        assert_eq!(HyperNet::new(8, &device).num_params(), 79_628 + 176);
        let model = GalaxyAdmmConfig::default().init(1, &device);
        assert_eq!(model.num_params(), 4_252_224 + 79_628 + 176);
        let y = Tensor::<4>::zeros([1, 1, 13, 11], &device);
        assert_eq!(ResUnet::new(1, [4, 4, 4, 4], 1, &device).forward(y).dims(), [1, 1, 13, 11]);
    }
}
