//! Complex tensors stored as two real planes.
//!
//! Burn has no complex dtype, so a complex tensor is a pair of real tensors of the same shape.
//! Images use the shape `[N, C, H, W]` (batch, channel or coil, rows, columns). Convolutional
//! networks consume the *channel layout* `[N, 2C, H, W]`: for every channel `c` the real part sits
//! at channel `2c` and the imaginary part at `2c + 1`, so a single-coil image becomes `(N, 2, H, W)`
//! exactly as in DIRECT and fastMRI.

use burn::prelude::*;

/// A complex tensor: `re + i·im`, both planes of identical shape.
#[derive(Clone, Debug)]
pub struct Complex<const D: usize = 4> {
    /// Real part.
    pub re: Tensor<D>,
    /// Imaginary part.
    pub im: Tensor<D>,
}

impl<const D: usize> Complex<D> {
    /// Builds a complex tensor from its planes. Panics if the shapes differ (a programming error).
    pub fn new(re: Tensor<D>, im: Tensor<D>) -> Self {
        assert_eq!(re.dims(), im.dims(), "complex planes must have the same shape");
        Self { re, im }
    }

    /// A real tensor seen as complex (zero imaginary part).
    pub fn from_real(re: Tensor<D>) -> Self {
        let im = re.zeros_like();
        Self { re, im }
    }

    /// All-zero complex tensor.
    pub fn zeros(shape: [usize; D], device: &Device) -> Self {
        Self { re: Tensor::zeros(shape, device), im: Tensor::zeros(shape, device) }
    }

    /// Shape of either plane.
    pub fn dims(&self) -> [usize; D] {
        self.re.dims()
    }

    /// Device of the planes.
    pub fn device(&self) -> Device {
        self.re.device()
    }

    /// `conj(self) · other`, the product used by adjoints and coil combination.
    pub fn conj_mul(self, other: Self) -> Self {
        let re = self.re.clone() * other.re.clone() + self.im.clone() * other.im.clone();
        let im = self.re * other.im - self.im * other.re;
        Self { re, im }
    }

    /// Complex conjugate.
    pub fn conj(self) -> Self {
        Self { re: self.re, im: self.im.neg() }
    }

    /// Multiplies both planes by a real tensor (broadcasting).
    pub fn mul_real(self, factor: Tensor<D>) -> Self {
        Self { re: self.re * factor.clone(), im: self.im * factor }
    }

    /// Multiplies by a real scalar.
    pub fn scale(self, factor: f64) -> Self {
        Self { re: self.re * factor, im: self.im * factor }
    }

    /// `|z|²`.
    pub fn abs_sq(self) -> Tensor<D> {
        self.re.clone() * self.re + self.im.clone() * self.im
    }

    /// `|z|`.
    pub fn abs(self) -> Tensor<D> {
        self.abs_sq().sqrt()
    }

    /// Sum over one dimension, keeping it with size 1 (e.g. the coil sum, dimension 1).
    pub fn sum_dim(self, dim: usize) -> Self {
        Self { re: self.re.sum_dim(dim), im: self.im.sum_dim(dim) }
    }

    /// Applies the same shape-preserving or shape-changing real map to both planes.
    pub fn map<const E: usize>(self, f: impl Fn(Tensor<D>) -> Tensor<E>) -> Complex<E> {
        Complex { re: f(self.re), im: f(self.im) }
    }

    /// Detaches both planes from the autodiff graph.
    pub fn detach(self) -> Self {
        self.map(|t| t.detach())
    }
}

impl<const D: usize> std::ops::Mul for Complex<D> {
    type Output = Self;

    /// Complex product (broadcasting like Burn's element-wise ops).
    fn mul(self, other: Self) -> Self {
        let re = self.re.clone() * other.re.clone() - self.im.clone() * other.im.clone();
        let im = self.re * other.im + self.im * other.re;
        Self { re, im }
    }
}

impl<const D: usize> std::ops::Add for Complex<D> {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self { re: self.re + other.re, im: self.im + other.im }
    }
}

impl<const D: usize> std::ops::Sub for Complex<D> {
    type Output = Self;

    fn sub(self, other: Self) -> Self {
        Self { re: self.re - other.re, im: self.im - other.im }
    }
}

impl Complex<4> {
    /// Converts `[N, C, H, W]` complex to the channel layout `[N, 2C, H, W]` (re, im interleaved per channel).
    pub fn to_channels(self) -> Tensor<4> {
        let [n, c, h, w] = self.dims();
        Tensor::stack::<5>(vec![self.re, self.im], 2).reshape([n, 2 * c, h, w])
    }

    /// Inverse of [`Complex::to_channels`]: `[N, 2C, H, W]` → `[N, C, H, W]` complex. The channel count must be even.
    pub fn from_channels(x: Tensor<4>) -> Self {
        let [n, c2, h, w] = x.dims();
        assert!(c2 % 2 == 0, "channel layout needs an even channel count, got {c2}");
        let x = x.reshape([n, c2 / 2, 2, h, w]);
        let re = x.clone().narrow(2, 0, 1).reshape([n, c2 / 2, h, w]);
        let im = x.narrow(2, 1, 1).reshape([n, c2 / 2, h, w]);
        Self { re, im }
    }

    /// Root-sum-of-squares over the coil dimension (1): `[N, C, H, W]` → `[N, 1, H, W]`.
    pub fn rss(self) -> Tensor<4> {
        self.abs_sq().sum_dim(1).sqrt()
    }
}
