//! On-the-fly simulation of measurements from clean images with `unroll-physics`, so one image set
//! serves many inverse problems.
//!
//! Every sample gets its own seed; the seed fixes everything random about its measurement (mask,
//! coil-array rotation, image phase, PSF jitter, noise), so a validation set is identical at every
//! epoch and on every backend. Clean images are real `[N, C, H, W]` in `[0, 1]`.

use std::f64::consts::PI;
use std::sync::{Arc, Mutex};

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use unroll_physics::coils::{birdcage_maps, estimate_maps_from_acs};
use unroll_physics::masks::acs_columns;
use unroll_physics::psf::{GroundPsf, average_pool};

use crate::galaxies::{PIXEL_SCALE, POOLED_CENTRE, UPSAMPLING};
use crate::readers::FastMriVolume;
use unroll_physics::{
    Blur, BlurBoundary, Complex, CompressedSensing, Family, Fft2, Identity, Inpainting, LinearOperator, MaskConfig,
    MultiCoilMri, NoiseModel, Physics, Radon, Scaled, Signal,
};

/// A simulated batch: the operator with its per-sample parameters, the measurement and the target.
#[derive(Clone, Debug)]
pub struct Measured<Op: LinearOperator> {
    /// The forward operator of this batch.
    pub op: Op,
    /// The measurement `y = A x + noise`.
    pub y: Op::Range,
    /// The ground truth `x`.
    pub target: Op::Domain,
}

/// The per-sample acquisition parameters of a batch, drawn by a simulation or read off real data,
/// from which [`Simulation::operator`] builds the operator: the one path from parameters to
/// operator, shared by simulation, evaluation and inference.
#[allow(clippy::large_enum_variant)] // one per batch, short-lived
#[derive(Clone, Debug)]
pub enum Acquisition {
    /// Cartesian MRI: the sampling mask and its ACS region (0/1, `[N|1, 1, 1|H, W]`) and the coil maps.
    Mri {
        /// Sampled k-space (1 = sampled).
        mask: Tensor<4>,
        /// The fully sampled centre.
        acs: Tensor<4>,
        /// Where the coil maps come from.
        maps: CoilMaps,
    },
    /// Blur: PSFs `[N|1, 1, k, k]` for images of `image` = `[H, W]`.
    Blur {
        /// The PSFs (each summing to 1).
        psf: Tensor<4>,
        /// Image size.
        image: [usize; 2],
    },
    /// Inpainting: observed-pixel masks `[N|1, 1, H, W]` (1 = observed).
    Inpainting {
        /// The masks.
        mask: Tensor<4>,
    },
    /// Problems whose operator has no per-sample parameters (denoising, compressed sensing,
    /// tomography): the device to build it on.
    Fixed {
        /// The device.
        device: Device,
    },
}

impl Acquisition {
    /// The acquisition of slice `slice` of measured k-space, and that k-space `[1, C, H, W]`: the
    /// mask is the columns with any non-zero value (over coils and rows), the ACS the sampled block
    /// around the DC column ([`acs_columns`], which follows `fft.centred`), and the maps those of
    /// `coil_maps` ([`Acquisition::mri`]). An error if `coil_maps` asks for the file's maps and it
    /// has none.
    pub fn from_kspace(
        volume: &FastMriVolume,
        slice: usize,
        fft: Fft2,
        coil_maps: CoilMapSource,
        device: &Device,
    ) -> Result<(Self, Complex<4>), String> {
        let [_, coils, h, w] = volume.shape;
        let plane = coils * h * w;
        let (re, im) = (&volume.kspace_re[slice * plane..][..plane], &volume.kspace_im[slice * plane..][..plane]);
        let sampled: Vec<bool> =
            (0..w).map(|col| (0..coils * h).any(|row| re[row * w + col] != 0.0 || im[row * w + col] != 0.0)).collect();
        let columns = |v: &[bool]| {
            let values = v.iter().map(|&s| f32::from(u8::from(s))).collect::<Vec<_>>();
            Tensor::<4>::from_data(TensorData::new(values, [1, 1, 1, w]), device)
        };
        let (mask, acs) = (columns(&sampled), columns(&acs_columns(&sampled, fft.centred)));
        let k = kspace_slice(volume, slice, device);
        Ok((Self::mri(mask, acs, &k, volume, slice, coil_maps)?, k))
    }

    /// Retrospective undersampling of fully sampled slice `slice`: a mask drawn from `mask` with
    /// `seed` (its ACS kept), `y = M ⊙ k`, the maps of `coil_maps` ([`Acquisition::mri`]). Returns the acquisition, `y`
    /// `[1, C, H, W]` and the target: the RSS of the fully sampled coil images `[1, 1, H, W]`
    /// (fastMRI's `reconstruction_rss` before its centre crop). An error if the mask does not fit.
    pub fn retrospective(
        volume: &FastMriVolume,
        slice: usize,
        mask: &MaskConfig,
        seed: u64,
        fft: Fft2,
        coil_maps: CoilMapSource,
        device: &Device,
    ) -> Result<(Self, Complex<4>, Tensor<4>), String> {
        let [_, _, h, w] = volume.shape;
        mask.validate_for([h, w]).map_err(|e| format!("data.problem.mask: {e} (k-space of {h}x{w})"))?;
        let sampling = mask.generate([h, w], seed);
        let (mask, acs) = (sampling.to_tensor(device), sampling.acs_tensor(device));
        let full = kspace_slice(volume, slice, device);
        let target = fft.inverse(full.clone()).rss();
        let y = full.mul_real(mask.clone());
        Ok((Self::mri(mask, acs, &y, volume, slice, coil_maps)?, y, target))
    }

