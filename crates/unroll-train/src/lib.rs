//! `unroll-train`: experiment configs, losses, metrics, the training loop with atomic checkpoints,
//! evaluation reports, model packages, inference and the model benchmark.
//!
//! Modules depend downward only, in this order: `error`, `metrics`, `losses`, `config`, `files`,
//! `normalise`, `evaluate`, `checkpoint`, `logs`, `plot`, `trainer`, `package`, `infer`, `commands`, `prior`, `pnp`, `lpn_toy`, `bench`.

pub mod bench;
pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod error;
pub mod evaluate;
pub mod files;
pub mod infer;
pub mod logs;
pub mod losses;
pub mod lpn_toy;
pub mod metrics;
pub mod normalise;
pub mod package;
pub mod plot;
pub mod pnp;
pub mod prior;
pub mod shear;
pub mod trainer;

pub use config::{BackendKind, ExperimentConfig};
pub use error::TrainError;
