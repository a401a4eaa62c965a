//! Undersampling masks for MRI, each with its auto-calibration (ACS) region, seeded.
//!
//! Cartesian masks select k-space *columns* (the last dimension `W` of `[.., H, W]`, the phase-encode
//! direction of fastMRI data) with the exact formulas of fastMRI's `subsample.py`
//! (`specs/mri.md` §3.2); 2D masks select individual k-space points. Masks are in the centred
//! layout (DC at `[H/2, W/2]`). Randomness comes from a ChaCha8 stream seeded by the caller, so a mask
//! is reproducible across runs and platforms (it does not reproduce numpy's streams).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use burn::prelude::*;

/// A mask family with its parameters (typed config: `kind = "equispaced_fraction"`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MaskConfig {
    /// fastMRI `RandomMaskFunc`: centre columns plus columns drawn independently with probability
    /// `(W/R − n_low)/(W − n_low)`.
    Random {
        /// Acceleration `R`.
        acceleration: f64,
        /// Fraction of fully sampled centre columns.
        center_fraction: f64,
    },
    /// fastMRI `EquispacedMaskFunc`: centre columns plus every `R`-th column from a random offset.
    Equispaced {
        /// Acceleration `R` (the column spacing).
        acceleration: usize,
        /// Fraction of fully sampled centre columns.
        center_fraction: f64,
    },
    /// fastMRI `EquispacedMaskFractionFunc`: spacing adjusted so the whole mask, centre included,
    /// has acceleration `R` (the masks of the public brain data).
    EquispacedFraction {
        /// Acceleration `R`.
        acceleration: f64,
        /// Fraction of fully sampled centre columns.
        center_fraction: f64,
    },
    /// ATOMMIC-style 2D Gaussian: `H·W/R` points drawn without replacement with probability
    /// proportional to a separable Gaussian of the given FWHM on `[−1, 1]²`, plus a fully sampled
    /// centre ellipse (half-axes `center_scale·H`, `center_scale·W`), which is the ACS region.
    Gaussian2d {
        /// Acceleration `R`.
        acceleration: f64,
        /// Full width at half maximum of the density, in units of the half-width (`[−1, 1]` axis).
        #[serde(default = "default_fwhm")]
        fwhm: f64,
        /// Half-axes of the fully sampled centre ellipse as fractions of the size.
        #[serde(default = "default_center_scale")]
        center_scale: f64,
    },
    /// Variable-density Poisson disc: random sequential sampling where a point excludes others within
    /// `r(ρ) = r₀·(1 + slope·ρ)` (ρ = normalised distance from the centre, 0 at DC, 1 at the corners
    /// of the inscribed ellipse); `r₀` is found by bisection to hit the acceleration. A fully sampled
    /// centre disc of radius `center_scale·min(H, W)` is the ACS region.
    PoissonDisc {
        /// Acceleration `R`.
        acceleration: f64,
        /// How fast the exclusion radius grows towards the edge of k-space.
        #[serde(default = "default_slope")]
        slope: f64,
        /// Radius of the fully sampled centre disc as a fraction of `min(H, W)`.
        #[serde(default = "default_center_scale")]
        center_scale: f64,
    },
}

fn default_fwhm() -> f64 {
    0.7
}
fn default_center_scale() -> f64 {
    0.04
}
fn default_slope() -> f64 {
    4.0
}

/// A generated mask: `1` where k-space is sampled, in row-major `[H, W]` order.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingMask {
    /// `[H, W]`.
    pub shape: [usize; 2],
    /// 0/1 values, row-major.
    pub values: Vec<f32>,
    /// The fully sampled auto-calibration region (a subset of the sampled points), row-major.
    pub acs: Vec<bool>,
}

impl SamplingMask {
    /// Achieved acceleration `H·W / #sampled`.
    pub fn acceleration(&self) -> f64 {
        let sampled: f32 = self.values.iter().sum();
        self.values.len() as f64 / sampled.max(1.0) as f64
    }

    /// Fraction of points in the ACS region.
    pub fn acs_fraction(&self) -> f64 {
        self.acs.iter().filter(|&&a| a).count() as f64 / self.acs.len() as f64
    }

