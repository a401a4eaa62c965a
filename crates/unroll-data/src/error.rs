//! Errors of the data readers: every message names the file it is about.

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// A data error; its message always starts with the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file that is missing, unreadable, corrupt or in an unsupported layout.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

impl DataError {
    /// An error about `path`.
    pub fn file(path: impl AsRef<Path>, message: impl Display) -> Self {
        DataError::File { path: path.as_ref().to_path_buf(), message: message.to_string() }
    }
}

/// Result of the data readers.
pub type Result<T> = std::result::Result<T, DataError>;

/// Attaches a file (and optionally what was being done) to any displayable error.
pub trait FileContext<T> {
    /// The error as a [`DataError`] about `path`.
    fn at(self, path: &Path) -> Result<T>;
    /// The error as a [`DataError`] about `path`, prefixed by `what` (`"{what}: {error}"`).
    fn at_with(self, path: &Path, what: impl Display) -> Result<T>;
}

impl<T, E: Display> FileContext<T> for std::result::Result<T, E> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|e| DataError::file(path, e))
    }

    fn at_with(self, path: &Path, what: impl Display) -> Result<T> {
        self.map_err(|e| DataError::file(path, format!("{what}: {e}")))
    }
}
