//! The fastMRI U-Net and the post-processing baseline built on it.
//!
//! U-Net (Ronneberger et al.; fastMRI's `Unet`): a conv block is 2 × [3×3 conv without bias →
//! instance norm → LeakyReLU(0.2) → dropout]; the down path halves the resolution with 2×2 average
//! pooling and doubles the channels (`c, 2c, 4c, …`), the up path uses 2×2 stride-2 transposed
//! convolutions (without bias, + instance norm + LeakyReLU) and concatenates the skip connection,
//! and a final 1×1 convolution (with bias) maps to the output channels. Inputs of any size are
//! zero-padded to a multiple of `2^pools` and the output cropped back.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, InstanceNorm, InstanceNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use burn::tensor::ops::PadMode;
use serde::{Deserialize, Serialize};
use unroll_physics::{Complex, LinearOperator, Signal};

use crate::cpu_conv::conv2d;
use crate::reconstructor::Reconstructor;

/// Hyperparameters of [`Unet`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnetConfig {
    /// Channels after the first block (fastMRI: 32).
    #[serde(default = "default_chans")]
    pub chans: usize,
    /// Number of down-sampling steps (fastMRI: 4).
    #[serde(default = "default_pools")]
    pub pools: usize,
    /// Dropout probability (fastMRI: 0).
    #[serde(default)]
    pub dropout: f64,
}

fn default_chans() -> usize {
    32
}
fn default_pools() -> usize {
    4
}

impl Default for UnetConfig {
    fn default() -> Self {
        Self { chans: default_chans(), pools: default_pools(), dropout: 0.0 }
    }
}

impl UnetConfig {
    /// Checks the hyperparameters.
    pub fn validate(&self) -> Result<(), String> {
        if self.chans == 0 || self.pools == 0 {
            return Err(format!("chans and pools must be at least 1, got {} and {}", self.chans, self.pools));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        Ok(())
    }

    /// A U-Net mapping `input` to `output` channels.
    pub fn init(&self, input: usize, output: usize, device: &Device) -> Unet {
        let block = |from: usize, to: usize| ConvBlock::new(from, to, self.dropout, device);
        let mut down = vec![block(input, self.chans)];
        let mut ch = self.chans;
        for _ in 1..self.pools {
            down.push(block(ch, 2 * ch));
            ch *= 2;
        }
        let bottleneck = block(ch, 2 * ch);
        let (mut up, mut up_blocks) = (Vec::new(), Vec::new());
        for _ in 0..self.pools {
            up.push(UpBlock::new(2 * ch, ch, device));
            up_blocks.push(block(2 * ch, ch));
            ch /= 2;
        }
        Unet {
            down,
            bottleneck,
            up,
            up_blocks,
            head: Conv2dConfig::new([self.chans, output], [1, 1]).init(device),
            pool: AvgPool2dConfig::new([2, 2]).init(),
        }
    }
}

#[derive(Module, Debug)]
struct ConvBlock {
    conv1: Conv2d,
    norm1: InstanceNorm,
    conv2: Conv2d,
    norm2: InstanceNorm,
    dropout: Dropout,
}

impl ConvBlock {
    fn new(from: usize, to: usize, dropout: f64, device: &Device) -> Self {
        let conv = |a: usize, b: usize| {
            Conv2dConfig::new([a, b], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device)
        };
        let norm = || InstanceNormConfig::new(to).with_affine(false).init(device);
        Self {
            conv1: conv(from, to),
            norm1: norm(),
            conv2: conv(to, to),
            norm2: norm(),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.dropout.forward(leaky_relu(self.norm1.forward(conv2d(&self.conv1, x)), 0.2));
        self.dropout.forward(leaky_relu(self.norm2.forward(conv2d(&self.conv2, x)), 0.2))
    }
}

#[derive(Module, Debug)]
struct UpBlock {
    conv: ConvTranspose2d,
    norm: InstanceNorm,
}

impl UpBlock {
    fn new(from: usize, to: usize, device: &Device) -> Self {
        Self {
            conv: ConvTranspose2dConfig::new([from, to], [2, 2]).with_stride([2, 2]).with_bias(false).init(device),
            norm: InstanceNormConfig::new(to).with_affine(false).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        leaky_relu(self.norm.forward(self.conv.forward(x)), 0.2)
    }
}

/// The U-Net.
#[derive(Module, Debug)]
pub struct Unet {
    down: Vec<ConvBlock>,
    bottleneck: ConvBlock,
    up: Vec<UpBlock>,
    up_blocks: Vec<ConvBlock>,
    head: Conv2d,
    pool: AvgPool2d,
}

impl Unet {
    /// The same U-Net with its final 1×1 convolution set to zero, so that it outputs 0 at first
    /// (for residual use: `x + U(x)` starts as the identity).
    pub fn with_zero_output(mut self) -> Self {
        self.head.weight = Param::from_tensor(self.head.weight.val().zeros_like());
        self.head.bias = self.head.bias.map(|b| Param::from_tensor(b.val().zeros_like()));
        self
    }

