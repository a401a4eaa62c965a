//! Convolution (blur) with a per-sample point-spread function, computed by FFT.
//!
//! A true convolution (the kernel is flipped), as `scipy.signal.convolve2d` and deepinv's
//! `conv2d(…, correlation=False)`: `y[i, j] = Σ_{a,b} k[a, b] · x[i + c_h − a, j + c_w − b]` with the
//! kernel centre `c = (k_h / 2, k_w / 2)` (integer division, so an even-sized PSF is centred like
//! `ifftshift`). Images are real `[N, C, H, W]`, PSFs `[N|1, 1, k_h, k_w]` (one per sample, shared by
//! the channels).
//!
//! The boundary decides what lies outside the image:
//! * [`BlurBoundary::Circular`]: periodic; diagonal in Fourier space, so `prox_l2` is closed form;
//! * [`BlurBoundary::Zero`]: zeros, output of the image's size (linear convolution — the galaxy
//!   deconvolution convention of zero-padding to about twice the size before the FFT);
//! * [`BlurBoundary::Valid`]: only positions where the whole kernel fits, output `H − k_h + 1`.
//!
//! All three are `crop ∘ circular-convolution ∘ zero-pad` on a grid of `P = H + k_h − 1` rows (and
//! likewise columns) for the non-periodic ones, which makes the adjoint exact by construction.

use burn::prelude::*;
use burn::tensor::ops::PadMode;
use serde::{Deserialize, Serialize};

use crate::complex::Complex;
use crate::fft::Fft2;
use crate::operator::LinearOperator;

/// What the convolution assumes outside the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BlurBoundary {
    /// Periodic image.
    #[default]
    Circular,
    /// Zero outside the image; output the size of the image.
    Zero,
    /// Output only where the kernel fits entirely inside the image.
    Valid,
}

/// Convolution operator `A x = k_n ∗ x_n` for every sample `n`.
#[derive(Clone, Debug)]
pub struct Blur {
    /// FFT of the zero-padded, centre-rolled kernel on the `[P, Q]` working grid, `[N|1, 1, P, Q]`.
    transfer: Complex<4>,
    boundary: BlurBoundary,
    image: [usize; 2],
    kernel: [usize; 2],
}

impl Blur {
    /// Blur of `[.., H, W]` images (`image = [H, W]`) with the PSFs `psf` `[N|1, 1, k_h, k_w]`.
    ///
    /// Panics if a circular kernel is larger than the image or a valid one leaves no output
    /// (programming errors: the data layer validates user input before building operators).
    pub fn new(psf: Tensor<4>, image: [usize; 2], boundary: BlurBoundary) -> Self {
        let [_, one, kh, kw] = psf.dims();
        assert_eq!(one, 1, "PSF must have one channel, got {one}");
        let [h, w] = image;
        let grid = match boundary {
            BlurBoundary::Circular => {
                assert!(kh <= h && kw <= w, "circular blur: kernel {kh}x{kw} larger than image {h}x{w}");
                [h, w]
            }
            BlurBoundary::Zero => [h + kh - 1, w + kw - 1],
            BlurBoundary::Valid => {
                assert!(kh <= h && kw <= w, "valid blur: kernel {kh}x{kw} larger than image {h}x{w}");
                [h + kh - 1, w + kw - 1]
            }
        };
        // Kernel centre moved to the origin of the working grid: pad to the grid, roll by −c.
        let placed = psf
            .pad([(0, grid[0] - kh), (0, grid[1] - kw)], PadMode::Constant(0.0))
            .roll(&[-((kh / 2) as i64), -((kw / 2) as i64)], &[2, 3]);
        let transfer = Fft2::PLAIN_BACKWARD.forward(Complex::from_real(placed));
        Self { transfer, boundary, image, kernel: [kh, kw] }
    }

