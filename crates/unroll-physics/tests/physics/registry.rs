//! The operator registry test: every operator goes through the same checks, at an even and an odd
//! image size, on every device (flex, ndarray; wgpu with `UNROLL_TEST_WGPU=1`):
//! * adjointness `⟨Ax, y⟩ = ⟨x, Aᴴy⟩` (per sample, float32 tolerance);
//! * the power-method norm is a valid bound `‖A‖ ≥ ‖Ax‖/‖x‖` and equals `‖Av‖/‖v‖` for `v` its own
//!   power-iteration vector (that it reaches the true `‖A‖` is `power_method_matches_known_norms`);
//! * autodiff gradient of `‖Ax − y‖²` equals `2Aᴴ(Ax − y)`;
//! * finite differences through a learnable scalar `s` in `‖A(s·x) − y‖²` match autodiff;
//! * `prox_l2` satisfies its optimality condition `x − z + γAᴴ(Ax − y) = 0`.

use burn::prelude::*;
use unroll_physics::coils::birdcage_maps;
use unroll_physics::operator::{norms, to_vec};
use unroll_physics::{
    Blur, BlurBoundary, Complex, CompressedSensing, Dct2, Fft2, FftNorm, Identity, Inpainting, LinearOperator,
    MaskConfig, MultiCoilMri, Physics, Radon, Scaled, Signal, ViewKind,
};

use crate::common::devices;

const BATCH: usize = 2;
const SIZES: [[usize; 2]; 2] = [[16, 16], [15, 13]];

fn check<Op: LinearOperator>(label: &str, device: &Device, build: impl Fn(&Device) -> (Op, Op::Domain, Op::Range)) {
    let (op, x, y) = build(device);

    // Adjointness.
    let lhs = to_vec(op.forward(x.clone()).dot(&y));
    let rhs = to_vec(x.dot(&op.adjoint(y.clone())));
    let scale: Vec<f64> = norms(&op.forward(x.clone())).iter().zip(norms(&y)).map(|(a, b)| a * b).collect();
    for n in 0..BATCH {
        assert!(
            (lhs[n] - rhs[n]).abs() <= 2e-5 * scale[n].max(1e-12) + 1e-6,
            "{label}: adjointness sample {n}: <Ax,y> = {} but <x,A^H y> = {}",
            lhs[n],
            rhs[n]
        );
    }

    // Operator norm: a bound for any x, and attained at its own power-iteration vector v (the same
    // `iterations − 1` normalised applications of AᴴA from the same start), per sample.
    let iterations = 40;
    let start = x.randn_like(7);
    let norm = op.operator_norm(start.clone(), iterations);
    let normalise = |v: Op::Domain| {
        let length = v.dot(&v).sqrt();
        v.mul_per_sample(length.recip())
    };
    let mut v = normalise(start);
    for _ in 1..iterations {
        v = normalise(op.normal(v));
    }
    let attained: Vec<f64> = norms(&op.forward(v.clone())).iter().zip(norms(&v)).map(|(a, b)| a / b).collect();
    let ratio: Vec<f64> = norms(&op.forward(x.clone())).iter().zip(norms(&x)).map(|(a, b)| a / b).collect();
    for n in 0..BATCH {
        assert!(norm[n].is_finite() && norm[n] > 0.0, "{label}: norm {}", norm[n]);
        assert!(norm[n] >= ratio[n] * (1.0 - 1e-3), "{label}: norm {} below ‖Ax‖/‖x‖ = {}", norm[n], ratio[n]);
        assert!(
            (norm[n] - attained[n]).abs() <= 1e-3 * attained[n],
            "{label}: sample {n}: operator_norm {} but its power-iteration vector attains ‖Av‖/‖v‖ = {}",
            norm[n],
            attained[n]
        );
    }

    // prox_l2 optimality.
    let gamma = Tensor::<1>::from_floats([0.7, 1.9], device);
    let z = x.clone();
    let solution = op.prox_l2(z.clone(), y.clone(), gamma.clone());
    let residual = solution
        .clone()
        .sub(z.clone())
        .add(op.adjoint(op.forward(solution).sub(y.clone())).mul_per_sample(gamma.clone()));
    let reference: Vec<f64> = norms(&z).iter().zip(norms(&op.adjoint(y.clone()))).map(|(a, b)| a + 2.0 * b).collect();
    for (n, r) in norms(&residual).iter().enumerate() {
        assert!(*r <= 2e-3 * reference[n], "{label}: prox residual {r} (scale {})", reference[n]);
    }

    // Gradients through autodiff.
    let adevice = device.clone().autodiff();
    let (op, x, y) = build(&adevice);
    let channels = x.clone().to_channels().detach().require_grad();
    let residual = op.forward(Op::Domain::from_channels(channels.clone())).sub(y.clone());
    let grads = residual.dot(&residual).sum().backward();
    let autodiff = crate::common::host(channels.grad(&grads).expect("gradient reaches the input"));
    let expected = op.adjoint(op.forward(x.clone()).sub(y.clone())).scale(2.0).to_channels();
    crate::common::assert_close(&format!("{label}: gradient"), &autodiff, &crate::common::host(expected), 1e-3);

    // Finite differences through a learnable scalar upstream of the operator.
    let objective = |s: Tensor<1>| {
        let r = op.forward(x.clone().mul_per_sample(s)).sub(y.clone());
        r.dot(&r).sum()
    };
    let s0 = 1.3f64;
    let s = Tensor::<1>::from_floats([s0 as f32], &adevice).require_grad();
    let grads = objective(s.clone()).backward();
    let autodiff = to_vec(s.grad(&grads).expect("gradient reaches s"))[0];
    let h = 1e-2;
    let f = |v: f64| to_vec(objective(Tensor::<1>::from_floats([v as f32], &adevice)))[0];
    let finite_difference = (f(s0 + h) - f(s0 - h)) / (2.0 * h);
    assert!(
        (autodiff - finite_difference).abs() <= 2e-3 * finite_difference.abs().max(1.0),
        "{label}: d/ds autodiff {autodiff} vs finite difference {finite_difference}"
    );
}

