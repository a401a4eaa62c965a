//! Evaluation of a model on a split: per-item and mean PSNR / SSIM / NMSE of the reconstruction, of
//! the input ([`Simulation::input_image`]: `|Aᴴy|`, the blurred or masked image for deblurring and
//! inpainting, the zero-filled RSS for MRI) and of the problem's named classical baseline ([`Simulation::baseline`]: CG-SENSE,
//! Wiener, Tikhonov, FBP, the noisy or masked image), plus the images for panels.
//!
//! Metrics follow fastMRI (`specs/mri.md` §3.3) with one item as the volume: the channels of an
//! item are its slices, the data range is the target item's maximum.

use std::path::Path;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_data::{Acquisition, CoilMapSource, Simulation, SimulationBatcher, SplitDataset, readers};
use unroll_models::Model;
use unroll_physics::{Fft2, MaskConfig, Physics, Signal};

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
    /// The input ([`Simulation::input_image`]).
    pub input: Vec<f32>,
    /// The classical baseline (modulus for complex data).
    pub baseline: Vec<f32>,
    /// The reconstruction (modulus for complex data).
    pub recon: Vec<f32>,
}

/// Metrics of one item.
#[derive(Clone, Debug)]
pub struct ItemResult {
    /// Position in the split, or the volume (of the source) for per-volume results.
    pub index: usize,
    /// Reconstruction metrics.
    pub recon: Metrics,
    /// Input ([`Simulation::input_image`]) metrics.
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
    /// Mean input (`Aᴴy`, or the problem's convention: `Simulation::input_image`) metrics.
    pub input: Metrics,
    /// The input's name.
    #[serde(default)]
    pub input_name: String,
    /// Mean classical-baseline metrics.
    pub baseline: Metrics,
    /// The classical baseline's name.
    pub baseline_name: String,
}

impl EvalSummary {
    /// Means over items; `names` are those of [`ItemResult::input`] and [`ItemResult::baseline`].
    pub fn from_items(items: &[ItemResult], (input_name, baseline_name): (&str, &str)) -> Self {
        let mean = |pick: fn(&ItemResult) -> Metrics| Metrics::mean(&items.iter().map(pick).collect::<Vec<_>>());
        Self {
            items: items.len(),
            recon: mean(|i| i.recon),
            input: mean(|i| i.input),
            input_name: input_name.to_string(),
            baseline: mean(|i| i.baseline),
            baseline_name: baseline_name.to_string(),
        }
    }

    /// The table printed after training and evaluation.
    pub fn table(&self, title: &str) -> String {
        let row = |name: &str, m: &Metrics| format!("{name:<24}{:>10.2}{:>10.4}{:>10.4}\n", m.psnr, m.ssim, m.nmse);
        format!("{title:<24}{:>10}{:>10}{:>10}\n", "PSNR dB", "SSIM", "NMSE")
            + &row(&format!("input ({})", self.input_name), &self.input)
            + &row(&format!("baseline: {}", self.baseline_name), &self.baseline)
            + &row("reconstruction", &self.recon)
    }
}

/// The centre `[h, w]` crop of a `[H, W]` image (fastMRI's `center_crop`; no crop along an axis
/// that is already smaller).
pub fn centre_crop(image: &[f32], [height, width]: [usize; 2], [h, w]: [usize; 2]) -> Vec<f32> {
    let (h, w) = (h.min(height), w.min(width));
    let (top, left) = ((height - h) / 2, (width - w) / 2);
    (top..top + h).flat_map(|r| image[r * width + left..r * width + left + w].iter().copied()).collect()
}

/// Host copy of a tensor.
pub(crate) fn host(t: Tensor<4>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data")
}

fn item_metrics(target: &[f32], pred: &[f32], [c, h, w]: [usize; 3]) -> Metrics {
    let slices = |v: &[f32]| -> Vec<Vec<f32>> { v.chunks(h * w).take(c).map(<[f32]>::to_vec).collect() };
    let (t, p) = (slices(target), slices(pred));
    let t: Vec<&[f32]> = t.iter().map(Vec::as_slice).collect();
    let p: Vec<&[f32]> = p.iter().map(Vec::as_slice).collect();
    volume_metrics(&t, &p, h, w).expect("reconstruction has the target's shape")
}

impl ItemResult {
    /// The metrics of an item's images, which are kept if `keep_images`.
    fn new(index: usize, images: ItemImages, keep_images: bool) -> Self {
        let metrics = |pred: &[f32]| item_metrics(&images.target, pred, images.shape);
        Self {
            index,
            recon: metrics(&images.recon),
            input: metrics(&images.input),
            baseline: metrics(&images.baseline),
            images: keep_images.then_some(images),
        }
    }
}

