//! Experiment configuration: one typed TOML file per experiment (`experiments/*.toml`), with
//! `--set key=value` overrides. Unknown keys are errors; every error names the file, the key, the
//! value and what is allowed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use unroll_data::{CoilMapSource, DataConfig, ProblemConfig, SourceConfig};
use unroll_models::{ModelConfig, ModelContext};

use crate::error::TrainError;
use crate::losses::{LossConfig, LossTerm};
use crate::metrics::SSIM_WINDOW;

/// What the network was built for: its input channels and the clean image shape `[C, H, W]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelShape {
    /// Network input channels.
    pub channels: usize,
    /// Image shape `[C, H, W]`.
    pub image_shape: [usize; 3],
}

/// A whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Name used in logs and packages (defaults to the file stem).
    pub name: Option<String>,
    /// Seed of the split, the initial weights, augmentation and simulation.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Where to compute.
    #[serde(default)]
    pub backend: BackendKind,
    /// Data source, simulated problem, split, crops.
    pub data: DataConfig,
    /// The model and its hyperparameters.
    pub model: ModelConfig,
    /// Training loss.
    #[serde(default)]
    pub loss: LossConfig,
    /// Optimiser.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Loop length, batch size, checkpoints, validation, early stopping.
    pub train: TrainConfig,
    /// The file it was read from (named in errors; not part of the experiment).
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

fn default_seed() -> u64 {
    42
}

/// The compute backend, chosen at run time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Burn's fast CPU backend.
    #[default]
    Flex,
    /// The ndarray CPU backend (deprecated upstream, ~40× slower for convolutions).
    Ndarray,
    /// The GPU through wgpu (Vulkan, Metal, DX12; lavapipe on machines without a GPU).
    Wgpu,
}

impl BackendKind {
    /// `count` devices of this backend: GPUs `0..count` for wgpu (discrete GPUs first, as
    /// enumerated by wgpu), replicas of the one CPU device otherwise.
    pub fn devices(self, count: usize) -> Vec<burn::tensor::Device> {
        use burn::tensor::{Device, DeviceKind};
        match self {
            BackendKind::Wgpu if count > 1 => (0..count).map(|i| Device::wgpu(DeviceKind::DiscreteGpu(i))).collect(),
            _ => vec![self.device(); count],
        }
    }

    /// The device.
    #[allow(deprecated)] // ndarray is deprecated upstream; the project keeps it selectable.
    pub fn device(self) -> burn::tensor::Device {
        use burn::tensor::Device;
        match self {
            BackendKind::Flex => Device::flex(),
            BackendKind::Ndarray => Device::ndarray(),
            BackendKind::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        }
    }
}

/// Adam or AdamW.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam with L2 weight decay added to the gradient.
    #[default]
    Adam,
    /// AdamW (decoupled weight decay).
    Adamw,
}

/// Optimiser settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Algorithm.
    #[serde(default)]
    pub kind: OptimizerKind,
    /// Peak learning rate.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Clip the gradient norm to this value.
    pub grad_clip: Option<f64>,
}

fn default_lr() -> f64 {
    1e-3
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self { kind: OptimizerKind::Adam, lr: default_lr(), weight_decay: 0.0, grad_clip: None }
    }
}

/// Learning-rate decay after warm-up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Decay {
    /// Constant.
    #[default]
    Constant,
    /// Cosine from the peak to `min_factor · lr` at the last step.
    Cosine {
        /// Final learning rate as a fraction of the peak.
        #[serde(default)]
        min_factor: f64,
    },
    /// Multiply by `gamma` every `every` steps.
    Step {
        /// Steps between decays.
        every: usize,
        /// Factor.
        gamma: f64,
    },
}

/// Linear warm-up then decay, evaluated per optimisation step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Steps of linear warm-up from 0 to the peak.
    #[serde(default)]
    pub warmup_steps: usize,
    /// Decay after warm-up.
    #[serde(default)]
    pub decay: Decay,
}