    /// An MRI acquisition of slice `slice` of `volume`, measured as `k`: none for one coil, the
    /// volume's `sensitivity_map` for [`CoilMapSource::File`] (an error without one), else maps
    /// from the ACS of `k` (measured k-space has no true maps).
    fn mri(
        mask: Tensor<4>,
        acs: Tensor<4>,
        k: &Complex<4>,
        volume: &FastMriVolume,
        slice: usize,
        coil_maps: CoilMapSource,
    ) -> Result<Self, String> {
        let maps = match (&volume.maps, coil_maps) {
            _ if k.dims()[1] == 1 => CoilMaps::Single,
            (Some((re, im)), CoilMapSource::File) => {
                CoilMaps::Given(planes_slice(re, im, volume.shape, slice, &k.device()))
            }
            (None, CoilMapSource::File) => return Err(NO_SENSITIVITY_MAP.into()),
            _ => CoilMaps::FromAcs(k.clone()),
        };
        Ok(Acquisition::Mri { mask, acs, maps })
    }

    /// The family name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Acquisition::Mri { .. } => "MRI",
            Acquisition::Blur { .. } => "blur",
            Acquisition::Inpainting { .. } => "inpainting",
            Acquisition::Fixed { .. } => "fixed-operator",
        }
    }
}

/// Slice `slice` of a volume's k-space, `[1, C, H, W]`.
pub(crate) fn kspace_slice(volume: &FastMriVolume, slice: usize, device: &Device) -> Complex<4> {
    planes_slice(&volume.kspace_re, &volume.kspace_im, volume.shape, slice, device)
}

/// Slice `slice` of complex `[slices, C, H, W]` planes, `[1, C, H, W]`.
pub(crate) fn planes_slice(
    re: &[f32],
    im: &[f32],
    [_, coils, h, w]: [usize; 4],
    slice: usize,
    device: &Device,
) -> Complex<4> {
    let plane = coils * h * w;
    let part = |v: &[f32]| {
        Tensor::<4>::from_data(TensorData::new(v[slice * plane..][..plane].to_vec(), [1, coils, h, w]), device)
    };
    Complex::new(part(re), part(im))
}

/// The error of [`CoilMapSource::File`] for a file without maps.
pub const NO_SENSITIVITY_MAP: &str =
    "has no `sensitivity_map` dataset, which data.problem.coil_maps = \"file\" needs (use \"acs\")";

fn mismatch(problem: &str, acquisition: &Acquisition) -> String {
    format!("{problem} problem cannot use a {} acquisition", acquisition.kind())
}

/// The coil maps of an MRI acquisition.
#[derive(Clone, Debug)]
pub enum CoilMaps {
    /// Single-coil data (no maps).
    Single,
    /// Known maps `[N|1, C, H, W]` (simulated, or a file's `sensitivity_map`).
    Given(Complex<4>),
    /// Estimated from the ACS of this (masked) k-space `[N, C, H, W]`, as DIRECT does.
    FromAcs(Complex<4>),
}

/// A measurement simulator for one operator type.
pub trait Simulation: Clone + Send + Sync + 'static {
    /// The operator it builds.
    type Op: Physics + Clone + Send + 'static;

    /// Simulates the measurement of the clean batch `clean` (`[N, C, H, W]`), sample `n` from
    /// `seeds[n]`.
    fn simulate(&self, clean: Tensor<4>, seeds: &[u64]) -> Measured<Self::Op>;

    /// The operator of an acquisition; an error if the acquisition is of another family.
    fn operator(&self, acquisition: Acquisition) -> Result<Self::Op, String>;

    /// A measurement in physical units (of the unscaled operator, e.g. a sinogram of line
    /// integrals) in the units of [`Simulation::operator`]'s operator.
    fn rescale_physical(
        &self,
        _op: &Self::Op,
        y: <Self::Op as LinearOperator>::Range,
    ) -> <Self::Op as LinearOperator>::Range {
        y
    }

    /// Channels the model sees for `image_channels` clean channels (complex signals double them).
    fn model_channels(&self, image_channels: usize) -> usize {
        image_channels
    }

    /// The image reports call the input: `|Aᴴy|` unless the field has another convention.
    fn input_image(&self, op: &Self::Op, y: <Self::Op as LinearOperator>::Range) -> Tensor<4> {
        op.adjoint(y).image()
    }

    /// The name of [`Simulation::input_image`].
    fn input_name(&self) -> &'static str {
        "Aᴴy"
    }

    /// The classical reconstruction a learned one is compared with, and its name.
    fn baseline(&self, op: &Self::Op, y: <Self::Op as LinearOperator>::Range) -> <Self::Op as LinearOperator>::Domain;

    /// The name of [`Simulation::baseline`].
    fn baseline_name(&self) -> &'static str;
}

/// Tikhonov weight `λ` of the regularised least-squares baselines, `argmin ‖Ax − y‖² + λ‖x‖²`
/// (operators here have norm at most 1).
pub const TIKHONOV_WEIGHT: f64 = 1e-2;

/// `argmin ‖Ax − y‖² + λ‖x‖²` by the operator's `prox_l2` at `z = 0` (closed form or CG).
pub fn tikhonov<Op: LinearOperator>(op: &Op, y: Op::Range) -> Op::Domain {
    let z = op.adjoint(y.clone()).zeros_like();
    let gamma = Tensor::<1>::from_floats([1.0 / TIKHONOV_WEIGHT], &y.clone().to_channels().device());
    op.prox_l2(z, y, gamma)
}

