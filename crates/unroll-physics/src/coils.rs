//! Coil sensitivity maps: a simulator of smooth multi-coil maps and the ACS-based estimate.
//!
//! Maps are complex `[N, C, H, W]`, normalised so that `Σ_c |S_c|² = 1` at every pixel where any coil
//! sees signal (DIRECT's safe-divide normalisation, `specs/mri.md` §0 and §1.6).

use std::f64::consts::PI;

use burn::prelude::*;

use crate::complex::Complex;
use crate::fft::Fft2;

/// Birdcage-style maps: `coils` loops evenly spaced on a circle of radius `radius` (in units of the
/// image half-width, > 1 puts them outside the field of view) around the image centre. Coil `c`
/// has magnitude `1 / distance` to its loop and a phase that winds around the loop plus the loop's
/// angular position, then all maps are normalised to `Σ|S|² = 1`. `rotation` (radians) turns the
/// whole array, so a data set can vary the maps per sample. Shape `[1, coils, H, W]`.
pub fn birdcage_maps(shape: [usize; 2], coils: usize, radius: f64, rotation: f64, device: &Device) -> Complex<4> {
    let [h, w] = shape;
    let mut re = vec![0f32; coils * h * w];
    let mut im = vec![0f32; coils * h * w];
    for r in 0..h {
        for c in 0..w {
            let y = (r as f64 - h as f64 / 2.0) / (h as f64 / 2.0);
            let x = (c as f64 - w as f64 / 2.0) / (w as f64 / 2.0);
            let mut values = Vec::with_capacity(coils);
            for k in 0..coils {
                let angle = 2.0 * PI * k as f64 / coils as f64 + rotation;
                let (dy, dx) = (y - radius * angle.sin(), x - radius * angle.cos());
                let distance = (dx * dx + dy * dy).sqrt().max(1e-6);
                let phase = dy.atan2(dx) + angle;
                values.push((phase.cos() / distance, phase.sin() / distance));
            }
            let norm = values.iter().map(|(a, b)| a * a + b * b).sum::<f64>().sqrt();
            for (k, (a, b)) in values.into_iter().enumerate() {
                re[(k * h + r) * w + c] = (a / norm) as f32;
                im[(k * h + r) * w + c] = (b / norm) as f32;
            }
        }
    }
    let plane = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [1, coils, h, w]), device);
    Complex::new(plane(re), plane(im))
}

/// Divides every coil by the root-sum-of-squares over coils, with 0 where the RSS is below `eps`
/// (safe divide), so that `Σ_c|S_c|² = 1` on the support and 0 outside.
pub fn normalise_maps(maps: Complex<4>, eps: f64) -> Complex<4> {
    let rss = maps.clone().rss();
    let support = rss.clone().greater_elem(eps);
    let inverse = rss.clamp_min(eps).recip().mask_fill(support.bool_not(), 0.0);
    maps.mul_real(inverse)
}

/// ACS estimate of the coil maps (DIRECT's `rss_estimate`): keep the auto-calibration region of the
/// k-space `kspace` `[N, C, H, W]` (`acs` is a 0/1 `[N|1, 1, H, W]` tensor), taper it along the width
/// with `g(x) = exp(−(x/σ)²)`, `x ∈ linspace(−1, 1, W)` (`sigma = 0.7` in DIRECT; `None` = no taper;
/// `x` runs over the centred layout, so for an uncentred `fft` the taper is `ifftshift`ed to peak at
/// column 0), go back to image space with the inverse of `fft`, and divide by the RSS over coils
/// (safe divide).
pub fn estimate_maps_from_acs(kspace: Complex<4>, acs: Tensor<4>, sigma: Option<f64>, fft: Fft2) -> Complex<4> {
    let [_, _, _, w] = kspace.dims();
    let device = kspace.device();
    let mut weight = acs;
    if let Some(sigma) = sigma {
        let taper: Vec<f32> = (0..w)
            .map(|column| {
                // Centred-layout column of this column (ifftshift moves DC from W/2 to 0).
                let i = if fft.centred { column } else { (column + w / 2) % w };
                let x = if w > 1 { -1.0 + 2.0 * i as f64 / (w - 1) as f64 } else { 0.0 };
                (-(x / sigma).powi(2)).exp() as f32
            })
            .collect();
        weight = weight * Tensor::<1>::from_data(TensorData::new(taper, [w]), &device).reshape([1, 1, 1, w]);
    }
    let images = fft.inverse(kspace.mul_real(weight));
    normalise_maps(images, 1e-12)
}
