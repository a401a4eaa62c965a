//! Image-quality metrics on the host, in f64, matching scikit-image 0.2x as fastMRI's `evaluate.py`
//! uses them (`specs/mri.md` §3.3).
//!
//! Images are `&[f32]` of shape `(height, width)`, row-major; `target` is the ground truth and
//! `pred` the reconstruction. `data_range` is the peak value of the PSNR and the `R` of SSIM's
//! constants `C1 = (0.01·R)²`, `C2 = (0.03·R)²`, in the units of the images. PSNR is in dB.
//! Shape errors are reported as [`MetricError`], never by a panic.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Side of SSIM's square uniform window (scikit-image's default `win_size`).
pub const SSIM_WINDOW: usize = 7;
const SSIM_K1: f64 = 0.01;
const SSIM_K2: f64 = 0.03;

/// Why a metric cannot be computed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum MetricError {
    /// Target and prediction differ in shape (`[len]` for flat images, `[slices, H, W]` for
    /// volumes).
    #[error("target shape {target:?} differs from prediction shape {pred:?}")]
    ShapeMismatch {
        /// Shape of the target.
        target: Vec<usize>,
        /// Shape of the prediction.
        pred: Vec<usize>,
    },
    /// An image does not have the `height × width` values it was declared with.
    #[error("an image of {len} values does not have shape [{height}, {width}]")]
    NotAnImage {
        /// Number of values of the image.
        len: usize,
        /// Declared height.
        height: usize,
        /// Declared width.
        width: usize,
    },
    /// The image is smaller than the SSIM window.
    #[error("SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW}, got [{height}, {width}]")]
    TooSmall {
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
    /// No values (an empty image or a volume without slices).
    #[error("metrics of an empty image or volume are undefined")]
    Empty,
}

/// fastMRI's per-volume metrics (`specs/mri.md` §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Peak signal-to-noise ratio over the whole volume, dB.
    pub psnr: f64,
    /// Structural similarity, mean over slices.
    pub ssim: f64,
    /// Normalised mean squared error over the whole volume.
    pub nmse: f64,
}

impl Metrics {
    /// Field-wise mean (fastMRI averages per-volume metrics over volumes); NaN fields when empty.
    pub fn mean(all: &[Metrics]) -> Metrics {
        let n = all.len() as f64;
        let mean = |field: fn(&Metrics) -> f64| all.iter().map(field).sum::<f64>() / n;
        Metrics { psnr: mean(|m| m.psnr), ssim: mean(|m| m.ssim), nmse: mean(|m| m.nmse) }
    }
}

/// Running sums behind PSNR and NMSE, so a volume is accumulated slice by slice.
#[derive(Default)]
struct ErrorSums {
    squared_error: f64,
    squared_target: f64,
    count: usize,
}

impl ErrorSums {
    fn add(&mut self, target: &[f32], pred: &[f32]) {
        for (&t, &p) in target.iter().zip(pred) {
            let (t, p) = (f64::from(t), f64::from(p));
            self.squared_error += (t - p) * (t - p);
            self.squared_target += t * t;
        }
        self.count += target.len();
    }

    fn psnr(&self, data_range: f64) -> f64 {
        10.0 * (data_range * data_range / (self.squared_error / self.count as f64)).log10()
    }

    fn nmse(&self) -> f64 {
        self.squared_error / self.squared_target
    }
}

fn same_len(target: &[f32], pred: &[f32]) -> Result<ErrorSums, MetricError> {
    if target.len() != pred.len() {
        return Err(MetricError::ShapeMismatch { target: vec![target.len()], pred: vec![pred.len()] });
    }
    if target.is_empty() {
        return Err(MetricError::Empty);
    }
    let mut sums = ErrorSums::default();
    sums.add(target, pred);
    Ok(sums)
}

/// `10·log10(data_range² / MSE)` in dB (`skimage.metrics.peak_signal_noise_ratio`); `+∞` when the
/// images are equal. Any shape: only the number of values must agree.
pub fn psnr(target: &[f32], pred: &[f32], data_range: f64) -> Result<f64, MetricError> {
    Ok(same_len(target, pred)?.psnr(data_range))
}

/// `‖target − pred‖² / ‖target‖²` (fastMRI's NMSE). Any shape: only the number of values must
/// agree.
pub fn nmse(target: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    Ok(same_len(target, pred)?.nmse())
}

fn check_image(image: &[f32], height: usize, width: usize) -> Result<(), MetricError> {
    if image.len() != height * width {
        return Err(MetricError::NotAnImage { len: image.len(), height, width });
    }
    Ok(())
}

