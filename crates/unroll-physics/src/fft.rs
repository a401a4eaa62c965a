//! 2D discrete Fourier transforms of any size, differentiable on every backend.
//!
//! Conventions (those of DIRECT, fastMRI and deepinv, `specs/mri.md` §0):
//! * the transform acts on the last two dimensions (rows `H`, columns `W`) of `[N, C, H, W]`;
//! * *centred*: `fftshift(fft2(ifftshift(x)))`, so the DC term sits at index `[H/2, W/2]`;
//!   `fftshift` rolls by `n/2`, `ifftshift` by `(n+1)/2`, which matters for odd sizes;
//! * [`FftNorm::Ortho`] scales both directions by `1/sqrt(HW)` (unitary); [`FftNorm::Backward`]
//!   leaves the forward unscaled and divides the inverse by `HW` (numpy's default).
//!
//! Two engines compute the same transform ([`FftEngine`]):
//! * [`FftEngine::Dense`]: a 1D DFT is a dense complex matrix product, with the shifts and the
//!   normalisation folded into the matrix (built once in f64 on the host, cached per size and
//!   device). It runs on every backend with the backend's own matmul (GPUs eat it; any size, unlike
//!   `burn::signal`, which is power-of-two only and missing on ndarray), and autodiff differentiates
//!   it like any matmul. Three real matmuls per complex product (Gauss' trick).
//! * [`FftEngine::Host`]: on the CPU backends (flex, ndarray), a custom Burn operation runs
//!   `rustfft` on the host, `O(n log n)`, with the adjoint transform as its backward
//!   (see [`crate::host_fft`]).
//!
//! [`FftEngine::Auto`] (the default) takes `Host` on CPU devices and `Dense` elsewhere. The
//! `operators` bench compares both with plain `rustfft` on the same data.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::{Arc, Mutex, OnceLock};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::complex::Complex;

/// Scaling of the forward/inverse pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FftNorm {
    /// `1/sqrt(n)` in both directions: the transform is unitary (DIRECT's `normalized=True`).
    #[default]
    Ortho,
    /// Unscaled forward, `1/n` inverse (numpy `norm="backward"`, ATOMMIC's CC359 configs).
    Backward,
}

/// Which way the transform goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FftDirection {
    /// `exp(-2πi kn/N)`.
    Forward,
    /// `exp(+2πi kn/N)`, the inverse transform.
    Inverse,
}

/// How the transform is computed (the result is the same up to float rounding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FftEngine {
    /// `Host` on flex/ndarray devices, `Dense` on the others.
    #[default]
    Auto,
    /// Dense DFT matrices through the backend's matmul (every backend).
    Dense,
    /// `rustfft` through a custom op (flex and ndarray only).
    Host,
}

impl FftEngine {
    /// The concrete engine used for tensors on `device`.
    pub fn resolve(self, device: &Device) -> Self {
        match self {
            FftEngine::Auto if is_host_device(device) => FftEngine::Host,
            FftEngine::Auto => FftEngine::Dense,
            other => other,
        }
    }
}

/// Whether `device` (or the device an autodiff device wraps) is a CPU backend with a host FFT.
pub fn is_host_device(device: &Device) -> bool {
    use burn::backend::DispatchDevice;
    matches!(device.clone().inner().as_dispatch(), DispatchDevice::Flex(_) | DispatchDevice::NdArray(_))
}

/// A 2D FFT convention: centring and normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fft2 {
    /// Apply `ifftshift` before and `fftshift` after the transform (DC at the centre).
    #[serde(default = "default_true")]
    pub centred: bool,
    /// Normalisation of the pair.
    #[serde(default)]
    pub norm: FftNorm,
}

fn default_true() -> bool {
    true
}

impl Default for Fft2 {
    fn default() -> Self {
        Self::CENTRED_ORTHO
    }
}

impl Fft2 {
    /// The fastMRI/DIRECT convention: centred and unitary.
    pub const CENTRED_ORTHO: Self = Self { centred: true, norm: FftNorm::Ortho };
    /// Plain `fft2` with numpy's default scaling, used for convolutions (kernel transfer functions).
    pub const PLAIN_BACKWARD: Self = Self { centred: false, norm: FftNorm::Backward };

    /// Forward transform of the last two dimensions.
    pub fn forward(&self, x: Complex<4>) -> Complex<4> {
        self.apply(x, FftDirection::Forward)
    }

    /// Inverse transform of the last two dimensions.
    pub fn inverse(&self, x: Complex<4>) -> Complex<4> {
        self.apply(x, FftDirection::Inverse)
    }

    /// Transform in the given direction with the default engine.
    pub fn apply(&self, x: Complex<4>, direction: FftDirection) -> Complex<4> {
        self.apply_with(x, direction, FftEngine::Auto)
    }

    /// Transform in the given direction with a chosen engine. Panics if `Host` is asked for on a
    /// device without a host FFT.
    pub fn apply_with(&self, x: Complex<4>, direction: FftDirection, engine: FftEngine) -> Complex<4> {
        match engine.resolve(&x.device()) {
            FftEngine::Host => self.host(x, direction),
            _ => self.dense(x, direction),
        }
    }

    /// Scale applied to the unnormalised transform in `direction`.
    fn scale(&self, pixels: usize, direction: FftDirection) -> f64 {
        match (self.norm, direction) {
            (FftNorm::Ortho, _) => 1.0 / (pixels as f64).sqrt(),
            (FftNorm::Backward, FftDirection::Forward) => 1.0,
            (FftNorm::Backward, FftDirection::Inverse) => 1.0 / pixels as f64,
        }
    }

