//! `unroll pnp`: plug-and-play reconstruction with a trained denoiser as a fixed prox (spec
//! `lpn.md` §2.6): a learned proximal network, or any other model trained on the `denoising`
//! problem (a DnCNN, …), inside ADMM or proximal gradient descent, for the problem of an
//! experiment file, evaluated on its held-out split against the problem's classical baseline.
//!
//! With `x₀ = z₀ = Aᴴy` and `u₀ = 0`, for `k = 1 … K`:
//! - ADMM: `x_k = argmin_x γ/2‖Ax − y‖² + ½‖x − (z_{k−1} − u_{k−1})‖²` (the operator's
//!   `prox_l2`: closed form or CG), `z_k = D(x_k + u_{k−1})`, `u_k = u_{k−1} + x_k − z_k`;
//!   returns `z_K`;
//! - PGD: `x_k = D(x_{k−1} − γ·Aᴴ(Ax_{k−1} − y))`; returns `x_K`.
//!
//! With `clip`, `D` is followed by the projection onto `[0, 1]`, the range of the training images
//! (the reference's box constraint in compressed sensing, and its PGD variant's clip).
//!
//! `D` is the denoiser under its own normalisation ([`crate::normalise`]), on the whole image when
//! the image has the denoiser's training size, otherwise patch-wise: patches of that size at
//! half-patch strides (the last one flush with the edge), overlaps averaged (the reference's CT
//! scheme, 128×128 patches at stride 64).

use std::path::PathBuf;

use burn::prelude::*;
use unroll_data::ProblemConfig;
use unroll_models::Model;
use unroll_physics::{Family, Identity, Physics, Signal};

use crate::commands::{evaluate_and_report, held_out, open_model};
use crate::config::ExperimentConfig;
use crate::error::TrainError;
use crate::evaluate::{EvalSummary, Reconstruction, reconstruct};
use crate::files::write_atomic;

/// The splitting scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Solver {
    /// ADMM (x-step by the operator's prox, z-step by the denoiser, dual step).
    Admm,
    /// Proximal gradient descent.
    Pgd,
}

/// Options of `unroll pnp`.
#[derive(Clone, Debug)]
pub struct PnpOptions {
    /// A package or training folder of a model trained on `denoising`.
    pub denoiser: PathBuf,
    /// The experiment whose problem and held-out images are reconstructed.
    pub experiment: PathBuf,
    /// `key=value` overrides of the experiment file (as `unroll train --set`).
    pub overrides: Vec<String>,
    pub solver: Solver,
    /// Iterations `K`.
    pub iterations: usize,
    /// ADMM: the data weight γ of the x-step; PGD: the step γ. Several values: each is run, and
    /// the report of each goes to `out/gamma_<γ>`.
    pub gammas: Vec<f64>,
    /// Project every denoised estimate onto `[0, 1]`.
    pub clip: bool,
    /// Images to reconstruct instead of the experiment's held-out split.
    pub data: Option<PathBuf>,
    /// Report folder.
    pub out: PathBuf,
}

/// A plug-and-play solver around a denoiser (see the module docs).
pub struct PlugAndPlay {
    denoiser: Model,
    /// The denoiser's image size `[H, W]`.
    patch: [usize; 2],
    solver: Solver,
    iterations: usize,
    gamma: f64,
    clip: bool,
}

impl PlugAndPlay {
    /// `D(v)` for `v: [N, C, H, W]` with `H, W` at least the patch size, clipped to `[0, 1]` if
    /// asked.
    fn denoise(&self, v: Tensor<4>) -> Tensor<4> {
        let denoised = self.denoise_patches(v);
        if self.clip { denoised.clamp(0.0, 1.0) } else { denoised }
    }

    /// `D(v)`, patch-wise when `v` is larger than the denoiser's size (see the module docs).
    fn denoise_patches(&self, v: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = v.dims();
        let [ph, pw] = self.patch;
        if [h, w] == [ph, pw] {
            return reconstruct(&self.denoiser, &Identity, v);
        }
        let corners: Vec<[usize; 2]> = patch_starts(h, ph)
            .into_iter()
            .flat_map(|r| patch_starts(w, pw).into_iter().map(move |q| [r, q]))
            .collect();
        let patches = corners.iter().map(|&[r, q]| v.clone().slice([0..n, 0..c, r..r + ph, q..q + pw])).collect();
        let denoised = reconstruct(&self.denoiser, &Identity, Tensor::cat(patches, 0));
        let mut sum = v.zeros_like();
        let mut count = Tensor::<4>::zeros([1, 1, h, w], &v.device());
        for (i, &[r, q]) in corners.iter().enumerate() {
            let (rows, cols) = (r..r + ph, q..q + pw);
            let part = denoised.clone().narrow(0, i * n, n);
            sum = sum.clone().slice_assign(
                [0..n, 0..c, rows.clone(), cols.clone()],
                sum.slice([0..n, 0..c, rows.clone(), cols.clone()]) + part,
            );
            count = count
                .clone()
                .slice_assign([0..1, 0..1, rows.clone(), cols.clone()], count.slice([0..1, 0..1, rows, cols]) + 1.0);
        }
        sum / count
    }
}

