//! `unroll-models`: reconstruction networks as Burn modules.
//!
//! Every model implements [`Reconstructor`] for the operators it supports: it receives the
//! operator (with its per-sample parameters) and the measurement inside the forward pass and returns
//! all its iterates, so losses can weigh intermediate estimates. Models consume tensors, never files.

pub mod blocks;
pub mod config;
pub mod pgd;
pub mod reconstructor;
pub mod unet;

pub use config::{Model, ModelConfig};
pub use pgd::{UnrolledPgd, UnrolledPgdConfig};
pub use reconstructor::Reconstructor;
pub use unet::{Unet, UnetConfig, UnetPostProcessing};