/// Something that runs generic code on the concrete simulation a [`ProblemConfig`] selects.
pub trait SimulationVisitor {
    /// What the visit returns.
    type Output;
    /// Called with the concrete simulation.
    fn visit<S: Simulation>(self, simulation: S) -> Self::Output;
}

/// The inverse problem to simulate (typed config: `kind = "multicoil_mri"`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProblemConfig {
    /// Cartesian multi-coil MRI with simulated birdcage coil maps (rotated per sample) and a mask
    /// per sample; the image may carry a smooth random phase.
    MulticoilMri {
        /// Number of coils (1 = single-coil, no maps).
        #[serde(default = "default_coils")]
        coils: usize,
        /// Sampling mask family.
        mask: MaskConfig,
        /// Noise on k-space (real and imaginary parts).
        #[serde(default)]
        noise: NoiseModel,
        /// FFT convention.
        #[serde(default)]
        fft: Fft2,
        /// Peak amplitude (radians) of a smooth random phase given to the image; 0 = real image.
        #[serde(default)]
        phase: f64,
        /// The coil maps the model's operator uses: estimated from the ACS of the measured k-space
        /// (default, as at inference on real data) or the true simulated ones.
        #[serde(default)]
        coil_maps: CoilMapSource,
    },
    /// Gaussian blur with a per-sample width drawn uniformly from `sigma = [min, max]` pixels.
    Blur {
        /// Range of the Gaussian PSF's standard deviation, in pixels.
        #[serde(deserialize_with = "crate::pairs::pair")]
        sigma: [f64; 2],
        /// Side of the (square, odd) PSF support.
        #[serde(default = "default_kernel")]
        kernel_size: usize,
        /// Boundary condition.
        #[serde(default)]
        boundary: BlurBoundary,
        /// Measurement noise.
        #[serde(default)]
        noise: NoiseModel,
    },
    /// Ground-based imaging of galaxies (`pnp-admm-galaxy.md` §3.3), for square images at 0.2″
    /// per pixel (the `galaxies` source): a PSF per sample ([`ground_psf`]) drawn at 4× and
    /// pooled to an image-sized kernel, a linear (zero-boundary) convolution, negatives clipped,
    /// and Gaussian noise at a signal-to-noise ratio `‖Ax‖₂ / σ` drawn from a density ∝ SNR^−0.7
    /// on `snr` (`[s, s]`: exactly `s`).
    Galaxy {
        /// Range of the SNR.
        #[serde(default = "default_galaxy_snr", deserialize_with = "crate::pairs::pair")]
        snr: [f64; 2],
    },
    /// Random pixel masks keeping a fraction `keep` of the pixels.
    Inpainting {
        /// Fraction of observed pixels.
        keep: f64,
        /// Measurement noise.
        #[serde(default)]
        noise: NoiseModel,
    },
    /// Denoising (identity operator).
    Denoising {
        /// The noise to remove.
        noise: NoiseModel,
    },
    /// Gaussian compressed sensing of whole images with `ratio · C·H·W` measurements.
    CompressedSensing {
        /// Measurement ratio `m / n`.
        ratio: f64,
        /// Seed of the (fixed) matrix.
        #[serde(default)]
        matrix_seed: u64,
        /// Measurement noise.
        #[serde(default)]
        noise: NoiseModel,
    },
    /// Parallel-beam CT with `angles` views evenly spread over 180°.
    Tomography {
        /// Number of projection angles.
        angles: usize,
        /// Measurement noise.
        #[serde(default)]
        noise: NoiseModel,
    },
}

/// Where the coil maps of simulated MRI come from (see [`ProblemConfig::MulticoilMri`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoilMapSource {
    /// Estimated from the ACS of the simulated k-space, as at inference.
    #[default]
    Acs,
    /// The true simulated maps.
    True,
    /// The `sensitivity_map` dataset of the `fastmri` source's files (each file must have one), in
    /// training, evaluation and inference alike.
    File,
}

fn default_coils() -> usize {
    8
}
fn default_galaxy_snr() -> [f64; 2] {
    [18.0, 220.0]
}
fn default_kernel() -> usize {
    9
}

