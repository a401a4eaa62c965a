//! Checkpoints: the model, the optimiser state and the loop state, written atomically.
//!
//! A checkpoint is a folder `<out>/checkpoint/` with `model.bpk` (Burn's burnpack record),
//! `optimizer.bpk` and `state.json`. It is first written in full to `checkpoint.tmp/`, then swapped in
//! with renames (`checkpoint` → `checkpoint.old`, `checkpoint.tmp` → `checkpoint`, remove the old), each
//! followed by an fsync of the folder, so a kill at any moment leaves a complete checkpoint on disk
//! (`checkpoint.old` is used if the kill fell between the two renames). Single files (best model,
//! metrics) use temp file + fsync + rename + fsync of the folder.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::evaluate::EvalSummary;
use crate::files::{read, sync_dir, write_atomic};

/// Where the loop is, and what it has seen so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Optimisation steps done.
    pub step: usize,
    /// Completed epochs.
    pub epoch: usize,
    /// Batches of the current epoch already done (for resuming mid-epoch).
    pub batch_in_epoch: usize,
    /// Sum and count of the current epoch's training losses so far (so a resumed epoch reports
    /// the mean over all its batches).
    #[serde(default)]
    pub epoch_loss: (f64, usize),
    /// Best validation PSNR so far and its epoch.
    pub best: Option<(f64, usize)>,
    /// Validations since the best one.
    pub since_best: usize,
    /// Per-validation history.
    pub history: Vec<EpochRecord>,
}

/// What one validation recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number (1-based).
    pub epoch: usize,
    /// Steps done.
    pub step: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Validation metrics.
    pub val: EvalSummary,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
}

/// The model's weights as burnpack bytes.
pub fn model_bytes<M: Module>(model: &M) -> Result<Vec<u8>, TrainError> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| TrainError::Usage(format!("cannot serialise the model: {e}")))?;
    Ok(bytes.to_vec())
}

/// Loads weights from burnpack bytes into `model` (names and shapes must match).
pub fn load_model_bytes<M: Module>(model: M, bytes: Vec<u8>, path: &Path) -> Result<M, TrainError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| TrainError::file(path, format!("not a model record: {e}")))?;
    model.try_load_record(record).map_err(|e| TrainError::file(path, format!("weights do not fit the model: {e}")))
}

/// The checkpoint folder of an output folder.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

/// Saves a checkpoint atomically (see the module docs).
pub fn save<M: Module>(
    out: &Path,
    model: &M,
    optimizer: &ModuleOptimizer,
    state: &LoopState,
) -> Result<(), TrainError> {
    let dir = checkpoint_dir(out);
    let tmp = out.join("checkpoint.tmp");
    let old = out.join("checkpoint.old");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::file(&tmp, e))?;
    write_atomic(&tmp.join("model.bpk"), &model_bytes(model)?)?;
    let optim =
        optimizer.to_record().into_bytes().map_err(|e| TrainError::file(&tmp, format!("optimizer state: {e}")))?;
    write_atomic(&tmp.join("optimizer.bpk"), &optim[..])?;
    let json = serde_json::to_vec_pretty(state).expect("loop state serialises");
    write_atomic(&tmp.join("state.json"), &json)?;
    sync_dir(&tmp)?;
    // At every moment `checkpoint` or `checkpoint.old` is complete: `old` is only removed while
    // `checkpoint` exists (it is the only checkpoint after a resume from `checkpoint.old`).
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&dir, &old).map_err(|e| TrainError::file(&dir, e))?;
        sync_dir(out)?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| TrainError::file(&dir, e))?;
    sync_dir(out)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// The newest complete checkpoint folder of `out`, if any.
pub fn find(out: &Path) -> Option<PathBuf> {
    [checkpoint_dir(out), out.join("checkpoint.old")].into_iter().find(|d| d.join("state.json").exists())
}

/// Loads model, optimiser and loop state from the checkpoint folder `dir`.
pub fn load<M: Module>(
    dir: &Path,
    model: M,
    optimizer: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer, LoopState), TrainError> {
    let state_path = dir.join("state.json");
    let state: LoopState = serde_json::from_slice(&read(&state_path)?)
        .map_err(|e| TrainError::file(&state_path, format!("corrupt loop state: {e}")))?;
    let model_path = dir.join("model.bpk");
    let model = load_model_bytes(model, read(&model_path)?, &model_path)?;
    let optim_path = dir.join("optimizer.bpk");
    let record = OptimizerRecord::from_bytes(Bytes::from_bytes_vec(read(&optim_path)?))
        .map_err(|e| TrainError::file(&optim_path, format!("corrupt optimizer state: {e}")))?;
    Ok((model, optimizer.load_record(record), state))
}
