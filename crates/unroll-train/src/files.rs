//! Files that survive a kill: written to a temporary file, fsynced, renamed into place, and the
//! folder fsynced.

use std::path::Path;

use crate::error::TrainError;

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::File::open(folder)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        TrainError::file(path, format!("cannot write: {e}"))
    })
}

/// The bytes of `path`, or an error naming it.
pub fn read(path: &Path) -> Result<Vec<u8>, TrainError> {
    std::fs::read(path).map_err(|e| TrainError::file(path, format!("cannot read: {e}")))
}

/// fsyncs a folder, so the renames inside it survive a power loss.
pub fn sync_dir(dir: &Path) -> Result<(), TrainError> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(|e| TrainError::file(dir, format!("cannot sync: {e}")))
}
