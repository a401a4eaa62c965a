//! Differentiable training losses and their typed configuration.
//!
//! Every loss takes `pred` and `target` batches of the same shape `[N, C, H, W]` and returns a
//! scalar tensor of shape `[1]` (a mean over all samples, channels and pixels), on any device and
//! through autodiff. Shape mismatches are programming errors and panic with both shapes.
//!
//! A [`LossConfig`] reads from an experiment file, e.g.
//!
//! ```toml
//! iterates = { kind = "exponential", gamma = 0.8 }
//!
//! [[terms]]
//! kind = "l1"
//! weight = 0.16
//!
//! [[terms]]
//! kind = "ssim"
//! weight = 0.84
//! ```

use std::borrow::Cow;
use std::fmt;

use burn::prelude::*;
use burn::tensor::module::{avg_pool2d, conv2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions};
use serde::de::{Deserializer, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::metrics::SSIM_WINDOW;

const SSIM_K1: f64 = 0.01;
const SSIM_K2: f64 = 0.03;

fn same_dims(name: &str, pred: &Tensor<4>, target: &Tensor<4>) -> [usize; 4] {
    let (p, t) = (pred.dims(), target.dims());
    assert_eq!(p, t, "{name}: prediction shape {p:?} differs from target shape {t:?}");
    p
}

/// Mean absolute error.
pub fn l1(pred: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    same_dims("l1", &pred, &target);
    (pred - target).abs().mean()
}

/// Mean squared error.
pub fn l2(pred: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    same_dims("l2", &pred, &target);
    (pred - target).square().mean()
}

/// `1 − mean SSIM`, fastMRI's `SSIMLoss`: a 7×7 uniform window applied as a valid (unpadded)
/// convolution to each channel, K1 0.01, K2 0.03, sample covariance (`NP/(NP−1)`, `NP = 49`),
/// `C1 = (K1·R)²`, `C2 = (K2·R)²` with `R = data_range[n]` per sample (`data_range` has shape
/// `[N]`, in image units). The mean over the valid windows equals scikit-image's border-cropped
/// mean, so `1 − ssim_loss` is [`crate::metrics::ssim`] computed in f32. Needs `H, W ≥ 7`.
pub fn ssim_loss(pred: Tensor<4>, target: Tensor<4>, data_range: Tensor<1>) -> Tensor<1> {
    let [n, c, h, w] = same_dims("ssim_loss", &pred, &target);
    assert!(
        h >= SSIM_WINDOW && w >= SSIM_WINDOW,
        "ssim_loss: images of [{h}, {w}] are smaller than the {SSIM_WINDOW}×{SSIM_WINDOW} window"
    );
    assert_eq!(data_range.dims(), [n], "ssim_loss: data_range needs one value per sample");
    let np = (SSIM_WINDOW * SSIM_WINDOW) as f64;
    let cov_norm = np / (np - 1.0);
    let (oh, ow) = (h - SSIM_WINDOW + 1, w - SSIM_WINDOW + 1);
    let window = Tensor::<4>::ones([1, 1, SSIM_WINDOW, SSIM_WINDOW], &pred.device()).div_scalar(np);
    // One convolution computes the local means of x, y, x², y² and xy for every (sample, channel).
    let planes = Tensor::cat(
        vec![pred.clone(), target.clone(), pred.clone().square(), target.clone().square(), pred * target],
        0,
    )
    .reshape([5 * n * c, 1, h, w]);
    let means = conv2d(planes, window, None, ConvOptions::new([1, 1], [0, 0], [1, 1], 1));
    let mean = |i: usize| means.clone().narrow(0, i * n * c, n * c).reshape([n, c, oh, ow]);
    let (ux, uy, uxx, uyy, uxy) = (mean(0), mean(1), mean(2), mean(3), mean(4));
    let vx = (uxx - ux.clone().square()).mul_scalar(cov_norm);
    let vy = (uyy - uy.clone().square()).mul_scalar(cov_norm);
    let vxy = (uxy - ux.clone() * uy.clone()).mul_scalar(cov_norm);
    let range = data_range.reshape([n, 1, 1, 1]);
    let c1 = range.clone().mul_scalar(SSIM_K1).square();
    let c2 = range.mul_scalar(SSIM_K2).square();
    let numerator = ((ux.clone() * uy.clone()).mul_scalar(2.0) + c1.clone()) * (vxy.mul_scalar(2.0) + c2.clone());
    let denominator = (ux.square() + uy.square() + c1) * (vx + vy + c2);
    (numerator / denominator).mean().neg().add_scalar(1.0)
}

/// `Σ_{s < scales} 2^−s · L1(pool_s(x̂), pool_s(x))`, `pool_s` being `s` 2×2 average poolings of
/// stride 2 (odd sizes drop their last row or column): the galaxy reference's multiscale loss
/// (weights 1, ½, ¼ for 3 scales). Needs `H, W ≥ 2^(scales−1)`.
pub fn multiscale_l1(pred: Tensor<4>, target: Tensor<4>, scales: usize) -> Tensor<1> {
    let [_, _, h, w] = same_dims("multiscale_l1", &pred, &target);
    assert!(scales >= 1, "multiscale_l1: scales must be at least 1");
    let coarsest = 1usize << (scales - 1);
    assert!(
        h >= coarsest && w >= coarsest,
        "multiscale_l1: images of [{h}, {w}] cannot be halved {} times",
        scales - 1
    );
    let halve = |x: Tensor<4>| avg_pool2d(x, AvgPoolOptions::new([2, 2]));
    let (mut p, mut t) = (pred, target);
    let mut total = l1(p.clone(), t.clone());
    for s in 1..scales {
        (p, t) = (halve(p), halve(t));
        total = total + l1(p.clone(), t.clone()).div_scalar((1u64 << s) as f64);
    }
    total
}

/// The proximal matching loss of learned proximal networks (`lpn.md` §2.4):
/// `mean_n [1 − exp(−(‖pred_n − target_n‖₂ / γ)²)]`, the norm over each whole sample. As `γ → 0`
/// it counts the samples not matched exactly, which drives a prox towards the MAP denoiser.
pub fn proximal_matching(pred: Tensor<4>, target: Tensor<4>, gamma: f64) -> Tensor<1> {
    let [n, ..] = same_dims("proximal_matching", &pred, &target);
    let distance = (pred - target).reshape([n as i64, -1]).square().sum_dim(1).div_scalar(gamma * gamma);
    distance.neg().exp().neg().add_scalar(1.0).mean()
}

/// The reference's smallest proximal-matching γ for `[C, H, W]` images in `[0, 1]`:
/// `0.08·√(C·H·W)`.
pub fn gamma_min([c, h, w]: [usize; 3]) -> f64 {
    0.08 * ((c * h * w) as f64).sqrt()
}

/// One loss function (`kind = "l1" | "l2" | "ssim" | "multiscale_l1" | "proximal_matching"`).
///
/// Unknown keys are rejected: `deny_unknown_fields` covers the variants with fields, and the unit
/// variants go through `no_fields`, since serde's internally tagged unit variants ignore extra
/// keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossTerm {
    /// [`l1`].
    #[serde(deserialize_with = "no_fields")]
    L1,
    /// [`l2`].
    #[serde(deserialize_with = "no_fields")]
    L2,
    /// [`ssim_loss`].
    #[serde(deserialize_with = "no_fields")]
    Ssim,
    /// [`multiscale_l1`].
    MultiscaleL1 {
        /// Number of scales, at least 1 (1 is plain L1).
        scales: usize,
    },
    /// [`proximal_matching`].
    ProximalMatching {
        /// γ, positive; by default [`gamma_min`] of the images.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gamma: Option<f64>,
    },
}

