//! CIRIM, the cascades of independently recurrent inference machines (Karkalousos et al., PMB
//! 2022; ATOMMIC's reference, `mri.md` §2).
//!
//! An image-space scheme for multi-coil MRI. From the SENSE image `x = R(F⁻¹y)`, every time step
//! of every cascade feeds `[x, Aᴴ(Ax − y)]` (the log-likelihood gradient: implicit data
//! consistency) through `ReplicationPad → conv 5×5 → ReLU → cell → ReplicationPad → conv 3×3
//! (dilation 2) → ReLU → cell → ReplicationPad → conv 3×3 (no bias) to 2 channels`, and updates
//! `x ← x + Δ`. The cells' hidden states are carried across time steps and cascades; each cascade
//! has its own weights and starts from the previous one's last estimate. Every estimate is
//! returned (`cascades × steps`, in order), for the `logspace` iterate weighting of §2.4.
//! Unlike ATOMMIC, `steps` is not rounded up to a multiple of 8.

use burn::module::Param;
use burn::nn::Initializer;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::{Complex, LinearOperator, Physics};

use crate::blocks::{CoilRefinement, EdgeConv, lean_relu, mri_operator, pointwise};
use crate::cpu_conv::conv2d;
use crate::gates::{sigmoid, tanh};
use crate::reconstructor::Reconstructor;

/// The recurrent cell of [`Cirim`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecurrentCell {
    /// IndRNN, `h' = ReLU(W x + b + u ⊙ h)` with a 1×1 `W` and a per-channel `u` (the paper's choice).
    #[default]
    IndRnn,
    /// ConvGRU with 1×1 input and hidden convolutions.
    Gru,
}

/// Hyperparameters of [`Cirim`] (defaults: the mridc/ATOMMIC configuration of `mri.md` §2.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CirimConfig {
    /// Number of cascades (5).
    #[serde(default = "default_cascades")]
    pub cascades: usize,
    /// Time steps per cascade (8).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Filters of the convolutions and cells (64; the ATOMMIC paper: 128).
    #[serde(default = "default_filters")]
    pub filters: usize,
    /// The recurrent cell.
    #[serde(default)]
    pub cell: RecurrentCell,
    /// After every time step, also a soft data-consistency step in k-space,
    /// `x ← R F⁻¹(k − λ M⊙(k − y))` with `k = F E x` and a learnable `λ` per cascade (init 1).
    #[serde(default)]
    pub explicit_dc: bool,
    /// Refine the ACS coil maps with a jointly trained U-Net ([`CoilRefinement`]).
    #[serde(default = "crate::context::on")]
    pub coil_refinement: bool,
}

fn default_cascades() -> usize {
    5
}
fn default_steps() -> usize {
    8
}
fn default_filters() -> usize {
    64
}

impl Default for CirimConfig {
    fn default() -> Self {
        Self {
            cascades: default_cascades(),
            steps: default_steps(),
            filters: default_filters(),
            cell: RecurrentCell::IndRnn,
            explicit_dc: false,
            coil_refinement: true,
        }
    }
}

impl CirimConfig {
    /// Checks the hyperparameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        if self.cascades == 0 || self.steps == 0 || self.filters == 0 {
            return Err(format!(
                "cascades, steps and filters must be at least 1, got {}, {} and {}",
                self.cascades, self.steps, self.filters
            ));
        }
        Ok(())
    }

    /// The network.
    pub fn init(&self, device: &Device) -> Cirim {
        let f = self.filters;
        let cascades = (0..self.cascades)
            .map(|_| RimBlock {
                conv1: EdgeConv::new(4, f, 5, 1, true, device),
                cell1: Cell::new(self.cell, f, device),
                conv2: EdgeConv::new(f, f, 3, 2, true, device),
                cell2: Cell::new(self.cell, f, device),
                out: EdgeConv::new(f, 2, 3, 1, false, device),
                dc_weight: self.explicit_dc.then(|| Param::from_tensor(Tensor::ones([1], device))),
            })
            .collect();
        Cirim {
            cascades,
            refinement: self.coil_refinement.then(|| CoilRefinement::new(device)),
            steps: self.steps,
            filters: f,
        }
    }
}

/// A recurrent cell on `[N, F, H, W]` features.
#[derive(Module, Debug)]
enum Cell {
    IndRnn(IndRnnCell),
    Gru(GruCell),
}

#[derive(Module, Debug)]
struct IndRnnCell {
    input: Conv2d,
    /// The element-wise recurrent weight `u` `[1, F, 1, 1]`.
    recurrent: Param<Tensor<4>>,
}

