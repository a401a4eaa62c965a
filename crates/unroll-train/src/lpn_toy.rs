//! `unroll lpn-toy`: the 1-D Laplacian experiment of learned proximal networks (spec `lpn.md`
//! §2.4), where the ideal prox is known.
//!
//! Clean values `x ~ Laplace(0, 1)` are observed as `y = x + n`, `n ~ N(0, 1)`, in fresh batches of
//! 2000. The MAP denoiser of this model, the prox of `|x|` scaled by `σ²/b = 1`, is
//! soft-thresholding at `λ = 1`. The toy LPN ([`ScalarLpn`]: 50 units, 4 layers, β 10) is trained
//! on the reference's schedule ([`PHASES`]): the L1 loss, then, from the L1 model, proximal
//! matching `1 − exp(−(|f(y) − x|/γ)²)` with γ falling from 0.5 to 0.1, under Adam with the
//! z-path weights clamped after every step. `scale` multiplies the steps of every phase.
//!
//! Reported: the largest `|f(y) − soft(y)|` over 801 points of `[−4, 4]`, after the L1 phase and at
//! the end. Writes `toy.json` (the summary), `toy.csv` (both networks and soft-thresholding at the
//! points) and `toy.png`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};
use unroll_models::ScalarLpn;

use crate::error::TrainError;
use crate::files::write_atomic;
use crate::plot::{Curves, plot_curves};

/// The loss of a phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ToyLoss {
    /// `mean |f(y) − x|`.
    L1,
    /// `mean 1 − exp(−(|f(y) − x|/γ)²)`.
    ProximalMatching(f64),
}

/// The reference's schedule (its Laplacian notebook): `(loss, learning rate, steps)`.
pub const PHASES: [(ToyLoss, f64, usize); 9] = [
    (ToyLoss::L1, 1e-3, 10_000),
    (ToyLoss::L1, 1e-4, 10_000),
    (ToyLoss::ProximalMatching(0.5), 1e-3, 2_000),
    (ToyLoss::ProximalMatching(0.5), 1e-4, 2_000),
    (ToyLoss::ProximalMatching(0.4), 1e-4, 4_000),
    (ToyLoss::ProximalMatching(0.3), 1e-4, 4_000),
    (ToyLoss::ProximalMatching(0.2), 1e-5, 4_000),
    (ToyLoss::ProximalMatching(0.1), 1e-5, 4_000),
    (ToyLoss::ProximalMatching(0.1), 1e-6, 4_000),
];

/// Samples per step.
const BATCH: usize = 2000;
/// Grid points on `[−4, 4]`.
const GRID: usize = 801;

/// Options of `unroll lpn-toy`.
#[derive(Clone, Debug)]
pub struct ToyOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Factor on every phase's steps (1: the reference's 44 000).
    pub scale: f64,
    /// Seed of the weights and samples.
    pub seed: u64,
}

/// The outcome (`toy.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToySummary {
    /// Steps taken, L1 and proximal matching.
    pub l1_steps: usize,
    pub pm_steps: usize,
    /// `max |f(y) − soft(y)|` on `[−4, 4]` after the L1 phase and at the end.
    pub l1_max_error: f64,
    pub pm_max_error: f64,
    pub seconds: f64,
}