    /// Richardson–Lucy deconvolution (the maximum-likelihood iteration for Poisson data, the
    /// astronomers' classical baseline): from a flat image of the measurement's mean,
    /// `x ← x ⊙ Aᵀ(y₊ / Ax) / Aᵀ1` for `iterations` steps, with `y₊ = max(y, 0)`; non-negative
    /// throughout.
    pub fn richardson_lucy(&self, y: Tensor<4>, iterations: usize) -> Tensor<4> {
        let positive = y.clamp_min(0.0);
        let [n, c, ..] = positive.dims();
        let [h, w] = self.image;
        let device = positive.device();
        let weight = self.adjoint(Tensor::ones(positive.dims(), &device)).clamp_min(TINY);
        let mean = positive.clone().mean_dims(&[1, 2, 3]);
        let mut x = mean.expand([n, c, h, w]);
        for _ in 0..iterations {
            let ratio = positive.clone() / self.forward(x.clone()).clamp_min(TINY);
            // Aᵀ of a non-negative ratio is non-negative; the clamp removes the FFT's round-off.
            x = x * self.adjoint(ratio).clamp_min(0.0) / weight.clone();
        }
        x
    }

    /// Wiener deconvolution with a noise-to-signal power ratio per sample (`nsr`, `[N]`):
    /// `x = F⁻¹[conj(K)·F(y) / (|K|² + nsr)]` on the working grid (the measurement zero-padded
    /// into it; for the zero boundary, the linear 2×-padded filter of the galaxy reference),
    /// cropped to the image.
    pub fn wiener(&self, y: Tensor<4>, nsr: Tensor<1>) -> Tensor<4> {
        let fft = Fft2::PLAIN_BACKWARD;
        let spectrum = fft.forward(Complex::from_real(self.embed_measurement(y)));
        let denominator = self.transfer.clone().abs_sq() + nsr.unsqueeze_dims::<4>(&[1, 2, 3]);
        let filtered = self.transfer.clone().conj_mul(spectrum).mul_real(denominator.recip());
        self.crop_image(fft.inverse(filtered).re)
    }

    /// The boundary convention.
    pub fn boundary(&self) -> BlurBoundary {
        self.boundary
    }

    /// Kernel transfer function on the working grid (`[N|1, 1, P, Q]`, plain unnormalised FFT).
    pub fn transfer(&self) -> &Complex<4> {
        &self.transfer
    }

    /// Size `[rows, cols]` of the measurement.
    pub fn output_size(&self) -> [usize; 2] {
        let [h, w] = self.image;
        let [kh, kw] = self.kernel;
        match self.boundary {
            BlurBoundary::Circular | BlurBoundary::Zero => [h, w],
            BlurBoundary::Valid => [h - kh + 1, w - kw + 1],
        }
    }

    /// Where the measurement starts on the working grid.
    fn output_offset(&self) -> [usize; 2] {
        let [kh, kw] = self.kernel;
        match self.boundary {
            BlurBoundary::Circular | BlurBoundary::Zero => [0, 0],
            BlurBoundary::Valid => [kh - 1 - kh / 2, kw - 1 - kw / 2],
        }
    }

    fn grid(&self) -> [usize; 2] {
        let [.., p, q] = self.transfer.dims();
        [p, q]
    }

    /// Circular convolution (or correlation, with `conjugate`) on the working grid.
    fn filter(&self, x: Tensor<4>, conjugate: bool) -> Tensor<4> {
        let spectrum = Fft2::PLAIN_BACKWARD.forward(Complex::from_real(x));
        let filtered =
            if conjugate { self.transfer.clone().conj_mul(spectrum) } else { self.transfer.clone() * spectrum };
        Fft2::PLAIN_BACKWARD.inverse(filtered).re
    }

    /// An image `[.., H, W]` zero-padded into the working grid (at its origin).
    pub fn embed_image(&self, x: Tensor<4>) -> Tensor<4> {
        self.embed(x, self.image, [0, 0])
    }

    /// The image window of a working-grid tensor (the left inverse of [`Blur::embed_image`]).
    pub fn crop_image(&self, x: Tensor<4>) -> Tensor<4> {
        self.crop(x, self.image, [0, 0])
    }

    /// A measurement zero-padded into the working grid where [`LinearOperator::forward`] crops it
    /// from.
    pub fn embed_measurement(&self, y: Tensor<4>) -> Tensor<4> {
        self.embed(y, self.output_size(), self.output_offset())
    }

    /// Zero-pads `x` (of size `size`) at `offset` into the working grid.
    fn embed(&self, x: Tensor<4>, size: [usize; 2], offset: [usize; 2]) -> Tensor<4> {
        let [p, q] = self.grid();
        let pads = [(offset[0], p - offset[0] - size[0]), (offset[1], q - offset[1] - size[1])];
        if pads == [(0, 0), (0, 0)] { x } else { x.pad(pads, PadMode::Constant(0.0)) }
    }