#[derive(Module, Debug)]
struct GruCell {
    /// Input convolution to the reset, update and candidate parts (`F → 3F`).
    input: Conv2d,
    /// Hidden-state convolution, without bias (`F → 3F`).
    hidden: Conv2d,
}

impl Cell {
    fn new(kind: RecurrentCell, f: usize, device: &Device) -> Self {
        match kind {
            RecurrentCell::IndRnn => {
                // ATOMMIC: N(0, 1/(F(1 + k²))) with kernel size k = 1, biases 0.
                let normal = Initializer::Normal { mean: 0.0, std: 1.0 / (2.0 * f as f64) };
                Cell::IndRnn(IndRnnCell {
                    input: pointwise(f, f, normal.clone(), 0.0, device),
                    recurrent: normal.init([1, f, 1, 1], device),
                })
            }
            RecurrentCell::Gru => {
                let orthogonal = Initializer::Orthogonal { gain: 1.0 };
                let mut hidden = pointwise(f, 3 * f, orthogonal.clone(), 0.0, device);
                hidden.bias = None;
                Cell::Gru(GruCell { input: pointwise(f, 3 * f, orthogonal, 0.0, device), hidden })
            }
        }
    }

    /// The new state from the input `x` and the state `h`.
    fn forward(&self, x: Tensor<4>, h: Tensor<4>) -> Tensor<4> {
        match self {
            Cell::IndRnn(cell) => lean_relu(conv2d(&cell.input, x) + h * cell.recurrent.val()),
            Cell::Gru(cell) => {
                let f = h.dims()[1];
                let (gi, gh) = (conv2d(&cell.input, x), conv2d(&cell.hidden, h.clone()));
                let part = |g: &Tensor<4>, i: usize| g.clone().narrow(1, i * f, f);
                let reset = sigmoid(part(&gi, 0) + part(&gh, 0));
                let update = sigmoid(part(&gi, 1) + part(&gh, 1));
                let candidate = tanh(part(&gi, 2) + reset * part(&gh, 2));
                candidate * (update.clone().neg() + 1.0) + update * h
            }
        }
    }
}

/// One cascade: a recurrent inference machine.
#[derive(Module, Debug)]
struct RimBlock {
    conv1: EdgeConv,
    cell1: Cell,
    conv2: EdgeConv,
    cell2: Cell,
    out: EdgeConv,
    /// `λ` of the explicit DC step, if on.
    dc_weight: Option<Param<Tensor<1>>>,
}

/// CIRIM (see the module docs).
#[derive(Module, Debug)]
pub struct Cirim {
    cascades: Vec<RimBlock>,
    refinement: Option<CoilRefinement>,
    steps: usize,
    filters: usize,
}

impl Cirim {
    /// Number of cascades (the iterates come in this many groups of `steps`).
    pub fn cascades(&self) -> usize {
        self.cascades.len()
    }
}

impl<Op: Physics> Reconstructor<Op> for Cirim {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        let view = op.mri().expect("CIRIM needs the MRI view (checked when the config is loaded)");
        let y = (view.kspace.to)(y);
        let mri = mri_operator(view.op, self.refinement.as_ref());
        let fft = mri.fft();
        let mut x = mri.reduce(fft.inverse(y.clone()));
        let mut hidden: Option<[Tensor<4>; 2]> = None;
        let mut estimates = Vec::with_capacity(self.cascades.len() * self.steps);
        for block in &self.cascades {
            for _ in 0..self.steps {
                let gradient = mri.adjoint(mri.forward(x.clone()) - y.clone());
                let input = Tensor::cat(vec![x.clone().to_channels(), gradient.to_channels()], 1);
                let features = lean_relu(block.conv1.forward(input));
                let [h1, h2] = hidden.take().unwrap_or_else(|| {
                    let [n, _, h, w] = features.dims();
                    let zeros = Tensor::zeros([n, self.filters, h, w], &features.device());
                    [zeros.clone(), zeros]
                });
                let h1 = block.cell1.forward(features, h1);
                let h2 = block.cell2.forward(lean_relu(block.conv2.forward(h1.clone())), h2);
                x = x + Complex::from_channels(block.out.forward(h2.clone()));
                hidden = Some([h1, h2]);
                if let Some(weight) = &block.dc_weight {
                    let k = fft.forward(mri.expand(x.clone()));
                    let residual =
                        (k.clone() - y.clone()).mul_real(mri.mask().clone() * weight.val().reshape([1, 1, 1, 1]));
                    x = mri.reduce(fft.inverse(k - residual));
                }
                estimates.push((view.image.from)(x.clone()));
            }
        }
        estimates
    }
}