impl ScheduleConfig {
    /// Learning rate at step `step` (0-based) of `total` for peak `lr`.
    pub fn lr(&self, lr: f64, step: usize, total: usize) -> f64 {
        if step < self.warmup_steps {
            return lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let after = step - self.warmup_steps;
        let span = total.saturating_sub(self.warmup_steps).max(1);
        match self.decay {
            Decay::Constant => lr,
            Decay::Cosine { min_factor } => {
                let t = (after as f64 / span as f64).min(1.0);
                lr * (min_factor + (1.0 - min_factor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
            }
            Decay::Step { every, gamma } => lr * gamma.powi((after / every.max(1)) as i32),
        }
    }
}

/// Loop settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training split.
    pub epochs: usize,
    /// Samples per optimisation step.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Write a checkpoint every this many steps (and always at the end of an epoch); 0 = epochs only.
    /// A step's checkpoint is written once the next batch gives a finite loss.
    #[serde(default)]
    pub checkpoint_every: usize,
    /// Validate every this many epochs.
    #[serde(default = "default_one")]
    pub validate_every: usize,
    /// Stop after this many validations without a better PSNR.
    pub early_stopping: Option<usize>,
    /// Print a progress line every this many steps when not on a terminal.
    #[serde(default = "default_log_every")]
    pub log_every: usize,
    /// Devices trained on in parallel (data parallel: each takes its own batch of `batch_size`, and
    /// Burn's optimiser accumulates their gradients). More than one needs the wgpu backend (GPUs
    /// 0..n); on the CPU backends several "devices" are replicas of the one CPU device, which is
    /// useful only to test the code path.
    #[serde(default = "default_one")]
    pub devices: usize,
    /// Burn's balanced gradient checkpointing: activations of memory-bound operations (element-wise
    /// maps, gates) are recomputed in the backward pass instead of kept, while those of convolutions
    /// and matrix products are kept. Less memory for deep unrolled networks, a little more time.
    #[serde(default)]
    pub gradient_checkpointing: bool,
}

impl TrainConfig {
    /// The autodiff device training runs on, for the inner `device`.
    pub fn autodiff(&self, device: burn::tensor::Device) -> burn::tensor::Device {
        autodiff_device(device, self.gradient_checkpointing)
    }
}

/// `device` with autodiff, and Burn's balanced gradient checkpointing if `checkpointing`.
pub fn autodiff_device(device: burn::tensor::Device, checkpointing: bool) -> burn::tensor::Device {
    let device = device.autodiff();
    if checkpointing { device.gradient_checkpointing() } else { device }
}

fn default_batch() -> usize {
    4
}
fn default_one() -> usize {
    1
}
fn default_log_every() -> usize {
    10
}

impl ExperimentConfig {
    /// Reads `path`, applies `overrides` (`key=value`, the value in TOML syntax, bare words taken as
    /// strings), deserialises and validates. Relative data paths are resolved against the file's folder.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrainError::Config { file: path.to_path_buf(), message: format!("cannot read: {e}") })?;
        Self::parse(&text, path, overrides)
    }

    /// [`ExperimentConfig::load`] from text; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path, overrides: &[String]) -> Result<Self, TrainError> {
        let error = |message: String| TrainError::Config { file: path.to_path_buf(), message };
        let mut config: Self = if overrides.is_empty() {
            toml::from_str(text).map_err(|e| error(e.to_string()))?
        } else {
            let mut table: toml::Table = toml::from_str(text).map_err(|e| error(e.to_string()))?;
            for item in overrides {
                apply_override(&mut table, item).map_err(|m| error(format!("--set {item}: {m}")))?;
            }
            let merged = toml::to_string(&table).map_err(|e| error(e.to_string()))?;
            toml::from_str(&merged).map_err(|e| error(format!("after applying --set overrides: {e}")))?
        };
        config.file = Some(path.to_path_buf());
        config.validate().map_err(error)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.data.source = config.data.source.clone().resolved(&base);
        if config.name.is_none() {
            config.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        Ok(config)
    }

    /// Semantic checks that serde cannot express; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        self.data.problem.validate().map_err(|e| format!("data.problem: {e}"))?;
        self.data.split.validate().map_err(|e| format!("data.split: {e}"))?;
        self.model.validate().map_err(|e| format!("model: {e}"))?;
        self.model
            .check_serves(self.data.problem.name(), self.data.problem.family())
            .map_err(|e| format!("model: {e}"))?;
        self.loss.validate().map_err(|e| format!("loss: {e}"))?;
        if !(self.optimizer.lr > 0.0 && self.optimizer.lr.is_finite()) {
            return Err(format!("optimizer.lr must be a positive number, got {}", self.optimizer.lr));
        }
        if self.optimizer.weight_decay < 0.0 {
            return Err(format!("optimizer.weight_decay must be >= 0, got {}", self.optimizer.weight_decay));
        }
        if let Some(clip) = self.optimizer.grad_clip
            && clip <= 0.0
        {
            return Err(format!("optimizer.grad_clip must be > 0, got {clip}"));
        }
        if let Decay::Step { every: 0, .. } = self.schedule.decay {
            return Err("schedule.decay.every must be at least 1".into());
        }
        if let (SourceConfig::ImageFolder { grayscale: false, .. }, ProblemConfig::MulticoilMri { .. }) =
            (&self.data.source, &self.data.problem)
        {
            return Err(
                "data.source.grayscale = false gives colour images, but multicoil_mri takes single-channel images"
                    .into(),
            );
        }
        if let (false, ProblemConfig::MulticoilMri { coil_maps: CoilMapSource::File, .. }) =
            (matches!(self.data.source, SourceConfig::Fastmri { .. }), &self.data.problem)
        {
            return Err("data.problem.coil_maps = \"file\" takes the maps of fastmri files, but data.source is \
                        not fastmri; use \"acs\" or \"true\""
                .into());
        }
        if let SourceConfig::Fastmri { .. } = self.data.source {
            match self.data.problem {
                ProblemConfig::MulticoilMri { coil_maps: CoilMapSource::True, .. } => {
                    return Err("data.problem.coil_maps = \"true\": measured k-space has no true coil maps; \
                                use \"acs\" or \"file\""
                        .into());
                }
                ProblemConfig::MulticoilMri { .. } => {}
                ref other => {
                    return Err(format!(
                        "data.source: fastmri k-space needs data.problem kind = \"multicoil_mri\", not \"{}\"",
                        other.name()
                    ));
                }
            }
        }
        if self.data.crops_per_image == 0 {
            return Err("data.crops_per_image must be at least 1".into());
        }
        if let Some([h, w]) = self.data.crop {
            if h == 0 || w == 0 {
                return Err(format!("data.crop must be at least 1x1, got {h}x{w}"));
            }
            self.validate_shape([1, h, w])?;
        }
        if self.train.epochs == 0
            || self.train.batch_size == 0
            || self.train.validate_every == 0
            || self.train.devices == 0
        {
            return Err(
                "train.epochs, train.batch_size, train.validate_every and train.devices must be at least 1".into()
            );
        }
        Ok(())
    }

