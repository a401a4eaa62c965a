//! `unroll bench`: the speed and memory of each model on a fixed problem.
//!
//! The clean image is the centre `size × size` crop of axial slice [`BENCH_SLICE`] of the shipped
//! brain volume `datasets/brain/ch2.nii.gz`, repeated `batch` times. Each entry names its problem:
//! the MRI models (and the quickstart network) run the `multicoil_mri` problem with 8 simulated
//! coils, a 4× equispaced mask with an 8 % fully sampled centre (fastMRI's
//! `EquispacedMaskFractionFunc`), coil maps estimated from the ACS (the default) and no noise; the
//! plug-and-play networks a Gaussian blur, the learned proximal network Gaussian denoising,
//! DR-CG-Net compressed sensing and CT. The measurement is simulated once, by the same source,
//! split and batcher as training; simulation is not timed.
//!
//! Measured, each as the median of `runs` timed runs after `warmup` untimed ones:
//! - `forward_s`: the model's forward pass without autodiff (the model after `valid()`, on the
//!   inner device, as evaluation and inference run it), with the normalisation of
//!   [`crate::normalise::forward`], until the last iterate's sum is read back to the host;
//! - `train_step_s`: one training step as the trainer takes it: forward, the loss
//!   ([`crate::trainer::batch_loss`] with the default loss, L1 on the last iterate), its value read
//!   back, backward, gradients and the Adam step (lr 1e-3), then a device sync;
//! - `params`: the number of trainable parameters;
//! - `peak_rss_mib`: the process's peak resident memory (`VmHWM` of `/proc/self/status`, MiB; `None`
//!   where that file does not exist). It covers the whole process, reading the volume included, so
//!   `bench all` runs each model in a child process of its own.

mod conv_net;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use serde::{Deserialize, Serialize};
use unroll_data::{
    AugmentConfig, CoilMapSource, DataConfig, Measured, ProblemConfig, Simulation, SimulationBatcher,
    SimulationVisitor, SourceConfig, Split, SplitConfig, SplitDataset,
};
use unroll_models::{
    CirimConfig, DrCgNetConfig, E2eVarNetConfig, GalaxyAdmmConfig, LpnConfig, Model, ModelConfig,
    RecurrentVarNetConfig, UnetConfig, UnrolledPgdConfig, UnrolledPnpConfig,
};
use unroll_physics::{BlurBoundary, Fft2, MaskConfig, NoiseModel, Physics, Signal};

use crate::config::{BackendKind, ExperimentConfig, ModelShape, OptimizerConfig, ScheduleConfig, TrainConfig};
use crate::error::TrainError;
use crate::losses::{IterateWeighting, LossConfig};
use crate::normalise::forward;
use crate::trainer::{batch_loss, optimizer};

/// One entry of the bench table: a model in its benchmark configuration, the problem, image side
/// and batch it runs at, and the PyTorch figures it is compared with.
#[derive(Clone, Debug)]
pub struct BenchModel {
    /// The name on the command line.
    pub name: &'static str,
    pub model: ModelConfig,
    pub problem: ProblemConfig,
    /// Default image side (`--size` overrides it).
    pub size: usize,
    pub batch: usize,
    pub reference: Option<Reference>,
}

/// A PyTorch measurement of the same configuration on a 2-core CPU of this kind, 2 threads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// What was timed, and where the figures come from.
    pub source: String,
    pub forward_s: Option<f64>,
    pub train_step_s: f64,
    pub peak_rss_mib: Option<f64>,
}

/// Our figure over the reference's, for each figure both have (below 1: we are faster or leaner).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    pub forward: Option<f64>,
    pub train_step: f64,
    pub peak_rss: Option<f64>,
}

