//! The work behind `unroll eval` and `unroll inspect` (the CLI only parses arguments), and the
//! model and held-out data they and `unroll prior` open.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataset::Dataset;
use burn::prelude::*;
use unroll_data::{
    CoilMapSource, ProblemConfig, Simulation, SimulationVisitor, SourceConfig, Split, SplitConfig, SplitDataset,
};
use unroll_models::Model;
use unroll_physics::{Fft2, MaskConfig};

use crate::config::{BackendKind, ExperimentConfig};
use crate::error::TrainError;
use crate::evaluate::{self, EvalSummary, Reconstruction};
use crate::package::{self, RunFolder};

/// Options of `unroll eval`.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// A training output folder or an exported package.
    pub checkpoint: PathBuf,
    /// Use this experiment file instead of the one stored with the checkpoint.
    pub config: Option<PathBuf>,
    /// Read the clean images from this path instead (same source kind).
    pub data: Option<PathBuf>,
    /// Report folder.
    pub out: PathBuf,
    /// Backend override.
    pub backend: Option<BackendKind>,
}

/// A model, its experiment and the `[C, H, W]` images it was trained on, from a run folder or a
/// package.
pub(crate) fn open_model(path: &Path, device: &Device) -> Result<(ExperimentConfig, Model, [usize; 3]), TrainError> {
    if path.join("metadata.json").exists() {
        let package = package::load(path, device)?;
        Ok((package.config, package.model, package.metadata.image_shape))
    } else {
        let run = RunFolder::open(path)?;
        let model = run.model(device)?;
        Ok((run.config, model, run.shape.image_shape))
    }
}

/// Evaluates a checkpoint on the test split (the validation split when the test split is empty),
/// or on all of `--data`, and writes `metrics.json`, `metrics.csv` and panels.
pub fn eval(options: &EvalOptions) -> Result<EvalSummary, TrainError> {
    let backend = options.backend;
    let device = backend.unwrap_or_default().device();
    let (stored, model, _) = open_model(&options.checkpoint, &device)?;
    let mut config = match &options.config {
        Some(path) => ExperimentConfig::load(path, &[])?,
        None => stored,
    };
    if let (Some(data), ProblemConfig::MulticoilMri { mask, fft, coil_maps, .. }) =
        (&options.data, &config.data.problem)
    {
        let volumes = unroll_data::readers::hdf5_files(data)?;
        if !volumes.is_empty() {
            return eval_kspace(options, &config, &model, &volumes, (mask, *fft, *coil_maps), &device);
        }
    }
    let (split, set) = held_out(&mut config, options.data.as_deref())?;
    let label = format!("{} ({split:?} split)", config.name());
    evaluate_and_report(&model, &config, &set, &label, &options.out, &device)
}

/// Evaluates `model` on `set` with the problem of `config`, writes the report into `out` and prints
/// its table.
pub(crate) fn evaluate_and_report<R: Reconstruction>(
    model: &R,
    config: &ExperimentConfig,
    set: &SplitDataset,
    label: &str,
    out: &Path,
    device: &Device,
) -> Result<EvalSummary, TrainError> {
    let shape = set.item_shape().expect("non-empty");
    let batch_size = config.train.batch_size;
    let (results, names) = config.data.problem.visit(shape, EvalVisitor { model, set, device, batch_size })?;
    let summary = EvalSummary::from_items(&results, names);
    evaluate::write_report(out, &results, &summary, label)?;
    print!("{}", summary.table(&format!("{label}, {} items", summary.items)));
    println!("report: {}", out.display());
    Ok(summary)
}

/// The held-out images of an experiment: all of `data` when given (read as the experiment's kind
/// of source, in its own order, no split of it; `config` is changed to say so), else the test
/// split, or the validation split when the test split is empty.
pub(crate) fn held_out(
    config: &mut ExperimentConfig,
    data: Option<&Path>,
) -> Result<(Split, SplitDataset), TrainError> {
    if let Some(data) = data {
        config.data.source = with_path(config.data.source.clone(), data.to_path_buf());
        config.data.split = SplitConfig { train: 0.0, val: 0.0, test: 1.0, contiguous: true, train_limit: None };
    }
    let images = Arc::new(config.data.load()?);
    let dataset = |split| config.data.dataset(images.clone(), split, config.seed).map_err(|m| config.error(m));
    let (mut split, mut set) = (Split::Test, dataset(Split::Test)?);
    if set.is_empty() {
        (split, set) = (Split::Val, dataset(Split::Val)?);
    }
    if set.is_empty() {
        return Err(TrainError::Usage(format!(
            "no test or validation images in {}",
            config.data.source.path().display()
        )));
    }
    Ok((split, set))
}