/// Mean SSIM of two `height × width` images with scikit-image's defaults
/// (`structural_similarity(target, pred, data_range=…)`): 7×7 uniform window, K1 0.01, K2 0.03,
/// sample covariance (`NP/(NP−1)`, `NP = 49`), averaged over the windows that lie wholly inside the
/// image (skimage filters with reflection, then drops a 3-pixel border: the same windows).
pub fn ssim(target: &[f32], pred: &[f32], height: usize, width: usize, data_range: f64) -> Result<f64, MetricError> {
    check_image(target, height, width)?;
    check_image(pred, height, width)?;
    if height < SSIM_WINDOW || width < SSIM_WINDOW {
        return Err(MetricError::TooSmall { height, width });
    }
    let (out_h, out_w) = (height - SSIM_WINDOW + 1, width - SSIM_WINDOW + 1);
    // Sums of [x, y, x², y², xy] over 1×7 windows, for every row and window start column.
    let mut row_sums = vec![[0f64; 5]; height * out_w];
    for r in 0..height {
        for c in 0..out_w {
            let sums = &mut row_sums[r * out_w + c];
            let window = r * width + c..r * width + c + SSIM_WINDOW;
            for (&x, &y) in target[window.clone()].iter().zip(&pred[window]) {
                let (x, y) = (f64::from(x), f64::from(y));
                for (s, v) in sums.iter_mut().zip([x, y, x * x, y * y, x * y]) {
                    *s += v;
                }
            }
        }
    }
    let np = (SSIM_WINDOW * SSIM_WINDOW) as f64;
    let cov_norm = np / (np - 1.0);
    let c1 = (SSIM_K1 * data_range).powi(2);
    let c2 = (SSIM_K2 * data_range).powi(2);
    let mut total = 0.0;
    for r in 0..out_h {
        for c in 0..out_w {
            let mut sums = [0f64; 5];
            for k in r..r + SSIM_WINDOW {
                for (s, v) in sums.iter_mut().zip(row_sums[k * out_w + c]) {
                    *s += v;
                }
            }
            let [ux, uy, uxx, uyy, uxy] = sums.map(|s| s / np);
            let vx = cov_norm * (uxx - ux * ux);
            let vy = cov_norm * (uyy - uy * uy);
            let vxy = cov_norm * (uxy - ux * uy);
            total += (2.0 * ux * uy + c1) * (2.0 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
        }
    }
    Ok(total / (out_h * out_w) as f64)
}

/// fastMRI's metrics of one volume given as equal-size `height × width` slices: data range = max of
/// the whole target volume; PSNR and NMSE over the whole volume; SSIM = mean over slices.
pub fn volume_metrics(
    target_slices: &[&[f32]],
    pred_slices: &[&[f32]],
    height: usize,
    width: usize,
) -> Result<Metrics, MetricError> {
    if target_slices.len() != pred_slices.len() {
        return Err(MetricError::ShapeMismatch {
            target: vec![target_slices.len(), height, width],
            pred: vec![pred_slices.len(), height, width],
        });
    }
    if target_slices.is_empty() || height * width == 0 {
        return Err(MetricError::Empty);
    }
    let data_range = f64::from(target_slices.iter().flat_map(|s| s.iter().copied()).fold(f32::NEG_INFINITY, f32::max));
    let mut sums = ErrorSums::default();
    let mut ssim_sum = 0.0;
    for (target, pred) in target_slices.iter().zip(pred_slices) {
        ssim_sum += ssim(target, pred, height, width, data_range)?;
        sums.add(target, pred);
    }
    Ok(Metrics { psnr: sums.psnr(data_range), ssim: ssim_sum / target_slices.len() as f64, nmse: sums.nmse() })
}

/// The reduced shear `(g₁, g₂)` of a galaxy image `[h, w]` (row-major) from its second moments
/// under a circular Gaussian weight of `sigma` pixels centred on the weighted centroid (iterated
/// from the image centre): with `Q` the weighted moments in `(x, y) = (column, row)`,
/// `g = (Q_xx − Q_yy, 2 Q_xy) / (Q_xx + Q_yy + 2 √det Q)`. `None` when the weighted flux is not
/// positive or the moments are not positive definite (a blank or noise-dominated image).
pub fn ellipticity(image: &[f32], [h, w]: [usize; 2], sigma: f64) -> Option<[f64; 2]> {
    let mut centre = [(h / 2) as f64, (w / 2) as f64];
    let weighted = |centre: [f64; 2]| {
        image.iter().enumerate().map(move |(i, &v)| {
            let (y, x) = ((i / w) as f64 - centre[0], (i % w) as f64 - centre[1]);
            (y, x, f64::from(v) * (-(x * x + y * y) / (2.0 * sigma * sigma)).exp())
        })
    };
    for _ in 0..5 {
        let (mut flux, mut sy, mut sx) = (0.0, 0.0, 0.0);
        for (y, x, v) in weighted(centre) {
            (flux, sy, sx) = (flux + v, sy + y * v, sx + x * v);
        }
        if flux.is_nan() || flux <= 0.0 {
            return None;
        }
        centre = [centre[0] + sy / flux, centre[1] + sx / flux];
    }
    let (mut flux, mut qxx, mut qyy, mut qxy) = (0.0, 0.0, 0.0, 0.0);
    for (y, x, v) in weighted(centre) {
        (flux, qxx, qyy, qxy) = (flux + v, qxx + x * x * v, qyy + y * y * v, qxy + x * y * v);
    }
    let (qxx, qyy, qxy) = (qxx / flux, qyy / flux, qxy / flux);
    let det = qxx * qyy - qxy * qxy;
    if !(flux > 0.0 && qxx > 0.0 && qyy > 0.0 && det > 0.0) {
        return None;
    }
    let denominator = qxx + qyy + 2.0 * det.sqrt();
    Some([(qxx - qyy) / denominator, 2.0 * qxy / denominator])
}