/// The models `unroll bench` knows, in their benchmark configurations. `unroll bench all` runs
/// them in this order, then [`CONV_NET`].
pub fn bench_models() -> Vec<BenchModel> {
    let mri =
        |name, model, reference| BenchModel { name, model, problem: mri_problem(), size: 128, batch: 1, reference };
    let direct = |what: &str, forward_s, train_step_s, gib: f64| Reference {
        source: format!("{what} (issue 9), 2 threads"),
        forward_s: Some(forward_s),
        train_step_s,
        peak_rss_mib: Some(gib * 1024.0),
    };
    vec![
        // The quickstart's network (`experiments/quickstart.toml`) at its training shape: 96×96,
        // batch 4.
        BenchModel {
            name: "quickstart",
            model: ModelConfig::UnrolledPgd(UnrolledPgdConfig {
                iterations: 4,
                features: 16,
                layers: 3,
                ..UnrolledPgdConfig::default()
            }),
            problem: mri_problem(),
            size: 96,
            batch: 4,
            reference: Some(Reference {
                source: QUICKSTART_TWIN.into(),
                forward_s: Some(QUICKSTART_TWIN_FIGURES[0]),
                train_step_s: QUICKSTART_TWIN_FIGURES[1],
                peak_rss_mib: Some(QUICKSTART_TWIN_FIGURES[2]),
            }),
        },
        // fastMRI's U-Net baseline (32 channels, 4 pools).
        mri("unet", ModelConfig::Unet(UnetConfig::default()), None),
        // The configurations the PyTorch references (DIRECT, ATOMMIC) were timed at, without the
        // coil-map network: RecurrentVarNet 15 steps × 64 hidden × 4 layers with the SENSE RSI
        // (DIRECT's `RecurrentVarNetConfig`), CIRIM 5 cascades × 8 steps of 64-filter IndRNNs,
        // E2E-VarNet at fastMRI's 12 cascades × 18 channels × 4 pools.
        mri(
            "recurrentvarnet",
            ModelConfig::RecurrentVarNet(RecurrentVarNetConfig { coil_refinement: false, ..Default::default() }),
            Some(direct("DIRECT's RecurrentVarNet", 6.2, 28.7, 4.8)),
        ),
        mri(
            "cirim",
            ModelConfig::Cirim(CirimConfig { coil_refinement: false, ..Default::default() }),
            Some(direct("ATOMMIC's CIRIM", 11.4, 26.8, 2.6)),
        ),
        mri(
            "e2e_varnet",
            ModelConfig::E2eVarnet(E2eVarNetConfig { coil_refinement: false, ..Default::default() }),
            None,
        ),
        // The configuration deepinv's unfolded ADMM was timed at (issue 11): 5 iterations, one
        // tied DnCNN of depth 7 and 64 channels with bias (the defaults), Gaussian blur σ 2,
        // batch 16 × 1 × 64².
        BenchModel {
            name: "pnp_admm",
            model: ModelConfig::PnpAdmm(UnrolledPnpConfig::default()),
            problem: ProblemConfig::Blur {
                sigma: [2.0, 2.0],
                kernel_size: 13,
                boundary: BlurBoundary::Circular,
                noise: NoiseModel::Gaussian { sigma: 0.01 },
            },
            size: 64,
            batch: 16,
            reference: Some(Reference {
                source: "deepinv 0.5 unfolded ADMM (issue 11), 2 threads".into(),
                forward_s: Some(4.79),
                train_step_s: 9.0,
                peak_rss_mib: Some(1.79 * 1024.0),
            }),
        },
        // The galaxy network of issue 11 at the paper's shape: 8 iterations, batch 32 × 48²,
        // the galaxy problem's image-sized ground-based PSFs (linear convolution on a 95² grid).
        BenchModel {
            name: "galaxy_admm",
            model: ModelConfig::GalaxyAdmm(GalaxyAdmmConfig::default()),
            problem: ProblemConfig::Galaxy { snr: [18.0, 220.0] },
            size: 48,
            batch: 32,
            reference: None,
        },
        // The learned proximal network at the configuration the reference LPN code was timed at
        // (issue 12): the patch ICNN, hidden 256, β 100, α 1e-6, an 8×8 head for 64×64 input,
        // batch 16, L1 loss, the weight clamp after the step; denoising at σ 0.1.
        BenchModel {
            name: "lpn",
            model: ModelConfig::Lpn(LpnConfig::default()),
            problem: ProblemConfig::Denoising { noise: NoiseModel::Gaussian { sigma: 0.1 } },
            size: 64,
            batch: 16,
            reference: Some(Reference {
                source: "reference LPN code (issue 12), 2 threads".into(),
                forward_s: Some(3.78),
                train_step_s: 12.8,
                peak_rss_mib: Some(2.4 * 1024.0),
            }),
        },
        // DR-CG-Net at the reference configuration (K 3, J 4, D 8, 32 features, ISTA, `const`
        // covariance; issue 10), batch 20: Gaussian compressed sensing at ratio 0.3 on 32×32, and
        // few-view CT with 30 angles on 64×64, both at 60 dB SNR. No PyTorch reference exists.
        BenchModel {
            name: "drcgnet",
            model: ModelConfig::Drcgnet(DrCgNetConfig::default()),
            problem: ProblemConfig::CompressedSensing {
                ratio: 0.3,
                matrix_seed: 0,
                noise: NoiseModel::Snr { db: 60.0 },
            },
            size: 32,
            batch: 20,
            reference: None,
        },
        BenchModel {
            name: "drcgnet_ct",
            model: ModelConfig::Drcgnet(DrCgNetConfig::default()),
            problem: ProblemConfig::Tomography { angles: 30, noise: NoiseModel::Snr { db: 60.0 } },
            size: 64,
            batch: 20,
            reference: None,
        },
    ]
}