fn randn4(shape: [usize; 4], seed: u64, device: &Device) -> Tensor<4> {
    Tensor::<4>::zeros(shape, device).randn_like(seed)
}

fn crandn(shape: [usize; 4], seed: u64, device: &Device) -> Complex<4> {
    Complex::<4>::zeros(shape, device).randn_like(seed)
}

/// One mask per sample, stacked to `[N, 1, H, W]`.
fn masks(config: &MaskConfig, [h, w]: [usize; 2], device: &Device) -> Tensor<4> {
    Tensor::cat((0..BATCH).map(|n| config.generate([h, w], n as u64 + 11).to_tensor(device)).collect(), 0)
}

/// Per-sample PSFs `[N, 1, kh, kw]`: a Gaussian and a random positive kernel, each summing to 1.
fn psfs([kh, kw]: [usize; 2], device: &Device) -> Tensor<4> {
    let gauss: Vec<f32> = (0..kh * kw)
        .map(|i| {
            let (a, b) = ((i / kw) as f32 - (kh / 2) as f32, (i % kw) as f32 - (kw / 2) as f32);
            (-(a * a + b * b) / 2.0).exp()
        })
        .collect();
    let random = randn4([1, 1, kh, kw], 5, device).abs() + 0.1;
    let gauss = Tensor::<4>::from_data(TensorData::new(gauss, [1, 1, kh, kw]), device);
    let k = Tensor::cat(vec![gauss, random], 0);
    k.clone() / k.sum_dims(&[2, 3])
}

