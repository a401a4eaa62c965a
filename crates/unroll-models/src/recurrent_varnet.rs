//! RecurrentVarNet (Yiasemis et al., CVPR 2022; DIRECT's reference, `mri.md` §1).
//!
//! A k-space scheme for multi-coil MRI: from `k₀ = y`, each of `T` blocks computes
//! `k ← k − α_t·M⊙(k − y) + F(E(w))` with `(w, h) = GRU(R(F⁻¹k), h)`: a Conv2dGRU on the
//! coil-combined image, whose hidden state `h` is carried from block to block, and a learnable DC
//! step `α_t` (initialised to 1). The recurrent state initialiser (RSI) starts `h` from the
//! k-space of the SENSE image `F(R(F⁻¹y))` (as DIRECT does; §1.1) through dilated convolutions and
//! one 1×1 head per GRU layer. Each iterate is the RSS of `F⁻¹k`; the maps may be refined by
//! [`CoilRefinement`].

use burn::module::Param;
use burn::nn::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::{Complex, Physics};

use crate::blocks::{CoilRefinement, EdgeConv, lean_relu, mri_operator, pointwise_with};
use crate::cpu_conv::conv2d;
use crate::gates::{sigmoid, tanh};
use crate::reconstructor::Reconstructor;

/// Hyperparameters of [`RecurrentVarNet`] (defaults: DIRECT's `RecurrentVarNetConfig`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecurrentVarNetConfig {
    /// Number of blocks `T` (DIRECT: 15; paper configs: 8).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Hidden channels of the GRU (DIRECT: 64; paper: 128 on Calgary-Campinas, 96 on fastMRI).
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// GRU layers `n_l` (DIRECT: 4).
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// One block reused `T` times instead of `T` independent blocks.
    #[serde(default)]
    pub shared: bool,
    /// The recurrent state initialiser; `initializer = false` starts from a zero state.
    #[serde(
        default = "default_initializer",
        deserialize_with = "initializer_or_false",
        serialize_with = "initializer_to_false"
    )]
    pub initializer: Option<RsiConfig>,
    /// Refine the ACS coil maps with a jointly trained U-Net ([`CoilRefinement`]).
    #[serde(default = "crate::context::on")]
    pub coil_refinement: bool,
}

/// The recurrent state initialiser: a trunk of `ReplicationPad(d) → conv 3×3 (dilation d) → ReLU`
/// layers, the last `multiscale` outputs concatenated, and one `1×1 conv → ReLU` head per GRU layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsiConfig {
    /// Channels of the trunk layers (DIRECT: 32, 32, 64, 64).
    #[serde(default = "default_rsi_channels")]
    pub channels: Vec<usize>,
    /// Dilations of the trunk layers (DIRECT: 1, 1, 2, 4).
    #[serde(default = "default_rsi_dilations")]
    pub dilations: Vec<usize>,
    /// How many of the last trunk outputs feed the heads (DIRECT default 1; paper configs 3).
    #[serde(default = "default_multiscale")]
    pub multiscale: usize,
}

fn default_steps() -> usize {
    15
}
fn default_hidden() -> usize {
    64
}
fn default_layers() -> usize {
    4
}
fn default_initializer() -> Option<RsiConfig> {
    Some(RsiConfig::default())
}
fn default_rsi_channels() -> Vec<usize> {
    vec![32, 32, 64, 64]
}
fn default_rsi_dilations() -> Vec<usize> {
    vec![1, 1, 2, 4]
}
fn default_multiscale() -> usize {
    1
}

/// `initializer = false` (none), `true` (the defaults) or a table.
fn initializer_or_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RsiConfig>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Switch(bool),
        Config(RsiConfig),
    }
    Ok(match Value::deserialize(d)? {
        Value::Switch(on) => on.then(RsiConfig::default),
        Value::Config(c) => Some(c),
    })
}

/// `None` as `false` (TOML has no null, and an absent key means the default initialiser).
fn initializer_to_false<S: serde::Serializer>(value: &Option<RsiConfig>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        None => s.serialize_bool(false),
        Some(config) => config.serialize(s),
    }
}

impl Default for RsiConfig {
    fn default() -> Self {
        Self { channels: default_rsi_channels(), dilations: default_rsi_dilations(), multiscale: default_multiscale() }
    }
}

impl Default for RecurrentVarNetConfig {
    fn default() -> Self {
        Self {
            steps: default_steps(),
            hidden: default_hidden(),
            layers: default_layers(),
            shared: false,
            initializer: default_initializer(),
            coil_refinement: true,
        }
    }
}

