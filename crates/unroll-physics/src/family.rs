//! Operator families and the typed views they give models.
//!
//! Generic models (unrolled gradient schemes, post-processing networks) need only
//! [`LinearOperator`]. Operator-specific models need more: an MRI model needs the mask, ACS, coil
//! maps, FFT and `expand`/`reduce`; a deconvolution model the blur's transfer function; a
//! compound-Gaussian model the operator on real images (`A·diag(z)`). [`Physics`] gives each
//! operator's [`Family`] and the views it offers, in the operator's own signal types (a [`Same`]
//! witness converts, so no model downcasts anything).

use std::fmt;

use burn::prelude::*;

use crate::blur::Blur;
use crate::complex::Complex;
use crate::mri::MultiCoilMri;
use crate::operator::{LinearOperator, Scaled};
use crate::radon::Radon;
use crate::simple::{CompressedSensing, Identity, Inpainting};

/// The operator families of this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Cartesian (multi-coil) MRI, [`MultiCoilMri`].
    Mri,
    /// Convolution with a PSF, [`Blur`].
    Blur,
    /// Pixel masks, [`Inpainting`].
    Inpainting,
    /// The identity, [`Identity`].
    Denoising,
    /// A dense Gaussian matrix, [`CompressedSensing`].
    CompressedSensing,
    /// Parallel-beam Radon transform, [`Radon`].
    Tomography,
}

/// A typed view of an operator (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewKind {
    /// [`MriView`].
    Mri,
    /// [`BlurView`].
    Blur,
    /// [`RealView`].
    Real,
}

impl Family {
    /// The views an operator of this family offers.
    pub fn views(self) -> &'static [ViewKind] {
        match self {
            Family::Mri => &[ViewKind::Mri],
            Family::Blur => &[ViewKind::Blur, ViewKind::Real],
            Family::Inpainting | Family::Denoising | Family::CompressedSensing | Family::Tomography => {
                &[ViewKind::Real]
            }
        }
    }

    /// Whether this family offers `view`.
    pub fn offers(self, view: ViewKind) -> bool {
        self.views().contains(&view)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Mri => "MRI",
            Family::Blur => "blur",
            Family::Inpainting => "inpainting",
            Family::Denoising => "denoising",
            Family::CompressedSensing => "compressed sensing",
            Family::Tomography => "tomography",
        })
    }
}

impl fmt::Display for ViewKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ViewKind::Mri => "the MRI view (mask, ACS, coil maps, FFT, expand/reduce)",
            ViewKind::Blur => "the blur view (PSF transfer function)",
            ViewKind::Real => "the real-image view (A on real images)",
        })
    }
}

/// Evidence that `A` and `B` are one type, as its two (identity) conversions: lets a model written
/// for concrete signals (`Complex<4>`, `Tensor<4>`) work inside code generic over an operator.
pub struct Same<A, B> {
    /// `A → B`.
    pub to: fn(A) -> B,
    /// `B → A`.
    pub from: fn(B) -> A,
}

impl<A> Same<A, A> {
    /// The only way to make one: `A` is `A`.
    pub const REFL: Self = Same { to: |a| a, from: |a| a };
}

/// The MRI view: the SENSE operator with its image and k-space in the operator's types.
pub struct MriView<'a, Op: LinearOperator + ?Sized> {
    /// The operator (mask, ACS, maps, FFT, `expand`/`reduce`).
    pub op: &'a MultiCoilMri,
    /// Images: `Op::Domain` is `Complex<4>` `[N, 1, H, W]`.
    pub image: Same<Op::Domain, Complex<4>>,
    /// k-space: `Op::Range` is `Complex<4>` `[N, C, H, W]`.
    pub kspace: Same<Op::Range, Complex<4>>,
}

/// The blur view: the convolution with its transfer function ([`Blur::transfer`]).
pub struct BlurView<'a, Op: LinearOperator + ?Sized> {
    /// The operator.
    pub op: &'a Blur,
    /// Images: `Op::Domain` is `Tensor<4>`.
    pub image: Same<Op::Domain, Tensor<4>>,
    /// Measurements: `Op::Range` is `Tensor<4>`.
    pub measurement: Same<Op::Range, Tensor<4>>,
}

/// The real-image view: `A` maps real images `[N, C, H, W]` to real measurements, so a model may
/// apply it to products such as `z ⊙ u`.
pub struct RealView<Op: LinearOperator + ?Sized> {
    /// Images: `Op::Domain` is `Tensor<4>`.
    pub image: Same<Op::Domain, Tensor<4>>,
    /// Measurements: `Op::Range` is `Tensor<4>`.
    pub measurement: Same<Op::Range, Tensor<4>>,
}

/// An operator with its family and typed views. The views present are exactly
/// `Self::FAMILY.views()` (the registry test checks it), so a model whose needs were checked
/// against the family at config time always finds its view.
pub trait Physics: LinearOperator {
    /// The family.
    const FAMILY: Family;

    /// [`MriView`], for MRI.
    fn mri(&self) -> Option<MriView<'_, Self>> {
        None
    }

    /// [`BlurView`], for blurs.
    fn blur(&self) -> Option<BlurView<'_, Self>> {
        None
    }

    /// [`RealView`], for operators on real images.
    fn real(&self) -> Option<RealView<Self>> {
        None
    }
}

impl Physics for MultiCoilMri {
    const FAMILY: Family = Family::Mri;

    fn mri(&self) -> Option<MriView<'_, Self>> {
        Some(MriView { op: self, image: Same::REFL, kspace: Same::REFL })
    }
}

impl Physics for Blur {
    const FAMILY: Family = Family::Blur;

    fn blur(&self) -> Option<BlurView<'_, Self>> {
        Some(BlurView { op: self, image: Same::REFL, measurement: Same::REFL })
    }

    fn real(&self) -> Option<RealView<Self>> {
        Some(RealView { image: Same::REFL, measurement: Same::REFL })
    }
}

macro_rules! real_family {
    ($($op:ty => $family:ident),*) => {
        $(impl Physics for $op {
            const FAMILY: Family = Family::$family;

            fn real(&self) -> Option<RealView<Self>> {
                Some(RealView { image: Same::REFL, measurement: Same::REFL })
            }
        })*
    };
}

real_family!(
    Inpainting => Inpainting,
    Identity => Denoising,
    Scaled<CompressedSensing> => CompressedSensing,
    Scaled<Radon> => Tomography
);