    /// Crops a `size` window at `offset` out of the working grid.
    fn crop(&self, x: Tensor<4>, size: [usize; 2], offset: [usize; 2]) -> Tensor<4> {
        if size == self.grid() { x } else { x.narrow(2, offset[0], size[0]).narrow(3, offset[1], size[1]) }
    }
}

/// Floor of the divisors in [`Blur::richardson_lucy`].
const TINY: f32 = 1e-12;

impl LinearOperator for Blur {
    type Domain = Tensor<4>;
    type Range = Tensor<4>;

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.crop(self.filter(self.embed_image(x), false), self.output_size(), self.output_offset())
    }

    fn adjoint(&self, y: Tensor<4>) -> Tensor<4> {
        self.crop_image(self.filter(self.embed_measurement(y), true))
    }

    /// Closed form for the circular boundary: `x = F⁻¹[(F z + γ conj(K) F y) / (1 + γ|K|²)]`.
    fn prox_l2(&self, z: Tensor<4>, y: Tensor<4>, gamma: Tensor<1>) -> Tensor<4> {
        if self.boundary != BlurBoundary::Circular {
            return crate::operator::prox_l2_cg(self, z, y, gamma, Default::default());
        }
        let gamma = gamma.unsqueeze_dims::<4>(&[1, 2, 3]);
        let fft = Fft2::PLAIN_BACKWARD;
        let data = self.transfer.clone().conj_mul(fft.forward(Complex::from_real(y)));
        let rhs = fft.forward(Complex::from_real(z)) + data.mul_real(gamma.clone());
        let denominator = self.transfer.clone().abs_sq() * gamma + 1.0;
        fft.inverse(rhs.mul_real(denominator.recip())).re
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact non-negative object blurred without noise: Richardson–Lucy keeps it non-negative, keeps
    /// the flux, and gets closer to the truth (and to the data) the longer it runs; Wiener with a
    /// small noise-to-signal ratio deblurs it too.
    #[test]
    fn richardson_lucy_and_wiener_deblur_a_noiseless_positive_image() {
        let device = Device::flex();
        let (n, k) = (24, 7);
        let truth: Vec<f32> = (0..n * n)
            .map(|i| if (8..16).contains(&(i / n)) && (6..12).contains(&(i % n)) { 1.0 } else { 0.0 })
            .collect();
        let psf: Vec<f32> = (0..k * k)
            .map(|i| {
                let (a, b) = ((i / k) as f32 - 3.0, (i % k) as f32 - 3.0);
                (-(a * a + b * b) / 4.0).exp()
            })
            .collect();
        let total: f32 = psf.iter().sum();
        let psf =
            Tensor::<4>::from_data(TensorData::new(psf.iter().map(|v| v / total).collect(), [1, 1, k, k]), &device);
        let op = Blur::new(psf, [n, n], BlurBoundary::Zero);
        let x = Tensor::<4>::from_data(TensorData::new(truth, [1, 1, n, n]), &device);
        let y = op.forward(x.clone());
        let error = |e: Tensor<4>| (e.clone() - x.clone()).powi_scalar(2).sum().into_scalar::<f32>().sqrt();
        let residual = |e: Tensor<4>| (op.forward(e) - y.clone()).powi_scalar(2).sum().into_scalar::<f32>().sqrt();
        let (ten, fifty) = (op.richardson_lucy(y.clone(), 10), op.richardson_lucy(y.clone(), 50));
        assert!(fifty.clone().min().into_scalar::<f32>() >= 0.0);
        assert!(error(fifty.clone()) < error(ten.clone()) && error(ten.clone()) < error(y.clone()));
        assert!(residual(fifty.clone()) < residual(ten));
        let wiener = op.wiener(y.clone(), Tensor::from_floats([1e-4], &device));
        assert!(error(wiener) < 0.5 * error(y.clone()), "Wiener with a small NSR deblurs noiseless data");
        let flux = |t: Tensor<4>| op.forward(t).sum().into_scalar::<f32>();
        assert!((flux(fifty) - flux(x)).abs() < 1e-2 * flux(y.clone()), "flux is kept");
    }
}
