//! `unroll`: train, evaluate, export and run unrolled reconstruction networks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use unroll_train::bench::{self, BenchOptions};
use unroll_train::commands::{self, EvalOptions};
use unroll_train::infer::{self, InferOptions};
use unroll_train::lpn_toy::{self, ToyOptions};
use unroll_train::package::{self, RunFolder};
use unroll_train::pnp::{self, PnpOptions, Solver};
use unroll_train::prior::{self, PriorOptions};
use unroll_train::shear::{self, ShearOptions};
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
        /// angles] of line integrals in pixel units (tomography); a FITS, .npy or image
        /// observation (galaxy deconvolution, with --psf).
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
        /// Galaxy deconvolution: the observation's PSF (FITS, .npy or image, centred at
        /// (H/2, W/2), normalised to sum 1 on reading).
        #[arg(long)]
        psf: Option<PathBuf>,
        /// Compute backend [default: flex].
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
    },
    /// Benchmark a model's speed and memory on a fixed setup, against PyTorch.
    ///
    /// The clean image is the centre crop of axial slice 90 of datasets/brain/ch2.nii.gz (the
    /// batch repeats it). The MRI models run multicoil_mri, 8 coils, 4x equispaced mask with 8%
    /// centre (fastMRI style), coil maps from the ACS: quickstart at 96x96 batch 4 (its training
    /// shape), the others at 128x128 batch 1 (the PyTorch references' setup). pnp_admm runs a
    /// Gaussian blur (σ 2) at 64x64 batch 16, galaxy_admm the galaxy problem at 48x48 batch 32,
    /// lpn denoising (σ 0.1) at 64x64 batch 16, drcgnet Gaussian compressed sensing (ratio 0.3)
    /// at 32x32 batch 20, drcgnet_ct CT (30 angles) at 64x64 batch 20. conv_net is a 5-layer 3x3 CNN
    /// 1-64-64-64-64-1 on random 4x1x64x64 batches. Measured (medians of --runs after --warmup
    /// untimed runs): forward_s, the forward pass without autodiff up to reading the output back;
    /// train_step_s, forward + L1 loss + backward + Adam step + device sync, as in training;
    /// params, the trainable parameters; peak_rss_mib, the process's peak resident memory (VmHWM;
    /// null off Linux); reference, PyTorch's figures for the same configuration (2 threads), and
    /// ratio, ours over theirs. `all` runs each model in its own process, so each peak memory is
    /// its own.
    Bench {
        /// A model of the bench table (quickstart, unet, recurrentvarnet, cirim, e2e_varnet,
        /// pnp_admm, galaxy_admm, lpn, drcgnet, drcgnet_ct), conv_net, or `all`.
        model: String,
        /// Print one JSON line per model (keys: model, params, forward_s, train_step_s,
        /// peak_rss_mib, backend, config, reference, ratio) instead of a table.
        #[arg(long)]
        json: bool,
        /// Image side in pixels (the centre crop of the slice); default: each model's own
        /// (quickstart 96, conv_net, pnp_admm, lpn and drcgnet_ct 64, galaxy_admm 48, drcgnet 32,
        /// the others 128).
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
    /// Evaluate the regulariser R learned by a learned proximal network (model `lpn`) on images.
    ///
    /// The network f is the prox of R. Each image x is inverted (y with f(y) = x, by gradient
    /// descent on the convex ψ(y) − ⟨x, y⟩, every image of a batch at once), and
    /// R(x̂) = ⟨y, x̂⟩ − ½‖x̂‖² − ψ(y) is evaluated at x̂ = f(y). Prints the mean R and writes
    /// prior.csv (per image), prior.json (summaries) and, with --perturb, prior.png.
    Prior {
        /// A training output folder (its best model) or an exported package of an `lpn` model.
        #[arg(long)]
        model: PathBuf,
        /// Images to evaluate, of the experiment's kind of source [default: its test split].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Evaluate at most this many images.
        #[arg(long)]
        limit: Option<usize>,
        /// Also evaluate each image under Gaussian noise (σ 0.05, 0.1, 0.2, 0.3), Gaussian blur
        /// (σ 0.5, 1, 2, 4 pixels) and convex combination with the next image (t 0.25, 0.5,
        /// 0.75, 1): a learned prior should grow with the corruption.
        #[arg(long)]
        perturb: bool,
        /// Most inversion steps.
        #[arg(long, default_value_t = 1000)]
        iterations: usize,
        /// Stop inverting once ‖f(y) − x‖ ≤ tolerance·‖x‖ for every image.
        #[arg(long, default_value_t = 1e-4)]
        tolerance: f64,
        /// Report folder [default: <model>/prior].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Plug-and-play reconstruction with a trained denoiser as a fixed prox: a learned proximal
    /// network (model `lpn`) or any model trained on `denoising` (e.g. `dncnn`), inside ADMM or
    /// proximal gradient descent, on the problem and held-out images of an experiment file.
    ///
    /// ADMM: x = argmin γ/2‖Ax − y‖² + ½‖x − (z − u)‖² (closed form or CG), z = D(x + u),
    /// u += x − z, from x = z = Aᴴy. PGD: x = D(x − γ·Aᴴ(Ax − y)). Images larger than the
    /// denoiser's training size are denoised patch-wise (half-patch strides, overlaps averaged).
    /// Writes the evaluation report (metrics.json, metrics.csv, panels) like `eval`.
    Pnp {
        /// A package or training folder of a model trained on the `denoising` problem.
        #[arg(long)]
        denoiser: PathBuf,
        /// The experiment whose problem and held-out (test) images are reconstructed.
        #[arg(long)]
        experiment: PathBuf,
        /// Override a key of the experiment file, e.g. --set data.problem.noise.sigma=0.04 (repeatable;
        /// as for `train`).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// The splitting scheme.
        #[arg(long, value_enum, default_value_t = Solver::Admm)]
        solver: Solver,
        /// Iterations.
        #[arg(long, default_value_t = 20)]
        iterations: usize,
        /// ADMM: weight γ of the data term in the x-step; PGD: the gradient step γ. A list
        /// (--gamma 0.5,1,2) runs each, writes each report into <out>/gamma_<γ> and sweep.json.
        #[arg(long, value_delimiter = ',', default_value = "1")]
        gamma: Vec<f64>,
        /// Project every denoised estimate onto [0, 1], the range of the training images (the
        /// reference's box constraint for compressed sensing; keeps a denoiser that is not
        /// rescaled, such as an LPN, inside the range it was trained on).
        #[arg(long)]
        clip: bool,
        /// Reconstruct all images of this path instead (the experiment's kind of source).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Report folder.
        #[arg(long, default_value = "pnp")]
        out: PathBuf,
    },
    /// Galaxy shape measurement (the galaxy deconvolution paper's benchmark): the held-out galaxies
    /// of a `galaxy` experiment re-simulated at each SNR, reconstructed by the model, by
    /// Richardson–Lucy, Wiener and Tikhonov deconvolution, and left as observed; prints the median
    /// |g_rec − g_true| of the reduced shear measured from Gaussian-weighted second moments
    /// (σ 0.6″ = 3 pixels), clipped at 1, per method and SNR; writes shear.json and shear.png.
    Shear {
        /// A package or training folder of a model trained on the `galaxy` problem.
        #[arg(long)]
        model: PathBuf,
        /// The experiment whose held-out galaxies are used [default: the model's own].
        #[arg(long)]
        experiment: Option<PathBuf>,
        /// SNR bins.
        #[arg(long, value_delimiter = ',', default_value = "20,40,60,80,100,150,200")]
        snr: Vec<f64>,
        /// Richardson–Lucy iteration counts.
        #[arg(long, value_delimiter = ',', default_value = "10,20,50")]
        richardson_lucy: Vec<usize>,
        /// Report folder [default: <model>/shear].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The 1-D Laplacian experiment of learned proximal networks: a toy LPN trained on
    /// x ~ Laplace(0, 1) seen through N(0, 1) noise (L1, then proximal matching as in the
    /// reference's notebook, 44 000 steps of 2000 samples at --scale 1) should approach
    /// soft-thresholding at λ = 1, the MAP denoiser. Prints the largest error on [−4, 4]; writes
    /// toy.json, toy.csv and toy.png.
    LpnToy {
        /// Output folder.
        #[arg(long, default_value = "checkpoints/lpn_toy")]
        out: PathBuf,
        /// Factor on the number of steps of every phase.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Seed of the weights and samples.
        #[arg(long, default_value_t = 0)]
        seed: u64,
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
        Command::Infer { model, input, out, psf_sigma, mask, psf, backend } => {
            let device = backend.unwrap_or_default().device();
            let package = package::load(&model, &device)?;
            let images =
                infer::infer(&package, &InferOptions { input, out_dir: out.clone(), psf_sigma, mask, psf }, &device)?;
            println!("reconstructed {} image(s) into {}", images.len(), out.display());
        }
        Command::Bench { model, json, size, runs, warmup, backend, volume, gradient_checkpointing } => {
            bench::run(&model, &BenchOptions { size, runs, warmup, backend, volume, gradient_checkpointing }, json)?;
        }
        Command::Prior { model, data, limit, perturb, iterations, tolerance, out } => {
            let out = out.unwrap_or_else(|| model.join("prior"));
            prior::prior(&PriorOptions { model, data, limit, perturb, iterations, tolerance, out })?;
        }
        Command::Pnp { denoiser, experiment, set, solver, iterations, gamma, clip, data, out } => {
            pnp::pnp(&PnpOptions {
                denoiser,
                experiment,
                overrides: set,
                solver,
                iterations,
                gammas: gamma,
                clip,
                data,
                out,
            })?;
        }
        Command::Shear { model, experiment, snr, richardson_lucy, out } => {
            let out = out.unwrap_or_else(|| model.join("shear"));
            shear::shear(&ShearOptions { model, experiment, snrs: snr, richardson_lucy, out })?;
        }
        Command::LpnToy { out, scale, seed } => {
            lpn_toy::run(&ToyOptions { out, scale, seed })?;
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