    /// `[N, input, H, W]` → `[N, output, H, W]` for any `H, W`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let multiple = 1 << self.down.len();
        let (ph, pw) = (h.div_ceil(multiple) * multiple - h, w.div_ceil(multiple) * multiple - w);
        let mut x = if ph + pw > 0 { x.pad([(0, ph), (0, pw)], PadMode::Constant(0.0)) } else { x };
        let mut skips = Vec::with_capacity(self.down.len());
        for block in &self.down {
            x = block.forward(x);
            skips.push(x.clone());
            x = self.pool.forward(x);
        }
        x = self.bottleneck.forward(x);
        for (up, block) in self.up.iter().zip(&self.up_blocks) {
            let skip = skips.pop().expect("one skip per level");
            x = block.forward(Tensor::cat(vec![up.forward(x), skip], 1));
        }
        conv2d(&self.head, x).narrow(2, 0, h).narrow(3, 0, w)
    }
}

/// fastMRI's `NormUnet` on complex images: a U-Net on `[re, im]` (2 → 2 channels) whose input is
/// normalised per sample and per part (mean and unbiased standard deviation of the real and of the
/// imaginary plane) and whose output is un-normalised with the same statistics, so the network
/// works at unit scale whatever the signal's.
#[derive(Module, Debug)]
pub struct NormUnet {
    unet: Unet,
}

impl NormUnet {
    /// A normalised U-Net with `config`'s channels and pools.
    pub fn new(config: &UnetConfig, device: &Device) -> Self {
        Self { unet: config.init(2, 2, device) }
    }

    /// Complex `[N, 1, H, W]` → complex `[N, 1, H, W]`.
    pub fn forward(&self, x: Complex<4>) -> Complex<4> {
        let x = x.to_channels();
        let [n, c, h, w] = x.dims();
        let flat = x.clone().reshape([n, c, h * w]);
        let mean = flat.clone().mean_dim(2);
        let centred = flat - mean.clone();
        let var = (centred.clone() * centred).sum_dim(2) / ((h * w).max(2) - 1) as f64;
        let (mean, std) = (mean.reshape([n, c, 1, 1]), var.sqrt().reshape([n, c, 1, 1]) + 1e-12);
        let y = self.unet.forward((x - mean.clone()) / std.clone());
        Complex::from_channels(y * std + mean)
    }
}

/// The post-processing baseline: `x̂ = Aᴴy + U(Aᴴy)` with a U-Net `U` on the channel layout.
#[derive(Module, Debug)]
pub struct UnetPostProcessing {
    unet: Unet,
}

impl UnetPostProcessing {
    /// A residual U-Net for signals with `channels` network channels.
    pub fn new(config: &UnetConfig, channels: usize, device: &Device) -> Self {
        Self { unet: config.init(channels, channels, device) }
    }
}

impl<Op: LinearOperator> Reconstructor<Op> for UnetPostProcessing {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        let x0 = op.adjoint(y).to_channels();
        vec![Op::Domain::from_channels(x0.clone() + self.unet.forward(x0))]
    }
}