    /// Checks that need the image shape `[C, H, W]` the model will see (the crop, or the images'
    /// size): the operator's parameters, the SSIM window of the metrics and the loss, the scales of
    /// a multiscale loss. The message names the key.
    pub fn validate_shape(&self, [c, h, w]: [usize; 3]) -> Result<(), String> {
        let key = if self.data.crop.is_some() { "data.crop" } else { "data.source" };
        if h < SSIM_WINDOW || w < SSIM_WINDOW {
            return Err(format!(
                "{key}: images of {h}x{w} are smaller than the {SSIM_WINDOW}x{SSIM_WINDOW} SSIM window \
                 (validation metrics need at least {SSIM_WINDOW}x{SSIM_WINDOW})"
            ));
        }
        for (i, term) in self.loss.terms.iter().enumerate() {
            if let LossTerm::MultiscaleL1 { scales } = term.term
                && (1usize << (scales - 1).min(63)) > h.min(w)
            {
                return Err(format!(
                    "loss.terms[{i}].scales: {scales} scales halve {h}x{w} images below one pixel \
                     (at most {} scales)",
                    h.min(w).ilog2() + 1
                ));
            }
        }
        self.model.check_image([h, w]).map_err(|m| format!("{key}: {m}"))?;
        self.data.problem.validate_for([c, h, w])
    }

    /// A configuration error about this experiment (naming its file when it was read from one).
    pub fn error(&self, message: impl Into<String>) -> TrainError {
        let message = message.into();
        match &self.file {
            Some(file) => TrainError::Config { file: file.clone(), message },
            None => TrainError::Usage(message),
        }
    }

    /// What the model is built for, given its channels and image shape.
    pub fn model_context(&self, shape: ModelShape) -> ModelContext {
        ModelContext {
            channels: shape.channels,
            image_shape: shape.image_shape,
            problem: self.data.problem.name(),
            family: self.data.problem.family(),
        }
    }

    /// The experiment name.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("experiment")
    }

    /// Default output folder: `checkpoints/<name>`.
    pub fn default_out_dir(&self) -> PathBuf {
        PathBuf::from("checkpoints").join(self.name())
    }
}

/// Sets `a.b.c = value` in `table`, creating tables on the way.
fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), String> {
    let (key, raw) = item.split_once('=').ok_or("expected key=value")?;
    let key = key.trim();
    let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").ok_or("empty value")?,
        Err(_) => toml::Value::String(raw.trim().to_string()),
    };
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().filter(|k| !k.is_empty()).ok_or("empty key")?;
    let mut current = table;
    for part in parts {
        current = current
            .entry(part)
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .ok_or_else(|| format!("`{part}` is not a table"))?;
    }
    current.insert(last.to_string(), value);
    Ok(())
}