impl ProblemConfig {
    /// The config name (`kind`).
    pub fn name(&self) -> &'static str {
        match self {
            ProblemConfig::MulticoilMri { .. } => "multicoil_mri",
            ProblemConfig::Blur { .. } => "blur",
            ProblemConfig::Galaxy { .. } => "galaxy",
            ProblemConfig::Inpainting { .. } => "inpainting",
            ProblemConfig::Denoising { .. } => "denoising",
            ProblemConfig::CompressedSensing { .. } => "compressed_sensing",
            ProblemConfig::Tomography { .. } => "tomography",
        }
    }

    /// The operator family.
    pub fn family(&self) -> Family {
        match self {
            ProblemConfig::MulticoilMri { .. } => Family::Mri,
            ProblemConfig::Blur { .. } | ProblemConfig::Galaxy { .. } => Family::Blur,
            ProblemConfig::Inpainting { .. } => Family::Inpainting,
            ProblemConfig::Denoising { .. } => Family::Denoising,
            ProblemConfig::CompressedSensing { .. } => Family::CompressedSensing,
            ProblemConfig::Tomography { .. } => Family::Tomography,
        }
    }

    /// Checks the parameters, naming the offending one.
    pub fn validate(&self) -> Result<(), String> {
        let noise = match self {
            ProblemConfig::MulticoilMri { coils, mask, noise, .. } => {
                if *coils == 0 {
                    return Err("coils must be at least 1".into());
                }
                mask.validate().map_err(|e| format!("mask: {e}"))?;
                if matches!(noise, NoiseModel::Poisson { .. } | NoiseModel::PoissonGaussian { .. }) {
                    return Err("noise: Poisson noise models real, non-negative counts, but MRI k-space is complex; \
                         use kind = \"gaussian\""
                        .into());
                }
                noise
            }
            ProblemConfig::Blur { sigma, kernel_size, noise, .. } => {
                if !(sigma[0] > 0.0 && sigma[0] <= sigma[1]) {
                    return Err(format!("sigma must be [min, max] with 0 < min <= max, got {sigma:?}"));
                }
                if kernel_size % 2 == 0 {
                    return Err(format!("kernel_size must be odd, got {kernel_size}"));
                }
                noise
            }
            ProblemConfig::Galaxy { snr } => {
                return if snr[0] > 0.0 && snr[0] <= snr[1] && snr[1].is_finite() {
                    Ok(())
                } else {
                    Err(format!("snr must be [min, max] with 0 < min <= max, got {snr:?}"))
                };
            }
            ProblemConfig::Inpainting { keep, noise } => {
                if !(*keep > 0.0 && *keep <= 1.0) {
                    return Err(format!("keep must be in (0, 1], got {keep}"));
                }
                noise
            }
            ProblemConfig::Denoising { noise } => noise,
            ProblemConfig::CompressedSensing { ratio, noise, .. } => {
                if !(*ratio > 0.0 && *ratio <= 1.0) {
                    return Err(format!("ratio must be in (0, 1], got {ratio}"));
                }
                noise
            }
            ProblemConfig::Tomography { angles, noise } => {
                if *angles == 0 {
                    return Err("angles must be at least 1".into());
                }
                noise
            }
        };
        noise.validate().map_err(|e| format!("noise: {e}"))
    }

    /// Checks that need the clean image shape `[C, H, W]` (after cropping), naming the key relative
    /// to the problem (`mask`, `kernel_size`, …) or the data (`data.source`).
    pub fn validate_for(&self, [c, h, w]: [usize; 3]) -> Result<(), String> {
        match self {
            ProblemConfig::MulticoilMri { mask, .. } => {
                // 2·coils channels are measured coil images (the `fastmri` source).
                if c != 1 && c % 2 == 1 {
                    return Err(format!(
                        "data.source: multicoil_mri takes single-channel images, got {c} channels \
                         (set grayscale = true)"
                    ));
                }
                mask.validate_for([h, w]).map_err(|e| format!("data.problem.mask: {e} (images of {h}x{w})"))
            }
            ProblemConfig::Blur { kernel_size, .. } if *kernel_size > h.min(w) => Err(format!(
                "data.problem.kernel_size: a {kernel_size}x{kernel_size} kernel is larger than the {h}x{w} images"
            )),
            ProblemConfig::Galaxy { .. } if h != w || h % 2 == 1 || c != 1 => Err(format!(
                "data.source: the galaxy problem takes square single-channel images of an even side, got {c}x{h}x{w}"
            )),
            ProblemConfig::CompressedSensing { ratio, .. } => {
                let (n, m) = (c * h * w, Self::measurements(c * h * w, *ratio));
                let bytes = (n * m * 4) as f64;
                if bytes > MAX_MATRIX_BYTES as f64 {
                    return Err(format!(
                        "data.problem.ratio: the {m}x{n} Gaussian matrix for {c}x{h}x{w} images needs {:.1} GiB \
                         (limit {} MiB); use a smaller data.crop or ratio",
                        bytes / (1u64 << 30) as f64,
                        MAX_MATRIX_BYTES >> 20
                    ));
                }
                Ok(())
            }
            ProblemConfig::Tomography { .. } if h != w => {
                Err(format!("data.crop: tomography needs square images, got {h}x{w}; set data.crop"))
            }
            _ => Ok(()),
        }
    }

    /// Measurements `m = round(ratio · n)` (at least 1) of compressed sensing on `n` pixels.
    fn measurements(n: usize, ratio: f64) -> usize {
        ((n as f64 * ratio).round() as usize).max(1)
    }

    /// Runs `visitor` on the concrete simulation for images of shape `[C, H, W]`.
    pub fn visit<V: SimulationVisitor>(&self, image: [usize; 3], visitor: V) -> V::Output {
        match self.clone() {
            ProblemConfig::MulticoilMri { coils, mask, noise, fft, phase, coil_maps } => {
                visitor.visit(MriSimulation { coils, mask, noise, fft, phase, coil_maps })
            }
            ProblemConfig::Blur { sigma, kernel_size, boundary, noise } => {
                visitor.visit(BlurSimulation { sigma, kernel_size, boundary, noise })
            }
            ProblemConfig::Galaxy { snr } => visitor.visit(GalaxySimulation { snr }),
            ProblemConfig::Inpainting { keep, noise } => visitor.visit(InpaintingSimulation { keep, noise }),
            ProblemConfig::Denoising { noise } => visitor.visit(DenoisingSimulation { noise }),
            ProblemConfig::CompressedSensing { ratio, matrix_seed, noise } => {
                let m = Self::measurements(image.iter().product(), ratio);
                let build = move |device: &Device| CompressedSensing::gaussian(m, image, matrix_seed, device);
                let least_squares = |op: &Scaled<CompressedSensing>, y| tikhonov(op, y);
                visitor.visit(FixedOperatorSimulation::new(noise, image, build, "Tikhonov (CG)", least_squares))
            }
            ProblemConfig::Tomography { angles, noise } => {
                assert_eq!(image[1], image[2], "tomography needs square images (checked by `validate_for`)");
                let build = move |device: &Device| Radon::new(image[1], &Radon::uniform_angles(angles), device);
                // The FBP inverts the unscaled Radon transform: undo the unit-norm factor first.
                let fbp = |op: &Scaled<Radon>, y: Tensor<4>| op.inner.fbp(y / op.factor);
                visitor.visit(FixedOperatorSimulation::new(noise, image, build, "FBP", fbp))
            }
        }
    }
}

