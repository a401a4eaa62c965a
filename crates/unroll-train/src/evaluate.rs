//! Evaluation of a model on a split: per-item and mean PSNR / SSIM / NMSE of the reconstruction, of
//! the input `Aᴴy` (zero-filled image for MRI, the blurred or masked image for deblurring and
//! inpainting) and of the problem's named classical baseline ([`Simulation::baseline`]: CG-SENSE,
//! Wiener, Tikhonov, FBP, the noisy or masked image), plus the images for panels.
//!
//! Metrics follow fastMRI (`specs/mri.md` §3.3) with one item as the volume: the channels of an
//! item are its slices, the data range is the target item's maximum.

use std::path::Path;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_data::{Simulation, SimulationBatcher, SplitDataset};
use unroll_models::Model;
use unroll_physics::{LinearOperator, Signal};

use crate::error::TrainError;
use crate::metrics::{Metrics, volume_metrics};
use crate::normalise::{MIN_SCALE, forward};

/// Host copies of one item's images, `[C, H, W]` row-major.
#[derive(Clone, Debug)]
pub struct ItemImages {
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// Ground truth.
    pub target: Vec<f32>,
    /// The input baseline `Aᴴy` (modulus for complex data).
    pub input: Vec<f32>,
    /// The reconstruction (modulus for complex data).
    pub recon: Vec<f32>,
}

/// Metrics of one item.
#[derive(Clone, Debug)]
pub struct ItemResult {
    /// Position in the split.
    pub index: usize,
    /// Reconstruction metrics.
    pub recon: Metrics,
    /// Input (`Aᴴy`) metrics.
    pub input: Metrics,
    /// Classical-baseline metrics.
    pub baseline: Metrics,
    /// The images, when asked for.
    pub images: Option<ItemImages>,
}

/// Mean metrics over a split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Number of items.
    pub items: usize,
    /// Mean reconstruction metrics.
    pub recon: Metrics,
    /// Mean input (`Aᴴy`) metrics.
    pub input: Metrics,
    /// Mean classical-baseline metrics.
    pub baseline: Metrics,
    /// The classical baseline's name.
    pub baseline_name: String,
}

impl EvalSummary {
    /// Means over items; `baseline_name` names [`ItemResult::baseline`].
    pub fn from_items(items: &[ItemResult], baseline_name: &str) -> Self {
        let mean = |pick: fn(&ItemResult) -> Metrics| Metrics::mean(&items.iter().map(pick).collect::<Vec<_>>());
        Self {
            items: items.len(),
            recon: mean(|i| i.recon),
            input: mean(|i| i.input),
            baseline: mean(|i| i.baseline),
            baseline_name: baseline_name.to_string(),
        }
    }

    /// The table printed after training and evaluation.
    pub fn table(&self, title: &str) -> String {
        let row = |name: &str, m: &Metrics| format!("{name:<24}{:>10.2}{:>10.4}{:>10.4}\n", m.psnr, m.ssim, m.nmse);
        format!("{title:<24}{:>10}{:>10}{:>10}\n", "PSNR dB", "SSIM", "NMSE")
            + &row("input (Aᴴy)", &self.input)
            + &row(&format!("baseline: {}", self.baseline_name), &self.baseline)
            + &row("reconstruction", &self.recon)
    }
}

fn host(t: Tensor<4>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data")
}

fn item_metrics(target: &[f32], pred: &[f32], [c, h, w]: [usize; 3]) -> Metrics {
    let slices = |v: &[f32]| -> Vec<Vec<f32>> { v.chunks(h * w).take(c).map(<[f32]>::to_vec).collect() };
    let (t, p) = (slices(target), slices(pred));
    let t: Vec<&[f32]> = t.iter().map(Vec::as_slice).collect();
    let p: Vec<&[f32]> = p.iter().map(Vec::as_slice).collect();
    volume_metrics(&t, &p, h, w).expect("reconstruction has the target's shape")
}

