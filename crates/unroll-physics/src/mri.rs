//! Cartesian MRI: multi-coil SENSE and its single-coil case.
//!
//! `A x = M ⊙ F(S_c ⊙ x)` for every coil `c`, and `Aᴴ y = Σ_c conj(S_c) ⊙ Fᴴ(M ⊙ y_c)`, with `F` the
//! 2D FFT of [`Fft2`] (centred and orthonormal by default, as in fastMRI/DIRECT). Shapes: the image
//! `x` is complex `[N, 1, H, W]`, k-space `y` is complex `[N, C, H, W]`, the coil maps `S` are complex
//! `[N, C, H, W]` (or `[1, C, H, W]` shared by the batch), the mask `M` is real `[N, 1, H, W]`,
//! `[N, 1, 1, W]` (Cartesian columns) or with batch size 1, broadcast over coils.

use burn::prelude::*;

use crate::complex::Complex;
use crate::fft::{Fft2, FftDirection, FftNorm};
use crate::operator::LinearOperator;

/// Multi-coil (or single-coil, with unit coil map) Cartesian MRI operator.
#[derive(Clone, Debug)]
pub struct MultiCoilMri {
    /// Coil sensitivities `[N|1, C, H, W]`; `None` is the single-coil case `S = 1`.
    maps: Option<Complex<4>>,
    /// Sampling mask, 1 = sampled, broadcastable to `[N, C, H, W]`.
    mask: Tensor<4>,
    /// The fully sampled centre (ACS), shaped like the mask; `None` if unknown.
    acs: Option<Tensor<4>>,
    fft: Fft2,
}

impl MultiCoilMri {
    /// SENSE operator with the given coil maps and mask.
    pub fn new(maps: Complex<4>, mask: Tensor<4>, fft: Fft2) -> Self {
        Self { maps: Some(maps), mask, acs: None, fft }
    }

    /// Single-coil operator `A x = M ⊙ F x`.
    pub fn single_coil(mask: Tensor<4>, fft: Fft2) -> Self {
        Self { maps: None, mask, acs: None, fft }
    }

    /// The sampling mask.
    pub fn mask(&self) -> &Tensor<4> {
        &self.mask
    }

    /// The same operator with its ACS region (1 = auto-calibration line, shaped like the mask).
    pub fn with_acs(mut self, acs: Tensor<4>) -> Self {
        self.acs = Some(acs);
        self
    }

    /// The same operator (mask, ACS, FFT) with other coil maps `[N|1, C, H, W]`, e.g. refined ones.
    pub fn with_maps(mut self, maps: Complex<4>) -> Self {
        self.maps = Some(maps);
        self
    }

    /// The ACS region, if known.
    pub fn acs(&self) -> Option<&Tensor<4>> {
        self.acs.as_ref()
    }

    /// The coil maps (`None` for single-coil).
    pub fn maps(&self) -> Option<&Complex<4>> {
        self.maps.as_ref()
    }

    /// The FFT convention.
    pub fn fft(&self) -> Fft2 {
        self.fft
    }

    /// `E x = S ⊙ x`: image `[N, 1, H, W]` → coil images `[N, C, H, W]`.
    pub fn expand(&self, x: Complex<4>) -> Complex<4> {
        match &self.maps {
            Some(maps) => x * maps.clone(),
            None => x,
        }
    }

    /// `R z = Σ_c conj(S_c) ⊙ z_c`: coil images → image `[N, 1, H, W]`.
    pub fn reduce(&self, z: Complex<4>) -> Complex<4> {
        match &self.maps {
            Some(maps) => maps.clone().conj_mul(z).sum_dim(1),
            None => z,
        }
    }

    /// `Fᴴ` (the exact adjoint of the forward FFT, which differs from its inverse by a constant
    /// factor when the normalisation is not orthonormal).
    fn fft_adjoint(&self, k: Complex<4>) -> Complex<4> {
        let [_, _, h, w] = k.dims();
        let scale = self.fft.adjoint_scale(h * w);
        let x = self.fft.apply(k, FftDirection::Inverse);
        if scale == 1.0 { x } else { x.scale(scale) }
    }
}

impl LinearOperator for MultiCoilMri {
    type Domain = Complex<4>;
    type Range = Complex<4>;

    fn forward(&self, x: Complex<4>) -> Complex<4> {
        self.fft.forward(self.expand(x)).mul_real(self.mask.clone())
    }

    fn adjoint(&self, y: Complex<4>) -> Complex<4> {
        self.reduce(self.fft_adjoint(y.mul_real(self.mask.clone())))
    }

    /// Closed form for the single-coil orthonormal case (`AᴴA = Fᴴ M F` is diagonal in k-space);
    /// conjugate gradients otherwise.
    fn prox_l2(&self, z: Complex<4>, y: Complex<4>, gamma: Tensor<1>) -> Complex<4> {
        if self.maps.is_some() || self.fft.norm != FftNorm::Ortho {
            return crate::operator::prox_l2_cg(self, z, y, gamma, Default::default());
        }
        let gamma = gamma.unsqueeze_dims::<4>(&[1, 2, 3]);
        let gamma_mask = self.mask.clone() * gamma;
        let numerator = self.fft.forward(z) + y.mul_real(gamma_mask.clone());
        self.fft.inverse(numerator.mul_real((gamma_mask + 1.0).recip()))
    }
}