/// Largest dense compressed-sensing matrix (f32) a problem may ask for: 1 GiB.
pub const MAX_MATRIX_BYTES: usize = 1 << 30;

/// A fresh RNG for sample `seed` and purpose `stream` (so mask, maps and noise are independent).
fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn noise_seeds(seeds: &[u64]) -> Vec<u64> {
    seeds.iter().map(|&s| rng(s, 99).random()).collect()
}

/// Multi-coil MRI simulation (see [`ProblemConfig::MulticoilMri`]).
#[derive(Clone, Debug)]
pub struct MriSimulation {
    coils: usize,
    mask: MaskConfig,
    noise: NoiseModel,
    fft: Fft2,
    phase: f64,
    coil_maps: CoilMapSource,
}

/// Width of the Gaussian taper of ACS map estimates (DIRECT's default).
pub const ACS_TAPER: f64 = 0.7;

impl Simulation for MriSimulation {
    type Op = MultiCoilMri;

    /// Single-channel images: k-space is simulated with the true (birdcage) maps, and the returned
    /// operator has the maps of `coil_maps`. Measured coil images (`2·coils` channels, from the
    /// `fastmri` source; with [`CoilMapSource::File`] followed by the file's maps, `4·coils` in
    /// all): their k-space is undersampled, the maps come from the ACS (or are those given) and
    /// the target is their RSS.
    fn simulate(&self, clean: Tensor<4>, seeds: &[u64]) -> Measured<MultiCoilMri> {
        let [n, c, h, w] = clean.dims();
        let device = clean.device();
        let sampling: Vec<_> = seeds.iter().map(|&s| self.mask.generate([h, w], rng(s, 1).random())).collect();
        let mask = Tensor::cat(sampling.iter().map(|m| m.to_tensor(&device)).collect(), 0);
        let acs = Tensor::cat(sampling.iter().map(|m| m.acs_tensor(&device)).collect(), 0);
        if c > 1 {
            let (clean, given) = match self.coil_maps {
                CoilMapSource::File => {
                    let half = c / 2;
                    (clean.clone().narrow(1, 0, half), Some(Complex::from_channels(clean.narrow(1, half, half))))
                }
                _ => (clean, None),
            };
            let coil_images = Complex::from_channels(clean);
            let target = Complex::from_real(coil_images.clone().rss());
            let k = self.fft.forward(coil_images);
            let y = self.noise.apply_complex(k, &noise_seeds(seeds)).mul_real(mask.clone());
            let maps = match given {
                _ if y.dims()[1] == 1 => CoilMaps::Single,
                Some(maps) => CoilMaps::Given(maps),
                None => CoilMaps::FromAcs(y.clone()),
            };
            let op = self.operator(Acquisition::Mri { mask, acs, maps }).expect("MRI");
            return Measured { op, y, target };
        }
        let target = if self.phase > 0.0 {
            let phases: Vec<f32> =
                seeds.iter().flat_map(|&s| smooth_phase([h, w], self.phase, &mut rng(s, 2))).collect();
            let phase = Tensor::<4>::from_data(TensorData::new(phases, [n, 1, h, w]), &device);
            Complex::new(clean.clone() * phase.clone().cos(), clean * phase.sin())
        } else {
            Complex::from_real(clean)
        };
        let true_maps = (self.coils > 1).then(|| {
            let maps: Vec<Complex<4>> = seeds
                .iter()
                .map(|&s| birdcage_maps([h, w], self.coils, 1.5, rng(s, 3).random::<f64>() * 2.0 * PI, &device))
                .collect();
            Complex::new(
                Tensor::cat(maps.iter().map(|m| m.re.clone()).collect(), 0),
                Tensor::cat(maps.into_iter().map(|m| m.im).collect(), 0),
            )
        });
        let maps = true_maps.clone().map_or(CoilMaps::Single, CoilMaps::Given);
        let true_op = self.operator(Acquisition::Mri { mask: mask.clone(), acs: acs.clone(), maps }).expect("MRI");
        let clean_k = true_op.forward(target.clone());
        let y = self.noise.apply_complex(clean_k, &noise_seeds(seeds)).mul_real(mask.clone());
        let op = match (true_maps, self.coil_maps) {
            (Some(_), CoilMapSource::Acs) => {
                self.operator(Acquisition::Mri { mask, acs, maps: CoilMaps::FromAcs(y.clone()) }).expect("MRI")
            }
            _ => true_op,
        };
        Measured { op, y, target }
    }

