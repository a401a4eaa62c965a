//! `unroll shear`: the shape-measurement benchmark of galaxy deconvolution (`pnp-admm-galaxy.md`
//! §3.5). For each SNR bin, the held-out galaxies of a `galaxy` experiment are re-simulated at
//! exactly that SNR and reconstructed by the model, by Richardson–Lucy at several iteration
//! counts, by the problem's Wiener baseline (each observation's noise-to-signal ratio), by
//! Tikhonov (`λ = 0.01`, CG on the linear blur), and left as observed ("no deconvolution"); the error of each is the median over galaxies of `|g_rec − g_true|`, the
//! modulus of the difference of the reduced shears ([`ellipticity`]), clipped at 1.

use std::path::PathBuf;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::prelude::*;
use unroll_data::{ProblemConfig, Simulation, SimulationBatcher, SimulationVisitor, SplitDataset, tikhonov};
use unroll_physics::{Physics, Signal};

use crate::commands::{held_out, open_model};
use crate::config::ExperimentConfig;
use crate::error::TrainError;
use crate::evaluate::{Reconstruction, host};
use crate::files::write_atomic;
use crate::metrics::ellipticity;
use crate::plot::{Curves, plot_curves};

/// The reference's SNR bins.
pub const SNR_BINS: [f64; 7] = [20.0, 40.0, 60.0, 80.0, 100.0, 150.0, 200.0];
/// The Gaussian weight of the moments: σ = 0.6″ (the reference's FPFS scale) at 0.2″ pixels.
pub const WEIGHT_SIGMA_PIXELS: f64 = 3.0;

/// Options of `unroll shear`.
#[derive(Clone, Debug)]
pub struct ShearOptions {
    /// A package or training folder of a model trained on the `galaxy` problem.
    pub model: PathBuf,
    /// The experiment whose held-out galaxies are used (default: the model's own).
    pub experiment: Option<PathBuf>,
    /// SNR bins.
    pub snrs: Vec<f64>,
    /// Richardson–Lucy iteration counts.
    pub richardson_lucy: Vec<usize>,
    /// Report folder (`shear.json`, `shear.png`).
    pub out: PathBuf,
}

/// The median shear errors of every method in every SNR bin.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShearReport {
    /// Galaxies per bin.
    pub galaxies: usize,
    /// The SNR bins.
    pub snr: Vec<f64>,
    /// `(method, median |Δg| per bin)`, the model last.
    pub methods: Vec<(String, Vec<f64>)>,
}

/// Runs `unroll shear` (see the module docs), prints the table and writes `shear.json` and
/// `shear.png` into `options.out`.
pub fn shear(options: &ShearOptions) -> Result<ShearReport, TrainError> {
    if options.snrs.is_empty() || options.snrs.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(TrainError::Usage(format!("shear: every --snr must be positive, got {:?}", options.snrs)));
    }
    let device = Device::flex();
    let (stored, model, _) = open_model(&options.model, &device)?;
    let mut config = match &options.experiment {
        Some(path) => ExperimentConfig::load(path, &[])?,
        None => stored,
    };
    if !matches!(config.data.problem, ProblemConfig::Galaxy { .. }) {
        return Err(config
            .error(format!("shear measures galaxies: the problem is `{}`, not `galaxy`", config.data.problem.name())));
    }
    let (split, set) = held_out(&mut config, None)?;
    let shape = set.item_shape().expect("non-empty");
    let mut names: Vec<String> = vec!["no deconvolution".into(), "Wiener".into(), "Tikhonov".into()];
    names.extend(options.richardson_lucy.iter().map(|k| format!("Richardson–Lucy ({k})")));
    names.push(format!("{} (model)", config.model.name()));
    let mut medians: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for &snr in &options.snrs {
        let started = std::time::Instant::now();
        let problem = ProblemConfig::Galaxy { snr: [snr, snr] };
        let visitor = ShearVisitor { model: &model, set: &set, device: &device, rl: &options.richardson_lucy };
        let errors = problem.visit(shape, visitor)?;
        for (median, mut errors) in medians.iter_mut().zip(errors) {
            median.push(median_of(&mut errors));
        }
        let model = medians.last().and_then(|m| m.last()).expect("a model column");
        eprintln!("SNR {snr}: {} galaxies in {:.1} s, model {model:.4}", set.len(), started.elapsed().as_secs_f64());
    }
    let report = ShearReport {
        galaxies: set.len(),
        snr: options.snrs.clone(),
        methods: names.into_iter().zip(medians).collect(),
    };
    println!("median |g − g_true| on {} galaxies of {} ({split:?} split) per SNR", set.len(), config.name());
    print!("{:<28}", "SNR");
    options.snrs.iter().for_each(|s| print!("{s:>8}"));
    println!();
    for (name, values) in &report.methods {
        print!("{name:<28}");
        values.iter().for_each(|v| print!("{v:>8.4}"));
        println!();
    }
    std::fs::create_dir_all(&options.out).map_err(|e| TrainError::file(&options.out, e))?;
    let json = serde_json::to_vec_pretty(&report).expect("json");
    write_atomic(&options.out.join("shear.json"), &json)?;
    let series = report
        .methods
        .iter()
        .map(|(name, values)| {
            (name.clone(), options.snrs.iter().zip(values).map(|(&s, &v)| (s.round() as i64, v)).collect())
        })
        .collect();
    let curves = Curves { title: "shear error", x: "SNR", y: "median |g − g_true|", series };
    plot_curves(&options.out.join("shear.png"), vec![curves])?;
    println!("report: {}", options.out.display());
    Ok(report)
}

