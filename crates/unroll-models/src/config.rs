//! The model registry: a typed config enum and the matching module enum.

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::{Family, Physics, ViewKind};

use crate::context::{ModelContext, check_views};

use crate::cirim::{Cirim, CirimConfig};
use crate::dncnn::{DnCnn, DnCnnConfig};
use crate::drcgnet::{DrCgNet, DrCgNetConfig};
use crate::e2e_varnet::{E2eVarNet, E2eVarNetConfig};
use crate::galaxy_admm::{GalaxyAdmm, GalaxyAdmmConfig};
use crate::lpn::{Lpn, LpnConfig};
use crate::pgd::{UnrolledPgd, UnrolledPgdConfig};
use crate::pnp_admm::{UnrolledPnp, UnrolledPnpConfig};
use crate::reconstructor::Reconstructor;
use crate::recurrent_varnet::{RecurrentVarNet, RecurrentVarNetConfig};
use crate::unet::{UnetConfig, UnetPostProcessing};

/// Which model, with its hyperparameters (`kind = "unrolled_pgd"`, `"pnp_admm"`, `"galaxy_admm"`,
/// `"lpn"`, `"dncnn"`, `"drcgnet"`, `"unet"`, `"recurrentvarnet"`, `"cirim"` or `"e2e_varnet"` in a config file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelConfig {
    /// [`UnrolledPgd`].
    UnrolledPgd(UnrolledPgdConfig),
    /// [`UnrolledPnp`].
    PnpAdmm(UnrolledPnpConfig),
    /// [`GalaxyAdmm`] (blur).
    GalaxyAdmm(GalaxyAdmmConfig),
    /// [`Lpn`] (a learned prox of `Aᴴy`; for denoising, of the noisy image).
    Lpn(LpnConfig),
    /// [`DnCnn`] (`Aᴴy` plus a residual CNN: a denoiser).
    Dncnn(DnCnnConfig),
    /// [`DrCgNet`] (operators on real images: compressed sensing, CT, …).
    Drcgnet(DrCgNetConfig),
    /// [`UnetPostProcessing`].
    Unet(UnetConfig),
    /// [`RecurrentVarNet`] (MRI).
    #[serde(rename = "recurrentvarnet")]
    RecurrentVarNet(RecurrentVarNetConfig),
    /// [`Cirim`] (MRI).
    Cirim(CirimConfig),
    /// [`E2eVarNet`] (MRI).
    E2eVarnet(E2eVarNetConfig),
}

