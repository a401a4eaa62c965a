//! The normalisation models are trained and run under: each measurement is divided by
//! `s = max |Aᴴy|` (per sample) before the model sees it; the model therefore reconstructs `x / s`,
//! the loss compares with `target / s`, and outputs are multiplied by `s` again (evaluation, export
//! and inference do the same). The learned proximal network runs unscaled (`s = 1`): a prox is
//! tied to the noise level of its training data, which a per-sample rescaling would change.

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_models::{Model, Reconstructor};
use unroll_physics::{Physics, Signal};

/// Per-sample maximum over all but the batch dimension: `[N, ..] → [N]`.
pub fn per_sample_max(x: Tensor<4>) -> Tensor<1> {
    let n = x.dims()[0];
    x.reshape([n as i64, -1]).max_dim(1).reshape([n])
}

/// The smallest normalisation scale `max |Aᴴy|`; below it a measurement counts as empty.
pub const MIN_SCALE: f64 = 1e-8;

/// How a model's inputs and outputs are scaled: part of its contract, stored in its package so an
/// inference program knows what the weights expect.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Normalisation {
    /// The measurement is divided by `s = max(max |Aᴴy|, min_scale)` per sample and the output
    /// multiplied by `s` (zero when `max |Aᴴy| ≤ min_scale`); training targets were the clean images
    /// scaled to `[0, 1]` per image, divided by the same `s`.
    AdjointMax {
        /// The smallest scale.
        min_scale: f64,
    },
    /// None: the model sees the measurement as it is (`s = 1`).
    Identity,
}

impl Normalisation {
    /// The convention [`forward`] runs `model` under.
    pub fn of(model: &Model) -> Normalisation {
        match model {
            Model::Lpn(_) => Normalisation::Identity,
            _ => Normalisation::AdjointMax { min_scale: MIN_SCALE },
        }
    }
}

/// Runs the model on a batch with the normalisation convention of the module docs. Returns the
/// iterates in normalised units and the per-sample scale `s`.
pub fn forward<Op: Physics>(model: &Model, op: &Op, y: Op::Range) -> (Vec<Op::Domain>, Tensor<1>) {
    let adjoint = op.adjoint(y.clone()).image();
    let Normalisation::AdjointMax { min_scale } = Normalisation::of(model) else {
        let n = adjoint.dims()[0];
        return (model.reconstruct(op, y), Tensor::ones([n], &adjoint.device()));
    };
    let scale = per_sample_max(adjoint).detach().clamp_min(min_scale);
    let y = y.mul_per_sample(scale.clone().recip());
    (model.reconstruct(op, y), scale)
}
