//! E2E-VarNet, fastMRI's end-to-end variational network (Sriram et al., MICCAI 2020), the field's
//! standard baseline for multi-coil MRI.
//!
//! From `k₀ = y`, each cascade computes `k ← k − η_t·M⊙(k − y) − F(E(U_t(R(F⁻¹k))))` with a
//! learnable soft-DC weight `η_t` (initialised to 1) and a [`NormUnet`] regulariser `U_t` per
//! cascade. Each iterate is the RSS of `F⁻¹k`. fastMRI learns the coil maps from the ACS lines
//! with a second `NormUnet`; here they are the ACS estimate, refined (when on) by the shared
//! [`CoilRefinement`] U-Net of the same size (8 channels, 4 pools).

use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::{Complex, Physics};

use crate::blocks::{CoilRefinement, mri_operator};
use crate::reconstructor::Reconstructor;
use crate::unet::{NormUnet, UnetConfig};

/// Hyperparameters of [`E2eVarNet`] (defaults: fastMRI's `VarNet`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct E2eVarNetConfig {
    /// Number of cascades (12).
    #[serde(default = "default_cascades")]
    pub cascades: usize,
    /// Channels after the first block of each regulariser U-Net (18).
    #[serde(default = "default_chans")]
    pub chans: usize,
    /// Down-sampling steps of each regulariser U-Net (4).
    #[serde(default = "default_pools")]
    pub pools: usize,
    /// Refine the ACS coil maps with a jointly trained U-Net ([`CoilRefinement`]).
    #[serde(default = "crate::context::on")]
    pub coil_refinement: bool,
}

fn default_cascades() -> usize {
    12
}
fn default_chans() -> usize {
    18
}
fn default_pools() -> usize {
    4
}

impl Default for E2eVarNetConfig {
    fn default() -> Self {
        Self { cascades: default_cascades(), chans: default_chans(), pools: default_pools(), coil_refinement: true }
    }
}

impl E2eVarNetConfig {
    /// Checks the hyperparameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        if self.cascades == 0 || self.chans == 0 || self.pools == 0 {
            return Err(format!(
                "cascades, chans and pools must be at least 1, got {}, {} and {}",
                self.cascades, self.chans, self.pools
            ));
        }
        Ok(())
    }

    /// The network.
    pub fn init(&self, device: &Device) -> E2eVarNet {
        let unet = UnetConfig { chans: self.chans, pools: self.pools, dropout: 0.0 };
        E2eVarNet {
            cascades: (0..self.cascades)
                .map(|_| VarNetBlock {
                    regulariser: NormUnet::new(&unet, device),
                    dc_weight: Param::from_tensor(Tensor::ones([1], device)),
                })
                .collect(),
            refinement: self.coil_refinement.then(|| CoilRefinement::new(device)),
        }
    }
}

#[derive(Module, Debug)]
struct VarNetBlock {
    regulariser: NormUnet,
    /// The soft-DC weight `η_t`.
    dc_weight: Param<Tensor<1>>,
}

/// E2E-VarNet (see the module docs).
#[derive(Module, Debug)]
pub struct E2eVarNet {
    cascades: Vec<VarNetBlock>,
    refinement: Option<CoilRefinement>,
}

impl<Op: Physics> Reconstructor<Op> for E2eVarNet {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        let view = op.mri().expect("E2E-VarNet needs the MRI view (checked when the config is loaded)");
        let y = (view.kspace.to)(y);
        let mri = mri_operator(view.op, self.refinement.as_ref());
        let (fft, mask) = (mri.fft(), mri.mask().clone());
        let mut k = y.clone();
        let mut coil_images = fft.inverse(y.clone());
        self.cascades
            .iter()
            .map(|block| {
                let regulariser = fft.forward(mri.expand(block.regulariser.forward(mri.reduce(coil_images.clone()))));
                let soft_dc =
                    (k.clone() - y.clone()).mul_real(mask.clone() * block.dc_weight.val().reshape([1, 1, 1, 1]));
                k = k.clone() - soft_dc - regulariser;
                coil_images = fft.inverse(k.clone());
                (view.image.from)(Complex::from_real(coil_images.clone().rss()))
            })
            .collect()
    }
}