/// The MRI problem of the module docs.
fn mri_problem() -> ProblemConfig {
    ProblemConfig::MulticoilMri {
        coils: 8,
        mask: MaskConfig::Equispaced { acceleration: 4, center_fraction: 0.08 },
        noise: NoiseModel::None,
        fft: Fft2::default(),
        phase: 0.0,
        coil_maps: CoilMapSource::Acs,
    }
}

/// The PyTorch twin of the quickstart network and where its figures were measured.
const QUICKSTART_TWIN: &str = "PyTorch 2.15 twin (the peer script quickstart_pgd.py, its forward timed under no_grad), \
                               2 threads, median of 3 runs interleaved with ours, 2026-12-03";
/// Its forward, train step (s) and peak RSS (MiB).
const QUICKSTART_TWIN_FIGURES: [f64; 3] = [0.0239, 0.0815, 781.0];

/// The name of the convolution micro-benchmark ([`conv_net`]).
pub const CONV_NET: &str = "conv_net";

/// The axial slice of the volume that is benchmarked (the middle one of `ch2.nii.gz`'s 181).
pub const BENCH_SLICE: usize = 90;

/// The seed of the simulated measurement and the initial weights.
const BENCH_SEED: u64 = 42;

/// Options of `unroll bench`.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Side of the square image (the centre crop of the slice); `None`: each model's own.
    pub size: Option<usize>,
    /// Timed runs of each measurement (the median is reported).
    pub runs: usize,
    /// Untimed runs before them.
    pub warmup: usize,
    /// Compute backend.
    pub backend: BackendKind,
    /// The NIfTI volume the slice is taken from.
    pub volume: PathBuf,
    /// Train with Burn's balanced gradient checkpointing (`train.gradient_checkpointing`).
    pub gradient_checkpointing: bool,
}

/// The figures of one model (one JSON line of `unroll bench --json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// The model's name in [`bench_models`].
    pub model: String,
    /// Trainable parameters.
    pub params: usize,
    /// Median forward pass without autodiff, seconds.
    pub forward_s: f64,
    /// Median training step (forward, loss, backward, Adam), seconds.
    pub train_step_s: f64,
    /// Peak resident memory of the process, MiB (`None` off Linux).
    pub peak_rss_mib: Option<f64>,
    /// The backend.
    pub backend: BackendKind,
    /// The model config and the bench setup.
    pub config: serde_json::Value,
    /// The PyTorch figures of the same configuration, if any were measured.
    pub reference: Option<Reference>,
    /// Ours over the reference's (`None` without a reference).
    pub ratio: Option<Ratio>,
}

impl BenchResult {
    /// Fills in `reference` and `ratio`.
    fn against(mut self, reference: Option<Reference>) -> Self {
        self.ratio = reference.as_ref().map(|r| Ratio {
            forward: r.forward_s.map(|f| self.forward_s / f),
            train_step: self.train_step_s / r.train_step_s,
            peak_rss: r.peak_rss_mib.zip(self.peak_rss_mib).map(|(theirs, ours)| ours / theirs),
        });
        self.reference = reference;
        self
    }
}