/// Runs the experiment of the module docs.
pub fn run(options: &ToyOptions) -> Result<ToySummary, TrainError> {
    if !(options.scale.is_finite() && options.scale > 0.0) {
        return Err(TrainError::Usage(format!("--scale must be positive, got {}", options.scale)));
    }
    let started = Instant::now();
    let device = Device::flex().autodiff();
    device.seed(options.seed);
    let mut model = ScalarLpn::new(50, 4, 10.0, &device);
    let mut optim = AdamConfig::new().init();
    let grid: Vec<f32> = (0..GRID).map(|i| -4.0 + 8.0 * i as f32 / (GRID - 1) as f32).collect();
    let soft: Vec<f64> = grid.iter().map(|&y| (y.signum() * (y.abs() - 1.0).max(0.0)) as f64).collect();
    let mut l1_curve = None;
    let (mut l1_steps, mut pm_steps) = (0, 0);
    for (loss, lr, steps) in PHASES {
        let steps = (steps as f64 * options.scale).round() as usize;
        if matches!(loss, ToyLoss::ProximalMatching(_)) && l1_curve.is_none() {
            l1_curve = Some(evaluate(&model, &grid, &device));
        }
        for _ in 0..steps {
            let u = Tensor::<2>::random([BATCH, 1], Distribution::Uniform(-0.5, 0.5), &device);
            // Inverse CDF; the floor keeps u = ±½ (which f32 uniforms can draw) finite.
            let x = u.clone().sign().neg() * u.abs().mul_scalar(-2.0).add_scalar(1.0).clamp_min(1e-7).log();
            let y = x.clone() + x.random_like(Distribution::Normal(0.0, 1.0));
            let error = (model.prox(y) - x).abs();
            let value = match loss {
                ToyLoss::L1 => error.mean(),
                ToyLoss::ProximalMatching(gamma) => {
                    error.div_scalar(gamma).square().neg().exp().neg().add_scalar(1.0).mean()
                }
            };
            let grads = GradientsParams::from_grads(value.backward(), &model);
            model = optim.step(lr, model, grads).project();
        }
        match loss {
            ToyLoss::L1 => l1_steps += steps,
            ToyLoss::ProximalMatching(_) => pm_steps += steps,
        }
    }
    let l1_curve = l1_curve.expect("the schedule has a proximal-matching phase");
    let pm_curve = evaluate(&model, &grid, &device);
    if let Some(i) = pm_curve.iter().position(|v| !v.is_finite()) {
        return Err(TrainError::Diverged(format!("the toy LPN is {} at y = {}", pm_curve[i], grid[i])));
    }
    let max_error = |curve: &[f64]| curve.iter().zip(&soft).map(|(f, s)| (f - s).abs()).fold(0.0, f64::max);
    let summary = ToySummary {
        l1_steps,
        pm_steps,
        l1_max_error: max_error(&l1_curve),
        pm_max_error: max_error(&pm_curve),
        seconds: started.elapsed().as_secs_f64(),
    };
    write_report(options, &grid, [&l1_curve, &pm_curve, &soft], &summary)?;
    println!(
        "1-D Laplacian toy ({} L1 + {} proximal-matching steps, {:.1} s): max |f(y) − soft(y)| on [−4, 4]: \
         L1 {:.4}, proximal matching {:.4}\nreport: {}",
        summary.l1_steps,
        summary.pm_steps,
        summary.seconds,
        summary.l1_max_error,
        summary.pm_max_error,
        options.out.display()
    );
    Ok(summary)
}

/// The prox at the grid points, without autodiff.
fn evaluate(model: &ScalarLpn, grid: &[f32], device: &Device) -> Vec<f64> {
    let y = Tensor::<2>::from_data(TensorData::new(grid.to_vec(), [grid.len(), 1]), &device.clone().inner());
    model.valid().prox(y).into_data().convert::<f64>().try_into_vec::<f64>().expect("f64 values")
}

fn write_report(
    options: &ToyOptions,
    grid: &[f32],
    [l1, pm, soft]: [&[f64]; 3],
    summary: &ToySummary,
) -> Result<(), TrainError> {
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| TrainError::file(out, e))?;
    write_atomic(&out.join("toy.json"), &serde_json::to_vec_pretty(summary).expect("summary serialises"))?;
    let mut csv = String::from("y,l1,proximal_matching,soft_threshold\n");
    for i in 0..grid.len() {
        let _ = writeln!(csv, "{},{},{},{}", grid[i], l1[i], pm[i], soft[i]);
    }
    write_atomic(&out.join("toy.csv"), csv.as_bytes())?;
    let points = |curve: &[f64]| grid.iter().zip(curve).map(|(&y, &f)| ((y * 100.0).round() as i64, f)).collect();
    let errors = |curve: &[f64]| {
        grid.iter().zip(curve.iter().zip(soft)).map(|(&y, (f, s))| ((y * 100.0).round() as i64, f - s)).collect()
    };
    plot_curves(
        &out.join("toy.png"),
        vec![
            Curves {
                title: "learned prox f(y)",
                x: "y × 100",
                y: "f(y)",
                series: vec![
                    ("L1".into(), points(l1)),
                    ("proximal matching".into(), points(pm)),
                    ("soft-thresholding λ = 1".into(), points(soft)),
                ],
            },
            Curves {
                title: "f(y) − soft(y)",
                x: "y × 100",
                y: "error",
                series: vec![("L1".into(), errors(l1)), ("proximal matching".into(), errors(pm))],
            },
        ],
    )
}
