//! The linear-operator trait shared by every forward model, and the signals it acts on.
//!
//! Everything is batched: dimension 0 of every tensor is the sample index `N`, and an operator holds
//! one set of parameters per sample (mask, coil maps, PSF, …), or one set broadcast to all samples.
//! Inner products, norms and step sizes are therefore per sample (`Tensor<1>` of length `N`).

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::complex::Complex;

/// A batched element of a real Hilbert space: a real image `[N, C, H, W]` or a complex one.
/// Complex signals use the real inner product `Re⟨a, b⟩`, which is what gradients, conjugate
/// gradients and power iterations need.
pub trait Signal: Clone + Sized {
    /// Per-sample real inner product `Re Σ conj(a)·b`, shape `[N]`.
    fn dot(&self, other: &Self) -> Tensor<1>;
    /// `self + other`.
    fn add(self, other: Self) -> Self;
    /// `self − other`.
    fn sub(self, other: Self) -> Self;
    /// Multiplies sample `n` by `factor[n]` (`factor` has length `N` or 1).
    fn mul_per_sample(self, factor: Tensor<1>) -> Self;
    /// Multiplies by a scalar.
    fn scale(self, factor: f64) -> Self;
    /// Zeros of the same shape.
    fn zeros_like(&self) -> Self;
    /// Standard normal noise of the same shape, drawn on the host from `seed` (reproducible on
    /// every backend).
    fn randn_like(&self, seed: u64) -> Self;
    /// Number of samples `N`.
    fn batch_size(&self) -> usize;
    /// The network view of the signal: `[N, C', H, W]` real channels (complex → `2C` channels).
    fn to_channels(self) -> Tensor<4>;
    /// Inverse of [`Signal::to_channels`].
    fn from_channels(x: Tensor<4>) -> Self;
    /// Detaches from the autodiff graph.
    fn detach(self) -> Self;
    /// The real image used for metrics and display: the signal itself if real, its modulus if
    /// complex. Shape `[N, C, H, W]`.
    fn image(self) -> Tensor<4>;
}

fn per_sample(factor: Tensor<1>) -> Tensor<4> {
    factor.unsqueeze_dims::<4>(&[1, 2, 3])
}

fn randn(shape: [usize; 4], seed: u64, device: &Device) -> Tensor<4> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let len = shape.iter().product();
    let values: Vec<f32> = (0..len).map(|_| StandardNormal.sample(&mut rng)).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

impl Signal for Tensor<4> {
    fn dot(&self, other: &Self) -> Tensor<1> {
        let n = self.dims()[0];
        (self.clone() * other.clone()).reshape([n as i64, -1]).sum_dim(1).reshape([n])
    }
    fn add(self, other: Self) -> Self {
        self + other
    }
    fn sub(self, other: Self) -> Self {
        self - other
    }
    fn mul_per_sample(self, factor: Tensor<1>) -> Self {
        self * per_sample(factor)
    }
    fn scale(self, factor: f64) -> Self {
        self * factor
    }
    fn zeros_like(&self) -> Self {
        Tensor::zeros_like(self)
    }
    fn randn_like(&self, seed: u64) -> Self {
        randn(self.dims(), seed, &self.device())
    }
    fn batch_size(&self) -> usize {
        self.dims()[0]
    }
    fn to_channels(self) -> Tensor<4> {
        self
    }
    fn from_channels(x: Tensor<4>) -> Self {
        x
    }
    fn detach(self) -> Self {
        Tensor::detach(self)
    }
    fn image(self) -> Tensor<4> {
        self
    }
}

impl Signal for Complex<4> {
    fn dot(&self, other: &Self) -> Tensor<1> {
        self.re.dot(&other.re) + self.im.dot(&other.im)
    }
    fn add(self, other: Self) -> Self {
        self + other
    }
    fn sub(self, other: Self) -> Self {
        self - other
    }
    fn mul_per_sample(self, factor: Tensor<1>) -> Self {
        self.mul_real(per_sample(factor))
    }
    fn scale(self, factor: f64) -> Self {
        Complex::scale(self, factor)
    }
    fn zeros_like(&self) -> Self {
        Complex::new(self.re.zeros_like(), self.im.zeros_like())
    }
    fn randn_like(&self, seed: u64) -> Self {
        let device = self.device();
        Complex::new(randn(self.dims(), seed, &device), randn(self.dims(), seed ^ 0x9e37_79b9_7f4a_7c15, &device))
    }
    fn batch_size(&self) -> usize {
        self.dims()[0]
    }
    fn to_channels(self) -> Tensor<4> {
        Complex::to_channels(self)
    }
    fn from_channels(x: Tensor<4>) -> Self {
        Complex::from_channels(x)
    }
    fn detach(self) -> Self {
        Complex::detach(self)
    }
    fn image(self) -> Tensor<4> {
        self.abs()
    }
}

/// Stopping rule of the conjugate-gradient solver used by [`LinearOperator::prox_l2`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CgOptions {
    /// Maximum number of iterations.
    pub max_iter: usize,
    /// Stop once every sample's residual norm is below `tol` times its right-hand-side norm.
    pub rel_tol: f64,
}

impl Default for CgOptions {
    fn default() -> Self {
        Self { max_iter: 100, rel_tol: 1e-6 }
    }
}

/// A batched linear operator `A: Domain → Range` with its adjoint.
///
/// Implementations hold their per-sample parameters as tensors, so they are built per batch and
/// can be passed into a model's forward pass; every method is differentiable with respect to its
/// signal arguments (and to the parameters, where they are tensors).
pub trait LinearOperator {
    /// Signal space of the unknown `x`.
    type Domain: Signal;
    /// Signal space of the measurement `y`.
    type Range: Signal;

