//! `unroll prior`: the regulariser a learned proximal network has learned (spec `lpn.md` §2.3).
//!
//! The network `f = ∇ψ` is the prox of a regulariser `R`. For each image `x`, `f` is inverted
//! (`y` with `f(y) = x`, by [`Lpn::invert`], every image of a batch at once) and
//! `R(x̂) = ⟨y, x̂⟩ − ½‖x̂‖² − ψ(y)` is evaluated at `x̂ = f(y)`; the relative residual
//! `‖x̂ − x‖/‖x‖` says how close `x̂` came to `x`. Images are in the units the network was trained
//! in (the LPN runs unnormalised: see [`crate::normalise`]).
//!
//! With `perturb`, every image is also evaluated under the corruptions of the reference's prior
//! study, each family at increasing strength: Gaussian noise (σ 0.05 … 0.3), Gaussian blur
//! (σ 0.5 … 4 pixels, zero boundary) and the convex combination `(1 − t)x + t·x'` with the next
//! image `x'` of the set (t 0.25 … 1). A learned prior should grow with noise and blur, and peak
//! between two clean images.

use std::fmt::Write as _;
use std::path::PathBuf;

use burn::data::dataset::Dataset;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use serde::{Deserialize, Serialize};
use unroll_data::gaussian_psf;
use unroll_models::{Lpn, Model};
use unroll_physics::Signal;

use crate::commands::{held_out, open_model};
use crate::error::TrainError;
use crate::files::write_atomic;
use crate::plot::{Curves, plot_curves};

/// Options of `unroll prior`.
#[derive(Clone, Debug)]
pub struct PriorOptions {
    /// A training output folder or an exported package of an `lpn` model.
    pub model: PathBuf,
    /// Images to evaluate (the experiment's kind of source); default: its test split.
    pub data: Option<PathBuf>,
    /// Evaluate at most this many images.
    pub limit: Option<usize>,
    /// Also evaluate the perturbed images of the module docs.
    pub perturb: bool,
    /// Most inversion steps.
    pub iterations: usize,
    /// Inversion tolerance: stop once `‖f(y) − x‖ ≤ tolerance·‖x‖` for every image.
    pub tolerance: f64,
    /// Report folder.
    pub out: PathBuf,
}

/// A corruption and its strength.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "level", rename_all = "snake_case")]
pub enum Perturbation {
    /// The image itself.
    Clean,
    /// Additive Gaussian noise of this standard deviation.
    Noise(f64),
    /// Gaussian blur of this standard deviation, pixels.
    Blur(f64),
    /// `(1 − t)x + t·x'` with the next image `x'`.
    Mix(f64),
}

/// The reference's strengths of each family (`lpn.md` §2.3), the clean image left out.
const NOISE: [f64; 4] = [0.05, 0.1, 0.2, 0.3];
const BLUR: [f64; 4] = [0.5, 1.0, 2.0, 4.0];
const MIX: [f64; 4] = [0.25, 0.5, 0.75, 1.0];

impl Perturbation {
    fn family(self) -> &'static str {
        match self {
            Perturbation::Clean => "clean",
            Perturbation::Noise(_) => "noise",
            Perturbation::Blur(_) => "blur",
            Perturbation::Mix(_) => "mix",
        }
    }

    fn level(self) -> f64 {
        match self {
            Perturbation::Clean => 0.0,
            Perturbation::Noise(v) | Perturbation::Blur(v) | Perturbation::Mix(v) => v,
        }
    }

    /// `x` `[N, C, H, W]` corrupted (noise drawn from the device's generator).
    fn apply(self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Perturbation::Clean => x,
            Perturbation::Noise(sigma) => x.clone() + x.random_like(Distribution::Normal(0.0, sigma)),
            Perturbation::Blur(sigma) => {
                let k = 2 * (3.0 * sigma).ceil() as usize + 1;
                let psf = Tensor::from_data(TensorData::new(gaussian_psf(k, sigma), [1, 1, k, k]), &x.device());
                let [n, c, h, w] = x.dims();
                let options = ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1);
                conv2d(x.reshape([n * c, 1, h, w]), psf, None, options).reshape([n, c, h, w])
            }
            Perturbation::Mix(t) => {
                let n = x.dims()[0];
                let next = Tensor::cat(vec![x.clone().narrow(0, 1, n - 1), x.clone().narrow(0, 0, 1)], 0);
                x.mul_scalar(1.0 - t) + next.mul_scalar(t)
            }
        }
    }
}

/// The regulariser of one image under one perturbation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriorValue {
    /// Position of the image in the evaluated set.
    pub image: usize,
    pub perturbation: Perturbation,
    /// `R(x̂)`.
    pub regulariser: f64,
    /// `‖x̂ − x‖/‖x‖`.
    pub residual: f64,
}

/// The mean regulariser of every image under one perturbation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriorSummary {
    pub perturbation: Perturbation,
    pub images: usize,
    pub mean: f64,
    /// Sample standard deviation over the images.
    pub std: f64,
    /// The largest relative residual of the inversion.
    pub max_residual: f64,
}

/// Images per inversion batch.
const BATCH: usize = 16;

