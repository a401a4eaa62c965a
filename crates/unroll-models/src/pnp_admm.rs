//! Unrolled plug-and-play ADMM (or half-quadratic splitting) over any linear operator: deepinv's
//! unfolded `ADMM`/`HQS` with a DnCNN prior (`library-anchors.md` §4.3), trained end to end.
//!
//! With `z₀ = Aᴴy` and `u₀ = 0`, for `k = 1..K`:
//! - data step: `x_k = argmin_x γ_k/2‖Ax − y‖² + ½‖x − (z_{k−1} − u_{k−1})‖²`, the operator's
//!   [`LinearOperator::prox_l2`] (closed form where the operator has one, CG otherwise);
//! - prior step: `z_k = D_k(x_k + u_{k−1})`, with the denoiser `D_k(v) = v + λ_k·R_k(v)`, `R_k` a
//!   DnCNN ([`ResidualCnn`]) on the signal's channels and `λ_k` the learned denoiser strength
//!   (0: no denoising, 1: the full residual);
//! - dual step: `u_k = u_{k−1} + x_k − z_k` (ADMM; half-quadratic splitting keeps `u ≡ 0`).
//!
//! The step sizes `γ_k = exp(g_k) > 0` and strengths `λ_k` are learned per iteration; the DnCNN is
//! one for all iterations (`tied`, deepinv's default for an unfolded prior) or one each. Returns
//! `z_1 … z_K`.

use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::{LinearOperator, Signal};

use crate::blocks::ResidualCnn;
use crate::dncnn::DnCnnConfig;
use crate::reconstructor::Reconstructor;

/// How the unrolled iteration splits data term and prior.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Splitting {
    /// ADMM with a scaled dual variable.
    #[default]
    Admm,
    /// Half-quadratic splitting: ADMM without the dual variable.
    Hqs,
}

/// Hyperparameters of [`UnrolledPnp`]. The defaults are the configuration of `unroll bench
/// pnp_admm`: ADMM, 5 iterations, one tied DnCNN of depth 7 and 64 channels with bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnrolledPnpConfig {
    /// Number of unrolled iterations `K`.
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    /// ADMM or half-quadratic splitting.
    #[serde(default)]
    pub splitting: Splitting,
    /// One denoiser shared by every iteration instead of one each.
    #[serde(default = "crate::context::on")]
    pub tied: bool,
    /// The denoiser.
    #[serde(default)]
    pub denoiser: DnCnnConfig,
    /// Initial data-step size `γ_k` (the weight of the data term against `½‖x − v‖²`).
    #[serde(default = "default_gamma")]
    pub initial_gamma: f64,
    /// Initial denoiser strength `λ_k`.
    #[serde(default = "default_strength")]
    pub initial_strength: f64,
}

fn default_iterations() -> usize {
    5
}
fn default_gamma() -> f64 {
    1.0
}
fn default_strength() -> f64 {
    1.0
}

impl Default for UnrolledPnpConfig {
    fn default() -> Self {
        Self {
            iterations: default_iterations(),
            splitting: Splitting::default(),
            tied: true,
            denoiser: DnCnnConfig::default(),
            initial_gamma: default_gamma(),
            initial_strength: default_strength(),
        }
    }
}

impl UnrolledPnpConfig {
    /// Checks the hyperparameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        if self.iterations == 0 {
            return Err("iterations must be at least 1".into());
        }
        self.denoiser.validate().map_err(|m| format!("denoiser.{m}"))?;
        if !(self.initial_gamma > 0.0 && self.initial_gamma.is_finite()) {
            return Err(format!("initial_gamma must be a positive number, got {}", self.initial_gamma));
        }
        if !self.initial_strength.is_finite() {
            return Err(format!("initial_strength must be finite, got {}", self.initial_strength));
        }
        Ok(())
    }

    /// A network for signals with `channels` network channels (see [`Signal::to_channels`]).
    pub fn init(&self, channels: usize, device: &Device) -> UnrolledPnp {
        let count = if self.tied { 1 } else { self.iterations };
        UnrolledPnp {
            log_gammas: Param::from_tensor(Tensor::full([self.iterations], self.initial_gamma.ln(), device)),
            strengths: Param::from_tensor(Tensor::full([self.iterations], self.initial_strength, device)),
            denoisers: (0..count).map(|_| self.denoiser.cnn(channels, device)).collect(),
            dual: self.splitting == Splitting::Admm,
        }
    }
}

/// The unrolled plug-and-play network (see the module docs).
#[derive(Module, Debug)]
pub struct UnrolledPnp {
    /// `g_k = ln γ_k`.
    log_gammas: Param<Tensor<1>>,
    /// `λ_k`.
    strengths: Param<Tensor<1>>,
    /// `R_1 … R_K`, or a single shared `R`.
    denoisers: Vec<ResidualCnn>,
    /// ADMM (with the dual variable) rather than HQS.
    dual: bool,
}

impl UnrolledPnp {
    /// Number of iterations `K`.
    pub fn iterations(&self) -> usize {
        self.strengths.dims()[0]
    }

    /// The data-step sizes `γ_k`.
    pub fn gammas(&self) -> Tensor<1> {
        self.log_gammas.val().exp()
    }

    /// `D_k(v) = v + λ_k·R_k(v)`.
    fn denoise<S: Signal>(&self, k: usize, v: S) -> S {
        let residual = &self.denoisers[k.min(self.denoisers.len() - 1)];
        let strength = self.strengths.val().narrow(0, k, 1);
        v.clone().add(S::from_channels(residual.correction(v.to_channels())).mul_per_sample(strength))
    }
}