/// Evaluates `model` on measured, fully sampled k-space (fastMRI-layout files `volumes`): every
/// slice is undersampled retrospectively with `mask` (seeded by `seed`, the volume and the slice),
/// reconstructed with the operator of [`Acquisition::retrospective`], and compared with the RSS of
/// its fully sampled coil images. Images are centre-cropped to the file's `reconstruction_rss`
/// size when it has one (readout oversampling removed, as fastMRI does). One item per volume:
/// metrics over its slices with the volume's maximum as the data range (fastMRI's definition).
pub fn evaluate_kspace<S: Simulation>(
    model: &Model,
    volumes: &[std::path::PathBuf],
    simulation: &S,
    (mask, fft, coil_maps, seed): (&MaskConfig, Fft2, CoilMapSource, u64),
    device: &Device,
    keep_images: bool,
) -> Result<Vec<ItemResult>, TrainError> {
    let mut results = Vec::with_capacity(volumes.len());
    for (v, path) in volumes.iter().enumerate() {
        let volume = readers::read_fastmri(path)?;
        let [slices, _, height, width] = volume.shape;
        let [h, w] = volume.reconstruction_size();
        let mut images =
            ItemImages { shape: [slices, h, w], target: vec![], input: vec![], baseline: vec![], recon: vec![] };
        for s in 0..slices {
            let slice_seed = seed ^ ((v as u64) << 32 | s as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let (acquisition, y, target) =
                Acquisition::retrospective(&volume, s, mask, slice_seed, fft, coil_maps, device)
                    .map_err(|e| TrainError::file(path, e))?;
            let op = simulation.operator(acquisition).map_err(TrainError::Usage)?;
            let y = (op.mri().expect("an MRI problem's operator has the MRI view").kspace.from)(y);
            let (mut iterates, scale) = forward(model, &op, y.clone());
            let recon = iterates.pop().expect("at least one iterate").mul_per_sample(scale).image();
            let crop = |t: Tensor<4>| centre_crop(&host(t), [height, width], [h, w]);
            images.recon.extend(crop(recon));
            images.input.extend(crop(simulation.input_image(&op, y.clone())));
            images.baseline.extend(crop(simulation.baseline(&op, y).image()));
            images.target.extend(crop(target));
        }
        results.push(ItemResult::new(v, images, keep_images));
    }
    Ok(results)
}

/// What evaluation runs on a measurement: a model under its normalisation ([`reconstruct`]), or a
/// solver built around one (see `crate::pnp`).
pub trait Reconstruction {
    /// The final estimate from measurements `y` of `op`, in the measurement's units.
    fn final_estimate<Op: Physics>(&self, op: &Op, y: Op::Range) -> Op::Domain;
}

impl Reconstruction for Model {
    fn final_estimate<Op: Physics>(&self, op: &Op, y: Op::Range) -> Op::Domain {
        reconstruct(self, op, y)
    }
}

/// Evaluates `model` (on a non-autodiff device) on every item of `dataset`. When the dataset knows
/// its items' volumes (the `fastmri` source), the result is one item per volume (in order of first
/// appearance), its slices being the split's slices of that volume, with fastMRI's per-volume
/// metrics (the data range is the volume's maximum); otherwise one per image.
pub fn evaluate<S: Simulation, R: Reconstruction>(
    model: &R,
    dataset: &SplitDataset,
    simulation: &S,
    device: &Device,
    batch_size: usize,
    keep_images: bool,
) -> Result<Vec<ItemResult>, TrainError> {
    let batcher = SimulationBatcher { simulation: simulation.clone() };
    let positions: Vec<usize> = (0..dataset.len()).collect();
    let mut items: Vec<(usize, ItemImages)> = Vec::with_capacity(dataset.len());
    for chunk in positions.chunks(batch_size.max(1)) {
        let batch = batcher.batch(dataset.items(chunk)?, device);
        let recon = model.final_estimate(&batch.op, batch.y.clone()).image();
        let input = simulation.input_image(&batch.op, batch.y.clone());
        let baseline = simulation.baseline(&batch.op, batch.y.clone()).image();
        let target = batch.target.clone().image();
        let [n, c, h, w] = target.dims();
        let (target, input, recon, baseline) = (host(target), host(input), host(recon), host(baseline));
        let size = c * h * w;
        for k in 0..n {
            let part = |v: &[f32]| v[k * size..(k + 1) * size].to_vec();
            let images = ItemImages {
                shape: [c, h, w],
                target: part(&target),
                input: part(&input),
                baseline: part(&baseline),
                recon: part(&recon),
            };
            items.push((chunk[k], images));
        }
    }
    if dataset.volume_of(0).is_none() {
        return Ok(items
            .into_iter()
            .map(|(position, images)| ItemResult::new(position, images, keep_images))
            .collect());
    }
    let mut volumes: Vec<(usize, ItemImages)> = Vec::new();
    for (position, images) in items {
        let volume = dataset.volume_of(position).expect("every item has a volume");
        match volumes.iter_mut().find(|(v, _)| *v == volume) {
            Some((_, all)) => {
                all.shape[0] += images.shape[0];
                all.target.extend(images.target);
                all.input.extend(images.input);
                all.baseline.extend(images.baseline);
                all.recon.extend(images.recon);
            }
            None => volumes.push((volume, images)),
        }
    }
    Ok(volumes.into_iter().map(|(volume, images)| ItemResult::new(volume, images, keep_images)).collect())
}

/// Writes `metrics.json` (per item and mean, reconstruction and input), `metrics.csv` and one PNG
/// panel per item (see [`panel`]) into `out`.
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
            panel(images, [r.input.psnr, r.baseline.psnr, r.recon.psnr])
                .save(&path)
                .map_err(|e| TrainError::file(&path, e))?;
        }
    }
    Ok(())
}

