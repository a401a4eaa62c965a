//! Parallel-beam Radon transform with an exact adjoint, and filtered back-projection.
//!
//! Discretisation of deepinv's `Tomography(circle=False)` (testvectors/radon): a `W × W` image is
//! zero-padded to `W' = ⌈√2·W⌉`; for each angle θ the padded image is resampled bilinearly (zeros
//! outside, `align_corners=True`) on the rotated grid — output pixel `(i, j)` with normalised
//! coordinates `u = −1 + 2j/(W'−1)`, `v = −1 + 2i/(W'−1)` reads the point
//! `(cos θ·u + sin θ·v, −sin θ·u + cos θ·v)` — and the rows are summed: `sino[j, θ] = Σ_i rot[i, j]`.
//! Angles are in degrees. Images are real `[N, C, W, W]`; sinograms `[N, C, W', n_angles]`
//! (detector, angle), the layout of deepinv and skimage.
//!
//! The map is linear with fixed weights, so it is stored once as a sparse matrix (each ray's pixels
//! and bilinear weights, merged and padded to a common length) and applied with `select` (gather);
//! the adjoint is the same matrix applied with `select_assign` (scatter-add). Both are ordinary
//! differentiable tensor ops on every backend and are exact transposes of each other.
//! Memory: about `12 · W' · n_angles · 2W'` bytes for the matrix.

use std::collections::BTreeMap;
use std::f64::consts::PI;

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

use crate::operator::LinearOperator;

/// Parallel-beam Radon transform for square images.
#[derive(Clone, Debug)]
pub struct Radon {
    /// Flattened pixel index of every (ray, slot), `[rays · slots]`.
    pixels: Tensor<1, Int>,
    /// Bilinear weight of every (ray, slot), `[1, rays, slots]` (0 for padding slots).
    weights: Tensor<3>,
    /// Ramp filter as a `[W', W']` matrix acting on the detector axis (see [`Radon::fbp`]).
    ramp: Tensor<2>,
    width: usize,
    detectors: usize,
    angles: usize,
}

impl Radon {
    /// Radon transform of `width × width` images at `angles_deg` (degrees).
    pub fn new(width: usize, angles_deg: &[f64], device: &Device) -> Self {
        assert!(width > 1 && !angles_deg.is_empty(), "Radon needs width > 1 and at least one angle");
        let detectors = (2f64.sqrt() * width as f64).ceil() as usize;
        let pad_before = detectors / 2 - width / 2;
        let half = (detectors - 1) as f64 / 2.0;
        let rays: Vec<BTreeMap<usize, f64>> = (0..detectors)
            .flat_map(|j| angles_deg.iter().map(move |&a| (j, a)))
            .map(|(j, angle)| {
                let (sin, cos) = (angle * PI / 180.0).sin_cos();
                let u = -1.0 + 2.0 * j as f64 / (detectors - 1) as f64;
                let mut ray = BTreeMap::new();
                for i in 0..detectors {
                    let v = -1.0 + 2.0 * i as f64 / (detectors - 1) as f64;
                    let col = (cos * u + sin * v + 1.0) * half;
                    let row = (-sin * u + cos * v + 1.0) * half;
                    let (r0, c0) = (row.floor(), col.floor());
                    let (fr, fc) = (row - r0, col - c0);
                    for (dr, wr) in [(0, 1.0 - fr), (1, fr)] {
                        for (dc, wc) in [(0, 1.0 - fc), (1, fc)] {
                            let r = r0 as i64 + dr - pad_before as i64;
                            let c = c0 as i64 + dc - pad_before as i64;
                            let weight = wr * wc;
                            if weight > 0.0 && (0..width as i64).contains(&r) && (0..width as i64).contains(&c) {
                                *ray.entry(r as usize * width + c as usize).or_insert(0.0) += weight;
                            }
                        }
                    }
                }
                ray
            })
            .collect();
        let slots = rays.iter().map(BTreeMap::len).max().unwrap_or(0).max(1);
        let mut pixels = vec![0i64; rays.len() * slots];
        let mut weights = vec![0f32; rays.len() * slots];
        for (r, ray) in rays.iter().enumerate() {
            for (s, (&p, &w)) in ray.iter().enumerate() {
                pixels[r * slots + s] = p as i64;
                weights[r * slots + s] = w as f32;
            }
        }
        let n_rays = rays.len();
        Self {
            pixels: Tensor::from_data(TensorData::new(pixels, [n_rays * slots]), device),
            weights: Tensor::from_data(TensorData::new(weights, [1, n_rays, slots]), device),
            ramp: ramp_filter(detectors, device),
            width,
            detectors,
            angles: angles_deg.len(),
        }
    }

    /// `n` angles evenly spaced over `[0°, 180°)`.
    pub fn uniform_angles(n: usize) -> Vec<f64> {
        (0..n).map(|k| 180.0 * k as f64 / n as f64).collect()
    }

    /// Number of detector bins `W'`.
    pub fn detectors(&self) -> usize {
        self.detectors
    }

    /// Filtered back-projection `(π / n_angles) · Aᵀ(h ∗ y)` with the Ram-Lak filter `h` (spatial
    /// form of Kak & Slaney, unit detector spacing) applied along the detector axis. A fast,
    /// differentiable initialisation; it approximates the inverse for many angles.
    pub fn fbp(&self, sinogram: Tensor<4>) -> Tensor<4> {
        let filtered = self.ramp.clone().unsqueeze_dim::<3>(0).matmul(flatten_batch(sinogram.clone()));
        let [n, c, ..] = sinogram.dims();
        let filtered = filtered.reshape([n, c, self.detectors, self.angles]);
        self.adjoint(filtered) * (PI / self.angles as f64)
    }
}

fn flatten_batch(x: Tensor<4>) -> Tensor<3> {
    let [n, c, h, w] = x.dims();
    x.reshape([n * c, h, w])
}

/// `[W', W']` Toeplitz matrix of the Ram-Lak kernel: `h[0] = 1/4`, `h[k] = −1/(πk)²` for odd `k`, 0
/// for even `k ≠ 0`.
fn ramp_filter(n: usize, device: &Device) -> Tensor<2> {
    let kernel = |k: usize| -> f32 {
        if k == 0 {
            0.25
        } else if k % 2 == 1 {
            (-1.0 / (PI * k as f64).powi(2)) as f32
        } else {
            0.0
        }
    };
    let values: Vec<f32> = (0..n * n).map(|idx| kernel((idx / n).abs_diff(idx % n))).collect();
    Tensor::from_data(TensorData::new(values, [n, n]), device)
}

impl LinearOperator for Radon {
    type Domain = Tensor<4>;
    type Range = Tensor<4>;

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        assert!(h == self.width && w == self.width, "Radon built for {0}x{0}, got {h}x{w}", self.width);
        let [_, rays, slots] = self.weights.dims();
        let gathered = x.reshape([n * c, h * w]).select(1, self.pixels.clone()).reshape([n * c, rays, slots]);
        (gathered * self.weights.clone()).sum_dim(2).reshape([n, c, self.detectors, self.angles])
    }

    fn adjoint(&self, y: Tensor<4>) -> Tensor<4> {
        let [n, c, ..] = y.dims();
        let [_, rays, slots] = self.weights.dims();
        let spread = (y.reshape([n * c, rays, 1]) * self.weights.clone()).reshape([n * c, rays * slots]);
        let w = self.width;
        Tensor::zeros([n * c, w * w], &spread.device())
            .select_assign(1, self.pixels.clone(), spread, IndexingUpdateOp::Add)
            .reshape([n, c, w, w])
    }
}