impl LossTerm {
    /// This loss of `pred` against `target` (`data_range` `[N]` is used by SSIM only).
    pub fn loss(&self, pred: Tensor<4>, target: Tensor<4>, data_range: Tensor<1>) -> Tensor<1> {
        match *self {
            LossTerm::L1 => l1(pred, target),
            LossTerm::L2 => l2(pred, target),
            LossTerm::Ssim => ssim_loss(pred, target, data_range),
            LossTerm::MultiscaleL1 { scales } => multiscale_l1(pred, target, scales),
            LossTerm::ProximalMatching { gamma } => {
                let [_, c, h, w] = target.dims();
                proximal_matching(pred, target, gamma.unwrap_or_else(|| gamma_min([c, h, w])))
            }
        }
    }
}

/// A loss term with its weight, written flat:
/// `{ kind = "multiscale_l1", scales = 3, weight = 0.5 }`.
///
/// Serde's `deny_unknown_fields` does not work with `flatten`, so this struct does not carry it;
/// the flattened [`LossTerm`] receives every key but `weight` and rejects those it does not know.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightedLoss {
    /// Multiplier of the term, finite and non-negative.
    pub weight: f64,
    /// The loss function.
    #[serde(flatten)]
    pub term: LossTerm,
}

/// How the losses of the `K` intermediate iterates `x_1 … x_K` of an unrolled network are weighted
/// (`kind = "last" | "uniform" | "linear" | "exponential" | "logspace"`); the weights sum to 1.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IterateWeighting {
    /// Only the final iterate.
    #[default]
    #[serde(deserialize_with = "no_fields")]
    Last,
    /// `1/K` each.
    #[serde(deserialize_with = "no_fields")]
    Uniform,
    /// `k / Σ_j j`: later iterates weigh more.
    #[serde(deserialize_with = "no_fields")]
    Linear,
    /// `γ^(K−k)`, normalised; `γ < 1` favours later iterates, `γ = 1` is uniform.
    Exponential {
        /// Decay per step back from the final iterate, positive.
        gamma: f64,
    },
    /// CIRIM's weighting (`mri.md` §2.4): the iterates form `G` groups (the model's cascades, see
    /// `Model::iterate_groups`) of `T` steps, and iterate `(g, t)` weighs
    /// `logspace(−1, 0, G)[g] · logspace(−1, 0, T)[t]`, normalised (ATOMMIC's sum divided by
    /// `G·T` differs from it by a constant factor).
    #[serde(deserialize_with = "no_fields")]
    Logspace,
}