/// Panel tiles are upscaled (nearest neighbour) to at least this many pixels in height.
const PANEL_MIN_HEIGHT: usize = 256;

/// `target | input | baseline | reconstruction | error` side by side (first channel): images in
/// grey scaled by the target's maximum, the error `|target − reconstruction|` in a black → red →
/// yellow → white map scaled to a quarter of the maximum; tiles 2–4 carry their PSNR in dB, top left.
fn panel(images: &ItemImages, psnr: [f64; 3]) -> image::RgbImage {
    let [_, h, w] = images.shape;
    let zoom = PANEL_MIN_HEIGHT.div_ceil(h).max(1);
    let scale = images.target[..h * w].iter().fold(1e-12f32, |m, &v| m.max(v));
    let grey = |v: f32| {
        let g = ((v / scale).clamp(0.0, 1.0) * 255.0).round() as u8;
        [g, g, g]
    };
    let heat = |v: f32| {
        let t = (4.0 * v / scale).clamp(0.0, 1.0) * 3.0;
        let channel = |x: f32| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
        [channel(t), channel(t - 1.0), channel(t - 2.0)]
    };
    let tiles = [&images.target, &images.input, &images.baseline, &images.recon];
    let mut out = image::RgbImage::from_fn((5 * w * zoom) as u32, (h * zoom) as u32, |x, y| {
        let (tile, col, row) = (x as usize / (w * zoom), x as usize % (w * zoom) / zoom, y as usize / zoom);
        let (t, r) = (images.target[row * w + col], images.recon[row * w + col]);
        image::Rgb(if tile < 4 { grey(tiles[tile][row * w + col]) } else { heat((t - r).abs()) })
    });
    for (tile, value) in psnr.iter().enumerate() {
        draw_label(&mut out, ((tile + 1) * w * zoom + 4) as u32, 4, &format!("{value:.2}dB"));
    }
    out
}

/// 3×5 bitmap glyphs of the characters a PSNR label needs, one `u16` per glyph (row-major bits).
fn glyph(c: char) -> u16 {
    match c {
        '0' => 0b111_101_101_101_111,
        '1' => 0b010_110_010_010_111,
        '2' => 0b111_001_111_100_111,
        '3' => 0b111_001_111_001_111,
        '4' => 0b101_101_111_001_001,
        '5' => 0b111_100_111_001_111,
        '6' => 0b111_100_111_101_111,
        '7' => 0b111_001_010_010_010,
        '8' => 0b111_101_111_101_111,
        '9' => 0b111_101_111_001_111,
        '.' => 0b000_000_000_000_010,
        '-' => 0b000_000_111_000_000,
        'd' => 0b001_001_111_101_111,
        'B' => 0b110_101_110_101_110,
        _ => 0,
    }
}

/// Draws `text` in white on a black box at `(x, y)`, glyphs scaled 3×.
fn draw_label(image: &mut image::RgbImage, x: u32, y: u32, text: &str) {
    const SCALE: u32 = 3;
    let (width, height) = (text.chars().count() as u32 * 4 * SCALE + SCALE, 7 * SCALE);
    for dy in 0..height {
        for dx in 0..width {
            if x + dx < image.width() && y + dy < image.height() {
                image.put_pixel(x + dx, y + dy, image::Rgb([0, 0, 0]));
            }
        }
    }
    for (k, c) in text.chars().enumerate() {
        let bits = glyph(c);
        for row in 0..5u32 {
            for col in 0..3u32 {
                if bits >> (14 - (row * 3 + col)) & 1 == 1 {
                    for (sy, sx) in (0..SCALE).flat_map(|a| (0..SCALE).map(move |b| (a, b))) {
                        let px = x + SCALE + (k as u32 * 4 + col) * SCALE + sx;
                        let py = y + SCALE + row * SCALE + sy;
                        if px < image.width() && py < image.height() {
                            image.put_pixel(px, py, image::Rgb([255, 255, 255]));
                        }
                    }
                }
            }
        }
    }
}

/// Reconstructs measurements `y` of `op` (no target needed), in the measurement's units. A sample
/// whose `Aᴴy` is zero everywhere has nothing to reconstruct: its output is defined as zero.
pub fn reconstruct<Op: Physics>(model: &Model, op: &Op, y: Op::Range) -> Op::Domain {
    let (mut iterates, scale) = forward(model, op, y);
    let empty = scale.clone().lower_equal_elem(MIN_SCALE);
    iterates.pop().expect("at least one iterate").mul_per_sample(scale.mask_fill(empty, 0.0))
}
