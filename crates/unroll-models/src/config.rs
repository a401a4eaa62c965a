//! The model registry: a typed config enum and the matching module enum.

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::LinearOperator;

use crate::pgd::{UnrolledPgd, UnrolledPgdConfig};
use crate::reconstructor::Reconstructor;
use crate::unet::{UnetConfig, UnetPostProcessing};

/// Which model, with its hyperparameters (`kind = "unrolled_pgd"` or `"unet"` in a config file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelConfig {
    /// [`UnrolledPgd`].
    UnrolledPgd(UnrolledPgdConfig),
    /// [`UnetPostProcessing`].
    Unet(UnetConfig),
}

impl ModelConfig {
    /// Checks the hyperparameters.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ModelConfig::UnrolledPgd(c) => c.validate(),
            ModelConfig::Unet(c) => c.validate(),
        }
    }

    /// Builds the model for signals with `channels` network channels.
    pub fn init(&self, channels: usize, device: &Device) -> Model {
        match self {
            ModelConfig::UnrolledPgd(c) => Model::UnrolledPgd(c.init(channels, device)),
            ModelConfig::Unet(c) => Model::Unet(UnetPostProcessing::new(c, channels, device)),
        }
    }

    /// Short name for logs and packages.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::UnrolledPgd(_) => "unrolled_pgd",
            ModelConfig::Unet(_) => "unet",
        }
    }
}

/// Any model of the registry (one is held at a time, so the size difference of the variants is moot).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// Unrolled proximal gradient.
    UnrolledPgd(UnrolledPgd),
    /// U-Net post-processing.
    Unet(UnetPostProcessing),
}

impl<Op: LinearOperator> Reconstructor<Op> for Model {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        match self {
            Model::UnrolledPgd(m) => m.reconstruct(op, y),
            Model::Unet(m) => m.reconstruct(op, y),
        }
    }
}
