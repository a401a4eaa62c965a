//! Outputs compared with the float64 references of `tests/data/testvectors` (made by NumPy/deepinv,
//! copied from the project's shared test vectors), at float32 tolerance, on every device.

use burn::prelude::*;
use unroll_physics::{Blur, BlurBoundary, Fft2, FftDirection, FftEngine, FftNorm, LinearOperator, MultiCoilMri, Radon};

use crate::common::{assert_close, complex_tensor, devices, host, host_stacked, load_npy, real_tensor};

const RTOL: f64 = 2e-5;

#[test]
fn fft_matches_numpy() {
    for (name, device) in devices() {
        let x = complex_tensor("fft/x.npy", [1, 2, 16, 16], &device);
        let k = complex_tensor("fft/k.npy", [1, 2, 16, 16], &device);
        let uncentred = Fft2 { centred: false, norm: FftNorm::Ortho };
        for engine in [FftEngine::Auto, FftEngine::Dense] {
            let label = format!("{engine:?} on {name}");
            let forward = Fft2::CENTRED_ORTHO.apply_with(x.clone(), FftDirection::Forward, engine);
            assert_close(&format!("fft2c {label}"), &host_stacked(forward), &load_npy("fft/fft2c_x.npy").1, RTOL);
            let plain = uncentred.apply_with(x.clone(), FftDirection::Forward, engine);
            assert_close(
                &format!("fft2 {label}"),
                &host_stacked(plain),
                &load_npy("fft/fft2_x_uncentered.npy").1,
                RTOL,
            );
            let inverse = Fft2::CENTRED_ORTHO.apply_with(k.clone(), FftDirection::Inverse, engine);
            assert_close(&format!("ifft2c {label}"), &host_stacked(inverse), &load_npy("fft/ifft2c_k.npy").1, RTOL);
        }
    }
}

#[test]
fn sense_matches_deepinv() {
    for (name, device) in devices() {
        let maps = complex_tensor("sense/maps.npy", [1, 4, 16, 16], &device);
        let mask = real_tensor("sense/mask.npy", [1, 1, 16, 16], &device);
        let op = MultiCoilMri::new(maps, mask, Fft2::CENTRED_ORTHO);
        let x = complex_tensor("sense/x.npy", [1, 1, 16, 16], &device);
        let y = complex_tensor("sense/y.npy", [1, 4, 16, 16], &device);
        assert_close(&format!("A x on {name}"), &host_stacked(op.forward(x)), &load_npy("sense/A_x.npy").1, RTOL);
        assert_close(&format!("A^H y on {name}"), &host_stacked(op.adjoint(y)), &load_npy("sense/AH_y.npy").1, RTOL);
    }
}

#[test]
fn blur_matches_scipy() {
    for (name, device) in devices() {
        let x = real_tensor("blur/x.npy", [1, 1, 32, 32], &device);
        for kernel in ["gauss", "asym"] {
            let psf = real_tensor(&format!("blur/kernel_{kernel}.npy"), [1, 1, 9, 9], &device);
            for (boundary, file, adjoint_input, out) in [
                (BlurBoundary::Circular, "circular", "y_same", 32),
                (BlurBoundary::Zero, "same_zero", "y_same", 32),
                (BlurBoundary::Valid, "valid", "y_valid", 24),
            ] {
                let op = Blur::new(psf.clone(), [32, 32], boundary);
                let label = format!("{kernel} {file} on {name}");
                let expected = load_npy(&format!("blur/{kernel}_{file}.npy")).1;
                assert_close(&label, &host(op.forward(x.clone())), &expected, RTOL);
                let y = real_tensor(&format!("blur/{adjoint_input}.npy"), [1, 1, out, out], &device);
                let expected = load_npy(&format!("blur/{kernel}_{file}_adj.npy")).1;
                assert_close(&format!("{label} adjoint"), &host(op.adjoint(y)), &expected, RTOL);
            }
        }
    }
}

#[test]
fn radon_matches_deepinv() {
    let angles: Vec<f64> = load_npy("radon/angles_deg.npy").1;
    for (name, device) in devices() {
        let op = Radon::new(32, &angles, &device);
        assert_eq!(op.detectors(), 46);
        let x = real_tensor("radon/x.npy", [1, 1, 32, 32], &device);
        let sino = host(op.forward(x));
        assert_close(&format!("sinogram on {name}"), &sino, &load_npy("radon/deepinv_sino.npy").1, 1e-4);
        let y = real_tensor("radon/y.npy", [1, 1, 46, 8], &device);
        assert_close(&format!("adjoint on {name}"), &host(op.adjoint(y)), &load_npy("radon/deepinv_adj.npy").1, 1e-4);
    }
}

/// Filtered back-projection of a densely sampled sinogram approximates the image.
#[test]
fn fbp_approximately_inverts() {
    let device = Device::flex();
    let x = real_tensor("radon/x.npy", [1, 1, 32, 32], &device);
    let op = Radon::new(32, &Radon::uniform_angles(90), &device);
    let recon = op.fbp(op.forward(x.clone()));
    let error = (recon - x.clone()).powf_scalar(2.0).sum().sqrt().into_scalar::<f64>()
        / x.powf_scalar(2.0).sum().sqrt().into_scalar::<f64>();
    assert!(error < 0.2, "FBP relative error {error}");
}
