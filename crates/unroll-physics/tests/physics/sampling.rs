//! Masks hit their acceleration and centre fraction; coil maps are normalised; noise is seeded.

use burn::prelude::*;
use unroll_physics::coils::{birdcage_maps, estimate_maps_from_acs};
use unroll_physics::masks::acs_columns;
use unroll_physics::{Complex, Fft2, LinearOperator, MaskConfig, MultiCoilMri, NoiseModel};

use crate::common::host;

fn sampled_columns(mask: &unroll_physics::SamplingMask) -> Vec<bool> {
    let [_, w] = mask.shape;
    (0..w).map(|c| mask.values[c] > 0.0).collect()
}

#[test]
fn cartesian_masks_follow_fastmri() {
    let shape = [64, 320];
    for acceleration in [4usize, 8] {
        let cf = if acceleration == 4 { 0.08 } else { 0.04 };
        let n_low = (320.0_f64 * cf).round() as usize;
        for config in [
            MaskConfig::Random { acceleration: acceleration as f64, center_fraction: cf },
            MaskConfig::Equispaced { acceleration, center_fraction: cf },
            MaskConfig::EquispacedFraction { acceleration: acceleration as f64, center_fraction: cf },
        ] {
            let mut achieved = 0.0;
            for seed in 0..20 {
                let mask = config.generate(shape, seed);
                // Same column mask on every row; ACS = the centred block of round(W·cf) columns.
                let columns = sampled_columns(&mask);
                for (i, &v) in mask.values.iter().enumerate() {
                    assert_eq!(v > 0.0, columns[i % 320], "{config:?}: rows differ");
                }
                let pad = (320usize - n_low).div_ceil(2);
                let acs: Vec<usize> = (0..320).filter(|&c| mask.acs[c]).collect();
                assert_eq!(acs, (pad..pad + n_low).collect::<Vec<_>>(), "{config:?}: ACS block");
                assert!(acs.iter().all(|&c| columns[c]), "{config:?}: ACS must be sampled");
                assert!((mask.acs_fraction() - n_low as f64 / 320.0).abs() < 1e-12);
                achieved += mask.acceleration() / 20.0;
            }
            // Equispaced adds the centre on top of every R-th column, so it samples a little more.
            let expected = match config {
                MaskConfig::Equispaced { .. } => {
                    320.0 / (320.0 / acceleration as f64 + n_low as f64 * (1.0 - 1.0 / acceleration as f64))
                }
                _ => acceleration as f64,
            };
            assert!(
                (achieved - expected).abs() < 0.06 * expected,
                "{config:?}: mean acceleration {achieved} vs {expected}"
            );
        }
    }
}

#[test]
fn two_dimensional_masks_hit_their_acceleration() {
    for config in [
        MaskConfig::Gaussian2d { acceleration: 5.0, fwhm: 0.7, center_scale: 0.04 },
        MaskConfig::PoissonDisc { acceleration: 5.0, slope: 4.0, center_scale: 0.04 },
    ] {
        for shape in [[96, 80], [218, 170]] {
            let mask = config.generate(shape, 3);
            let achieved = mask.acceleration();
            assert!((achieved - 5.0).abs() < 0.25, "{config:?} {shape:?}: acceleration {achieved}");
            assert!(mask.acs.iter().zip(&mask.values).all(|(&a, &v)| !a || v > 0.0), "ACS must be sampled");
            assert!(mask.acs_fraction() > 0.0, "{config:?}: empty ACS");
            // Denser in the centre than at the edge of k-space.
            let [h, w] = shape;
            let density = |rows: std::ops::Range<usize>, cols: std::ops::Range<usize>| {
                let (mut n, mut s) = (0.0, 0.0);
                for r in rows.clone() {
                    for c in cols.clone() {
                        n += 1.0;
                        s += mask.values[r * w + c] as f64;
                    }
                }
                s / n
            };
            let centre = density(h / 2 - h / 8..h / 2 + h / 8, w / 2 - w / 8..w / 2 + w / 8);
            let edge = density(0..h / 8, 0..w / 8);
            assert!(centre > 2.0 * edge, "{config:?}: centre density {centre} vs edge {edge}");
        }
        // Seeded: same seed, same mask; other seed, other mask.
        assert_eq!(config.generate([64, 64], 1), config.generate([64, 64], 1));
        assert_ne!(config.generate([64, 64], 1), config.generate([64, 64], 2));
    }
}

