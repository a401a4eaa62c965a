//! `unroll`: train, evaluate, export and run unrolled reconstruction networks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use unroll_train::bench::{self, BenchOptions};
use unroll_train::commands::{self, EvalOptions};
use unroll_train::infer::{self, InferOptions};
use unroll_train::package::{self, RunFolder};
use unroll_train::trainer::{self, TrainOptions};
use unroll_train::{BackendKind, ExperimentConfig, TrainError};

/// Train, evaluate and export unrolled networks for imaging inverse problems
/// (MRI, deblurring, compressed sensing, CT, inpainting, denoising).
#[derive(Parser, Debug)]
#[command(name = "unroll", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model described by an experiment file (TOML).
    Train {
        /// The experiment file, e.g. experiments/quickstart.toml.
        experiment: PathBuf,
        /// Output folder for checkpoints, logs and metrics [default: checkpoints/<experiment name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue the run whose checkpoint is in the output folder.
        #[arg(long)]
        resume: bool,
        /// Compute backend (overrides the file's `backend`).
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
        /// Override a config key, e.g. --set train.epochs=1 --set optimizer.lr=3e-4 (repeatable;
        /// the value is TOML, bare words are strings).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Evaluate a checkpoint or package on held-out data: metrics.json, metrics.csv and PNG panels
    /// (target | input | reconstruction | error).
    Eval {
        /// A training output folder (uses its best model) or an exported package.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Use this experiment file instead of the one stored with the checkpoint.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Evaluate on all images of this path instead (same kind of source as the experiment; no
        /// split is taken of it).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Report folder [default: <checkpoint>/eval].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Compute backend [default: flex].
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
    },
    /// Export a trained model as a self-contained package (config, safetensors weights, metadata).
    Export {
        /// The training output folder.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The package folder to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Reconstruct new measurements with a package (no ground truth): writes recon.npy and PNGs.
    Infer {
        /// The exported package.
        #[arg(long)]
        model: PathBuf,
        /// The measurement: fastMRI-layout HDF5 k-space (MRI); an image or 2D .npy (deblurring,
        /// denoising, inpainting); a .npy of [m] or [N, m] measurements of the package's Gaussian
        /// matrix (compressed sensing); a .npy sinogram [detectors, angles] or [N, detectors,
        /// angles] of line integrals in pixel units (tomography).
        #[arg(long)]
        input: PathBuf,
        /// Output folder.
        #[arg(long, default_value = "inference")]
        out: PathBuf,
        /// Deblurring: width (standard deviation, pixels) of the Gaussian PSF [default: middle of
        /// the training range].
        #[arg(long)]
        psf_sigma: Option<f64>,
        /// Inpainting: the observed-pixel mask (image or 2D .npy, non-zero = observed)
        /// [default: pixels that are exactly 0 in every channel are missing].
        #[arg(long)]
        mask: Option<PathBuf>,
        /// Compute backend [default: flex].
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
    },
    /// Benchmark a model's speed and memory on a fixed multi-coil MRI setup, against PyTorch.
    ///
    /// Setup: multicoil_mri, 8 coils, 4x equispaced mask with 8% centre (fastMRI style), coil
    /// maps from the ACS, the centre crop of axial slice 90 of datasets/brain/ch2.nii.gz (the
    /// batch repeats it): quickstart at 96x96 batch 4 (its training shape), the other models at
    /// 128x128 batch 1 (the PyTorch references' setup). conv_net is a 5-layer 3x3 CNN
    /// 1-64-64-64-64-1 on random 4x1x64x64 batches. Measured (medians of --runs after --warmup
    /// untimed runs): forward_s, the forward pass without autodiff up to reading the output back;
    /// train_step_s, forward + L1 loss + backward + Adam step + device sync, as in training;
    /// params, the trainable parameters; peak_rss_mib, the process's peak resident memory (VmHWM;
    /// null off Linux); reference, PyTorch's figures for the same configuration (2 threads), and
    /// ratio, ours over theirs. `all` runs each model in its own process, so each peak memory is
    /// its own.
    Bench {
        /// A model of the bench table (quickstart, unet, recurrentvarnet, cirim, e2e_varnet),
        /// conv_net, or `all`.
        model: String,
        /// Print one JSON line per model (keys: model, params, forward_s, train_step_s,
        /// peak_rss_mib, backend, config, reference, ratio) instead of a table.
        #[arg(long)]
        json: bool,
        /// Image side in pixels (the centre crop of the slice); default: each model's own
        /// (quickstart 96, conv_net 64, the others 128).
        #[arg(long)]
        size: Option<usize>,
        /// Timed runs per measurement; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Untimed warm-up runs before them.
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Compute backend.
        #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
        backend: BackendKind,
        /// The NIfTI volume the slice is taken from.
        #[arg(long, default_value = "datasets/brain/ch2.nii.gz")]
        volume: PathBuf,
        /// Train with gradient checkpointing (as `train.gradient_checkpointing = true` does):
        /// memory-bound activations are recomputed in the backward pass.
        #[arg(long)]
        gradient_checkpointing: bool,
    },
    /// Describe a data file (HDF5, NIfTI, NPY/NPZ, PNG/JPEG, IDX, FITS, DICOM), a training output folder or a
    /// package.
    Inspect {
        /// The file or folder.
        path: PathBuf,
    },
}

fn run(cli: Cli) -> Result<(), TrainError> {
    match cli.command {
        Command::Train { experiment, out, resume, backend, set } => {
            let mut config = ExperimentConfig::load(&experiment, &set)?;
            if let Some(backend) = backend {
                config.backend = backend;
            }
            let out_dir = out.unwrap_or_else(|| config.default_out_dir());
            trainer::train(&config, &TrainOptions { out_dir, resume })?;
        }
        Command::Eval { checkpoint, config, data, out, backend } => {
            let out = out.unwrap_or_else(|| checkpoint.join("eval"));
            commands::eval(&EvalOptions { checkpoint, config, data, out, backend })?;
        }
        Command::Export { checkpoint, out } => {
            let metadata = package::export(&RunFolder::open(&checkpoint)?, &out)?;
            println!("exported {} ({}) to {}", metadata.name, metadata.model, out.display());
        }
        Command::Infer { model, input, out, psf_sigma, mask, backend } => {
            let device = backend.unwrap_or_default().device();
            let package = package::load(&model, &device)?;
            let images =
                infer::infer(&package, &InferOptions { input, out_dir: out.clone(), psf_sigma, mask }, &device)?;
            println!("reconstructed {} image(s) into {}", images.len(), out.display());
        }
        Command::Bench { model, json, size, runs, warmup, backend, volume, gradient_checkpointing } => {
            bench::run(&model, &BenchOptions { size, runs, warmup, backend, volume, gradient_checkpointing }, json)?;
        }
        Command::Inspect { path } => print!("{}", commands::inspect(&path)?),
    }
    Ok(())
}

fn main() -> ExitCode {
    // Burn materialises a loaded optimiser state on `Device::default()`, which prefers the GPU and so
    // would start the GPU stack on a CPU resume; the state moves to the run's device at the next step
    // anyway. Pin the default to the CPU unless the user chose one.
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: no other thread exists yet, so nothing reads the environment concurrently.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