/// `10^linspace(−1, 0, n)` (`[1]` when `n = 1`).
fn logspace(n: usize) -> Vec<f64> {
    (0..n).map(|i| if n > 1 { 10f64.powf(-1.0 + i as f64 / (n - 1) as f64) } else { 1.0 }).collect()
}

impl IterateWeighting {
    /// The weights of `k` iterates in `groups` equal groups (only [`Self::Logspace`] uses the
    /// groups; `groups` must divide `k`), first to last (empty when `k = 0`).
    pub fn weights(&self, k: usize, groups: usize) -> Vec<f64> {
        let raw: Vec<f64> = match *self {
            IterateWeighting::Last => (1..=k).map(|i| if i == k { 1.0 } else { 0.0 }).collect(),
            IterateWeighting::Uniform => vec![1.0; k],
            IterateWeighting::Linear => (1..=k).map(|i| i as f64).collect(),
            IterateWeighting::Exponential { gamma } => {
                // γ^(K−k) divided by its largest value (first or last), so large K cannot overflow.
                let top = if gamma > 1.0 { k.saturating_sub(1) } else { 0 } as f64;
                (1..=k).map(|i| (gamma.ln() * ((k - i) as f64 - top)).exp()).collect()
            }
            IterateWeighting::Logspace => {
                assert!(groups > 0 && k.is_multiple_of(groups), "{k} iterates do not form {groups} equal groups");
                let steps = logspace(k / groups);
                logspace(groups).into_iter().flat_map(|g| steps.iter().map(move |t| g * t)).collect()
            }
        };
        let sum: f64 = raw.iter().sum();
        raw.into_iter().map(|v| v / sum).collect()
    }
}

