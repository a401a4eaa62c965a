//! `unroll-data`: readers for the field's file formats, measurement simulation with
//! `unroll-physics`, deterministic splits and batching.

pub mod dataset;
pub mod error;
pub mod galaxies;
mod pairs;
pub mod readers;
pub mod simulate;

pub use dataset::{AugmentConfig, DataConfig, Item, SimulationBatcher, SourceConfig, Split, SplitConfig, SplitDataset};
pub use error::{DataError, FileContext};
pub use readers::{Array, FastMriVolume, Image};
pub use simulate::{
    Acquisition, CoilMapSource, CoilMaps, Measured, ProblemConfig, Simulation, SimulationVisitor, gaussian_psf,
    tikhonov,
};
