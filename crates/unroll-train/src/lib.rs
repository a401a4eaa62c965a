//! `unroll-train`: experiment configs, losses, metrics, the training loop with atomic checkpoints,
//! evaluation reports, model packages and inference.

pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod error;
pub mod evaluate;
pub mod infer;
pub mod losses;
pub mod metrics;
pub mod package;
pub mod trainer;

pub use config::{BackendKind, ExperimentConfig};
pub use error::TrainError;