    fn host(&self, x: Complex<4>, direction: FftDirection) -> Complex<4> {
        let [n, c, h, w] = x.dims();
        assert!(is_host_device(&x.device()), "the host FFT runs on flex and ndarray devices only");
        let packed = Tensor::cat(vec![x.re, x.im], 0).reshape([2, n * c, h, w]);
        let inverse = direction == FftDirection::Inverse;
        let out = crate::host_fft::host_fft2(packed, inverse, self.centred, self.scale(h * w, direction));
        let plane = |i: usize| out.clone().narrow(0, i, 1).reshape([n, c, h, w]);
        Complex { re: plane(0), im: plane(1) }
    }

    fn dense(&self, x: Complex<4>, direction: FftDirection) -> Complex<4> {
        let [n, c, h, w] = x.dims();
        let device = x.device();
        let along_w = DftMatrix::get(w, direction, *self, &device);
        let along_h = DftMatrix::get(h, direction, *self, &device);
        // Columns: x[.., h, :] @ Mᵀ on a [N·C·H, W] view.
        let x = along_w.right_multiply(x.map(|t| t.reshape([n * c * h, w])));
        // Rows: M @ x[n, c] as one broadcast batched product.
        let x = along_h.left_multiply(x.map(|t| t.reshape([n * c, h, w])));
        x.map(|t| t.reshape([n, c, h, w]))
    }

    /// Scale such that `inverse(forward(x)) = x`; the forward/inverse pair is adjoint up to this
    /// factor: `forwardᴴ = inverse · adjoint_scale(n)` where `n` is the number of pixels.
    pub fn adjoint_scale(&self, pixels: usize) -> f64 {
        match self.norm {
            FftNorm::Ortho => 1.0,
            FftNorm::Backward => pixels as f64,
        }
    }
}

/// A dense 1D DFT matrix `M` (with shifts and scaling folded in) as real planes on a device.
/// Stored transposed (`Mᵀ = P + iQ`) together with `P + Q` for the three-multiplication product.
#[derive(Clone)]
struct DftMatrix {
    p: Tensor<2>,
    q: Tensor<2>,
    p_plus_q: Tensor<2>,
}

type CacheKey = (usize, bool, bool, FftNorm, String);

impl DftMatrix {
    /// Matrix for size `n`, cached per device (building it costs `O(n²)` host work and an upload).
    fn get(n: usize, direction: FftDirection, conv: Fft2, device: &Device) -> Self {
        static CACHE: OnceLock<Mutex<HashMap<CacheKey, Arc<DftMatrix>>>> = OnceLock::new();
        let key = (n, direction == FftDirection::Inverse, conv.centred, conv.norm, format!("{device:?}"));
        let cache = CACHE.get_or_init(Default::default);
        if let Some(m) = cache.lock().expect("DFT cache poisoned").get(&key) {
            return (**m).clone();
        }
        let (p, q) = dft_matrix_transposed(n, direction, conv);
        let p_plus_q: Vec<f32> = p.iter().zip(&q).map(|(a, b)| a + b).collect();
        let upload = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [n, n]), device);
        let m = DftMatrix { p: upload(p), q: upload(q), p_plus_q: upload(p_plus_q) };
        cache.lock().expect("DFT cache poisoned").insert(key, Arc::new(m.clone()));
        m
    }

    /// `x @ Mᵀ` for `x` of shape `[rows, n]`.
    fn right_multiply(&self, x: Complex<2>) -> Complex<2> {
        let t1 = x.re.clone().matmul(self.p.clone());
        let t2 = x.im.clone().matmul(self.q.clone());
        let t3 = (x.re + x.im).matmul(self.p_plus_q.clone());
        Complex { re: t1.clone() - t2.clone(), im: t3 - t1 - t2 }
    }

    /// `M @ x[b]` for every `b` of `x` with shape `[batch, n, cols]`.
    fn left_multiply(&self, x: Complex<3>) -> Complex<3> {
        // M = Pᵀ + iQᵀ.
        let a = self.p.clone().transpose().unsqueeze_dim::<3>(0);
        let b = self.q.clone().transpose().unsqueeze_dim::<3>(0);
        let ab = self.p_plus_q.clone().transpose().unsqueeze_dim::<3>(0);
        let t1 = a.matmul(x.re.clone());
        let t2 = b.matmul(x.im.clone());
        let t3 = ab.matmul(x.re + x.im);
        Complex { re: t1.clone() - t2.clone(), im: t3 - t1 - t2 }
    }
}

/// Host-side `Mᵀ` of the 1D transform as `(re, im)` row-major `n × n` f32 planes.
///
/// Entry `M[k, j] = s · exp(∓2πi · a·b / n)` with `a = (k − h) mod n`, `b = (j − h) mod n` and
/// `h = n/2` when centred (this is `fftshift ∘ F ∘ ifftshift`), `a = k`, `b = j` otherwise.
pub(crate) fn dft_matrix_transposed(n: usize, direction: FftDirection, conv: Fft2) -> (Vec<f32>, Vec<f32>) {
    let sign = match direction {
        FftDirection::Forward => -1.0,
        FftDirection::Inverse => 1.0,
    };
    let scale = conv.scale(n, direction);
    let shift = if conv.centred { n / 2 } else { 0 };
    let mut re = vec![0f32; n * n];
    let mut im = vec![0f32; n * n];
    for k in 0..n {
        let a = (k + n - shift) % n;
        for j in 0..n {
            let b = (j + n - shift) % n;
            // Reduce a·b mod n in integers so the angle stays accurate for large n.
            let phase = sign * 2.0 * PI * ((a * b) % n) as f64 / n as f64;
            // Transposed storage: row j, column k.
            re[j * n + k] = (scale * phase.cos()) as f32;
            im[j * n + k] = (scale * phase.sin()) as f32;
        }
    }
    (re, im)
}
