//! Exported model packages: a folder with `config.toml` (the experiment, so the model and the
//! operator can be rebuilt), `model.safetensors` (the weights) and `metadata.json` (model, operator
//! conventions, version, training summary). Self-contained: nothing refers back to the training run.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};
use unroll_data::ProblemConfig;
use unroll_models::Model;

use crate::checkpoint;
use crate::config::{ExperimentConfig, ModelShape};
use crate::error::TrainError;
use crate::files;
use crate::normalise::Normalisation;
use crate::trainer::TrainSummary;

/// What a package says about itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metadata {
    /// `unroll` version that wrote it.
    pub unroll_version: String,
    /// Experiment name.
    pub name: String,
    /// Model kind.
    pub model: String,
    /// Network input channels.
    pub channels: usize,
    /// Training image shape `[C, H, W]`.
    pub image_shape: [usize; 3],
    /// The forward problem the model was trained for (operator, mask, noise, FFT convention).
    pub problem: ProblemConfig,
    /// How inputs and outputs are scaled.
    pub normalisation: Normalisation,
    /// Training outcome, when the run finished.
    pub training: Option<TrainSummary>,
}

/// A loaded package.
pub struct Package {
    /// The experiment configuration.
    pub config: ExperimentConfig,
    /// The metadata.
    pub metadata: Metadata,
    /// The model with its weights.
    pub model: Model,
}

/// The files of a checkpoint folder (`train --out`), with the best weights if validation ran.
pub struct RunFolder {
    /// The experiment configuration the run used.
    pub config: ExperimentConfig,
    /// The weights file.
    pub weights: PathBuf,
    /// The run summary, if the run completed.
    pub summary: Option<TrainSummary>,
    /// Network input channels and image shape.
    pub shape: ModelShape,
}

impl RunFolder {
    /// Reads a training output folder.
    pub fn open(dir: &Path) -> Result<Self, TrainError> {
        let config_path = dir.join("config.toml");
        if !config_path.exists() {
            return Err(TrainError::file(dir, "not a training output folder (no config.toml)"));
        }
        let config = ExperimentConfig::load(&config_path, &[])?;
        let weights =
            [dir.join("best/model.bpk"), dir.join("checkpoint/model.bpk"), dir.join("checkpoint.old/model.bpk")]
                .into_iter()
                .find(|p| p.exists())
                .ok_or_else(|| TrainError::file(dir, "holds no model weights (best/ or checkpoint/)"))?;
        let summary = std::fs::read(dir.join("summary.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let shape_path = dir.join("model.json");
        let bytes = std::fs::read(&shape_path).map_err(|e| TrainError::file(&shape_path, e))?;
        let shape =
            serde_json::from_slice(&bytes).map_err(|e| TrainError::file(&shape_path, format!("corrupt: {e}")))?;
        Ok(Self { config, weights, summary, shape })
    }

    /// The model with the run's weights on `device`.
    pub fn model(&self, device: &Device) -> Result<Model, TrainError> {
        let bytes = std::fs::read(&self.weights).map_err(|e| TrainError::file(&self.weights, e))?;
        let model = self.config.model.init(&self.config.model_context(self.shape), device);
        checkpoint::load_model_bytes(model, bytes, &self.weights)
    }
}

/// Exports the training run `run` to the package folder `out`.
pub fn export(run: &RunFolder, out: &Path) -> Result<Metadata, TrainError> {
    let model = run.model(&Device::flex())?;
    std::fs::create_dir_all(out).map_err(|e| TrainError::file(out, e))?;
    let weights = out.join("model.safetensors");
    let tmp = out.join("model.safetensors.tmp");
    model
        .save_into(&mut SafetensorsStore::from_file(&tmp))
        .map_err(|e| TrainError::file(&weights, format!("cannot write: {e}")))?;
    std::fs::rename(&tmp, &weights).map_err(|e| TrainError::file(&weights, e))?;
    let metadata = Metadata {
        unroll_version: env!("CARGO_PKG_VERSION").to_string(),
        name: run.config.name().to_string(),
        model: run.config.model.name().to_string(),
        channels: run.shape.channels,
        image_shape: run.shape.image_shape,
        problem: run.config.data.problem.clone(),
        normalisation: Normalisation::of(&model),
        training: run.summary.clone(),
    };
    let config = toml::to_string_pretty(&run.config).expect("config serialises");
    files::write_atomic(&out.join("config.toml"), config.as_bytes())?;
    files::write_atomic(&out.join("metadata.json"), &serde_json::to_vec_pretty(&metadata).expect("json"))?;
    Ok(metadata)
}

/// Loads a package folder onto `device`.
pub fn load(dir: &Path, device: &Device) -> Result<Package, TrainError> {
    let meta_path = dir.join("metadata.json");
    let bytes = std::fs::read(&meta_path).map_err(|e| TrainError::file(&meta_path, format!("not a package: {e}")))?;
    let metadata: Metadata =
        serde_json::from_slice(&bytes).map_err(|e| TrainError::file(&meta_path, format!("corrupt metadata: {e}")))?;
    let config = ExperimentConfig::load(&dir.join("config.toml"), &[])?;
    let shape = ModelShape { channels: metadata.channels, image_shape: metadata.image_shape };
    let mut model = config.model.init(&config.model_context(shape), device);
    let runs = Normalisation::of(&model);
    if metadata.normalisation != runs {
        return Err(TrainError::file(
            &meta_path,
            format!("normalisation {:?}; this version runs this model under {runs:?}", metadata.normalisation),
        ));
    }
    let weights = dir.join("model.safetensors");
    if !weights.exists() {
        return Err(TrainError::file(&weights, "missing"));
    }
    model
        .load_from(&mut SafetensorsStore::from_file(&weights))
        .map_err(|e| TrainError::file(&weights, format!("weights do not fit the model: {e}")))?;
    Ok(Package { config, metadata, model })
}
