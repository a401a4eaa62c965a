//! Measurement noise, drawn on the host from one seed per sample so that a simulated data set is
//! reproducible on every backend (and independent of batch composition).
//!
//! Noise is data generation, not part of a differentiable path: the result is a new constant tensor.

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::complex::Complex;

/// A noise model (typed config: `kind = "gaussian"`, …).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NoiseModel {
    /// No noise.
    #[default]
    None,
    /// `y + σ·n`, `n ~ N(0, 1)` (independently on real and imaginary parts for complex data).
    Gaussian {
        /// Standard deviation.
        sigma: f64,
    },
    /// `gain · Poisson(max(y, 0) / gain)` (deepinv's convention; smaller gain = less noise).
    Poisson {
        /// Photon gain (> 0).
        gain: f64,
    },
    /// `y + σ·n` with `σ² = (‖y‖²/m) / 10^(SNR/10)` per sample of `m` values (DR-CG-Net's
    /// convention; for complex data, per part).
    Snr {
        /// The signal-to-noise ratio in dB.
        db: f64,
    },
    /// `gain · Poisson(max(y, 0) / gain) + σ·n`.
    PoissonGaussian {
        /// Photon gain (> 0).
        gain: f64,
        /// Standard deviation of the additive Gaussian part.
        sigma: f64,
    },
}

impl NoiseModel {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            NoiseModel::Gaussian { sigma } | NoiseModel::PoissonGaussian { sigma, .. }
                if sigma.is_nan() || sigma < 0.0 =>
            {
                Err(format!("sigma must be >= 0, got {sigma}"))
            }
            NoiseModel::Poisson { gain } | NoiseModel::PoissonGaussian { gain, .. } if gain.is_nan() || gain <= 0.0 => {
                Err(format!("gain must be > 0, got {gain}"))
            }
            NoiseModel::Snr { db } if !db.is_finite() => Err(format!("db must be finite, got {db}")),
            _ => Ok(()),
        }
    }

    /// Noisy copy of the real measurement `y` (`[N, ..]`), sample `n` drawn from `seeds[n]`.
    pub fn apply(&self, y: Tensor<4>, seeds: &[u64]) -> Tensor<4> {
        if *self == NoiseModel::None {
            return y;
        }
        let dims = y.dims();
        assert_eq!(seeds.len(), dims[0], "one noise seed per sample");
        let device = y.device();
        let mut values: Vec<f32> = y.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
        let per_sample = values.len() / dims[0].max(1);
        for (chunk, &seed) in values.chunks_mut(per_sample.max(1)).zip(seeds) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let model = match *self {
                NoiseModel::Snr { db } => {
                    let power = chunk.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / chunk.len() as f64;
                    NoiseModel::Gaussian { sigma: (power / 10f64.powf(db / 10.0)).sqrt() }
                }
                other => other,
            };
            for v in chunk.iter_mut() {
                *v = model.sample(*v as f64, &mut rng) as f32;
            }
        }
        Tensor::from_data(TensorData::new(values, dims), &device)
    }

    /// Complex measurements: Gaussian noise on both parts (Poisson models are for real intensities
    /// and are applied to each part with its own stream).
    pub fn apply_complex(&self, y: Complex<4>, seeds: &[u64]) -> Complex<4> {
        let shifted: Vec<u64> = seeds.iter().map(|s| s ^ 0x5851_f42d_4c95_7f2d).collect();
        Complex::new(self.apply(y.re, seeds), self.apply(y.im, &shifted))
    }

    fn sample(&self, clean: f64, rng: &mut ChaCha8Rng) -> f64 {
        let normal = |rng: &mut ChaCha8Rng| -> f64 { StandardNormal.sample(rng) };
        let poisson = |gain: f64, rng: &mut ChaCha8Rng| -> f64 {
            let rate = clean.max(0.0) / gain;
            if rate <= 0.0 { 0.0 } else { gain * Poisson::new(rate).expect("positive rate").sample(rng) }
        };
        match *self {
            NoiseModel::None => clean,
            NoiseModel::Gaussian { sigma } => clean + sigma * normal(rng),
            NoiseModel::Snr { .. } => unreachable!("apply turns the SNR into a per-sample σ"),
            NoiseModel::Poisson { gain } => poisson(gain, rng),
            NoiseModel::PoissonGaussian { gain, sigma } => poisson(gain, rng) + sigma * normal(rng),
        }
    }
}