/// `unroll bench <model|all>`: benchmarks `model` (or every model of [`bench_models`], each in a
/// child process, for `all`) and prints one JSON line per model (`json`) or a table at the end.
pub fn run(model: &str, options: &BenchOptions, json: bool) -> Result<Vec<BenchResult>, TrainError> {
    let results = if model == "all" {
        bench_all(options, json)?
    } else {
        let result = bench(model, options)?;
        if json {
            println!("{}", serde_json::to_string(&result).expect("result serialises"));
        }
        vec![result]
    };
    if !json {
        print!("{}", table(options, &results));
    }
    Ok(results)
}

/// Benchmarks the model named `name` in this process (see the module docs).
pub fn bench(name: &str, options: &BenchOptions) -> Result<BenchResult, TrainError> {
    if name == CONV_NET {
        return conv_net::bench(options);
    }
    let Some(entry) = bench_models().into_iter().find(|known| known.name == name) else {
        return Err(TrainError::Usage(format!(
            "bench: unknown model `{name}`; known models: {}, or all",
            known_names()
        )));
    };
    if options.runs == 0 {
        return Err(TrainError::Usage("bench: --runs must be at least 1".into()));
    }
    if !options.volume.exists() {
        return Err(TrainError::Usage(format!(
            "bench: the volume {} does not exist; run from the repository root or pass --volume",
            options.volume.display()
        )));
    }
    let size = options.size.unwrap_or(entry.size);
    let config = experiment(entry.model, entry.problem, size, entry.batch, options);
    let invalid = |m: String| TrainError::Usage(format!("bench --size {size}: {m}"));
    config.validate().map_err(invalid)?;
    let images = Arc::new(config.data.load()?);
    let set = config.data.dataset(images, Split::Test, config.seed).map_err(invalid)?;
    let shape = set.item_shape().ok_or_else(|| invalid("the slice range is empty".into()))?;
    let result = config.data.problem.visit(shape, BenchVisitor { name, config: &config, set, options })?;
    // The reference was measured at the entry's own size only.
    Ok(result.against(entry.reference.filter(|_| size == entry.size)))
}

/// The experiment a model is benchmarked in: the setup of the module docs on `size × size` images,
/// the default loss and optimiser.
fn experiment(
    model: ModelConfig,
    problem: ProblemConfig,
    size: usize,
    batch_size: usize,
    options: &BenchOptions,
) -> ExperimentConfig {
    ExperimentConfig {
        name: Some("bench".into()),
        seed: BENCH_SEED,
        backend: options.backend,
        data: DataConfig {
            source: SourceConfig::Nifti {
                path: options.volume.clone(),
                axis: 2,
                slices: Some([BENCH_SLICE, BENCH_SLICE + 1]),
            },
            problem,
            split: SplitConfig { train: 0.0, val: 0.0, test: 1.0, contiguous: true, train_limit: None },
            crop: Some([size, size]),
            crops_per_image: 1,
            augment: AugmentConfig::default(),
        },
        // CIRIM's loss weighs every estimate (ATOMMIC's `accumulate_predictions`).
        loss: LossConfig {
            iterates: if matches!(model, ModelConfig::Cirim(_)) {
                IterateWeighting::Logspace
            } else {
                IterateWeighting::Last
            },
            ..LossConfig::default()
        },
        model,
        optimizer: OptimizerConfig::default(),
        schedule: ScheduleConfig::default(),
        train: TrainConfig {
            epochs: 1,
            batch_size,
            checkpoint_every: 0,
            validate_every: 1,
            early_stopping: None,
            log_every: 1,
            devices: 1,
            gradient_checkpointing: options.gradient_checkpointing,
        },
        file: None,
    }
}

/// Every name `unroll bench` takes (but `all`), in the order `all` runs them.
pub fn bench_names() -> Vec<&'static str> {
    bench_models().iter().map(|m| m.name).chain([CONV_NET]).collect()
}