impl<Op: LinearOperator> Reconstructor<Op> for UnrolledPnp {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        let gammas = self.gammas();
        let mut z = op.adjoint(y.clone());
        let mut u = z.zeros_like();
        (0..self.iterations())
            .map(|k| {
                let x = op.prox_l2(z.clone().sub(u.clone()), y.clone(), gammas.clone().narrow(0, k, 1));
                z = self.denoise(k, x.clone().add(u.clone()));
                if self.dual {
                    u = u.clone().add(x.sub(z.clone()));
                }
                z.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::conv::Conv2d;
    use unroll_physics::{Blur, BlurBoundary};

    use crate::test_support::{dense, solve};

    use super::*;

    /// A DnCNN of depth 2 and 2 features computing `R(v) = relu(−v) − relu(v) = −v`, so that
    /// `D(v) = (1 − λ)·v`: the prox of `τ/2‖·‖²` with `1/(1 + τ) = 1 − λ`.
    fn negation(device: &Device) -> ResidualCnn {
        let mut cnn = ResidualCnn::new(1, 2, 2, false, device);
        let centred = |taps: [[f32; 2]; 2], conv: &mut Conv2d| {
            let [to, from, ..] = conv.weight.dims();
            let mut weight = vec![0.0; to * from * 9];
            for (o, row) in taps.iter().enumerate().take(to) {
                for (i, &tap) in row.iter().enumerate().take(from) {
                    weight[(o * from + i) * 9 + 4] = tap;
                }
            }
            conv.weight = Param::from_tensor(Tensor::from_data(TensorData::new(weight, [to, from, 3, 3]), device));
        };
        centred([[1.0, 0.0], [-1.0, 0.0]], &mut cnn.layers[0]);
        centred([[-1.0, 1.0], [0.0, 0.0]], &mut cnn.layers[1]);
        cnn
    }

    /// With the linear denoiser `D(v) = (1 − λ)v`, both schemes have closed-form limits, checked
    /// against dense solves: ADMM converges to the minimiser of `γ/2‖Ax − y‖² + τ/2‖x‖²`, i.e.
    /// `(γAᵀA + τI)x = γAᵀy` with `τ = λ/(1 − λ)`; HQS to the fixed point `x = prox(z)`,
    /// `z = (1 − λ)x`, i.e. `(λI + γAᵀA)x = γAᵀy`, returned as `z = (1 − λ)x`.
    #[test]
    fn admm_and_hqs_reach_their_closed_form_limits() {
        let device = Device::flex();
        let size = [6, 7];
        let psf = Tensor::<4>::from_data(
            TensorData::new(vec![0.05f32, 0.1, 0.05, 0.1, 0.4, 0.1, 0.05, 0.1, 0.05], [1, 1, 3, 3]),
            &device,
        );
        let op = Blur::new(psf, size, BlurBoundary::Circular);
        let y = Tensor::<4>::zeros([1, 1, 6, 7], &device).randn_like(5);
        let (gamma, strength) = (2.0, 0.5);
        let (a, _) = dense(|x| op.forward(x), [1, size[0], size[1]], &device);
        let n = size[0] * size[1];
        let ata = |i: usize, j: usize| (0..n).map(|k| a[k * n + i] * a[k * n + j]).sum::<f64>();
        let y_host = y.clone().into_data().convert::<f64>().try_to_vec::<f64>().unwrap();
        let aty: Vec<f64> = (0..n).map(|i| gamma * (0..n).map(|k| a[k * n + i] * y_host[k]).sum::<f64>()).collect();
        let system = |diagonal: f64| -> Vec<f64> {
            (0..n * n).map(|e| gamma * ata(e / n, e % n) + if e / n == e % n { diagonal } else { 0.0 }).collect()
        };
        let tau = strength / (1.0 - strength);
        let admm_limit = solve(system(tau), aty.clone());
        let hqs_limit: Vec<f64> = solve(system(strength), aty).into_iter().map(|x| (1.0 - strength) * x).collect();

        for (splitting, limit) in [(Splitting::Admm, admm_limit), (Splitting::Hqs, hqs_limit)] {
            let config = UnrolledPnpConfig {
                iterations: 80,
                splitting,
                initial_gamma: gamma,
                initial_strength: strength,
                ..Default::default()
            };
            let mut model = config.init(1, &device);
            model.denoisers = vec![negation(&device)];
            let z = model.reconstruct_final(&op, y.clone());
            let z = z.into_data().convert::<f64>().try_to_vec::<f64>().unwrap();
            let error = z.iter().zip(&limit).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            let scale = limit.iter().map(|v| v.abs()).fold(0.0, f64::max);
            assert!(error < 1e-4 * scale, "{splitting:?}: max error {error} against a solution of size {scale}");
        }
    }

    /// The benchmark configuration (one tied DnCNN of depth 7 and 64 channels with bias, 5
    /// iterations): deepinv's `DnCNN(1, 1, depth=7, nf=64, bias=True)` has 185,857 parameters, plus
    /// 5 step sizes and 5 strengths.
    #[test]
    fn the_bench_configuration_has_deepinvs_parameter_count() {
        let model = UnrolledPnpConfig::default().init(1, &Device::flex());
        assert_eq!(model.num_params(), 185_857 + 10);
    }
}