/// Runs `unroll prior` (see the module docs): prints a table, writes `prior.csv` (one row per image
/// and perturbation), `prior.json` (the summaries) and, with `perturb`, `prior.png` (the mean
/// regulariser against each family's strength); returns the summaries.
pub fn prior(options: &PriorOptions) -> Result<Vec<PriorSummary>, TrainError> {
    let device = Device::flex();
    let (mut config, model, _) = open_model(&options.model, &device)?;
    let Model::Lpn(lpn) = model else {
        return Err(TrainError::Usage(format!(
            "{}: `unroll prior` needs a learned proximal network (model `lpn`); this one is `{}`",
            options.model.display(),
            config.model.name()
        )));
    };
    let (_, set) = held_out(&mut config, options.data.as_deref())?;
    let count = options.limit.map_or(set.len(), |limit| limit.min(set.len()));
    let perturbations: Vec<Perturbation> = if options.perturb {
        if count < 2 {
            return Err(TrainError::Usage("prior --perturb: the convex combinations need at least 2 images".into()));
        }
        let family = |make: fn(f64) -> Perturbation, levels: [f64; 4]| levels.into_iter().map(make);
        std::iter::once(Perturbation::Clean)
            .chain(family(Perturbation::Noise, NOISE))
            .chain(family(Perturbation::Blur, BLUR))
            .chain(family(Perturbation::Mix, MIX))
            .collect()
    } else {
        vec![Perturbation::Clean]
    };
    let positions: Vec<usize> = (0..count).collect();
    let items = set.items(&positions)?;
    let [c, h, w] = set.item_shape().expect("non-empty");
    let data: Vec<f32> = items.iter().flat_map(|item| item.image.data.iter().copied()).collect();
    let images = Tensor::<4>::from_data(TensorData::new(data, [count, c, h, w]), &device);
    device.seed(config.seed);
    let mut values = Vec::new();
    for &perturbation in &perturbations {
        let corrupted = perturbation.apply(images.clone());
        for start in (0..count).step_by(BATCH) {
            let x = corrupted.clone().narrow(0, start, BATCH.min(count - start));
            let (regulariser, residual) = evaluate(&lpn, x, options);
            values.extend(regulariser.into_iter().zip(residual).enumerate().map(|(i, (regulariser, residual))| {
                PriorValue { image: start + i, perturbation, regulariser, residual }
            }));
        }
    }
    if let Some(bad) = values.iter().find(|v| !v.regulariser.is_finite()) {
        return Err(TrainError::Diverged(format!(
            "the regulariser of image {} ({:?}) is {}; nothing was written",
            bad.image, bad.perturbation, bad.regulariser
        )));
    }
    let summaries: Vec<PriorSummary> = perturbations.iter().map(|&p| summarise(p, &values)).collect();
    write_report(options, &values, &summaries)?;
    print!("{}", table(&summaries, &options.model.display().to_string()));
    println!("report: {}", options.out.display());
    Ok(summaries)
}

/// `R(x̂)` and the relative residual of each image of the batch `x`.
fn evaluate(lpn: &Lpn, x: Tensor<4>, options: &PriorOptions) -> (Vec<f64>, Vec<f64>) {
    let norm = |t: Tensor<4>| Signal::dot(&t, &t).sqrt();
    let (y, fy) = lpn.invert(x.clone(), options.iterations, options.tolerance);
    let residual = norm(fy.clone() - x.clone()) / norm(x).clamp_min(1e-12);
    let host = |t: Tensor<1>| t.into_data().convert::<f64>().try_into_vec::<f64>().expect("f64 values");
    (host(lpn.regulariser_at(y, fy)), host(residual))
}

fn summarise(perturbation: Perturbation, values: &[PriorValue]) -> PriorSummary {
    let of: Vec<&PriorValue> = values.iter().filter(|v| v.perturbation == perturbation).collect();
    let n = of.len() as f64;
    let mean = of.iter().map(|v| v.regulariser).sum::<f64>() / n;
    let var = of.iter().map(|v| (v.regulariser - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let max_residual = of.iter().map(|v| v.residual).fold(0.0, f64::max);
    PriorSummary { perturbation, images: of.len(), mean, std: var.sqrt(), max_residual }
}

fn table(summaries: &[PriorSummary], label: &str) -> String {
    let mut text = format!("learned regulariser R of {label}\n");
    let _ =
        writeln!(text, "{:<10} {:>6} {:>12} {:>12} {:>13}", "corruption", "level", "mean R", "std R", "max residual");
    for s in summaries {
        let p = s.perturbation;
        let _ = writeln!(
            text,
            "{:<10} {:>6} {:>12.5} {:>12.5} {:>13.2e}",
            p.family(),
            p.level(),
            s.mean,
            s.std,
            s.max_residual
        );
    }
    text
}

fn write_report(options: &PriorOptions, values: &[PriorValue], summaries: &[PriorSummary]) -> Result<(), TrainError> {
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| TrainError::file(out, e))?;
    let mut csv = String::from("image,corruption,level,regulariser,residual\n");
    for v in values {
        let p = v.perturbation;
        let _ = writeln!(csv, "{},{},{},{},{}", v.image, p.family(), p.level(), v.regulariser, v.residual);
    }
    write_atomic(&out.join("prior.csv"), csv.as_bytes())?;
    write_atomic(&out.join("prior.json"), &serde_json::to_vec_pretty(summaries).expect("summaries serialise"))?;
    if options.perturb {
        let clean = summaries[0].mean;
        let curve = |family: &str, scale: f64| {
            std::iter::once((0, clean))
                .chain(
                    summaries
                        .iter()
                        .filter(|s| s.perturbation.family() == family)
                        .map(|s| ((s.perturbation.level() * scale).round() as i64, s.mean)),
                )
                .collect::<Vec<_>>()
        };
        let panel = |title, x, family, scale| Curves {
            title,
            x,
            y: "mean R",
            series: vec![("mean R".into(), curve(family, scale))],
        };
        plot_curves(
            &out.join("prior.png"),
            vec![
                panel("Gaussian noise", "noise σ × 100", "noise", 100.0),
                panel("Gaussian blur", "blur σ × 10 (pixels)", "blur", 10.0),
                panel("convex combination", "t × 100", "mix", 100.0),
            ],
        )?;
    }
    Ok(())
}