fn known_names() -> String {
    bench_names().join(", ")
}

struct BenchVisitor<'a> {
    name: &'a str,
    config: &'a ExperimentConfig,
    set: SplitDataset,
    options: &'a BenchOptions,
}

impl SimulationVisitor for BenchVisitor<'_> {
    type Output = Result<BenchResult, TrainError>;

    fn visit<S: Simulation>(self, simulation: S) -> Self::Output {
        let BenchVisitor { name, config, set, options } = self;
        let device = config.backend.device();
        let adevice = config.train.autodiff(device.clone());
        adevice.seed(config.seed);
        let image_shape = set.item_shape().expect("one slice");
        let shape = ModelShape { channels: simulation.model_channels(image_shape[0]), image_shape };
        let model = config.model.init(&config.model_context(shape), &adevice);
        let params = model.num_params();
        let batcher = SimulationBatcher { simulation };
        // The one slice, `batch` times.
        let items = set.items(&vec![0; config.train.batch_size])?;

        let inference = model.valid();
        let batch = batcher.batch(items.clone(), &device);
        let forward_s = median_seconds(options, (), |()| {
            let (mut iterates, _) = forward(&inference, &batch.op, batch.y.clone());
            iterates.pop().expect("at least one iterate").image().sum().into_scalar::<f64>();
            Ok(())
        })?;
        drop((inference, batch));

        let batch = batcher.batch(items, &adevice);
        let mut optim = optimizer(config);
        let train_step_s = median_seconds(options, model, |model| train_step(config, model, &mut optim, &batch))?;

        let [_, h, w] = image_shape;
        let setup = serde_json::json!({
            "model": config.model,
            "batch": config.train.batch_size,
            "size": [h, w],
            "problem": config.data.problem,
            "source": config.data.source,
            "loss": config.loss,
            "optimizer": config.optimizer,
            "gradient_checkpointing": config.train.gradient_checkpointing,
            "runs": options.runs,
            "warmup": options.warmup,
        });
        Ok(BenchResult {
            model: name.to_string(),
            params,
            forward_s,
            train_step_s,
            peak_rss_mib: peak_rss_mib(),
            backend: config.backend,
            config: setup,
            reference: None,
            ratio: None,
        })
    }
}

/// One training step of the trainer's: forward and loss, the loss value read back (and checked),
/// backward, Adam and the model's constraints; then a device sync so the time covers the update.
fn train_step<Op: Physics>(
    config: &ExperimentConfig,
    model: Model,
    optim: &mut ModuleOptimizer,
    batch: &Measured<Op>,
) -> Result<Model, TrainError> {
    let loss = batch_loss(&config.loss, &model, batch, 0.0);
    let value = loss.clone().into_scalar::<f64>();
    if !value.is_finite() {
        return Err(TrainError::Diverged(format!("bench: the loss is {value}")));
    }
    let device = loss.device();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optim.step(config.optimizer.lr, model, grads).project();
    device.sync().map_err(|e| TrainError::Usage(format!("bench: the device failed: {e}")))?;
    Ok(model)
}

