//! Unrolled proximal-gradient network over any linear operator.
//!
//! `x₀ = Aᴴy`, then for `k = 1..K`: `x_k = P_k(x_{k−1} − η_k·Aᴴ(A x_{k−1} − y))` with learned step
//! sizes `η_k` and a residual CNN `P_k` per iteration (or one shared by all, `tied`), acting on the
//! channel layout of the signal (complex images become 2 channels each). Returns `x₁ … x_K`.

use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::{LinearOperator, Signal};

use crate::blocks::ResidualCnn;
use crate::reconstructor::Reconstructor;

/// Hyperparameters of [`UnrolledPgd`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnrolledPgdConfig {
    /// Number of unrolled iterations `K`.
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    /// One CNN shared by every iteration instead of one each.
    #[serde(default)]
    pub tied: bool,
    /// Hidden channels of each CNN.
    #[serde(default = "default_features")]
    pub features: usize,
    /// Convolutions per CNN (≥ 2).
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// Initial step size `η_k` (1 is a full gradient step for an operator of norm 1).
    #[serde(default = "default_step")]
    pub initial_step: f64,
}

fn default_iterations() -> usize {
    5
}
fn default_features() -> usize {
    32
}
fn default_layers() -> usize {
    5
}
fn default_step() -> f64 {
    1.0
}

impl Default for UnrolledPgdConfig {
    fn default() -> Self {
        Self {
            iterations: default_iterations(),
            tied: false,
            features: default_features(),
            layers: default_layers(),
            initial_step: default_step(),
        }
    }
}

impl UnrolledPgdConfig {
    /// Checks the hyperparameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        if self.iterations == 0 {
            return Err("iterations must be at least 1".into());
        }
        if self.layers < 2 {
            return Err(format!("layers must be at least 2, got {}", self.layers));
        }
        if self.features == 0 {
            return Err("features must be at least 1".into());
        }
        Ok(())
    }

    /// A network for signals with `channels` network channels (see [`Signal::to_channels`]).
    pub fn init(&self, channels: usize, device: &Device) -> UnrolledPgd {
        let count = if self.tied { 1 } else { self.iterations };
        UnrolledPgd {
            steps: Param::from_tensor(Tensor::full([self.iterations], self.initial_step, device)),
            denoisers: (0..count)
                .map(|_| ResidualCnn::new(channels, self.features, self.layers, true, device))
                .collect(),
        }
    }
}

/// The unrolled proximal-gradient network.
#[derive(Module, Debug)]
pub struct UnrolledPgd {
    /// Step sizes `η_1 … η_K`.
    steps: Param<Tensor<1>>,
    /// `P_1 … P_K`, or a single shared `P`.
    denoisers: Vec<ResidualCnn>,
}

impl UnrolledPgd {
    /// Number of iterations `K`.
    pub fn iterations(&self) -> usize {
        self.steps.dims()[0]
    }
}

impl<Op: LinearOperator> Reconstructor<Op> for UnrolledPgd {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        let steps = self.steps.val();
        let mut x = op.adjoint(y.clone());
        (0..self.iterations())
            .map(|k| {
                let gradient = op.adjoint(op.forward(x.clone()).sub(y.clone()));
                let z = x.clone().sub(gradient.mul_per_sample(steps.clone().narrow(0, k, 1)));
                let denoiser = &self.denoisers[k.min(self.denoisers.len() - 1)];
                x = Op::Domain::from_channels(denoiser.forward(z.to_channels()));
                x.clone()
            })
            .collect()
    }
}