/// `eval --data` on fastMRI-layout k-space (see [`evaluate::evaluate_kspace`]).
fn eval_kspace(
    options: &EvalOptions,
    config: &ExperimentConfig,
    model: &Model,
    volumes: &[PathBuf],
    (mask, fft, coil_maps): (&MaskConfig, Fft2, CoilMapSource),
    device: &Device,
) -> Result<EvalSummary, TrainError> {
    struct KspaceVisitor<'a> {
        model: &'a Model,
        volumes: &'a [PathBuf],
        acquisition: (&'a MaskConfig, Fft2, CoilMapSource, u64),
        device: &'a Device,
    }
    impl SimulationVisitor for KspaceVisitor<'_> {
        type Output = Result<(Vec<evaluate::ItemResult>, (&'static str, &'static str)), TrainError>;
        fn visit<S: Simulation>(self, simulation: S) -> Self::Output {
            let results =
                evaluate::evaluate_kspace(self.model, self.volumes, &simulation, self.acquisition, self.device, true)?;
            Ok((results, (simulation.input_name(), simulation.baseline_name())))
        }
    }
    let shape = [1, 1, 1];
    let visitor = KspaceVisitor { model, volumes, acquisition: (mask, fft, coil_maps, config.seed), device };
    let (results, names) = config.data.problem.visit(shape, visitor)?;
    let summary = EvalSummary::from_items(&results, names);
    let label = format!("{} on {} fastMRI volume(s)", config.name(), volumes.len());
    evaluate::write_report(&options.out, &results, &summary, &label)?;
    print!("{}", summary.table(&format!("{} ({} volumes)", config.name(), summary.items)));
    for (result, path) in results.iter().zip(volumes) {
        println!("  {}: PSNR {:.2} dB, SSIM {:.4}", path.display(), result.recon.psnr, result.recon.ssim);
    }
    println!("report: {}", options.out.display());
    Ok(summary)
}

struct EvalVisitor<'a, R> {
    model: &'a R,
    set: &'a SplitDataset,
    device: &'a Device,
    batch_size: usize,
}

impl<R: Reconstruction> SimulationVisitor for EvalVisitor<'_, R> {
    type Output = Result<(Vec<evaluate::ItemResult>, (&'static str, &'static str)), TrainError>;

    fn visit<S: Simulation>(self, simulation: S) -> Self::Output {
        let results = evaluate::evaluate(self.model, self.set, &simulation, self.device, self.batch_size, true)?;
        Ok((results, (simulation.input_name(), simulation.baseline_name())))
    }
}

fn with_path(source: SourceConfig, new: PathBuf) -> SourceConfig {
    match source {
        SourceConfig::ImageFolder { grayscale, .. } => SourceConfig::ImageFolder { path: new, grayscale },
        SourceConfig::Nifti { axis, slices, .. } => SourceConfig::Nifti { path: new, axis, slices },
        SourceConfig::Npy { key, .. } => SourceConfig::Npy { path: new, key },
        SourceConfig::Fits { hdus, .. } => SourceConfig::Fits { path: new, hdus },
        SourceConfig::Dicom { .. } => SourceConfig::Dicom { path: new },
        SourceConfig::Digits { side, limit, .. } => SourceConfig::Digits { path: new, side, limit },
        SourceConfig::Fastmri { fft, .. } => SourceConfig::Fastmri { path: new, fft },
        SourceConfig::Galaxies { catalog: _, psfs, stamps, per_galaxy, size, seed } => {
            SourceConfig::Galaxies { catalog: new, psfs, stamps, per_galaxy, size, seed }
        }
    }
}

/// Describes a data file, a training output folder (writing its `curves.png`) or a package.
pub fn inspect(path: &Path) -> Result<String, TrainError> {
    if path.is_dir() {
        if path.join("metadata.json").exists() {
            let text = std::fs::read_to_string(path.join("metadata.json")).map_err(|e| TrainError::file(path, e))?;
            return Ok(format!("model package {}\n{text}", path.display()));
        }
        let run = RunFolder::open(path)?;
        let mut text = format!(
            "training output {}\nexperiment: {}\nmodel: {} ({} input channels, images {:?})\nweights: {}\n",
            path.display(),
            run.config.name(),
            run.config.model.name(),
            run.shape.channels,
            run.shape.image_shape,
            run.weights.display()
        );
        if let Some(dir) = crate::checkpoint::find(path) {
            let state = std::fs::read_to_string(dir.join("state.json")).map_err(|e| TrainError::file(&dir, e))?;
            let state: crate::checkpoint::LoopState =
                serde_json::from_str(&state).map_err(|e| TrainError::file(dir.join("state.json"), e))?;
            text += &format!("checkpoint: epoch {}, step {}, best {:?}\n", state.epoch, state.step, state.best);
        }
        if path.join("train_log.csv").exists() {
            text += &match crate::plot::plot_run(path) {
                Ok(png) => format!("curves: {}\n", png.display()),
                Err(e) => format!("curves: not plotted: {e}\n"),
            };
        }
        return Ok(text);
    }
    Ok(unroll_data::readers::inspect(path)?)
}