/// The training loss: a weighted sum of [`LossTerm`]s applied to each iterate, the iterates
/// weighted by [`IterateWeighting`]. Default: L1 on the last iterate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    /// The loss terms, summed with their weights.
    pub terms: Vec<WeightedLoss>,
    /// Weighting over the iterates (default: the last one only).
    #[serde(default)]
    pub iterates: IterateWeighting,
    /// LPN's schedule: `terms` for a pretraining phase, then proximal matching (default: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proximal_matching: Option<ProximalMatchingSchedule>,
}

/// The proximal-matching schedule of learned proximal networks (`lpn.md` §2.4): the first
/// `pretrain` fraction of the steps trains on the loss's `terms` (L1 in the reference), the rest on
/// [`proximal_matching`] alone at the learning rate times `lr_factor`, in `stages` equal stages
/// whose γ halves from `2^(stages−1)·γ_min` to `γ_min`. The reference: half the steps, 4 stages,
/// lr 1e-3 then 1e-4.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProximalMatchingSchedule {
    /// Fraction of the steps before proximal matching starts, in `[0, 1)`.
    #[serde(default = "half")]
    pub pretrain: f64,
    /// Stages of proximal matching, at least 1.
    #[serde(default = "four")]
    pub stages: usize,
    /// The last stage's γ; by default [`gamma_min`] of the images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma_min: Option<f64>,
    /// Learning-rate factor of the proximal-matching phase, positive.
    #[serde(default = "tenth")]
    pub lr_factor: f64,
}

fn half() -> f64 {
    0.5
}
fn four() -> usize {
    4
}
fn tenth() -> f64 {
    0.1
}

impl ProximalMatchingSchedule {
    /// The proximal-matching stage at `progress` (the fraction of the steps done, in `[0, 1]`),
    /// `None` while pretraining.
    pub fn stage(&self, progress: f64) -> Option<usize> {
        let into = (progress - self.pretrain) / (1.0 - self.pretrain);
        (into >= 0.0).then(|| ((into * self.stages as f64) as usize).min(self.stages - 1))
    }
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            terms: vec![WeightedLoss { weight: 1.0, term: LossTerm::L1 }],
            iterates: IterateWeighting::Last,
            proximal_matching: None,
        }
    }
}

impl LossConfig {
    /// Checks that there is a term, that the weights are finite, non-negative and not all zero,
    /// that `scales ≥ 1` and that `γ` is finite and positive.
    pub fn validate(&self) -> Result<(), String> {
        if self.terms.is_empty() {
            return Err("loss: `terms` is empty".into());
        }
        for (i, WeightedLoss { weight, term }) in self.terms.iter().enumerate() {
            if !(weight.is_finite() && *weight >= 0.0) {
                return Err(format!("loss term {i} ({term:?}): weight {weight} is not finite and ≥ 0"));
            }
            if let LossTerm::MultiscaleL1 { scales: 0 } = term {
                return Err(format!("loss term {i}: multiscale_l1 needs scales ≥ 1"));
            }
            if let LossTerm::ProximalMatching { gamma: Some(gamma) } = term
                && !(gamma.is_finite() && *gamma > 0.0)
            {
                return Err(format!("loss term {i}: proximal_matching needs gamma > 0, got {gamma}"));
            }
        }
        if let Some(schedule) = &self.proximal_matching {
            if !(0.0..1.0).contains(&schedule.pretrain) {
                return Err(format!("loss.proximal_matching.pretrain must be in [0, 1), got {}", schedule.pretrain));
            }
            if schedule.stages == 0 {
                return Err("loss.proximal_matching.stages must be at least 1".into());
            }
            if let Some(gamma) = schedule.gamma_min
                && !(gamma.is_finite() && gamma > 0.0)
            {
                return Err(format!("loss.proximal_matching.gamma_min must be positive, got {gamma}"));
            }
            if !(schedule.lr_factor.is_finite() && schedule.lr_factor > 0.0) {
                return Err(format!("loss.proximal_matching.lr_factor must be positive, got {}", schedule.lr_factor));
            }
        }
        if self.terms.iter().all(|t| t.weight == 0.0) {
            return Err("loss: every weight is zero".into());
        }
        if let IterateWeighting::Exponential { gamma } = self.iterates
            && !(gamma.is_finite() && gamma > 0.0)
        {
            return Err(format!("loss: exponential iterate weighting needs gamma > 0, got {gamma}"));
        }
        Ok(())
    }