    fn operator(&self, acquisition: Acquisition) -> Result<MultiCoilMri, String> {
        let Acquisition::Mri { mask, acs, maps } = acquisition else {
            return Err(mismatch("an MRI", &acquisition));
        };
        let op = match maps {
            CoilMaps::Single => MultiCoilMri::single_coil(mask, self.fft),
            CoilMaps::Given(maps) => MultiCoilMri::new(maps, mask, self.fft),
            CoilMaps::FromAcs(kspace) => {
                let maps = estimate_maps_from_acs(kspace, acs.clone(), Some(ACS_TAPER), self.fft).detach();
                MultiCoilMri::new(maps, mask, self.fft)
            }
        };
        Ok(op.with_acs(acs))
    }

    /// One complex image, whether simulated from an image or measured by coils.
    fn model_channels(&self, _image_channels: usize) -> usize {
        2
    }

    /// The zero-filled RSS, `rss(F⁻¹y)` (fastMRI's and DIRECT's "zero-filled" image).
    fn input_image(&self, op: &MultiCoilMri, y: Complex<4>) -> Tensor<4> {
        op.fft().inverse(y).rss()
    }

    fn input_name(&self) -> &'static str {
        "zero-filled RSS"
    }

    fn baseline(&self, op: &MultiCoilMri, y: Complex<4>) -> Complex<4> {
        tikhonov(op, y)
    }

    fn baseline_name(&self) -> &'static str {
        "CG-SENSE"
    }
}

/// A smooth random phase map: a random plane plus a random quadratic bowl, peak `amplitude` rad.
fn smooth_phase([h, w]: [usize; 2], amplitude: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let [a, b, c, d]: [f64; 4] = std::array::from_fn(|_| rng.random_range(-1.0..1.0));
    (0..h * w)
        .map(|i| {
            let (y, x) = (2.0 * (i / w) as f64 / h as f64 - 1.0, 2.0 * (i % w) as f64 / w as f64 - 1.0);
            (amplitude * (a * x + b * y + c * x * x + d * y * y) / 4.0) as f32
        })
        .collect()
}

/// Gaussian blur simulation (see [`ProblemConfig::Blur`]).
#[derive(Clone, Debug)]
pub struct BlurSimulation {
    sigma: [f64; 2],
    kernel_size: usize,
    boundary: BlurBoundary,
    noise: NoiseModel,
}

impl Simulation for BlurSimulation {
    type Op = Blur;

    fn simulate(&self, clean: Tensor<4>, seeds: &[u64]) -> Measured<Blur> {
        let [_, _, h, w] = clean.dims();
        let device = clean.device();
        let k = self.kernel_size;
        let psfs: Vec<f32> = seeds
            .iter()
            .flat_map(|&s| {
                let sigma = rng(s, 1).random_range(self.sigma[0]..=self.sigma[1]);
                gaussian_psf(k, sigma)
            })
            .collect();
        let psf = Tensor::from_data(TensorData::new(psfs, [seeds.len(), 1, k, k]), &device);
        let op = self.operator(Acquisition::Blur { psf, image: [h, w] }).expect("blur");
        let y = self.noise.apply(op.forward(clean.clone()), &noise_seeds(seeds));
        Measured { op, y, target: clean }
    }

    fn operator(&self, acquisition: Acquisition) -> Result<Blur, String> {
        match acquisition {
            Acquisition::Blur { psf, image } => Ok(Blur::new(psf, image, self.boundary)),
            other => Err(mismatch("a blur", &other)),
        }
    }

    /// Wiener deconvolution with a constant noise-to-signal ratio `λ` (Tikhonov; closed form for
    /// circular blurs, CG otherwise).
    fn baseline(&self, op: &Blur, y: Tensor<4>) -> Tensor<4> {
        tikhonov(op, y)
    }

    fn baseline_name(&self) -> &'static str {
        "Wiener"
    }
}

