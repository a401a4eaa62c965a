//! DnCNN (Zhang et al., 2017) as a reconstructor: `x̂ = Aᴴy + R(Aᴴy)` with a residual CNN `R`
//! ([`ResidualCnn`]). On the `denoising` problem it is a plain denoiser, the usual prior of
//! plug-and-play methods; [`DnCnnConfig`] is also the prior of the unrolled PnP network.

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::{LinearOperator, Signal};

use crate::blocks::ResidualCnn;
use crate::reconstructor::Reconstructor;

/// A DnCNN denoiser: `depth` 3×3 convolutions of `features` channels with ReLUs, predicting a residual.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnCnnConfig {
    /// Convolutions (≥ 2; DnCNN's paper uses 17 or 20).
    #[serde(default = "default_depth")]
    pub depth: usize,
    /// Channels of the hidden layers.
    #[serde(default = "default_features")]
    pub features: usize,
    /// Convolutions with bias.
    #[serde(default = "crate::context::on")]
    pub bias: bool,
}

fn default_depth() -> usize {
    7
}
fn default_features() -> usize {
    64
}

impl Default for DnCnnConfig {
    fn default() -> Self {
        Self { depth: default_depth(), features: default_features(), bias: true }
    }
}

impl DnCnnConfig {
    /// Checks the hyperparameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        if self.depth < 2 {
            return Err(format!("depth must be at least 2, got {}", self.depth));
        }
        if self.features == 0 {
            return Err("features must be at least 1".into());
        }
        Ok(())
    }

    /// The residual CNN for signals of `channels` network channels (the identity at first).
    pub fn cnn(&self, channels: usize, device: &Device) -> ResidualCnn {
        ResidualCnn::new(channels, self.features, self.depth, self.bias, device)
    }

    /// The DnCNN reconstructor for signals of `channels` network channels.
    pub fn init(&self, channels: usize, device: &Device) -> DnCnn {
        DnCnn { cnn: self.cnn(channels, device) }
    }
}

/// The DnCNN reconstructor (see the module docs).
#[derive(Module, Debug)]
pub struct DnCnn {
    cnn: ResidualCnn,
}

impl<Op: LinearOperator> Reconstructor<Op> for DnCnn {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        let x0 = op.adjoint(y).to_channels();
        vec![Op::Domain::from_channels(x0.clone() + self.cnn.correction(x0))]
    }
}
