//! DR-CG-Net, the deep regularized compound-Gaussian network (Lyons, Raj & Cheney, IEEE TCI 2024;
//! spec `dr-cg-net.md`), for compressive sensing and few-view CT, on any operator with the
//! real-image view.
//!
//! The image is `c = z ⊙ u`, a positive scale `z` times a Gaussian `u ~ N(0, P_u)`, and the network
//! unrolls block-coordinate descent on `½‖y − A(z⊙u)‖² + ½uᵀP_u⁻¹u + R(z)` with a learned `R`:
//! - `z₀ = Aᵀy` clipped to `[0, b]` (the spec's `Aᵀy/‖A‖₂`: the compressed-sensing and CT
//!   operators are brought to unit norm), `u₀ = T(z₀)`;
//! - the u-step, Tikhonov in closed form: `T(z) = P_u A_zᵀ(λI + A_z P_u A_zᵀ)⁻¹y` with
//!   `A_z = A·diag(z)`, the `m × m` system solved per sample by conjugate gradients (matrix-free:
//!   only `A` and `Aᵀ`, so it serves 128×128 images as well as 32×32 ones);
//! - iteration `k = 1 … K`: `J` z-sub-steps with `u = u_{k−1}` fixed, each a data step
//!   `r = z − η·clip_B(v)` on the gradient `v = u ⊙ Aᵀ(A(z⊙u) − y)` of `½‖y − A(z⊙u)‖²` in `z`
//!   (the paper's sign; the reference code's is the opposite), `clip_B(v) = v / max(1, ‖v‖/B)`,
//!   a learned step `η` per sub-step (initially 1), then a residual CNN `W` as the prox (ISTA:
//!   `z = r + W(r)`) or as `−η∇R` (PGD: `z = r + W(z)`), then `z = relu(z)`; and `u_k = T(z_k)`;
//! - the output `x = z_K ⊙ u_K`, refined by one more ISTA sub-step with `u = 1` (no projection).
//!
//! With `basis = "dct"` the network estimates the coefficients `c = z ⊙ u` of the image in the
//! orthonormal 2-D DCT, `x = Φc`: every `A` above becomes `AΦ` (so `z₀ = ΦᵀAᵀy` clipped), and
//! each returned estimate is mapped back to an image by `Φ` (the reference's `use_sparsity` with
//! Φ = DCT, which its compressive-sensing figure uses).
//!
//! Every sub-step has its own CNN (`D` 3×3 convolutions without bias, 32 features, ReLU between;
//! the last one starts at zero, so each sub-step starts as its data step). `P_u` is learned and
//! shared: `max(p, ε)·I` (`const`) or `diag(max(d, ε))` (`diag`), ε = 1e-4; λ is fixed. Returns
//! `z_k ⊙ u_k` for every `k`, then the refined image.

use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::{Dct2, LinearOperator, Physics, Signal};

use crate::blocks::ResidualCnn;
use crate::reconstructor::Reconstructor;

/// The smallest covariance entry, ε.
const MIN_COVARIANCE: f64 = 1e-4;

/// The u-step's conjugate gradients stop at this residual relative to `‖y‖`.
pub const CG_TOLERANCE: f64 = 1e-4;

/// How the z-step uses its CNN.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZStep {
    /// The CNN as the prox: `z = r + W(r)`.
    #[default]
    Ista,
    /// The CNN as the regulariser's gradient step: `z = r + W(z)`.
    Pgd,
}

/// The learned covariance `P_u` of `u`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Covariance {
    /// `max(p, ε)·I`, one learned `p`.
    Const {
        /// Initial `p` (the reference's 0.1).
        initial: f64,
    },
    /// `diag(max(d, ε))`, one learned variance per pixel.
    Diag {
        /// Initial `d` of every pixel.
        initial: f64,
    },
}

/// The representation `c` the network estimates, with `x = Φc`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The pixels themselves (`Φ = I`, the reference's default).
    #[default]
    Pixel,
    /// The orthonormal 2-D DCT-II of each channel ([`Dct2`]).
    Dct,
}