/// Normalised isotropic Gaussian on a `k × k` grid centred at `k / 2`.
pub fn gaussian_psf(k: usize, sigma: f64) -> Vec<f32> {
    let c = (k / 2) as f64;
    let values: Vec<f64> = (0..k * k)
        .map(|i| {
            let (a, b) = ((i / k) as f64 - c, (i % k) as f64 - c);
            (-(a * a + b * b) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let total: f64 = values.iter().sum();
    values.into_iter().map(|v| (v / total) as f32).collect()
}

/// Host copy of a tensor.
fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data")
}

/// Galaxy imaging simulation (see [`ProblemConfig::Galaxy`]).
#[derive(Clone, Debug)]
pub struct GalaxySimulation {
    snr: [f64; 2],
}

/// The LSST-like PSF of the reference's simulation (§3.3), drawn from `rng`: Kolmogorov seeing
/// from the LSST distribution (density 0, 20, 17, 13, 9, 0 at 0.45, 0.55, …, 0.95″, interpolated
/// linearly where the reference uses a spline) sheared by a distortion `|e| ~ U(0.01, 0.03)` at a
/// random angle; optics with `λ/D ~ U(0.017″, 0.024″)`, defocus `N(0, 0.36)` and the other
/// Zernike terms (astigmatism, coma, trefoil, spherical) `N(0, 0.07)` waves, obscuration
/// `U(0.1, 0.5)`.
pub fn ground_psf(rng: &mut ChaCha8Rng) -> GroundPsf {
    const SEEING: [f64; 6] = [0.0, 20.0, 17.0, 13.0, 9.0, 0.0];
    let seeing = loop {
        let s: f64 = rng.random_range(0.45..0.95);
        let t = (s - 0.45) / 0.1;
        let k = (t.floor() as usize).min(4);
        let density = SEEING[k] + (t - k as f64) * (SEEING[k + 1] - SEEING[k]);
        if rng.random_range(0.0..20.0) < density {
            break s;
        }
    };
    let (e, angle): (f64, f64) = (rng.random_range(0.01..0.03), rng.random_range(0.0..PI));
    // Reduced shear of distortion e: g = e / (1 + √(1 − e²)).
    let g = e / (1.0 + (1.0 - e * e).sqrt());
    let normal = |rng: &mut ChaCha8Rng, sigma: f64| -> f64 { sigma * rng.sample::<f64, _>(StandardNormal) };
    let mut aberrations = [0.0; 8];
    aberrations[0] = normal(rng, 0.36);
    for a in &mut aberrations[1..] {
        *a = normal(rng, 0.07);
    }
    GroundPsf {
        seeing,
        shear: [g * (2.0 * angle).cos(), g * (2.0 * angle).sin()],
        lambda_over_d: rng.random_range(0.017..0.024),
        obscuration: rng.random_range(0.1..0.5),
        aberrations,
    }
}

impl GalaxySimulation {
    /// An SNR from the density ∝ SNR^−0.7 on `[min, max]` (inverse CDF).
    fn draw_snr(&self, rng: &mut ChaCha8Rng) -> f64 {
        let [lo, hi] = self.snr;
        let u: f64 = rng.random();
        (lo.powf(0.3) + u * (hi.powf(0.3) - lo.powf(0.3))).powf(1.0 / 0.3)
    }
}

impl Simulation for GalaxySimulation {
    type Op = Blur;

    fn simulate(&self, clean: Tensor<4>, seeds: &[u64]) -> Measured<Blur> {
        let [n, _, h, w] = clean.dims();
        let device = clean.device();
        let psfs: Vec<f32> = seeds
            .par_iter()
            .flat_map_iter(|&s| {
                let fine =
                    ground_psf(&mut rng(s, 1)).draw(h * UPSAMPLING, PIXEL_SCALE / UPSAMPLING as f64, POOLED_CENTRE);
                let pooled = average_pool(&fine, [h * UPSAMPLING, w * UPSAMPLING], UPSAMPLING);
                let total: f64 = pooled.iter().sum();
                pooled.into_iter().map(move |v| (v / total) as f32)
            })
            .collect();
        let psf = Tensor::from_data(TensorData::new(psfs, [n, 1, h, w]), &device);
        let op = self.operator(Acquisition::Blur { psf, image: [h, w] }).expect("blur");
        let blurred = op.forward(clean.clone()).clamp_min(0.0);
        let norms = host(blurred.clone().powi_scalar(2).sum_dims(&[1, 2, 3]).sqrt());
        let noise = noise_seeds(seeds);
        let y = (0..n)
            .map(|i| {
                let sigma = f64::from(norms[i]) / self.draw_snr(&mut rng(seeds[i], 2));
                NoiseModel::Gaussian { sigma }.apply(blurred.clone().narrow(0, i, 1), &noise[i..=i])
            })
            .collect();
        Measured { op, y: Tensor::cat(y, 0), target: clean }
    }

    fn operator(&self, acquisition: Acquisition) -> Result<Blur, String> {
        match acquisition {
            Acquisition::Blur { psf, image } => Ok(Blur::new(psf, image, BlurBoundary::Zero)),
            other => Err(mismatch("a blur", &other)),
        }
    }

    /// The observation itself (the reference's "no deconvolution").
    fn input_image(&self, _op: &Blur, y: Tensor<4>) -> Tensor<4> {
        y
    }

    fn input_name(&self) -> &'static str {
        "observation"
    }

    /// Wiener deconvolution with each observation's own noise-to-signal ratio: the noise
    /// variance `σ̂²` from the median absolute deviation (`σ̂ = 1.4826·MAD`; most pixels are sky)
    /// over the signal power `mean(y²) − σ̂²` (a white-spectrum prior).
    fn baseline(&self, op: &Blur, y: Tensor<4>) -> Tensor<4> {
        let [n, ..] = y.dims();
        let values = host(y.clone());
        let nsr: Vec<f32> = values
            .chunks(values.len() / n.max(1))
            .map(|sample| {
                let median = |v: &mut Vec<f32>| {
                    v.sort_by(f32::total_cmp);
                    v[v.len() / 2]
                };
                let centre = median(&mut sample.to_vec());
                let sigma = 1.4826 * median(&mut sample.iter().map(|v| (v - centre).abs()).collect());
                let power = sample.iter().map(|v| v * v).sum::<f32>() / sample.len() as f32 - sigma * sigma;
                sigma * sigma / power.max(f32::MIN_POSITIVE.sqrt())
            })
            .collect();
        op.wiener(y, Tensor::from_data(TensorData::new(nsr, [n]), &op.transfer().re.device()))
    }

    fn baseline_name(&self) -> &'static str {
        "Wiener"
    }
}

/// Inpainting simulation (see [`ProblemConfig::Inpainting`]).
#[derive(Clone, Debug)]
pub struct InpaintingSimulation {
    keep: f64,
    noise: NoiseModel,
}

impl Simulation for InpaintingSimulation {
    type Op = Inpainting;

    fn simulate(&self, clean: Tensor<4>, seeds: &[u64]) -> Measured<Inpainting> {
        let [n, _, h, w] = clean.dims();
        let masks: Vec<f32> = seeds
            .iter()
            .flat_map(|&s| {
                let mut rng = rng(s, 1);
                (0..h * w).map(move |_| f32::from(u8::from(rng.random::<f64>() < self.keep))).collect::<Vec<_>>()
            })
            .collect();
        let mask = Tensor::from_data(TensorData::new(masks, [n, 1, h, w]), &clean.device());
        let op = self.operator(Acquisition::Inpainting { mask }).expect("inpainting");
        let y = op.forward(self.noise.apply(clean.clone(), &noise_seeds(seeds)));
        Measured { op, y, target: clean }
    }