fn mri(fft: Fft2, coils: usize, size: [usize; 2], device: &Device) -> (MultiCoilMri, Complex<4>, Complex<4>) {
    let mask = masks(&MaskConfig::EquispacedFraction { acceleration: 3.0, center_fraction: 0.15 }, size, device);
    let op = if coils == 0 {
        MultiCoilMri::single_coil(mask, fft)
    } else {
        let maps = Complex::new(
            Tensor::cat(
                vec![birdcage_maps(size, coils, 1.5, 0.0, device).re, birdcage_maps(size, coils, 1.5, 0.4, device).re],
                0,
            ),
            Tensor::cat(
                vec![birdcage_maps(size, coils, 1.5, 0.0, device).im, birdcage_maps(size, coils, 1.5, 0.4, device).im],
                0,
            ),
        );
        MultiCoilMri::new(maps, mask, fft)
    };
    let [h, w] = size;
    (op, crandn([BATCH, 1, h, w], 1, device), crandn([BATCH, coils.max(1), h, w], 2, device))
}

fn blur(boundary: BlurBoundary, size: [usize; 2], device: &Device) -> (Blur, Tensor<4>, Tensor<4>) {
    let [h, w] = size;
    let op = Blur::new(psfs([5, 4], device), size, boundary);
    let [oh, ow] = op.output_size();
    (op, randn4([BATCH, 1, h, w], 1, device), randn4([BATCH, 1, oh, ow], 2, device))
}

#[test]
fn every_operator_passes_the_registry_checks() {
    for (name, device) in devices() {
        // wgpu compiles a shader per shape (minutes on lavapipe): the odd size only, which is the
        // one that catches layout bugs.
        let sizes = if name == "wgpu" { &SIZES[1..] } else { &SIZES[..] };
        for &size in sizes {
            let [h, w] = size;
            let label = |op: &str| format!("{op} {h}x{w} on {name}");
            let centred = Fft2::CENTRED_ORTHO;
            let plain = Fft2 { centred: false, norm: FftNorm::Backward };
            check(&label("mri 3-coil"), &device, |d| mri(centred, 3, size, d));
            check(&label("mri 3-coil uncentred backward-norm"), &device, |d| mri(plain, 3, size, d));
            check(&label("mri single-coil"), &device, |d| mri(centred, 0, size, d));
            check(&label("mri single-coil uncentred backward-norm"), &device, |d| mri(plain, 0, size, d));
            check(&label("blur circular"), &device, |d| blur(BlurBoundary::Circular, size, d));
            check(&label("blur zero"), &device, |d| blur(BlurBoundary::Zero, size, d));
            check(&label("blur valid"), &device, |d| blur(BlurBoundary::Valid, size, d));
            check(&label("compressed sensing"), &device, |d| {
                let op = CompressedSensing::gaussian(h * w / 4, [1, h, w], 3, d);
                (op, randn4([BATCH, 1, h, w], 1, d), randn4([BATCH, 1, 1, h * w / 4], 2, d))
            });
            check(&label("radon"), &device, |d| {
                let op = Radon::new(h, &Radon::uniform_angles(7), d);
                let det = op.detectors();
                (op, randn4([BATCH, 1, h, h], 1, d), randn4([BATCH, 1, det, 7], 2, d))
            });
            // `c·A` with the inner operator's prox rescaled (closed form for the circular blur, CG
            // for the Radon transform, brought to unit norm).
            check(&label("scaled blur circular"), &device, |d| {
                let (op, x, y) = blur(BlurBoundary::Circular, size, d);
                (Scaled { inner: op, factor: 2.5 }, x, y)
            });
            check(&label("scaled radon"), &device, |d| {
                let op = Radon::new(h, &Radon::uniform_angles(7), d);
                let det = op.detectors();
                let op = Scaled::unit_norm(op, randn4([1, 1, h, h], 5, d), 50);
                (op, randn4([BATCH, 1, h, h], 1, d), randn4([BATCH, 1, det, 7], 2, d))
            });
            check(&label("inpainting"), &device, |d| {
                let mask = randn4([BATCH, 1, h, w], 9, d).greater_elem(0.0).float();
                (Inpainting::new(mask), randn4([BATCH, 2, h, w], 1, d), randn4([BATCH, 2, h, w], 2, d))
            });
            check(&label("dct basis"), &device, |d| {
                (Dct2::new(h, w, d), randn4([BATCH, 2, h, w], 1, d), randn4([BATCH, 2, h, w], 2, d))
            });
            check(&label("identity"), &device, |d| {
                (Identity, randn4([BATCH, 3, h, w], 1, d), randn4([BATCH, 3, h, w], 2, d))
            });
        }
    }
}

