//! Errors of the training crate. Every message names the file or config key concerned.

use std::path::PathBuf;

use unroll_data::DataError;

/// What can go wrong while training, evaluating, exporting or inferring.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration file or override is invalid.
    #[error("{file}: {message}")]
    Config {
        /// The configuration file.
        file: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// Reading data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A checkpoint, package or output file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The loss became NaN or infinite.
    #[error("training stopped: {0}")]
    Diverged(String),
    /// Invalid use (e.g. an output folder that already holds a run).
    #[error("{0}")]
    Usage(String),
}

impl TrainError {
    /// A file error.
    pub fn file(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        TrainError::File { path: path.into(), message: message.to_string() }
    }
}
