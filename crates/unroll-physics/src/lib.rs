//! `unroll-physics`: the differentiable forward operators of imaging inverse problems, on every Burn
//! device (flex and ndarray on the CPU, wgpu), with the FFTs, sampling masks, coil maps and noise
//! models they need.
//!
//! Layout conventions: every tensor is batched, `[N, C, H, W]` with `N` samples; complex signals are
//! [`Complex`] pairs of real planes; arrays are indexed `[row, column]`. Each operator implements
//! [`LinearOperator`] (forward, adjoint, normal operator, `prox_l2`, operator norm) and [`Physics`]
//! (its family and the typed views it gives models).

pub mod blur;
pub mod coils;
pub mod complex;
pub mod dct;
pub mod family;
pub mod fft;
pub mod host_fft;
pub mod masks;
pub mod mri;
pub mod noise;
pub mod operator;
pub mod psf;
pub mod radon;
pub mod simple;

pub use blur::{Blur, BlurBoundary};
pub use complex::Complex;
pub use dct::Dct2;
pub use family::{BlurView, Family, MriView, Physics, RealView, Same, ViewKind};
pub use fft::{Fft2, FftDirection, FftEngine, FftNorm};
pub use masks::{MaskConfig, SamplingMask};
pub use mri::MultiCoilMri;
pub use noise::NoiseModel;
pub use operator::{CgOptions, LinearOperator, Scaled, Signal, prox_l2_cg};
pub use psf::GroundPsf;
pub use radon::Radon;
pub use simple::{CompressedSensing, Identity, Inpainting};
