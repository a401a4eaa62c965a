//! Building blocks shared by the models.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
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
        let conv = |from: usize, to: usize, initializer: Initializer| {
            Conv2dConfig::new([from, to], [3, 3])
                .with_padding(PaddingConfig2d::Same)
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