/// Patch offsets along an axis of `size` for patches of `patch`: every half patch, the last one
/// flush with the end.
fn patch_starts(size: usize, patch: usize) -> Vec<usize> {
    let stride = (patch / 2).max(1);
    let mut starts: Vec<usize> = (0..=size - patch).step_by(stride).collect();
    if starts.last() != Some(&(size - patch)) {
        starts.push(size - patch);
    }
    starts
}

impl Reconstruction for PlugAndPlay {
    fn final_estimate<Op: Physics>(&self, op: &Op, y: Op::Range) -> Op::Domain {
        let denoise = |x: Op::Domain| Op::Domain::from_channels(self.denoise(x.to_channels()));
        let x0 = op.adjoint(y.clone());
        match self.solver {
            Solver::Admm => {
                let gamma = Tensor::<1>::full([1], self.gamma, &x0.clone().to_channels().device());
                let (mut z, mut u) = (x0.clone(), x0.zeros_like());
                for _ in 0..self.iterations {
                    let x = op.prox_l2(z.clone().sub(u.clone()), y.clone(), gamma.clone());
                    z = denoise(x.clone().add(u.clone()));
                    u = u.add(x.sub(z.clone()));
                }
                z
            }
            Solver::Pgd => (0..self.iterations).fold(x0, |x, _| {
                let gradient = op.adjoint(op.forward(x.clone()).sub(y.clone()));
                denoise(x.sub(gradient.scale(self.gamma)))
            }),
        }
    }
}

/// Runs `unroll pnp` (see the module docs) for each γ and writes the evaluation reports into
/// `options.out` (one γ) or `options.out/gamma_<γ>` (several, with `sweep.json` listing each γ's
/// mean metrics); returns `(γ, summary)` for each.
pub fn pnp(options: &PnpOptions) -> Result<Vec<(f64, EvalSummary)>, TrainError> {
    if options.iterations == 0
        || options.gammas.is_empty()
        || options.gammas.iter().any(|g| !(g.is_finite() && *g > 0.0))
    {
        return Err(TrainError::Usage(format!(
            "pnp: --iterations must be at least 1 and every --gamma positive, got {} and {:?}",
            options.iterations, options.gammas
        )));
    }
    let device = Device::flex();
    let (denoiser_config, denoiser, [channels, ph, pw]) = open_model(&options.denoiser, &device)?;
    let name = denoiser_config.model.name();
    if !matches!(denoiser_config.data.problem, ProblemConfig::Denoising { .. }) {
        return Err(TrainError::Usage(format!(
            "{}: the denoiser (`{name}`) was trained on `{}`; pnp needs a model trained on `denoising`",
            options.denoiser.display(),
            denoiser_config.data.problem.name()
        )));
    }
    let mut config = ExperimentConfig::load(&options.experiment, &options.overrides)?;
    if config.data.problem.family() == Family::Mri {
        return Err(config.error("pnp reconstructs real images; the problem is multi-coil MRI (complex images)"));
    }
    let (split, set) = held_out(&mut config, options.data.as_deref())?;
    let [c, h, w] = set.item_shape().expect("non-empty");
    if c != channels || h < ph || w < pw {
        return Err(config.error(format!(
            "the images are {c}×{h}×{w} (channels × height × width); the denoiser takes {channels} channel(s) \
             and patches of {ph}×{pw}, so it needs {channels} channel(s) and at least that size"
        )));
    }
    let mut solver = PlugAndPlay {
        denoiser,
        patch: [ph, pw],
        solver: options.solver,
        iterations: options.iterations,
        gamma: 0.0,
        clip: options.clip,
    };
    let mut summaries = Vec::with_capacity(options.gammas.len());
    for &gamma in &options.gammas {
        solver.gamma = gamma;
        let label = format!(
            "PnP-{:?} ({} iterations, γ {gamma}{}) with `{name}` from {} on {} ({split:?} split)",
            options.solver,
            options.iterations,
            if options.clip { ", clipped to [0, 1]" } else { "" },
            options.denoiser.display(),
            config.name()
        );
        let out = match options.gammas.len() {
            1 => options.out.clone(),
            _ => options.out.join(format!("gamma_{gamma}")),
        };
        summaries.push((gamma, evaluate_and_report(&solver, &config, &set, &label, &out, &device)?));
    }
    if summaries.len() > 1 {
        let sweep: Vec<serde_json::Value> =
            summaries.iter().map(|(gamma, s)| serde_json::json!({ "gamma": gamma, "mean": s })).collect();
        write_atomic(&options.out.join("sweep.json"), &serde_json::to_vec_pretty(&sweep).expect("json"))?;
        println!("\nγ sweep (PSNR dB / SSIM of the reconstruction):");
        for (gamma, s) in &summaries {
            println!("  γ {gamma:>8}: {:.2} / {:.4}", s.recon.psnr, s.recon.ssim);
        }
    }
    Ok(summaries)
}