impl RecurrentVarNetConfig {
    /// Checks the hyperparameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps == 0 || self.hidden == 0 || self.layers == 0 {
            return Err(format!(
                "steps, hidden and layers must be at least 1, got {}, {} and {}",
                self.steps, self.hidden, self.layers
            ));
        }
        if let Some(rsi) = &self.initializer {
            if rsi.channels.is_empty() || rsi.channels.len() != rsi.dilations.len() {
                return Err(format!(
                    "initializer: channels and dilations need the same, non-zero length, got {} and {}",
                    rsi.channels.len(),
                    rsi.dilations.len()
                ));
            }
            if rsi.channels.contains(&0) || rsi.dilations.contains(&0) {
                return Err("initializer: channels and dilations must be at least 1".into());
            }
            if rsi.multiscale == 0 || rsi.multiscale > rsi.channels.len() {
                return Err(format!(
                    "initializer.multiscale must be in 1..={}, got {}",
                    rsi.channels.len(),
                    rsi.multiscale
                ));
            }
        }
        Ok(())
    }

    /// The network.
    pub fn init(&self, device: &Device) -> RecurrentVarNet {
        let count = if self.shared { 1 } else { self.steps };
        RecurrentVarNet {
            blocks: (0..count)
                .map(|_| RecurrentVarNetBlock {
                    gru: ConvGru::new(self.hidden, self.layers, device),
                    step: Param::from_tensor(Tensor::ones([1], device)),
                })
                .collect(),
            initializer: self.initializer.as_ref().map(|c| RecurrentInit::new(c, self.hidden, self.layers, device)),
            refinement: self.coil_refinement.then(|| CoilRefinement::new(device)),
            steps: self.steps,
        }
    }
}

/// DIRECT's Conv2dGRU with replication padding (`mri.md` §1.3): `n_l + 1` convolutions
/// (5×5 `2 → H`, 3×3 dilation 2, 3×3 …, 3×3 `H → 2`) and, per layer, update/reset/output gates
/// (1×1 `2H → H` on `[x, h]` (`[x, r ⊙ h]` for the output), orthogonal weights, biases 0/−1/0).
/// Each gate's weight is kept as its `x` and `h` halves, so `[x, h]` is never concatenated: one
/// 1×1 convolution `H → 3H` takes the `x` parts of all three gates (with the biases), one
/// `H → 2H` the `h` parts of update and reset, one `H → H` the output gate's `r ⊙ h`. The sums
/// and the parameters are those of the concatenated form.
#[derive(Module, Debug)]
struct ConvGru {
    convs: Vec<EdgeConv>,
    /// Per layer: `x ↦` the update, reset and output gates' `x` terms (`H → 3H`, biased).
    input_gates: Vec<Conv2d>,
    /// Per layer: `h ↦` the update and reset gates' `h` terms (`H → 2H`).
    hidden_gates: Vec<Conv2d>,
    /// Per layer: `r ⊙ h ↦` the output gate's `h` term (`H → H`).
    output_hidden: Vec<Conv2d>,
}

impl ConvGru {
    fn new(hidden: usize, layers: usize, device: &Device) -> Self {
        let mut convs = vec![EdgeConv::new(2, hidden, 5, 1, true, device)];
        for l in 1..layers {
            convs.push(EdgeConv::new(hidden, hidden, 3, if l == 1 { 2 } else { 1 }, true, device));
        }
        convs.push(EdgeConv::new(hidden, 2, 3, 1, true, device));
        let inner = device.clone().inner();
        let (mut input_gates, mut hidden_gates, mut output_hidden) = (vec![], vec![], vec![]);
        for _ in 0..layers {
            // Orthogonal `[H, 2H]` weights of the update, reset and output gates, split in halves.
            let [update, reset, out]: [Tensor<4>; 3] = std::array::from_fn(|_| {
                Initializer::Orthogonal { gain: 1.0 }.init_with([hidden, 2 * hidden, 1, 1], None, None, &inner).val()
            });
            let half = |w: &Tensor<4>, i: usize| w.clone().narrow(1, i * hidden, hidden);
            let x_parts = Tensor::cat(vec![half(&update, 0), half(&reset, 0), half(&out, 0)], 0);
            let biases: Vec<f32> = [0.0, -1.0, 0.0].iter().flat_map(|&b| std::iter::repeat_n(b, hidden)).collect();
            let biases = Tensor::from_data(TensorData::new(biases, [3 * hidden]), &inner);
            input_gates.push(pointwise_with(x_parts, Some(biases), device));
            hidden_gates.push(pointwise_with(Tensor::cat(vec![half(&update, 1), half(&reset, 1)], 0), None, device));
            output_hidden.push(pointwise_with(half(&out, 1), None, device));
        }
        Self { convs, input_gates, hidden_gates, output_hidden }
    }