impl Default for Covariance {
    fn default() -> Self {
        Covariance::Const { initial: 0.1 }
    }
}

/// Hyperparameters of [`DrCgNet`]; the defaults are the reference's (K 3, J 4, D 8, 32 features,
/// ISTA, `const` covariance 0.1, λ 1, B 1, with the refinement block).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrCgNetConfig {
    /// Unrolled iterations `K`.
    #[serde(default = "three")]
    pub iterations: usize,
    /// z-sub-steps per iteration `J`.
    #[serde(default = "four")]
    pub z_steps: usize,
    /// Convolutions per CNN `D`.
    #[serde(default = "eight")]
    pub depth: usize,
    /// Channels of the CNNs' hidden layers.
    #[serde(default = "thirty_two")]
    pub features: usize,
    /// ISTA or PGD sub-steps.
    #[serde(default)]
    pub z_step: ZStep,
    /// `P_u`.
    #[serde(default)]
    pub covariance: Covariance,
    /// The Tikhonov weight λ of the u-step.
    #[serde(default = "one")]
    pub tikhonov: f64,
    /// The upper bound `b` of `z₀` (the reference: 0.5 for Gaussian CS, 10 for CT; here images
    /// are scaled so that `max |Aᵀy| = 1`).
    #[serde(default = "one")]
    pub z_max: f64,
    /// The gradient-norm bound `B` of the data steps.
    #[serde(default = "one")]
    pub gradient_clip: f64,
    /// The final ISTA sub-step on `z_K ⊙ u_K`.
    #[serde(default = "crate::context::on")]
    pub refinement: bool,
    /// Conjugate-gradient iterations of each u-step.
    #[serde(default = "twenty")]
    pub cg_iterations: usize,
    /// Pixels or DCT coefficients.
    #[serde(default)]
    pub basis: Basis,
}

fn three() -> usize {
    3
}
fn four() -> usize {
    4
}
fn eight() -> usize {
    8
}
fn thirty_two() -> usize {
    32
}
fn twenty() -> usize {
    20
}
fn one() -> f64 {
    1.0
}

impl Default for DrCgNetConfig {
    fn default() -> Self {
        Self {
            iterations: three(),
            z_steps: four(),
            depth: eight(),
            features: thirty_two(),
            z_step: ZStep::default(),
            covariance: Covariance::default(),
            tikhonov: one(),
            z_max: one(),
            gradient_clip: one(),
            refinement: true,
            cg_iterations: twenty(),
            basis: Basis::default(),
        }
    }
}

impl DrCgNetConfig {
    /// Checks the hyperparameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 { Ok(()) } else { Err(format!("{name} must be a positive number, got {v}")) }
        };
        if self.iterations == 0 || self.z_steps == 0 || self.features == 0 || self.cg_iterations == 0 {
            return Err("iterations, z_steps, features and cg_iterations must be at least 1".into());
        }
        if self.depth < 2 {
            return Err(format!("depth must be at least 2, got {}", self.depth));
        }
        let (Covariance::Const { initial } | Covariance::Diag { initial }) = self.covariance;
        positive("covariance.initial", initial)?;
        positive("tikhonov", self.tikhonov)?;
        positive("z_max", self.z_max)?;
        positive("gradient_clip", self.gradient_clip)
    }

    /// The network for images of `[C, H, W]`.
    pub fn init(&self, [c, h, w]: [usize; 3], device: &Device) -> DrCgNet {
        let substeps = self.iterations * self.z_steps + usize::from(self.refinement);
        let covariance = match self.covariance {
            Covariance::Const { initial } => Tensor::full([1, 1, 1, 1], initial, device),
            Covariance::Diag { initial } => Tensor::full([1, c, h, w], initial, device),
        };
        DrCgNet {
            steps: Param::from_tensor(Tensor::ones([substeps], device)),
            cnns: (0..substeps).map(|_| ResidualCnn::new(c, self.features, self.depth, false, device)).collect(),
            covariance: Param::from_tensor(covariance),
            iterations: self.iterations,
            z_steps: self.z_steps,
            pgd: self.z_step == ZStep::Pgd,
            tikhonov: self.tikhonov,
            z_max: self.z_max,
            gradient_clip: self.gradient_clip,
            refinement: self.refinement,
            cg_iterations: self.cg_iterations,
            dct: self.basis == Basis::Dct,
        }
    }
}