    /// The mask as a `[1, 1, H, W]` tensor (broadcasts over batch and coils).
    pub fn to_tensor(&self, device: &Device) -> Tensor<4> {
        let [h, w] = self.shape;
        Tensor::from_data(TensorData::new(self.values.clone(), [1, 1, h, w]), device)
    }

    /// The ACS region as a 0/1 `[1, 1, H, W]` tensor.
    pub fn acs_tensor(&self, device: &Device) -> Tensor<4> {
        let [h, w] = self.shape;
        let values: Vec<f32> = self.acs.iter().map(|&a| f32::from(u8::from(a))).collect();
        Tensor::from_data(TensorData::new(values, [1, 1, h, w]), device)
    }

    fn from_columns(shape: [usize; 2], columns: &[bool], acs_columns: &[bool]) -> Self {
        let [h, w] = shape;
        let values = (0..h * w).map(|i| f32::from(u8::from(columns[i % w] || acs_columns[i % w]))).collect();
        let acs = (0..h * w).map(|i| acs_columns[i % w]).collect();
        Self { shape, values, acs }
    }
}

impl MaskConfig {
    /// Nominal acceleration.
    pub fn acceleration(&self) -> f64 {
        match *self {
            MaskConfig::Random { acceleration, .. }
            | MaskConfig::EquispacedFraction { acceleration, .. }
            | MaskConfig::Gaussian2d { acceleration, .. }
            | MaskConfig::PoissonDisc { acceleration, .. } => acceleration,
            MaskConfig::Equispaced { acceleration, .. } => acceleration as f64,
        }
    }

