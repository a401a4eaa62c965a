//! Helpers shared by the physics tests: devices, `.npy` test vectors, comparisons.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::prelude::*;
use unroll_physics::Complex;

/// The devices every operator is checked on: flex and ndarray always, wgpu when
/// `UNROLL_TEST_WGPU=1` (CI installs lavapipe, a software Vulkan device, and sets it).
#[allow(deprecated)] // ndarray is deprecated upstream; the project keeps it selectable.
pub fn devices() -> Vec<(&'static str, Device)> {
    let mut devices = vec![("flex", Device::flex()), ("ndarray", Device::ndarray())];
    if wgpu_enabled() {
        devices.push(("wgpu", Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)));
    }
    devices
}

pub fn wgpu_enabled() -> bool {
    std::env::var("UNROLL_TEST_WGPU").is_ok_and(|v| v == "1")
}

/// `tests/data/testvectors` of this crate: float64 references made by NumPy/deepinv, copied from the
/// project's shared test vectors (provenance in that folder's `README.md`).
pub fn testvectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/testvectors")
}

/// Loads a float64 `.npy` test vector: `(shape, values)`.
pub fn load_npy(relative: &str) -> (Vec<usize>, Vec<f64>) {
    let path = testvectors_dir().join(relative);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    let values = npy.into_vec::<f64>().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (shape, values)
}

/// A real test vector as a tensor of the given shape (the number of elements must match).
pub fn real_tensor(relative: &str, shape: [usize; 4], device: &Device) -> Tensor<4> {
    let (_, values) = load_npy(relative);
    let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// A stacked complex test vector `(..., 2)` as a complex tensor of the given shape.
pub fn complex_tensor(relative: &str, shape: [usize; 4], device: &Device) -> Complex<4> {
    let (_, values) = load_npy(relative);
    let plane = |part: usize| {
        let v: Vec<f32> = values.iter().skip(part).step_by(2).map(|&v| v as f32).collect();
        Tensor::<4>::from_data(TensorData::new(v, shape), device)
    };
    Complex::new(plane(0), plane(1))
}

pub fn host(t: Tensor<4>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_into_vec::<f64>().unwrap()
}

/// Host values of a complex tensor interleaved as `(..., 2)` (the test-vector layout).
pub fn host_stacked(z: Complex<4>) -> Vec<f64> {
    let (re, im) = (host(z.re), host(z.im));
    re.iter().zip(&im).flat_map(|(&a, &b)| [a, b]).collect()
}

/// `|a − b| ≤ atol + rtol·|b|` element-wise with `atol = rtol·max|b|` (float32 tolerance for
/// float64 references).
pub fn assert_close(name: &str, actual: &[f64], expected: &[f64], rtol: f64) {
    assert_eq!(actual.len(), expected.len(), "{name}: length");
    let scale = expected.iter().fold(0f64, |m, v| m.max(v.abs()));
    let atol = rtol * scale;
    let (worst, index) = actual
        .iter()
        .zip(expected)
        .enumerate()
        .map(|(i, (a, b))| ((a - b).abs() - rtol * b.abs(), i))
        .fold((f64::MIN, 0), |m, v| if v.0 > m.0 { v } else { m });
    assert!(
        worst <= atol,
        "{name}: element {index} is {} but expected {} (atol {atol:.3e})",
        actual[index],
        expected[index]
    );
}