/// The median wall time of `options.runs` calls of `step` after `options.warmup` untimed ones;
/// `step` passes `state` on from call to call.
fn median_seconds<T>(
    options: &BenchOptions,
    mut state: T,
    mut step: impl FnMut(T) -> Result<T, TrainError>,
) -> Result<f64, TrainError> {
    let mut times = Vec::with_capacity(options.runs);
    for run in 0..options.warmup + options.runs {
        let started = Instant::now();
        state = step(state)?;
        if run >= options.warmup {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let mid = times.len() / 2;
    Ok(if times.len() % 2 == 1 { times[mid] } else { (times[mid - 1] + times[mid]) / 2.0 })
}

/// Peak resident memory of this process in MiB (`VmHWM` of `/proc/self/status`), `None` where
/// that file does not exist (not Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kib: f64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// Every model of [`bench_models`], each in a child process (`unroll bench <name> --json` with the
/// same options) so that its peak memory is its own; relays each child's JSON line when `json`.
fn bench_all(options: &BenchOptions, json: bool) -> Result<Vec<BenchResult>, TrainError> {
    let exe = std::env::current_exe().map_err(|e| TrainError::Usage(format!("bench all: no executable: {e}")))?;
    let mut results = Vec::new();
    for name in bench_names() {
        let output = Command::new(&exe)
            .args(["bench", name, "--json"])
            .args(options.size.map(|size| format!("--size={size}")))
            .args(["--runs", &options.runs.to_string()])
            .args(["--warmup", &options.warmup.to_string()])
            .args(["--backend", &backend_name(options.backend)])
            .arg("--volume")
            .arg(&options.volume)
            .args(options.gradient_checkpointing.then_some("--gradient-checkpointing"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| TrainError::Usage(format!("bench all: cannot run {}: {e}", exe.display())))?;
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let failed = |why: String| {
            // The child's own `error: ` prefixes are dropped: this is one error.
            let told: Vec<&str> = stderr.lines().map(|l| l.strip_prefix("error: ").unwrap_or(l)).collect();
            TrainError::Usage(format!("bench all: model {name} failed ({why}): {}", told.join("\n")))
        };
        if !output.status.success() {
            return Err(failed(output.status.to_string()));
        }
        eprint!("{stderr}");
        let line = stdout.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        let result: BenchResult =
            serde_json::from_str(line).map_err(|e| failed(format!("its output {line:?}: {e}")))?;
        if json {
            println!("{line}");
        }
        results.push(result);
    }
    Ok(results)
}

/// The backend's name on the command line (`flex`, …).
fn backend_name(backend: BackendKind) -> String {
    clap::ValueEnum::to_possible_value(&backend).expect("every backend has a name").get_name().to_string()
}

/// The human-readable report: the setup, then one row per model.
pub fn table(options: &BenchOptions, results: &[BenchResult]) -> String {
    let mut text = format!(
        "bench: slice {BENCH_SLICE} of {}, {}; median of {} run(s) after {} warm-up; ratios are ours / PyTorch's; \
         mri: 8 coils, 4x equispaced mask (8% centre), ACS maps\n",
        options.volume.display(),
        backend_name(options.backend),
        options.runs,
        options.warmup,
    );
    text += &format!(
        "{:<16}{:<8}{:>10}{:>7}{:>11}{:>11}{:>13}{:>11}{:>12}{:>12}{:>10}\n",
        "model",
        "problem",
        "size",
        "batch",
        "params",
        "forward s",
        "train step s",
        "RSS MiB",
        "fwd ratio",
        "step ratio",
        "RSS ratio"
    );
    let ratio = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.2}"));
    for r in results {
        let size = r.config["size"].as_array().map_or("?".into(), |s| format!("{}x{}", s[0], s[1]));
        text += &format!(
            "{:<16}{:<8}{:>10}{:>7}{:>11}{:>11.4}{:>13.4}{:>11}{:>12}{:>12}{:>10}\n",
            r.model,
            problem_name(&r.config["problem"]),
            size,
            r.config["batch"].to_string(),
            r.params,
            r.forward_s,
            r.train_step_s,
            r.peak_rss_mib.map_or("n/a".into(), |m| format!("{m:.1}")),
            ratio(r.ratio.as_ref().and_then(|q| q.forward)),
            ratio(r.ratio.as_ref().map(|q| q.train_step)),
            ratio(r.ratio.as_ref().and_then(|q| q.peak_rss)),
        );
    }
    text
}

/// `mri`, `blur`, … from a result's problem config.
fn problem_name(problem: &serde_json::Value) -> &str {
    match problem["kind"].as_str() {
        Some("multicoil_mri") => "mri",
        Some(kind) => kind,
        None => "?",
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn quickstart_is_the_quickstart_network_at_its_training_shape() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/quickstart.toml");
        let quickstart = ExperimentConfig::load(&file, &[]).unwrap();
        let entry = bench_models().into_iter().find(|m| m.name == "quickstart").unwrap();
        assert_eq!(entry.model, quickstart.model);
        assert_eq!((entry.size, entry.batch), (96, quickstart.train.batch_size));
        assert_eq!(quickstart.data.crop, Some([96, 96]));
    }
}