#[test]
fn invalid_mask_parameters_are_reported() {
    let err = MaskConfig::Random { acceleration: 4.0, center_fraction: 0.3 }.validate().unwrap_err();
    assert!(err.contains("center_fraction"), "{err}");
    let err = MaskConfig::Equispaced { acceleration: 0, center_fraction: 0.08 }.validate().unwrap_err();
    assert!(err.contains("acceleration"), "{err}");
    // cf·R = 0.92 < 1, but round(20·0.23) = 5 centre columns leave nothing to sample at R = 4 (the
    // spacing would be infinite); one column fewer works.
    let tight = MaskConfig::EquispacedFraction { acceleration: 4.0, center_fraction: 0.23 };
    assert!(tight.validate().is_ok());
    let err = tight.validate_for([20, 20]).unwrap_err();
    assert!(err.contains("after rounding"), "{err}");
    let mask = MaskConfig::EquispacedFraction { acceleration: 4.0, center_fraction: 0.18 }.generate([20, 20], 3);
    assert!(mask.acceleration() > 2.0, "{}", mask.acceleration());
}

/// The ACS run read off data starts at DC: column W/2 when centred, column 0 (wrapping) otherwise.
#[test]
fn acs_columns_follow_the_fft_centring() {
    let cols = |pattern: &str| pattern.chars().map(|c| c == '#').collect::<Vec<bool>>();
    let text = |v: Vec<bool>| v.iter().map(|&a| if a { '#' } else { '.' }).collect::<String>();
    //            0123456789
    let sampled = cols("##.#.###.#");
    assert_eq!(text(acs_columns(&sampled, true)), ".....###..");
    assert_eq!(text(acs_columns(&sampled, false)), "##.......#");
    // A centred mask stops at the edges instead of wrapping; an unsampled DC has no ACS.
    assert_eq!(text(acs_columns(&cols("#....#####"), true)), ".....#####");
    assert_eq!(text(acs_columns(&cols("##.......#"), true)), "..........");
    // A fully sampled uncentred row is all ACS, once.
    assert_eq!(text(acs_columns(&cols("#####"), false)), "#####");
    // The generated fastMRI masks (centred layout) find their own ACS block.
    let mask = MaskConfig::EquispacedFraction { acceleration: 4.0, center_fraction: 0.1 }.generate([8, 40], 1);
    let found = acs_columns(&sampled_columns(&mask), true);
    let block: Vec<bool> = (0..40).map(|c| mask.acs[c]).collect();
    assert!(block.iter().zip(&found).all(|(b, f)| !b || *f), "the ACS block {block:?} is inside {found:?}");
}

#[test]
fn simulated_coil_maps_are_normalised() {
    let device = Device::flex();
    let maps = birdcage_maps([33, 40], 8, 1.5, 0.3, &device);
    let sum: Vec<f64> = host(maps.clone().abs_sq().sum_dim(1));
    assert!(sum.iter().all(|v| (v - 1.0).abs() < 1e-5));
    // Smooth: neighbouring pixels differ little; coils differ from each other.
    let diff = (maps.re.clone().narrow(3, 1, 39) - maps.re.clone().narrow(3, 0, 39)).abs().max().into_scalar::<f64>();
    assert!(diff < 0.2, "maps not smooth: {diff}");
    let coil_gap = (maps.re.clone().narrow(1, 0, 1) - maps.re.narrow(1, 4, 1)).abs().max().into_scalar::<f64>();
    assert!(coil_gap > 0.1);
}