    /// `x` `[N, 2, H, W]` and the per-layer states `[N, hidden, H, W]` (zeros if `None`) → the
    /// output `[N, 2, H, W]` and the new states.
    fn forward(&self, mut x: Tensor<4>, state: Option<Vec<Tensor<4>>>) -> (Tensor<4>, Vec<Tensor<4>>) {
        let layers = self.input_gates.len();
        let mut next = Vec::with_capacity(layers);
        for l in 0..layers {
            x = lean_relu(self.convs[l].forward(x));
            let gates = conv2d(&self.input_gates[l], x);
            let hidden = gates.dims()[1] / 3;
            let gate = |i: usize| gates.clone().narrow(1, i * hidden, hidden);
            let h = match &state {
                // A zero state adds nothing to the gates, and the new state is `u ⊙ candidate`.
                None => {
                    let update = sigmoid(gate(0));
                    update * tanh(gate(2))
                }
                Some(state) => {
                    let h = state[l].clone();
                    let from_h = conv2d(&self.hidden_gates[l], h.clone());
                    let update = sigmoid(gate(0) + from_h.clone().narrow(1, 0, hidden));
                    let reset = sigmoid(gate(1) + from_h.narrow(1, hidden, hidden));
                    let candidate = tanh(gate(2) + conv2d(&self.output_hidden[l], h.clone() * reset));
                    h.clone() + update * (candidate - h)
                }
            };
            x = lean_relu(h.clone());
            next.push(h);
        }
        (self.convs[layers].forward(x), next)
    }
}

/// The recurrent state initialiser (see [`RsiConfig`]).
#[derive(Module, Debug)]
struct RecurrentInit {
    trunk: Vec<EdgeConv>,
    heads: Vec<Conv2d>,
    multiscale: usize,
}

impl RecurrentInit {
    fn new(config: &RsiConfig, hidden: usize, layers: usize, device: &Device) -> Self {
        let mut from = 2;
        let trunk = config
            .channels
            .iter()
            .zip(&config.dilations)
            .map(|(&to, &dilation)| {
                let conv = EdgeConv::new(from, to, 3, dilation, true, device);
                from = to;
                conv
            })
            .collect();
        let head_in: usize = config.channels.iter().rev().take(config.multiscale).sum();
        let heads = (0..layers).map(|_| Conv2dConfig::new([head_in, hidden], [1, 1]).init(device)).collect();
        Self { trunk, heads, multiscale: config.multiscale }
    }

    /// `[N, 2, H, W]` → one state `[N, hidden, H, W]` per GRU layer.
    fn forward(&self, mut x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut features = Vec::with_capacity(self.trunk.len());
        for conv in &self.trunk {
            x = lean_relu(conv.forward(x));
            features.push(x.clone());
        }
        let x = Tensor::cat(features.split_off(features.len() - self.multiscale), 1);
        self.heads.iter().map(|head| lean_relu(conv2d(head, x.clone()))).collect()
    }
}

#[derive(Module, Debug)]
struct RecurrentVarNetBlock {
    gru: ConvGru,
    /// The DC step `α_t`.
    step: Param<Tensor<1>>,
}

/// The RecurrentVarNet (see the module docs).
#[derive(Module, Debug)]
pub struct RecurrentVarNet {
    blocks: Vec<RecurrentVarNetBlock>,
    initializer: Option<RecurrentInit>,
    refinement: Option<CoilRefinement>,
    steps: usize,
}

impl<Op: Physics> Reconstructor<Op> for RecurrentVarNet {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        let view = op.mri().expect("RecurrentVarNet needs the MRI view (checked when the config is loaded)");
        let y = (view.kspace.to)(y);
        let mri = mri_operator(view.op, self.refinement.as_ref());
        let (fft, mask) = (mri.fft(), mri.mask().clone());
        let mut coil_images = fft.inverse(y.clone());
        let mut state = self
            .initializer
            .as_ref()
            .map(|rsi| rsi.forward(fft.forward(mri.reduce(coil_images.clone())).to_channels()));
        let mut k = y.clone();
        (0..self.steps)
            .map(|t| {
                let block = &self.blocks[t.min(self.blocks.len() - 1)];
                let (w, next) = block.gru.forward(mri.reduce(coil_images.clone()).to_channels(), state.take());
                state = Some(next);
                let regulariser = fft.forward(mri.expand(Complex::from_channels(w)));
                let step = block.step.val().reshape([1, 1, 1, 1]);
                let residual = (k.clone() - y.clone()).mul_real(mask.clone() * step);
                k = k.clone() - residual + regulariser;
                coil_images = fft.inverse(k.clone());
                (view.image.from)(Complex::from_real(coil_images.clone().rss()))
            })
            .collect()
    }
}