    /// The loss at `progress` (the fraction of the training steps done) for `[C, H, W]` images:
    /// `self`, or past the pretraining of [`Self::proximal_matching`] the proximal matching loss of
    /// the stage (on the same iterates).
    pub fn at(&self, progress: f64, image: [usize; 3]) -> Cow<'_, LossConfig> {
        let Some((schedule, stage)) = self.proximal_matching.as_ref().and_then(|s| Some((s, s.stage(progress)?)))
        else {
            return Cow::Borrowed(self);
        };
        let gamma =
            schedule.gamma_min.unwrap_or_else(|| gamma_min(image)) * 2f64.powi((schedule.stages - 1 - stage) as i32);
        Cow::Owned(LossConfig {
            terms: vec![WeightedLoss { weight: 1.0, term: LossTerm::ProximalMatching { gamma: Some(gamma) } }],
            iterates: self.iterates.clone(),
            proximal_matching: None,
        })
    }

    /// Whether `progress` is in the loss's last phase: always without a schedule, else in the last
    /// proximal-matching stage.
    pub fn in_final_phase(&self, progress: f64) -> bool {
        self.proximal_matching.as_ref().is_none_or(|s| s.stage(progress) == Some(s.stages - 1))
    }

    /// The learning-rate factor at `progress`: the schedule's `lr_factor` once proximal matching
    /// has started, 1 otherwise.
    pub fn lr_factor(&self, progress: f64) -> f64 {
        match &self.proximal_matching {
            Some(schedule) if schedule.stage(progress).is_some() => schedule.lr_factor,
            _ => 1.0,
        }
    }

    /// The weighted loss of one prediction: `Σ weight · term(pred, target)`.
    pub fn image_loss(&self, pred: &Tensor<4>, target: &Tensor<4>, data_range: &Tensor<1>) -> Tensor<1> {
        self.terms
            .iter()
            .map(|t| t.term.loss(pred.clone(), target.clone(), data_range.clone()).mul_scalar(t.weight))
            .reduce(|a, b| a + b)
            .expect("LossConfig has no terms (validate it first)")
    }

    /// The loss of an unrolled network: [`Self::image_loss`] of each iterate `[N, C, H, W]`
    /// (first to last, in `groups` equal groups: see [`IterateWeighting::weights`]) against
    /// `target`, weighted by [`Self::iterates`]; iterates of weight zero are not evaluated.
    /// `data_range` `[N]` is SSIM's per-sample range. Panics without iterates.
    pub fn total(
        &self,
        iterates: &[Tensor<4>],
        groups: usize,
        target: &Tensor<4>,
        data_range: &Tensor<1>,
    ) -> Tensor<1> {
        self.iterates
            .weights(iterates.len(), groups)
            .into_iter()
            .zip(iterates)
            .filter(|(weight, _)| *weight > 0.0)
            .map(|(weight, x)| self.image_loss(x, target, data_range).mul_scalar(weight))
            .reduce(|a, b| a + b)
            .expect("LossConfig::total needs at least one iterate")
    }
}

/// Deserializes the body of a unit variant of an internally tagged enum, rejecting any key.
fn no_fields<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    struct NoFields;
    impl<'de> Visitor<'de> for NoFields {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("no keys besides `kind`")
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            match map.next_key::<String>()? {
                Some(key) => Err(A::Error::unknown_field(&key, &[])),
                None => Ok(()),
            }
        }
    }
    deserializer.deserialize_any(NoFields)
}
