//! Building blocks shared by the models.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

/// A plain CNN `channels → features → … → features → channels` of 3×3 convolutions with ReLU in
/// between (none after the last layer), used as a residual correction `x + cnn(x)`.
#[derive(Module, Debug)]
pub struct ResidualCnn {
    layers: Vec<Conv2d>,
}

impl ResidualCnn {
    /// `layers ≥ 2` convolutions; the last one starts at zero so the block is the identity at
    /// initialisation (a stable start for deep unrolled networks).
    pub fn new(channels: usize, features: usize, layers: usize, device: &Device) -> Self {
        assert!(layers >= 2, "a residual CNN needs at least 2 layers");
        let conv = |from: usize, to: usize| {
            Conv2dConfig::new([from, to], [3, 3]).with_padding(PaddingConfig2d::Same).init(device)
        };
        let mut convs: Vec<Conv2d> = Vec::with_capacity(layers);
        convs.push(conv(channels, features));
        for _ in 0..layers - 2 {
            convs.push(conv(features, features));
        }
        let mut last = conv(features, channels);
        last.weight = last.weight.map(|w| w.zeros_like());
        if let Some(bias) = last.bias {
            last.bias = Some(bias.map(|b| b.zeros_like()));
        }
        convs.push(last);
        Self { layers: convs }
    }

    /// `x + cnn(x)` on `[N, channels, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let last = self.layers.len() - 1;
        let mut h = x.clone();
        for (i, conv) in self.layers.iter().enumerate() {
            h = conv.forward(h);
            if i < last {
                h = relu(h);
            }
        }
        x + h
    }
}