/// Relative error allowed between the power-method estimate and the exact `‖A‖`. The exact norms
/// below are computed on the host in f64 and every case is given enough iterations for its eigengap,
/// so the only error left is float32 rounding (at most 2e-7 measured on flex).
const NORM_RTOL: f64 = 1e-5;

/// Asserts the per-sample power-method estimates are `‖A‖` to [`NORM_RTOL`].
fn assert_norms(label: &str, estimate: &[f64], exact: &[f64]) {
    assert_eq!(estimate.len(), exact.len(), "{label}: one norm per sample");
    for (n, (e, a)) in estimate.iter().zip(exact).enumerate() {
        assert!(
            (e - a).abs() <= NORM_RTOL * a,
            "{label}: sample {n}: power method gives {e}, exact ‖A‖ = {a} (relative error {:.2e})",
            (e - a).abs() / a
        );
    }
}

/// Eigenvalues of a symmetric `n × n` matrix (row-major, f64) by cyclic Jacobi rotations.
fn symmetric_eigenvalues(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    assert_eq!(a.len(), n * n);
    let total: f64 = a.iter().map(|v| v * v).sum();
    let off_diagonal = |a: &[f64]| -> f64 {
        (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .filter(|(i, j)| i != j)
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum()
    };
    for _sweep in 0..60 {
        if off_diagonal(&a) <= 1e-30 * total {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // Rotation in the (p, q) plane that zeroes a[p, q]: A ← Jᵀ A J.
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    assert!(off_diagonal(&a) <= 1e-24 * total, "Jacobi eigenvalue iteration did not converge");
    (0..n).map(|i| a[i * n + i]).collect()
}

/// `‖A‖ = sqrt(λ₁)` from the eigenvalues of `AᴴA`, and a number of power iterations `k` that is
/// enough for them: `(λ/λ₁)^(2k) ≤ 1e-10` for every eigenvalue `λ < (1 − 1e-6)·λ₁` (those closer
/// to `λ₁` cannot move the estimate by more than 1e-6). Panics if the gap needs more than 3000.
fn exact_norm(label: &str, eigenvalues: &[f64]) -> (f64, usize) {
    let top = eigenvalues.iter().copied().fold(0.0, f64::max);
    assert!(top > 0.0, "{label}: AᴴA is zero");
    let next = eigenvalues.iter().copied().filter(|&l| l < top * (1.0 - 1e-6)).fold(0.0, f64::max);
    let ratio = next / top;
    let iterations = if ratio <= 1e-12 { 2 } else { (1e-10f64.ln() / (2.0 * ratio.ln())).ceil() as usize };
    assert!(iterations <= 3000, "{label}: eigengap λ₂/λ₁ = {ratio} too small for a quick test");
    (top.sqrt(), iterations.max(2))
}

/// The eigenvalues of `AᴴA` for an operator whose parameters broadcast over the batch, from its
/// dense matrix: `A` applied to every basis vector of the channel view `[C', H, W]` of its domain
/// (as one batch), then `G = AᵀA` on the host in f64.
fn dense_normal_eigenvalues<Op: LinearOperator>(op: &Op, [c, h, w]: [usize; 3], device: &Device) -> Vec<f64> {
    let d = c * h * w;
    let mut identity = vec![0f32; d * d];
    for j in 0..d {
        identity[j * d + j] = 1.0;
    }
    let basis = Op::Domain::from_channels(Tensor::from_data(TensorData::new(identity, [d, c, h, w]), device));
    // Row j of `columns` is A e_j.
    let columns = crate::common::host(op.forward(basis).to_channels());
    let r = columns.len() / d;
    let mut gram = vec![0f64; d * d];
    for j in 0..d {
        for k in j..d {
            let g: f64 = (0..r).map(|i| columns[j * r + i] * columns[k * r + i]).sum();
            gram[j * d + k] = g;
            gram[k * d + j] = g;
        }
    }
    symmetric_eigenvalues(gram, d)
}

/// `|K(u, v)|²` of a kernel `k` (`[kh, kw]`, row-major) on every frequency of an `[h, w]` grid: the
/// eigenvalues of `AᴴA` for circular convolution with `k` (plain f64 DFT, independent of the crate's
/// FFTs, of where the kernel centre is and of convolution versus correlation).
fn transfer_power(k: &[f64], [kh, kw]: [usize; 2], [h, w]: [usize; 2]) -> Vec<f64> {
    use std::f64::consts::PI;
    let mut power = Vec::with_capacity(h * w);
    for u in 0..h {
        for v in 0..w {
            let (mut re, mut im) = (0.0, 0.0);
            for a in 0..kh {
                for b in 0..kw {
                    let phase = -2.0 * PI * ((u * a) as f64 / h as f64 + (v * b) as f64 / w as f64);
                    re += k[a * kw + b] * phase.cos();
                    im += k[a * kw + b] * phase.sin();
                }
            }
            power.push(re * re + im * im);
        }
    }
    power
}

/// The power method reaches the exact norm, not only a lower bound, for operators whose norm is
/// known (closed forms, a host DFT, or the eigenvalues of the dense `AᴴA`) and which are not
/// isometries; per sample where the operator differs between samples. A wrong estimate such as
/// `0.9·‖A‖`, `‖A‖²`, too few iterations, or a norm mixed across the batch fails.
#[test]
fn power_method_matches_known_norms() {
    let device = Device::flex();
    let size = [16, 12];
    let full = Tensor::<4>::ones([1, 1, 16, 12], &device);
    let start = Complex::<4>::zeros([1, 1, 16, 12], &device).randn_like(3);
    // Unitary FFT.
    let fft = MultiCoilMri::single_coil(full.clone(), Fft2::CENTRED_ORTHO);
    assert_norms("unitary fft", &fft.operator_norm(start.clone(), 20), &[1.0]);
    // SENSE with Σ|S|² = 1 and a full mask is an isometry.
    let sense = MultiCoilMri::new(birdcage_maps(size, 4, 1.5, 0.0, &device), full, Fft2::CENTRED_ORTHO);
    assert_norms("full-mask sense", &sense.operator_norm(start.clone(), 20), &[1.0]);
    // Unnormalised FFT: norm sqrt(H·W).
    let plain = MultiCoilMri::single_coil(Tensor::ones([1, 1, 16, 12], &device), Fft2::PLAIN_BACKWARD);
    assert_norms("unnormalised fft", &plain.operator_norm(start, 20), &[((16 * 12) as f64).sqrt()]);
    // Circular blur with a non-negative kernel summing to 1: the DC gain, 1.
    let blur = Blur::new(psfs([5, 5], &device).narrow(0, 0, 1), size, BlurBoundary::Circular);
    let x = Tensor::<4>::zeros([1, 1, 16, 12], &device).randn_like(4);
    assert_norms("low-pass blur", &blur.operator_norm(x, 200), &[1.0]);

    // Inpainting, per sample: a 0/1 mask (norm 1) and weights {0, 0.5, 2.5} (norm 2.5 = max weight).
    let [h, w] = size;
    let observed = randn4([BATCH, 2, h, w], 9, &device).greater_elem(0.0).float();
    let strong = randn4([BATCH, 2, h, w], 10, &device).greater_elem(1.0).float();
    let weights = observed.clone() * (strong * 2.0 + 0.5);
    let mask = Tensor::cat(vec![observed.narrow(0, 0, 1), weights.narrow(0, 1, 1)], 0);
    let exact: Vec<f64> =
        crate::common::host(mask.clone().abs().reshape([BATCH as i64, -1]).max_dim(1).reshape([BATCH, 1, 1, 1]));
    assert_eq!(exact, [1.0, 2.5], "inpainting weights");
    let inpainting = Inpainting::new(mask);
    let x = randn4([BATCH, 2, h, w], 1, &device);
    assert_norms("weighted inpainting", &inpainting.operator_norm(x, 20), &exact);

    // Single-coil MRI with a partial mask, per sample: weights 1 and 1.5 on the sampled points.
    // ‖M F‖ = max|M|·‖F‖ with ‖F‖ = 1 (orthonormal) or sqrt(H·W) (backward norm).
    let [h, w] = [15, 12];
    let sampled = masks(&MaskConfig::EquispacedFraction { acceleration: 3.0, center_fraction: 0.15 }, [h, w], &device);
    let sampled_host = crate::common::host(sampled.clone());
    assert!(sampled_host.contains(&0.0) && sampled_host.contains(&1.0), "the mask is partial");
    let mask = sampled * Tensor::<1>::from_floats([1.0, 1.5], &device).unsqueeze_dims::<4>(&[1, 2, 3]);
    let start = Complex::<4>::zeros([BATCH, 1, h, w], &device).randn_like(5);
    for (fft, gain) in [
        (Fft2::CENTRED_ORTHO, 1.0),
        (Fft2 { centred: false, norm: FftNorm::Ortho }, 1.0),
        (Fft2::PLAIN_BACKWARD, ((h * w) as f64).sqrt()),
        (Fft2 { centred: true, norm: FftNorm::Backward }, ((h * w) as f64).sqrt()),
    ] {
        let op = MultiCoilMri::single_coil(mask.clone(), fft);
        assert_norms(
            &format!("partial-mask single-coil mri {fft:?}"),
            &op.operator_norm(start.clone(), 20),
            &[gain, 1.5 * gain],
        );
    }

    // Circular blur, per sample, with kernels whose norm is not the DC gain: a non-symmetric kernel
    // with negative entries (DC gain 2.25, norm ≈ 3.83) and a Laplacian (DC gain 0, norm ≈ 7.88).
    let [h, w] = [12, 9];
    let kernels: [[f64; 12]; 2] = [
        [0.5, -1.0, 0.25, 0.0, 0.3, 2.0, -0.7, 0.1, 0.0, 0.4, -0.2, 0.6],
        [0.0, 1.0, 0.0, 0.0, 1.0, -4.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
    ];
    let mut exact = Vec::new();
    let mut iterations = 0;
    for k in &kernels {
        let (norm, k_iterations) = exact_norm("blur", &transfer_power(k, [3, 4], [h, w]));
        let dc_gain: f64 = k.iter().sum();
        assert!(norm > 1.5 * dc_gain.abs(), "the DC gain {dc_gain} must not be the norm {norm}");
        exact.push(norm);
        iterations = iterations.max(k_iterations);
    }
    let psf: Vec<f32> = kernels.iter().flatten().map(|&v| v as f32).collect();
    let psf = Tensor::<4>::from_data(TensorData::new(psf, [BATCH, 1, 3, 4]), &device);
    let op = Blur::new(psf, [h, w], BlurBoundary::Circular);
    let x = randn4([BATCH, 1, h, w], 6, &device);
    assert_norms("circular blur, signed kernels", &op.operator_norm(x, iterations), &exact);

    // Operators without a closed form: the exact norm from the eigenvalues of the dense AᴴA.
    let dense = |label: &str, norm: Vec<f64>, eigenvalues: Vec<f64>| {
        let (exact, _) = exact_norm(label, &eigenvalues);
        assert_norms(label, &norm, &[exact; BATCH]);
    };
    let iterations_for = |label: &str, eigenvalues: &[f64]| exact_norm(label, eigenvalues).1;
    // Compressed sensing: a 12 × 48 Gaussian matrix (largest singular value ≈ 1 + sqrt(48/12)).
    let cs = CompressedSensing::gaussian(12, [2, 4, 6], 3, &device);
    let eigenvalues = dense_normal_eigenvalues(&cs, [2, 4, 6], &device);
    let k = iterations_for("compressed sensing", &eigenvalues);
    dense("compressed sensing", cs.operator_norm(randn4([BATCH, 2, 4, 6], 7, &device), k), eigenvalues);
    // SENSE with a partial (random pixel) mask: ‖A‖ < 1.
    let [h, w] = [6, 8];
    let pixels = randn4([1, 1, h, w], 12, &device).greater_elem(0.0).float();
    let sense = MultiCoilMri::new(birdcage_maps([h, w], 3, 1.5, 0.0, &device), pixels, Fft2::CENTRED_ORTHO);
    let eigenvalues = dense_normal_eigenvalues(&sense, [2, h, w], &device);
    let k = iterations_for("partial-mask sense", &eigenvalues);
    let start = Complex::<4>::zeros([BATCH, 1, h, w], &device).randn_like(8);
    dense("partial-mask sense", sense.operator_norm(start, k), eigenvalues);
    // Radon transform, 6 × 6, 5 angles.
    let radon = Radon::new(6, &Radon::uniform_angles(5), &device);
    let eigenvalues = dense_normal_eigenvalues(&radon, [1, 6, 6], &device);
    let k = iterations_for("radon", &eigenvalues);
    dense("radon", radon.operator_norm(randn4([BATCH, 1, 6, 6], 9, &device), k), eigenvalues);
    // Zero-boundary and valid blur with a signed, non-symmetric 2 × 2 kernel (DC gain 0.5, norm ≈ 3.4;
    // small images, as the top singular values of these crops of a convolution cluster).
    let psf = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, -2.0, 0.5, 1.0], [1, 1, 2, 2]), &device);
    for boundary in [BlurBoundary::Zero, BlurBoundary::Valid] {
        let label = format!("{boundary:?} blur");
        let op = Blur::new(psf.clone(), [6, 5], boundary);
        let eigenvalues = dense_normal_eigenvalues(&op, [1, 6, 5], &device);
        let k = iterations_for(&label, &eigenvalues);
        dense(&label, op.operator_norm(randn4([BATCH, 1, 6, 5], 10, &device), k), eigenvalues);
    }
}

/// The views an operator offers.
fn offered<Op: Physics>(op: &Op) -> Vec<ViewKind> {
    let mut views = Vec::new();
    if op.mri().is_some() {
        views.push(ViewKind::Mri);
    }
    if op.blur().is_some() {
        views.push(ViewKind::Blur);
    }
    if op.real().is_some() {
        views.push(ViewKind::Real);
    }
    views
}

/// Every operator offers exactly the views its family lists, and a view acts like the operator: the
/// MRI view's parts rebuild the adjoint, `reduce(Fᴴ(M ⊙ y)) = Aᴴy`.
#[test]
fn every_operator_offers_the_views_of_its_family() {
    let device = Device::flex();
    let d = &device;
    let [h, w] = SIZES[1];
    fn check_views<Op: Physics>(op: &Op) {
        assert_eq!(offered(op), Op::FAMILY.views(), "{}", Op::FAMILY);
    }
    let (mri_op, _, y) = mri(Fft2::CENTRED_ORTHO, 3, [h, w], d);
    check_views(&mri_op);
    let view = mri_op.mri().expect("MRI view");
    let fft = view.op.fft();
    let coil_images = fft.inverse((view.kspace.to)(y.clone()).mul_real(view.op.mask().clone()));
    let through_view = (view.image.from)(view.op.reduce(coil_images));
    let difference = through_view.sub(mri_op.adjoint(y)).abs_sq().max().into_scalar::<f64>();
    assert!(difference < 1e-10, "MRI view's reduce(F^H(M y)) differs from A^H y by {difference}");

    let (blur_op, _, _) = blur(BlurBoundary::Circular, [h, w], d);
    check_views(&blur_op);
    assert_eq!(blur_op.blur().expect("blur view").op.transfer().dims()[2..], [h, w]);
    check_views(&Inpainting::new(randn4([1, 1, h, w], 9, d).greater_elem(0.0).float()));
    check_views(&Identity);
    check_views(&Scaled { inner: CompressedSensing::gaussian(h * w / 4, [1, h, w], 3, d), factor: 1.0 });
    check_views(&Scaled { inner: Radon::new(h, &Radon::uniform_angles(7), d), factor: 1.0 });
}