    fn operator(&self, acquisition: Acquisition) -> Result<Inpainting, String> {
        match acquisition {
            Acquisition::Inpainting { mask } => Ok(Inpainting::new(mask)),
            other => Err(mismatch("an inpainting", &other)),
        }
    }

    fn baseline(&self, op: &Inpainting, y: Tensor<4>) -> Tensor<4> {
        op.adjoint(y)
    }

    fn baseline_name(&self) -> &'static str {
        "masked image"
    }
}

/// Denoising simulation (see [`ProblemConfig::Denoising`]).
#[derive(Clone, Debug)]
pub struct DenoisingSimulation {
    noise: NoiseModel,
}

impl Simulation for DenoisingSimulation {
    type Op = Identity;

    fn simulate(&self, clean: Tensor<4>, seeds: &[u64]) -> Measured<Identity> {
        let y = self.noise.apply(clean.clone(), &noise_seeds(seeds));
        Measured { op: Identity, y, target: clean }
    }

    fn operator(&self, acquisition: Acquisition) -> Result<Identity, String> {
        match acquisition {
            Acquisition::Fixed { .. } => Ok(Identity),
            other => Err(mismatch("a denoising", &other)),
        }
    }

    fn baseline(&self, _: &Identity, y: Tensor<4>) -> Tensor<4> {
        y
    }

    fn baseline_name(&self) -> &'static str {
        "noisy image"
    }
}

/// Builds an operator on a device.
type OperatorBuilder<Op> = Arc<dyn Fn(&Device) -> Op + Send + Sync>;

/// The unit-norm operator built on each device so far.
type OperatorCache<Op> = Arc<Mutex<Vec<(Device, Scaled<Op>)>>>;

/// A classical reconstruction with a fixed operator.
type Baseline<Op> = Arc<dyn Fn(&Scaled<Op>, Tensor<4>) -> Tensor<4> + Send + Sync>;

/// An operator shared by every sample (compressed sensing, tomography) plus noise. The operator is
/// brought to unit norm (`A/‖A‖`, power method, once per operator family), so `Aᴴy` is on the
/// image's scale and unrolled step sizes are in units of `1/‖A‖²`; the noise is added to the
/// normalised measurement. It is built once per device it is used on (training and validation may
/// use different devices).
#[derive(Clone)]
pub struct FixedOperatorSimulation<Op> {
    build: OperatorBuilder<Op>,
    built: OperatorCache<Op>,
    noise: NoiseModel,
    image: [usize; 3],
    baseline: Baseline<Op>,
    baseline_name: &'static str,
}

/// Power iterations for the norm of a fixed operator.
const NORM_ITERATIONS: usize = 50;

impl<Op: LinearOperator<Domain = Tensor<4>> + Clone> FixedOperatorSimulation<Op> {
    fn new(
        noise: NoiseModel,
        image: [usize; 3],
        build: impl Fn(&Device) -> Op + Send + Sync + 'static,
        baseline_name: &'static str,
        baseline: impl Fn(&Scaled<Op>, Tensor<4>) -> Tensor<4> + Send + Sync + 'static,
    ) -> Self {
        let (build, baseline) = (Arc::new(build), Arc::new(baseline));
        Self { build, built: Arc::default(), noise, image, baseline, baseline_name }
    }

    fn cached(&self, device: &Device) -> Scaled<Op> {
        let mut built = self.built.lock().expect("operator cache poisoned");
        if let Some((_, op)) = built.iter().find(|(d, _)| d == device) {
            return op.clone();
        }
        let [c, h, w] = self.image;
        let start = Tensor::<4>::zeros([1, c, h, w], device).randn_like(17);
        let op = Scaled::unit_norm((self.build)(device), start, NORM_ITERATIONS);
        built.push((device.clone(), op.clone()));
        op
    }
}

impl<Op> Simulation for FixedOperatorSimulation<Op>
where
    Op: LinearOperator<Domain = Tensor<4>, Range = Tensor<4>> + Clone + Send + Sync + 'static,
    Scaled<Op>: Physics + LinearOperator<Domain = Tensor<4>, Range = Tensor<4>>,
{
    type Op = Scaled<Op>;

    fn simulate(&self, clean: Tensor<4>, seeds: &[u64]) -> Measured<Scaled<Op>> {
        let op = self.cached(&clean.device());
        let y = self.noise.apply(op.forward(clean.clone()), &noise_seeds(seeds));
        Measured { op, y, target: clean }
    }

    fn operator(&self, acquisition: Acquisition) -> Result<Scaled<Op>, String> {
        match acquisition {
            Acquisition::Fixed { device } => Ok(self.cached(&device)),
            other => Err(mismatch("a fixed-operator", &other)),
        }
    }

    /// `c·y` for the unit-norm operator `c·A`.
    fn rescale_physical(&self, op: &Scaled<Op>, y: Tensor<4>) -> Tensor<4> {
        y * op.factor
    }

    fn baseline(&self, op: &Scaled<Op>, y: Tensor<4>) -> Tensor<4> {
        (self.baseline)(op, y)
    }

    fn baseline_name(&self) -> &'static str {
        self.baseline_name
    }
}