/// The network (see the module docs).
#[derive(Module, Debug)]
pub struct DrCgNet {
    /// `η` of every sub-step, the refinement's last.
    steps: Param<Tensor<1>>,
    /// `W` of every sub-step, the refinement's last.
    cnns: Vec<ResidualCnn>,
    /// `p` (`[1, 1, 1, 1]`) or `d` (`[1, C, H, W]`), before the floor ε.
    covariance: Param<Tensor<4>>,
    iterations: usize,
    z_steps: usize,
    pgd: bool,
    tikhonov: f64,
    z_max: f64,
    gradient_clip: f64,
    refinement: bool,
    cg_iterations: usize,
    /// Coefficients in the DCT rather than pixels.
    dct: bool,
}

/// `A` and `Aᵀ` on real images `[N, C, H, W]` and measurements.
pub struct RealOperator<F, B> {
    pub forward: F,
    pub adjoint: B,
}

impl<F: Fn(Tensor<4>) -> Tensor<4>, B: Fn(Tensor<4>) -> Tensor<4>> RealOperator<F, B> {
    /// The u-step `T(z) = P A_zᵀ(λI + A_z P A_zᵀ)⁻¹y` (`P` broadcast over the images) by at most
    /// `iterations` steps of conjugate gradients per sample from `w = 0`. A sample stops once its
    /// residual is below [`CG_TOLERANCE`] of `‖y‖`: its later steps are zero, so no division by
    /// a vanishing residual reaches the gradient.
    pub fn tikhonov_u(&self, z: Tensor<4>, y: Tensor<4>, p: Tensor<4>, lambda: f64, iterations: usize) -> Tensor<4> {
        let weight = p.clone() * z.clone().square();
        let system = |w: Tensor<4>| w.clone().mul_scalar(lambda) + (self.forward)(weight.clone() * (self.adjoint)(w));
        let mut w = y.zeros_like();
        let mut residual = y;
        let mut direction = residual.clone();
        let mut rs = residual.dot(&residual);
        let floor = rs.clone().detach().mul_scalar(CG_TOLERANCE * CG_TOLERANCE);
        for _ in 0..iterations {
            let done = rs.clone().detach().lower_equal(floor.clone());
            if done.clone().all().into_scalar::<bool>() {
                break;
            }
            let md = system(direction.clone());
            // Finished samples divide 1 by 1 and take a zero step.
            let ones = rs.ones_like();
            let safe_rs = rs.clone().mask_where(done.clone(), ones.clone());
            let curvature = direction.dot(&md).mask_where(done.clone(), ones);
            let alpha = (safe_rs.clone() / curvature).mask_fill(done.clone(), 0.0);
            w = w + direction.clone().mul_per_sample(alpha.clone());
            residual = residual - md.mul_per_sample(alpha);
            let next = residual.dot(&residual);
            let beta = (next.clone() / safe_rs).mask_fill(done, 0.0);
            direction = residual.clone() + direction.mul_per_sample(beta);
            rs = next;
        }
        p * z * (self.adjoint)(w)
    }

    /// The gradient of `½‖A(z⊙u) − y‖²` in `z`: `u ⊙ Aᵀ(A(z⊙u) − y)`.
    pub fn data_gradient(&self, z: Tensor<4>, u: Tensor<4>, y: Tensor<4>) -> Tensor<4> {
        u.clone() * (self.adjoint)((self.forward)(z * u) - y)
    }
}

impl DrCgNet {
    /// `max(P_u, ε)`.
    fn covariance(&self) -> Tensor<4> {
        self.covariance.val().clamp_min(MIN_COVARIANCE)
    }