#[test]
fn acs_estimate_recovers_normalised_maps() {
    let device = Device::flex();
    let size = [48, 40];
    let truth = birdcage_maps(size, 6, 1.5, 0.0, &device);
    // A smooth, non-zero object; fully sampled k-space of every coil.
    let [h, w] = size;
    let object: Vec<f32> = (0..h * w)
        .map(|i| {
            let (y, x) = ((i / w) as f32 / h as f32 - 0.5, (i % w) as f32 / w as f32 - 0.5);
            1.0 + 0.5 * (3.0 * x).cos() * (2.0 * y).sin()
        })
        .collect();
    let x = Complex::from_real(Tensor::<4>::from_data(TensorData::new(object, [1, 1, h, w]), &device));
    let full = Tensor::<4>::ones([1, 1, h, w], &device);
    let kspace = MultiCoilMri::new(truth.clone(), full, Fft2::CENTRED_ORTHO).forward(x);
    let mask = MaskConfig::EquispacedFraction { acceleration: 4.0, center_fraction: 0.2 }.generate(size, 0);
    let estimate = estimate_maps_from_acs(kspace.clone(), mask.acs_tensor(&device), Some(0.7), Fft2::CENTRED_ORTHO);
    // Σ|S|² = 1 inside the support.
    let sum = host(estimate.clone().abs_sq().sum_dim(1));
    let inside = sum.iter().filter(|v| **v > 0.5).count();
    assert!(inside == h * w, "support covers {inside} of {} pixels", h * w);
    assert!(sum.iter().all(|v| (v - 1.0).abs() < 1e-4), "Σ|S|² != 1");
    // The estimate matches the truth up to a common phase per pixel: |Σ conj(S_est)·S_true| ≈ 1.
    let agreement = host(estimate.conj_mul(truth).sum_dim(1).abs());
    let mean: f64 = agreement.iter().sum::<f64>() / agreement.len() as f64;
    assert!(mean > 0.95, "mean coil-map agreement {mean}");
}

#[test]
fn noise_is_seeded_per_sample_and_has_the_right_statistics() {
    let device = Device::flex();
    let clean = Tensor::<4>::ones([2, 1, 64, 64], &device) * 4.0;
    let gaussian = NoiseModel::Gaussian { sigma: 0.5 };
    let a = host(gaussian.apply(clean.clone(), &[1, 2]));
    let b = host(gaussian.apply(clean.clone(), &[1, 3]));
    let n = 64 * 64;
    assert_eq!(a[..n], b[..n], "sample 0 has the same seed");
    assert_ne!(a[n..], b[n..], "sample 1 has another seed");
    let stats = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (mean, (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt())
    };
    let (mean, sd) = stats(&a[..n]);
    assert!((mean - 4.0).abs() < 0.03 && (sd - 0.5).abs() < 0.03, "gaussian {mean} {sd}");
    // Poisson with gain g: mean y, variance g·y.
    let (mean, sd) = stats(&host(NoiseModel::Poisson { gain: 0.25 }.apply(clean.clone(), &[5, 6])));
    assert!((mean - 4.0).abs() < 0.05 && (sd - 1.0).abs() < 0.05, "poisson {mean} {sd}");
    let (mean, sd) = stats(&host(NoiseModel::PoissonGaussian { gain: 0.25, sigma: 1.0 }.apply(clean.clone(), &[7, 8])));
    assert!((mean - 4.0).abs() < 0.06 && (sd - 2f64.sqrt()).abs() < 0.06, "poisson-gaussian {mean} {sd}");
    assert!(NoiseModel::Poisson { gain: 0.0 }.validate().is_err());
    // SNR: σ² = (‖y‖²/m)/10^(SNR/10) per sample, here 16/100 (20 dB) and 64/100 (sample 1 is 8).
    let two = Tensor::cat(vec![clean.clone().narrow(0, 0, 1), clean.clone().narrow(0, 1, 1) * 2.0], 0);
    let noisy = host(NoiseModel::Snr { db: 20.0 }.apply(two, &[9, 10]));
    let (_, sd0) = stats(&noisy[..n]);
    let (mean1, sd1) = stats(&noisy[n..]);
    assert!((sd0 - 0.4).abs() < 0.02 && (sd1 - 0.8).abs() < 0.04 && (mean1 - 8.0).abs() < 0.05, "snr {sd0} {sd1}");
    assert!(NoiseModel::Snr { db: f64::NAN }.validate().is_err());
    // Complex data: independent real and imaginary noise.
    let z = Complex::<4>::zeros([1, 1, 8, 8], &device);
    let noisy = gaussian.apply_complex(z.clone(), &[1]);
    assert_ne!(host(noisy.re.clone()), host(noisy.im.clone()));
    assert_eq!(host(noisy.re), host(gaussian.apply_complex(z, &[1]).re));
}