    /// `A x`.
    fn forward(&self, x: Self::Domain) -> Self::Range;

    /// `Aᴴ y`.
    fn adjoint(&self, y: Self::Range) -> Self::Domain;

    /// The normal operator `AᴴA x`.
    fn normal(&self, x: Self::Domain) -> Self::Domain {
        self.adjoint(self.forward(x))
    }

    /// `argmin_x γ/2‖Ax − y‖² + ½‖x − z‖²`, i.e. the solution of `(I + γAᴴA) x = z + γAᴴy`, with
    /// one `γ` per sample (`gamma` has length `N` or 1). The default solves by conjugate gradients
    /// started at `z`; operators that are diagonal in some basis override it with a closed form.
    fn prox_l2(&self, z: Self::Domain, y: Self::Range, gamma: Tensor<1>) -> Self::Domain {
        prox_l2_cg(self, z, y, gamma, CgOptions::default())
    }

    /// Per-sample operator norm `‖A‖₂ = sqrt(λ_max(AᴴA))` by `iterations` power iterations started
    /// from `start` (any non-zero signal of the domain's shape, e.g. `randn_like`).
    fn operator_norm(&self, start: Self::Domain, iterations: usize) -> Vec<f64> {
        let mut x = normalise(start);
        let mut eigenvalue = vec![0.0; x.batch_size()];
        for _ in 0..iterations {
            let ax = self.normal(x.clone());
            eigenvalue = to_vec(x.dot(&ax));
            x = normalise(ax);
        }
        eigenvalue.into_iter().map(|l| l.max(0.0).sqrt()).collect()
    }
}

/// Per-sample Euclidean norms as host values.
pub fn norms<S: Signal>(x: &S) -> Vec<f64> {
    to_vec(x.dot(x)).into_iter().map(|v| v.max(0.0).sqrt()).collect()
}

fn normalise<S: Signal>(x: S) -> S {
    let norm = x.dot(&x).sqrt().clamp_min(1e-30);
    x.mul_per_sample(norm.recip())
}

/// A `Tensor<1>` as `f64` host values.
pub fn to_vec(t: Tensor<1>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64 data")
}

/// Conjugate-gradient solution of `(I + γAᴴA) x = z + γAᴴy` (see [`LinearOperator::prox_l2`]).
/// The system is symmetric positive definite for `γ ≥ 0`. Every sample runs the same number of
/// iterations (the batch stops when all have converged), so the result is differentiable by
/// unrolling.
pub fn prox_l2_cg<Op: LinearOperator + ?Sized>(
    op: &Op,
    z: Op::Domain,
    y: Op::Range,
    gamma: Tensor<1>,
    options: CgOptions,
) -> Op::Domain {
    let system = |v: Op::Domain| v.clone().add(op.normal(v).mul_per_sample(gamma.clone()));
    let rhs = z.clone().add(op.adjoint(y).mul_per_sample(gamma.clone()));
    let rhs_norm = to_vec(rhs.dot(&rhs));
    let mut x = z;
    let mut r = rhs.sub(system(x.clone()));
    let mut p = r.clone();
    let mut rr = r.dot(&r);
    for _ in 0..options.max_iter {
        let converged = to_vec(rr.clone())
            .iter()
            .zip(&rhs_norm)
            .all(|(res, b)| *res <= options.rel_tol * options.rel_tol * b.max(1e-30));
        if converged {
            break;
        }
        let ap = system(p.clone());
        let alpha = rr.clone() / p.dot(&ap).clamp_min(1e-30);
        x = x.add(p.clone().mul_per_sample(alpha.clone()));
        r = r.sub(ap.mul_per_sample(alpha));
        let rr_new = r.dot(&r);
        let beta = rr_new.clone() / rr.clamp_min(1e-30);
        p = r.clone().add(p.mul_per_sample(beta));
        rr = rr_new;
    }
    x
}

/// `c·A`: an operator times a constant, e.g. brought to unit norm (`c = 1/‖A‖`) so that unrolled
/// step sizes are in units of `1/‖A‖²` and `Aᴴy` is on the scale of the image.
#[derive(Clone, Debug)]
pub struct Scaled<Op> {
    /// `A`.
    pub inner: Op,
    /// `c`.
    pub factor: f64,
}

impl<Op: LinearOperator> Scaled<Op> {
    /// `A / ‖A‖`, the norm from `iterations` power iterations started at `start` (sample 0's
    /// estimate is used: the operator must be the same for every sample).
    pub fn unit_norm(inner: Op, start: Op::Domain, iterations: usize) -> Self {
        let norm = inner.operator_norm(start, iterations)[0];
        Self { inner, factor: 1.0 / norm.max(1e-30) }
    }
}

impl<Op: LinearOperator> LinearOperator for Scaled<Op> {
    type Domain = Op::Domain;
    type Range = Op::Range;

    fn forward(&self, x: Op::Domain) -> Op::Range {
        self.inner.forward(x).scale(self.factor)
    }

    fn adjoint(&self, y: Op::Range) -> Op::Domain {
        self.inner.adjoint(y).scale(self.factor)
    }

    /// The inner operator's prox: `γ/2‖cAx − y‖² = γc²/2‖Ax − y/c‖²`.
    fn prox_l2(&self, z: Op::Domain, y: Op::Range, gamma: Tensor<1>) -> Op::Domain {
        let c = self.factor;
        self.inner.prox_l2(z, y.scale(1.0 / c), gamma.mul_scalar(c * c))
    }
}