    /// Sub-step `i` from `z` with `u` fixed (see the module docs), projected or not.
    fn substep<F, B>(
        &self,
        op: &RealOperator<F, B>,
        i: usize,
        z: Tensor<4>,
        u: Tensor<4>,
        y: Tensor<4>,
        project: bool,
    ) -> Tensor<4>
    where
        F: Fn(Tensor<4>) -> Tensor<4>,
        B: Fn(Tensor<4>) -> Tensor<4>,
    {
        let v = op.data_gradient(z.clone(), u, y);
        let norm = v.dot(&v).clamp_min(1e-24).sqrt();
        let clipped = v.mul_per_sample(norm.div_scalar(self.gradient_clip).clamp_min(1.0).recip());
        let r = z.clone() - clipped.mul_per_sample(self.steps.val().narrow(0, i, 1));
        let cnn = &self.cnns[i];
        let next = if self.pgd { r + cnn.correction(z) } else { r.clone() + cnn.correction(r) };
        if project { next.clamp_min(0.0) } else { next }
    }
}

impl<Op: Physics> Reconstructor<Op> for DrCgNet {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        let view = op.real().expect("DR-CG-Net needs the real-image view (checked when the config is loaded)");
        let adjoint = |r: Tensor<4>| (view.image.to)(op.adjoint((view.measurement.from)(r)));
        let y = (view.measurement.to)(y);
        let aty = adjoint(y.clone());
        let basis = self.dct.then(|| {
            let [.., h, w] = aty.dims();
            Dct2::new(h, w, &aty.device())
        });
        let synthesis = |c: Tensor<4>| match &basis {
            Some(b) => b.forward(c),
            None => c,
        };
        let analysis = |x: Tensor<4>| match &basis {
            Some(b) => b.adjoint(x),
            None => x,
        };
        let real = RealOperator {
            forward: |c: Tensor<4>| (view.measurement.to)(op.forward((view.image.from)(synthesis(c)))),
            adjoint: |r: Tensor<4>| analysis(adjoint(r)),
        };
        let p = self.covariance();
        let u_step = |z: Tensor<4>| real.tikhonov_u(z, y.clone(), p.clone(), self.tikhonov, self.cg_iterations);
        let mut z = analysis(aty).clamp(0.0, self.z_max);
        let mut u = u_step(z.clone());
        let mut iterates = Vec::with_capacity(self.iterations + 1);
        for k in 0..self.iterations {
            for j in 0..self.z_steps {
                z = self.substep(&real, k * self.z_steps + j, z, u.clone(), y.clone(), true);
            }
            u = u_step(z.clone());
            iterates.push(z.clone() * u.clone());
        }
        if self.refinement {
            let c = z * u;
            let ones = c.ones_like();
            iterates.push(self.substep(&real, self.iterations * self.z_steps, c, ones, y, false));
        }
        iterates.into_iter().map(|c| (view.image.from)(synthesis(c))).collect()
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;
    use unroll_physics::{CompressedSensing, LinearOperator};

    use crate::test_support::{dense, host, solve};

    use super::*;

    #[test]
    fn parameter_count_matches_the_reference() {
        // 13 CNNs of 8 bias-free convolutions (1→32, 6 × 32→32, 32→1) = 13 · 55 872, 13 steps, one p.
        let model = DrCgNetConfig::default().init([1, 32, 32], &Device::flex());
        assert_eq!(model.num_params(), 726_350);
        let diag = DrCgNetConfig { covariance: Covariance::Diag { initial: 0.1 }, ..Default::default() };
        assert_eq!(diag.init([1, 32, 32], &Device::flex()).num_params(), 726_349 + 32 * 32);
    }