    /// Checks the parameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        let acceleration = self.acceleration();
        if !(acceleration >= 1.0 && acceleration.is_finite()) {
            return Err(format!("acceleration must be a finite number >= 1, got {acceleration}"));
        }
        match *self {
            MaskConfig::Random { center_fraction, acceleration }
            | MaskConfig::EquispacedFraction { center_fraction, acceleration }
                if !(0.0..1.0).contains(&center_fraction) || center_fraction * acceleration >= 1.0 =>
            {
                return Err(format!(
                    "center_fraction must be in [0, 1/acceleration), got {center_fraction} for acceleration {acceleration}"
                ));
            }
            MaskConfig::Equispaced { center_fraction, .. } if !(0.0..1.0).contains(&center_fraction) => {
                return Err(format!("center_fraction must be in [0, 1), got {center_fraction}"));
            }
            MaskConfig::Gaussian2d { fwhm, center_scale, .. } if fwhm <= 0.0 || !(0.0..0.5).contains(&center_scale) => {
                return Err(format!("fwhm must be > 0 and center_scale in [0, 0.5), got {fwhm} and {center_scale}"));
            }
            MaskConfig::PoissonDisc { slope, center_scale, .. }
                if slope < 0.0 || !(0.0..0.5).contains(&center_scale) =>
            {
                return Err(format!("slope must be >= 0 and center_scale in [0, 0.5), got {slope} and {center_scale}"));
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks that the parameters can be met on `[H, W]` k-space once the centre block is rounded to
    /// whole columns (fastMRI rounds `W·center_fraction`): the column masks need
    /// `n_low < W/R`, so that columns outside the centre remain to be sampled.
    pub fn validate_for(&self, [h, w]: [usize; 2]) -> Result<(), String> {
        self.validate()?;
        if h == 0 || w == 0 {
            return Err(format!("k-space of {h}x{w} is empty"));
        }
        if let MaskConfig::Random { acceleration, center_fraction }
        | MaskConfig::EquispacedFraction { acceleration, center_fraction } = *self
        {
            let n_low = centre_width(w, center_fraction);
            if n_low as f64 * acceleration >= w as f64 {
                return Err(format!(
                    "center_fraction {center_fraction} gives {n_low} centre columns of {w} after rounding, \
                     which leaves nothing to sample at acceleration {acceleration} (needs fewer than {:.1}); \
                     lower center_fraction or acceleration",
                    w as f64 / acceleration
                ));
            }
        }
        Ok(())
    }

    /// Draws a `[H, W]` mask from `seed`. Panics on invalid parameters (call
    /// [`MaskConfig::validate_for`] on user input first).
    pub fn generate(&self, shape: [usize; 2], seed: u64) -> SamplingMask {
        if let Err(e) = self.validate_for(shape) {
            panic!("invalid mask: {e}");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let [_, w] = shape;
        match *self {
            MaskConfig::Random { acceleration, center_fraction } => {
                let acs = centre_columns(w, center_fraction);
                let n_low = acs.iter().filter(|&&a| a).count() as f64;
                let prob = (w as f64 / acceleration - n_low) / (w as f64 - n_low);
                let columns: Vec<bool> = (0..w).map(|_| rng.random::<f64>() < prob).collect();
                SamplingMask::from_columns(shape, &columns, &acs)
            }
            MaskConfig::Equispaced { acceleration, center_fraction } => {
                let acs = centre_columns(w, center_fraction);
                let offset = rng.random_range(0..acceleration);
                let columns: Vec<bool> = (0..w).map(|c| c >= offset && (c - offset) % acceleration == 0).collect();
                SamplingMask::from_columns(shape, &columns, &acs)
            }
            MaskConfig::EquispacedFraction { acceleration, center_fraction } => {
                let acs = centre_columns(w, center_fraction);
                let n_low = acs.iter().filter(|&&a| a).count() as f64;
                let spacing = acceleration * (n_low - w as f64) / (n_low * acceleration - w as f64);
                let offset = rng.random_range(0..(spacing.round_ties_even() as usize).max(1)) as f64;
                let mut columns = vec![false; w];
                let mut position = offset;
                while position < (w - 1) as f64 {
                    columns[position.round_ties_even() as usize] = true;
                    position += spacing;
                }
                SamplingMask::from_columns(shape, &columns, &acs)
            }
            MaskConfig::Gaussian2d { acceleration, fwhm, center_scale } => {
                gaussian_2d(shape, acceleration, fwhm, center_scale, &mut rng)
            }
            MaskConfig::PoissonDisc { acceleration, slope, center_scale } => {
                poisson_disc(shape, acceleration, slope, center_scale, &mut rng)
            }
        }
    }
}

/// The auto-calibration columns of a Cartesian mask read off the data (`sampled[c]`: column `c`
/// holds any sample): the contiguous run of sampled columns around DC, which is column `W/2` in the
/// centred layout and column 0 in the uncentred one, where the run wraps around to `W − 1`. Empty
/// if DC is not sampled.
pub fn acs_columns(sampled: &[bool], centred: bool) -> Vec<bool> {
    let w = sampled.len();
    let mut acs = vec![false; w];
    let dc = if centred { w / 2 } else { 0 };
    if w == 0 || !sampled[dc] {
        return acs;
    }
    let neighbour = |column: usize, step: isize| {
        let next = column as isize + step;
        match centred {
            true => (0..w as isize).contains(&next).then_some(next as usize),
            false => Some(next.rem_euclid(w as isize) as usize),
        }
    };
    acs[dc] = true;
    for step in [1, -1] {
        let mut column = dc;
        while let Some(next) = neighbour(column, step)
            && sampled[next]
            && !acs[next]
        {
            acs[next] = true;
            column = next;
        }
    }
    acs
}

/// Columns of the fastMRI centre block: `round(W·cf)` (ties to even, as NumPy).
fn centre_width(w: usize, center_fraction: f64) -> usize {
    ((w as f64 * center_fraction).round_ties_even() as usize).min(w)
}

/// fastMRI centre block: `n_low = round(W·cf)` columns starting at `(W − n_low + 1) / 2`.
fn centre_columns(w: usize, center_fraction: f64) -> Vec<bool> {
    let n_low = centre_width(w, center_fraction);
    let pad = (w - n_low).div_ceil(2);
    (0..w).map(|c| (pad..pad + n_low).contains(&c)).collect()
}

/// Normalised coordinates of pixel `(r, c)` in `[−1, 1]²` around the DC position `[H/2, W/2]`.
fn normalised(r: usize, c: usize, [h, w]: [usize; 2]) -> (f64, f64) {
    ((r as f64 - (h / 2) as f64) / (h as f64 / 2.0), (c as f64 - (w / 2) as f64) / (w as f64 / 2.0))
}

fn centre_ellipse(shape: [usize; 2], scale: f64) -> Vec<bool> {
    let [h, w] = shape;
    (0..h * w)
        .map(|i| {
            let (y, x) = normalised(i / w, i % w, shape);
            // Half-axes scale·H and scale·W pixels = 2·scale in normalised units.
            scale > 0.0 && (y / (2.0 * scale)).powi(2) + (x / (2.0 * scale)).powi(2) <= 1.0
        })
        .collect()
}

fn gaussian_2d(
    shape: [usize; 2],
    acceleration: f64,
    fwhm: f64,
    center_scale: f64,
    rng: &mut ChaCha8Rng,
) -> SamplingMask {
    let [h, w] = shape;
    let sigma = fwhm / (8.0 * 2f64.ln()).sqrt();
    let acs = centre_ellipse(shape, center_scale);
    let target = ((h * w) as f64 / acceleration).round() as usize;
    let already = acs.iter().filter(|&&a| a).count();
    // Weighted sampling without replacement (Efraimidis–Spirakis): keep the largest u^(1/p).
    let mut keyed: Vec<(f64, usize)> = (0..h * w)
        .filter(|&i| !acs[i])
        .map(|i| {
            let (y, x) = normalised(i / w, i % w, shape);
            let density = (-(x * x + y * y) / (2.0 * sigma * sigma)).exp().max(1e-300);
            (rng.random::<f64>().ln() / density, i)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut values: Vec<f32> = acs.iter().map(|&a| f32::from(u8::from(a))).collect();
    for &(_, i) in keyed.iter().take(target.saturating_sub(already)) {
        values[i] = 1.0;
    }
    SamplingMask { shape, values, acs }
}

fn poisson_disc(
    shape: [usize; 2],
    acceleration: f64,
    slope: f64,
    center_scale: f64,
    rng: &mut ChaCha8Rng,
) -> SamplingMask {
    let [h, w] = shape;
    let radius = center_scale * h.min(w) as f64;
    let acs: Vec<bool> = (0..h * w)
        .map(|i| {
            let (dy, dx) = ((i / w) as f64 - (h / 2) as f64, (i % w) as f64 - (w / 2) as f64);
            dy * dy + dx * dx <= radius * radius
        })
        .collect();
    let mut order: Vec<usize> = (0..h * w).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let target = (h * w) as f64 / acceleration;
    let draw = |r0: f64| -> Vec<f32> {
        let mut taken: Vec<f32> = acs.iter().map(|&a| f32::from(u8::from(a))).collect();
        for &i in &order {
            if taken[i] > 0.0 {
                continue;
            }
            let (r, c) = (i / w, i % w);
            let (y, x) = normalised(r, c, shape);
            let excl = r0 * (1.0 + slope * (x * x + y * y).sqrt() / 2f64.sqrt());
            let reach = excl.ceil() as i64;
            let mut free = true;
            'scan: for dr in -reach..=reach {
                for dc in -reach..=reach {
                    let (rr, cc) = (r as i64 + dr, c as i64 + dc);
                    if rr < 0 || cc < 0 || rr >= h as i64 || cc >= w as i64 || (dr == 0 && dc == 0) {
                        continue;
                    }
                    if ((dr * dr + dc * dc) as f64) < excl * excl && taken[rr as usize * w + cc as usize] > 0.0 {
                        free = false;
                        break 'scan;
                    }
                }
            }
            if free {
                taken[i] = 1.0;
            }
        }
        taken
    };
    // More exclusion ⇒ fewer points: bisect r₀ on a log scale.
    let (mut lo, mut hi) = (0.05f64, (h.max(w)) as f64);
    let mut best = draw(1.0);
    for _ in 0..30 {
        let mid = (lo * hi).sqrt();
        let values = draw(mid);
        let count = values.iter().sum::<f32>() as f64;
        let better = (count - target).abs() < (best.iter().sum::<f32>() as f64 - target).abs();
        if better {
            best = values;
        }
        if count > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if (count - target).abs() / target < 0.01 {
            break;
        }
    }
    SamplingMask { shape, values: best, acs }
}