impl ModelConfig {
    /// Checks the hyperparameters.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ModelConfig::UnrolledPgd(c) => c.validate(),
            ModelConfig::PnpAdmm(c) => c.validate(),
            ModelConfig::GalaxyAdmm(c) => c.validate(),
            ModelConfig::Lpn(c) => c.validate(),
            ModelConfig::Dncnn(c) => c.validate(),
            ModelConfig::Drcgnet(c) => c.validate(),
            ModelConfig::Unet(c) => c.validate(),
            ModelConfig::RecurrentVarNet(c) => c.validate(),
            ModelConfig::Cirim(c) => c.validate(),
            ModelConfig::E2eVarnet(c) => c.validate(),
        }
    }

    /// The views of its operator the model needs (see [`unroll_physics::Physics`]); the generic
    /// models need none, the MRI models the MRI view, the galaxy ADMM the blur view.
    pub fn needs(&self) -> &'static [ViewKind] {
        match self {
            ModelConfig::UnrolledPgd(_)
            | ModelConfig::PnpAdmm(_)
            | ModelConfig::Lpn(_)
            | ModelConfig::Dncnn(_)
            | ModelConfig::Unet(_) => &[],
            ModelConfig::GalaxyAdmm(_) => &[ViewKind::Blur],
            ModelConfig::Drcgnet(_) => &[ViewKind::Real],
            ModelConfig::RecurrentVarNet(_) | ModelConfig::Cirim(_) | ModelConfig::E2eVarnet(_) => &[ViewKind::Mri],
        }
    }

    /// Checks that the model can serve `problem` (of `family`): an error naming both otherwise.
    pub fn check_serves(&self, problem: &str, family: Family) -> Result<(), String> {
        check_views(self.name(), self.needs(), problem, family)
    }

    /// Checks that the model can take images of `[h, w]` (the LPN's head fixes the size).
    pub fn check_image(&self, size: [usize; 2]) -> Result<(), String> {
        match self {
            ModelConfig::Lpn(c) => c.check_image(size),
            _ => Ok(()),
        }
    }

    /// Builds the model for `context` (which [`ModelConfig::check_serves`] accepted).
    pub fn init(&self, context: &ModelContext, device: &Device) -> Model {
        let channels = context.channels;
        match self {
            ModelConfig::UnrolledPgd(c) => Model::UnrolledPgd(c.init(channels, device)),
            ModelConfig::PnpAdmm(c) => Model::PnpAdmm(c.init(channels, device)),
            ModelConfig::GalaxyAdmm(c) => Model::GalaxyAdmm(c.init(channels, device)),
            ModelConfig::Lpn(c) => {
                let [_, h, w] = context.image_shape;
                Model::Lpn(c.init(channels, [h, w], device))
            }
            ModelConfig::Dncnn(c) => Model::Dncnn(c.init(channels, device)),
            ModelConfig::Drcgnet(c) => Model::DrCgNet(c.init(context.image_shape, device)),
            ModelConfig::Unet(c) => Model::Unet(UnetPostProcessing::new(c, channels, device)),
            ModelConfig::RecurrentVarNet(c) => Model::RecurrentVarNet(c.init(device)),
            ModelConfig::Cirim(c) => Model::Cirim(c.init(device)),
            ModelConfig::E2eVarnet(c) => Model::E2eVarNet(c.init(device)),
        }
    }

    /// Short name for logs and packages.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::UnrolledPgd(_) => "unrolled_pgd",
            ModelConfig::PnpAdmm(_) => "pnp_admm",
            ModelConfig::GalaxyAdmm(_) => "galaxy_admm",
            ModelConfig::Lpn(_) => "lpn",
            ModelConfig::Dncnn(_) => "dncnn",
            ModelConfig::Drcgnet(_) => "drcgnet",
            ModelConfig::Unet(_) => "unet",
            ModelConfig::RecurrentVarNet(_) => "recurrentvarnet",
            ModelConfig::Cirim(_) => "cirim",
            ModelConfig::E2eVarnet(_) => "e2e_varnet",
        }
    }
}

/// Any model of the registry (one is held at a time, so the size difference of the variants is moot).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// Unrolled proximal gradient.
    UnrolledPgd(UnrolledPgd),
    /// Unrolled plug-and-play ADMM / HQS.
    PnpAdmm(UnrolledPnp),
    /// The galaxy unrolled ADMM.
    GalaxyAdmm(GalaxyAdmm),
    /// A learned proximal network.
    Lpn(Lpn),
    /// DnCNN.
    Dncnn(DnCnn),
    /// DR-CG-Net.
    DrCgNet(DrCgNet),
    /// U-Net post-processing.
    Unet(UnetPostProcessing),
    /// RecurrentVarNet.
    RecurrentVarNet(RecurrentVarNet),
    /// CIRIM.
    Cirim(Cirim),
    /// E2E-VarNet.
    E2eVarNet(E2eVarNet),
}

impl Model {
    /// The iterates come in this many equal groups (CIRIM's cascades; 1 for the others), which
    /// a loss weighting per group and per step within it uses.
    pub fn iterate_groups(&self) -> usize {
        match self {
            Model::Cirim(m) => m.cascades(),
            _ => 1,
        }
    }

    /// Enforces the model's parameter constraints (the LPN's non-negative weights); the trainer
    /// calls it after every optimiser step.
    pub fn project(self) -> Self {
        match self {
            Model::Lpn(m) => Model::Lpn(m.project()),
            other => other,
        }
    }
}

/// Every model serves every operator of the physics crate: a model that needs a view finds it,
/// since [`ModelConfig::check_serves`] accepted the pairing when the config was loaded.
impl<Op: Physics> Reconstructor<Op> for Model {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        match self {
            Model::UnrolledPgd(m) => m.reconstruct(op, y),
            Model::PnpAdmm(m) => m.reconstruct(op, y),
            Model::GalaxyAdmm(m) => m.reconstruct(op, y),
            Model::Lpn(m) => m.reconstruct(op, y),
            Model::Dncnn(m) => m.reconstruct(op, y),
            Model::DrCgNet(m) => m.reconstruct(op, y),
            Model::Unet(m) => m.reconstruct(op, y),
            Model::RecurrentVarNet(m) => m.reconstruct(op, y),
            Model::Cirim(m) => m.reconstruct(op, y),
            Model::E2eVarNet(m) => m.reconstruct(op, y),
        }
    }
}