/// The median (`1` for no value: nothing measured is the worst error).
fn median_of(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 1.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// Richardson–Lucy with a fixed number of iterations, for operators with the blur view.
struct RichardsonLucy(usize);

impl Reconstruction for RichardsonLucy {
    fn final_estimate<Op: Physics>(&self, op: &Op, y: Op::Range) -> Op::Domain {
        let view = op.blur().expect("the galaxy problem's operator is a blur");
        (view.image.from)(view.op.richardson_lucy((view.measurement.to)(y), self.0))
    }
}

/// The shear errors of every method on every galaxy of a set, at the problem's SNR.
struct ShearVisitor<'a, R> {
    model: &'a R,
    set: &'a SplitDataset,
    device: &'a Device,
    rl: &'a [usize],
}

impl<R: Reconstruction> SimulationVisitor for ShearVisitor<'_, R> {
    /// Per method (observation, Wiener, Tikhonov, each RL, the model), the error of every galaxy.
    type Output = Result<Vec<Vec<f64>>, TrainError>;

    fn visit<S: Simulation>(self, simulation: S) -> Self::Output {
        const BATCH: usize = 32;
        let batcher = SimulationBatcher { simulation: simulation.clone() };
        let mut errors = vec![Vec::new(); self.rl.len() + 4];
        let positions: Vec<usize> = (0..self.set.len()).collect();
        for chunk in positions.chunks(BATCH) {
            let batch = batcher.batch(self.set.items(chunk)?, self.device);
            let (op, y) = (&batch.op, batch.y.clone());
            let mut estimates = vec![
                simulation.input_image(op, y.clone()),
                simulation.baseline(op, y.clone()).image(),
                tikhonov(op, y.clone()).image(),
            ];
            estimates.extend(self.rl.iter().map(|&k| RichardsonLucy(k).final_estimate(op, y.clone()).image()));
            estimates.push(self.model.final_estimate(op, y).image());
            let target = host(batch.target.clone().image());
            let [_, _, h, w] = batch.target.image().dims();
            for (method, estimate) in estimates.into_iter().enumerate() {
                let estimate = host(estimate);
                for (truth, recon) in target.chunks(h * w).zip(estimate.chunks(h * w)) {
                    errors[method].push(shear_error(truth, recon, [h, w]));
                }
            }
        }
        Ok(errors)
    }
}

/// `min(1, |g_rec − g_true|)`; 1 when either shape cannot be measured.
fn shear_error(truth: &[f32], recon: &[f32], shape: [usize; 2]) -> f64 {
    match (ellipticity(truth, shape, WEIGHT_SIGMA_PIXELS), ellipticity(recon, shape, WEIGHT_SIGMA_PIXELS)) {
        (Some(t), Some(r)) => ((t[0] - r[0]).powi(2) + (t[1] - r[1]).powi(2)).sqrt().min(1.0),
        _ => 1.0,
    }
}