/// Evaluates `model` (on a non-autodiff device) on every item of `dataset`.
pub fn evaluate<S: Simulation>(
    model: &Model,
    dataset: &SplitDataset,
    simulation: &S,
    device: &Device,
    batch_size: usize,
    keep_images: bool,
) -> Result<Vec<ItemResult>, TrainError> {
    let batcher = SimulationBatcher { simulation: simulation.clone() };
    let positions: Vec<usize> = (0..dataset.len()).collect();
    let mut results = Vec::with_capacity(dataset.len());
    for chunk in positions.chunks(batch_size.max(1)) {
        let batch = batcher.batch(dataset.items(chunk)?, device);
        let (mut iterates, scale) = forward(model, &batch.op, batch.y.clone());
        let recon = iterates.pop().expect("at least one iterate").mul_per_sample(scale).image();
        let input = batch.op.adjoint(batch.y.clone()).image();
        let baseline = simulation.baseline(&batch.op, batch.y.clone()).image();
        let target = batch.target.clone().image();
        let [n, c, h, w] = target.dims();
        let (target, input, recon, baseline) = (host(target), host(input), host(recon), host(baseline));
        let size = c * h * w;
        for k in 0..n {
            let part = |v: &[f32]| v[k * size..(k + 1) * size].to_vec();
            let (t, i, r) = (part(&target), part(&input), part(&recon));
            results.push(ItemResult {
                index: chunk[k],
                recon: item_metrics(&t, &r, [c, h, w]),
                input: item_metrics(&t, &i, [c, h, w]),
                baseline: item_metrics(&t, &part(&baseline), [c, h, w]),
                images: keep_images.then_some(ItemImages { shape: [c, h, w], target: t, input: i, recon: r }),
            });
        }
    }
    Ok(results)
}

/// Writes `metrics.json` (per item and mean, reconstruction and input), `metrics.csv` and one PNG
/// panel per item (target | input | reconstruction | |error|, first channel, each scaled by the
/// target's maximum) into `out`.
pub fn write_report(out: &Path, results: &[ItemResult], summary: &EvalSummary, label: &str) -> Result<(), TrainError> {
    std::fs::create_dir_all(out).map_err(|e| TrainError::file(out, e))?;
    let items: Vec<serde_json::Value> = results
        .iter()
        .map(|r| serde_json::json!({ "index": r.index, "recon": r.recon, "input": r.input, "baseline": r.baseline }))
        .collect();
    let json = serde_json::json!({ "label": label, "mean": summary, "items": items });
    crate::files::write_atomic(&out.join("metrics.json"), &serde_json::to_vec_pretty(&json).expect("json"))?;
    let mut csv = String::from(
        "index,psnr,ssim,nmse,input_psnr,input_ssim,input_nmse,baseline_psnr,baseline_ssim,baseline_nmse\n",
    );
    for r in results {
        let [a, b, c] = [r.recon, r.input, r.baseline];
        csv += &format!(
            "{},{:.4},{:.5},{:.6},{:.4},{:.5},{:.6},{:.4},{:.5},{:.6}\n",
            r.index, a.psnr, a.ssim, a.nmse, b.psnr, b.ssim, b.nmse, c.psnr, c.ssim, c.nmse
        );
    }
    crate::files::write_atomic(&out.join("metrics.csv"), csv.as_bytes())?;
    for r in results {
        if let Some(images) = &r.images {
            let path = out.join(format!("panel_{:04}.png", r.index));
            panel(images).save(&path).map_err(|e| TrainError::file(&path, e))?;
        }
    }
    Ok(())
}

/// `target | input | reconstruction | |error|` side by side, 8-bit grey.
fn panel(images: &ItemImages) -> image::GrayImage {
    let [_, h, w] = images.shape;
    let scale = images.target[..h * w].iter().fold(1e-12f32, |m, &v| m.max(v));
    let error: Vec<f32> = images.target.iter().zip(&images.recon).map(|(t, r)| (t - r).abs()).collect();
    let tiles = [&images.target, &images.input, &images.recon, &error];
    image::GrayImage::from_fn((4 * w) as u32, h as u32, |x, y| {
        let (tile, col) = (x as usize / w, x as usize % w);
        let v = tiles[tile][y as usize * w + col] / scale;
        image::Luma([(v.clamp(0.0, 1.0) * 255.0).round() as u8])
    })
}

/// Reconstructs measurements `y` of `op` (no target needed), in the measurement's units. A sample
/// whose `Aᴴy` is zero everywhere has nothing to reconstruct: its output is defined as zero.
pub fn reconstruct<Op: LinearOperator>(model: &Model, op: &Op, y: Op::Range) -> Op::Domain {
    let (mut iterates, scale) = forward(model, op, y);
    let empty = scale.clone().lower_equal_elem(MIN_SCALE);
    iterates.pop().expect("at least one iterate").mul_per_sample(scale.mask_fill(empty, 0.0))
}
