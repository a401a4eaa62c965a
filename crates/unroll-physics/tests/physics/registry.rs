//! The operator registry test: every operator goes through the same checks, at an even and an odd
//! image size, on every device (flex, ndarray; wgpu with `UNROLL_TEST_WGPU=1`):
//! * adjointness `⟨Ax, y⟩ = ⟨x, Aᴴy⟩` (per sample, float32 tolerance);
//! * the power-method norm is a valid bound `‖A‖ ≥ ‖Ax‖/‖x‖` and is tight for `x` = its own
//!   power-iteration vector;
//! * autodiff gradient of `‖Ax − y‖²` equals `2Aᴴ(Ax − y)`;
//! * finite differences through a learnable scalar `s` in `‖A(s·x) − y‖²` match autodiff;
//! * `prox_l2` satisfies its optimality condition `x − z + γAᴴ(Ax − y) = 0`.

use burn::prelude::*;
use unroll_physics::coils::birdcage_maps;
use unroll_physics::operator::{norms, to_vec};
use unroll_physics::{
    Blur, BlurBoundary, Complex, CompressedSensing, Fft2, FftNorm, Identity, Inpainting, LinearOperator, MaskConfig,
    MultiCoilMri, Radon, Signal,
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

    // Operator norm: a bound for any x, attained (to 2%) at the power-iteration vector.
    let norm = op.operator_norm(x.randn_like(7), 40);
    let ratio: Vec<f64> = norms(&op.forward(x.clone())).iter().zip(norms(&x)).map(|(a, b)| a / b).collect();
    for n in 0..BATCH {
        assert!(norm[n].is_finite() && norm[n] > 0.0, "{label}: norm {}", norm[n]);
        assert!(norm[n] >= ratio[n] * (1.0 - 1e-3), "{label}: norm {} below ‖Ax‖/‖x‖ = {}", norm[n], ratio[n]);
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
            check(&label("inpainting"), &device, |d| {
                let mask = randn4([BATCH, 1, h, w], 9, d).greater_elem(0.0).float();
                (Inpainting::new(mask), randn4([BATCH, 2, h, w], 1, d), randn4([BATCH, 2, h, w], 2, d))
            });
            check(&label("identity"), &device, |d| {
                (Identity, randn4([BATCH, 3, h, w], 1, d), randn4([BATCH, 3, h, w], 2, d))
            });
        }
    }
}

/// Operators whose norm is known in closed form.
#[test]
fn power_method_matches_known_norms() {
    let device = Device::flex();
    let size = [16, 12];
    let full = Tensor::<4>::ones([1, 1, 16, 12], &device);
    let start = Complex::<4>::zeros([1, 1, 16, 12], &device).randn_like(3);
    // Unitary FFT.
    let fft = MultiCoilMri::single_coil(full.clone(), Fft2::CENTRED_ORTHO);
    assert!((fft.operator_norm(start.clone(), 20)[0] - 1.0).abs() < 1e-4);
    // SENSE with Σ|S|² = 1 and a full mask is an isometry.
    let sense = MultiCoilMri::new(birdcage_maps(size, 4, 1.5, 0.0, &device), full, Fft2::CENTRED_ORTHO);
    assert!((sense.operator_norm(start.clone(), 20)[0] - 1.0).abs() < 1e-4);
    // Unnormalised FFT: norm sqrt(H·W).
    let plain = MultiCoilMri::single_coil(Tensor::ones([1, 1, 16, 12], &device), Fft2::PLAIN_BACKWARD);
    let expected = ((16 * 12) as f64).sqrt();
    assert!((plain.operator_norm(start, 20)[0] - expected).abs() < 1e-3 * expected);
    // Circular blur with a non-negative kernel summing to 1: the DC gain, 1.
    let blur = Blur::new(psfs([5, 5], &device).narrow(0, 0, 1), size, BlurBoundary::Circular);
    let x = Tensor::<4>::zeros([1, 1, 16, 12], &device).randn_like(4);
    assert!((blur.operator_norm(x, 200)[0] - 1.0).abs() < 1e-3);
}
