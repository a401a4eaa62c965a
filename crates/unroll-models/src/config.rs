//! The model registry: a typed config enum and the matching module enum.

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::{Family, Physics, ViewKind};

use crate::context::{ModelContext, check_views};

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

    /// The views of its operator the model needs (see [`unroll_physics::Physics`]); the generic
    /// models need none.
    pub fn needs(&self) -> &'static [ViewKind] {
        match self {
            ModelConfig::UnrolledPgd(_) | ModelConfig::Unet(_) => &[],
        }
    }

    /// Checks that the model can serve `problem` (of `family`): an error naming both otherwise.
    pub fn check_serves(&self, problem: &str, family: Family) -> Result<(), String> {
        check_views(self.name(), self.needs(), problem, family)
    }

    /// Builds the model for `context` (which [`ModelConfig::check_serves`] accepted).
    pub fn init(&self, context: &ModelContext, device: &Device) -> Model {
        let channels = context.channels;
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

/// Every model serves every operator of the physics crate: a model that needs a view finds it,
/// since [`ModelConfig::check_serves`] accepted the pairing when the config was loaded.
impl<Op: Physics> Reconstructor<Op> for Model {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        match self {
            Model::UnrolledPgd(m) => m.reconstruct(op, y),
            Model::Unet(m) => m.reconstruct(op, y),
        }
    }
}
