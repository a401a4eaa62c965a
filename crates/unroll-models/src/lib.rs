//! `unroll-models`: reconstruction networks as Burn modules.
//!
//! Every model implements [`Reconstructor`] for the operators it supports: it receives the
//! operator (with its per-sample parameters) and the measurement inside the forward pass and returns
//! all its iterates, so losses can weigh intermediate estimates. Models consume tensors, never files.
//! A model is built from a [`ModelContext`] (channels, image shape, problem, operator family);
//! operator-specific models reach the parts they need through the typed views of
//! [`unroll_physics::Physics`], and [`ModelConfig::check_serves`] refuses, at config load, a model
//! whose views the problem's family does not offer. The steps to add a model: `README.md`.

pub mod blocks;
pub mod cirim;
pub mod config;
pub mod context;
pub mod cpu_conv;
pub mod dncnn;
pub mod drcgnet;
pub mod e2e_varnet;
pub mod galaxy_admm;
pub mod gates;
pub mod lpn;
pub mod pgd;
pub mod pnp_admm;
pub mod reconstructor;
pub mod recurrent_varnet;
#[cfg(test)]
mod test_support;
pub mod unet;

pub use cirim::{Cirim, CirimConfig, RecurrentCell};
pub use config::{Model, ModelConfig};
pub use context::ModelContext;
pub use dncnn::{DnCnn, DnCnnConfig};
pub use drcgnet::{Covariance, DrCgNet, DrCgNetConfig, ZStep};
pub use e2e_varnet::{E2eVarNet, E2eVarNetConfig};
pub use galaxy_admm::{GalaxyAdmm, GalaxyAdmmConfig};
pub use lpn::{IcnnLayout, Lpn, LpnConfig, ScalarLpn};
pub use pgd::{UnrolledPgd, UnrolledPgdConfig};
pub use pnp_admm::{Splitting, UnrolledPnp, UnrolledPnpConfig};
pub use reconstructor::Reconstructor;
pub use recurrent_varnet::{RecurrentVarNet, RecurrentVarNetConfig, RsiConfig};
pub use unet::{NormUnet, Unet, UnetConfig, UnetPostProcessing};