    /// The CG u-step equals `P A_zᵀ(λI + A_z P A_zᵀ)⁻¹y` solved densely in f64, for a scalar and a
    /// per-pixel covariance, to the accuracy its stopping rule promises: CG stops once
    /// `‖r‖ ≤ tol·‖y‖`, so `‖w − w*‖ ≤ tol·‖y‖/λ` (M ⪰ λI) and `‖u − u*‖ ≤ max|pz|·‖A‖_F·tol·‖y‖/λ`.
    #[test]
    fn the_u_step_matches_a_dense_solve() {
        fn norm(v: impl Iterator<Item = f64>) -> f64 {
            v.map(|e| e * e).sum::<f64>().sqrt()
        }
        let device = Device::flex();
        let (n, m) = (4 * 4, 7);
        let cs = CompressedSensing::gaussian(m, [1, 4, 4], 3, &device);
        let op = RealOperator { forward: |x| cs.forward(x), adjoint: |r| cs.adjoint(r) };
        let (a, _) = dense(|x| cs.forward(x), [1, 4, 4], &device);
        let a_frobenius = a.iter().map(|v| v * v).sum::<f64>().sqrt();
        let z = Tensor::<4>::random([2, 1, 4, 4], Distribution::Uniform(0.1, 1.0), &device);
        let y = Tensor::<4>::random([2, 1, 1, m], Distribution::Normal(0.0, 1.0), &device);
        for p in [
            Tensor::full([1, 1, 1, 1], 0.3, &device),
            Tensor::random([1, 1, 4, 4], Distribution::Uniform(0.1, 2.0), &device),
        ] {
            let lambda = 0.5;
            let u = host(op.tikhonov_u(z.clone(), y.clone(), p.clone(), lambda, 30));
            let (zs, ys) = (host(z.clone()), host(y.clone()));
            let ps = host(p.clone() * z.ones_like().narrow(0, 0, 1));
            for s in 0..2 {
                let zn = &zs[s * n..(s + 1) * n];
                let ysample = &ys[s * m..(s + 1) * m];
                // M = λI + A diag(p z²) Aᵀ, then w = M⁻¹ y and u = p z Aᵀ w.
                let mut matrix = vec![0.0; m * m];
                for i in 0..m {
                    for k in 0..m {
                        let mut sum = if i == k { lambda } else { 0.0 };
                        for j in 0..n {
                            sum += a[i * n + j] * ps[j] * zn[j] * zn[j] * a[k * n + j];
                        }
                        matrix[i * m + k] = sum;
                    }
                }
                let w = solve(matrix, ysample.to_vec());
                let expected: Vec<f64> =
                    (0..n).map(|j| ps[j] * zn[j] * (0..m).map(|i| a[i * n + j] * w[i]).sum::<f64>()).collect();
                let error = norm((0..n).map(|j| u[s * n + j] - expected[j]));
                let max_pz = (0..n).map(|j| (ps[j] * zn[j]).abs()).fold(0.0, f64::max);
                let y_norm = norm(ysample.iter().copied());
                // The stopping rule's bound, plus f32 rounding of the result.
                let bound =
                    max_pz * a_frobenius * CG_TOLERANCE * y_norm / lambda + 1e-5 * norm(expected.iter().copied());
                assert!(error <= bound, "sample {s}: ‖u − u*‖ = {error:e} > {bound:e}");
            }
        }
    }

    /// The z-step's data gradient is autodiff's gradient of `½‖A(z⊙u) − y‖²` in `z` (the paper's
    /// sign).
    #[test]
    fn the_data_gradient_is_the_gradient_of_the_data_term() {
        let device = Device::flex().autodiff();
        let cs = CompressedSensing::gaussian(9, [1, 4, 4], 5, &device);
        let op = RealOperator { forward: |x| cs.forward(x), adjoint: |r| cs.adjoint(r) };
        let z = Tensor::<4>::random([2, 1, 4, 4], Distribution::Uniform(0.0, 1.0), &device);
        let u = Tensor::<4>::random([2, 1, 4, 4], Distribution::Normal(0.0, 1.0), &device);
        let y = Tensor::<4>::random([2, 1, 1, 9], Distribution::Normal(0.0, 1.0), &device);
        let tracked = z.clone().require_grad();
        let residual = cs.forward(tracked.clone() * u.clone()) - y.clone();
        let grads = (residual.square().sum() * 0.5).backward();
        let autodiff = host(tracked.grad(&grads).unwrap());
        let explicit = host(op.data_gradient(z, u, y));
        for (a, b) in explicit.iter().zip(&autodiff) {
            assert!((a - b).abs() < 1e-4 * b.abs().max(1.0), "{a} vs autodiff {b}");
        }
    }
}
