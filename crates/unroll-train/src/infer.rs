//! Inference on new measurements with an exported package (no target needed), for every problem.
//! The operator is built from the measurement's acquisition by the problem's own factory
//! ([`Simulation::operator`]), the one simulation and evaluation use.
//!
//! | problem | `--input` | acquisition |
//! |---|---|---|
//! | MRI | fastMRI-layout HDF5 (`kspace`, `(slices, coils, H, W)` complex) | mask = sampled columns, ACS = the sampled block around the centre; maps estimated from the ACS, or the file's `sensitivity_map` for a model trained with `coil_maps = "file"` (single-coil: none) |
//! | blur | image (PNG/JPEG) or 2D `.npy` | Gaussian PSF of `--psf-sigma` (default: middle of the training range) |
//! | inpainting | image or 2D `.npy` | `--mask` (image or `.npy`, non-zero = observed); default: pixels that are exactly 0 in every channel are missing |
//! | denoising | image or 2D `.npy` | — |
//! | compressed sensing | `.npy` `[m]` or `[N, m]`: measurements `A x` of the package's Gaussian matrix | — |
//! | tomography | `.npy` `[detectors, angles]` or `[N, detectors, angles]`: a sinogram of line integrals in pixel units | — |
//!
//! Outputs: `recon.npy` (`[N, H, W]` float32, modulus for complex images; first channel of colour
//! images) and one PNG per slice; for HDF5 input also `reconstruction.h5` with dataset
//! `reconstruction` `[slices, H, W]` float32, centre-cropped to the file's `reconstruction_rss`
//! size when it has one (fastMRI's layout).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::ImageDecoder;
use npyz::WriterBuilder;
use unroll_data::{Acquisition, ProblemConfig, Simulation, SimulationVisitor, gaussian_psf, readers};
use unroll_physics::{BlurBoundary, Complex, LinearOperator, Physics, Signal};

use crate::error::TrainError;
use crate::evaluate::{centre_crop, reconstruct};
use crate::package::Package;

/// Options of `unroll infer`.
#[derive(Clone, Debug)]
pub struct InferOptions {
    /// The measurement file.
    pub input: PathBuf,
    /// Output folder.
    pub out_dir: PathBuf,
    /// Deblurring: standard deviation of the Gaussian PSF in pixels.
    pub psf_sigma: Option<f64>,
    /// Inpainting: the observed-pixel mask.
    pub mask: Option<PathBuf>,
    /// Galaxy deconvolution: the PSF image (normalised to sum 1 here).
    pub psf: Option<PathBuf>,
}

/// A measurement and its acquisition, read off the input.
struct Measurement {
    acquisition: Acquisition,
    values: Values,
}

/// Complex k-space (MRI) or real values (everything else), `[N, C, ..]`.
#[allow(clippy::large_enum_variant)] // one per input slice, short-lived
enum Values {
    Kspace(Complex<4>),
    Real(Tensor<4>),
}

/// Runs the package on the input; returns the reconstructions `[N, H, W]` written to disk.
pub fn infer(package: &Package, options: &InferOptions, device: &Device) -> Result<Vec<Vec<f32>>, TrainError> {
    let input = &options.input;
    let problem = &package.metadata.problem;
    let image_shape = package.metadata.image_shape;
    let (measurements, crop) = read_measurements(problem, image_shape, options, device)?;
    let mut images = problem.visit(image_shape, Infer { package, measurements, input, device })?;
    if let Some(size) = crop {
        images = images.into_iter().map(|(image, shape)| (centre_crop(&image, shape, size), size)).collect();
    }
    if let Some((slice, index)) =
        images.iter().enumerate().find_map(|(s, (image, _))| image.iter().position(|v| !v.is_finite()).map(|i| (s, i)))
    {
        return Err(TrainError::file(
            input,
            format!("the reconstruction of slice {slice} is not finite at pixel {index}; nothing was written"),
        ));
    }
    let shape = images[0].1;
    let images: Vec<Vec<f32>> = images.into_iter().map(|(image, _)| image).collect();
    write_outputs(&options.out_dir, &images, shape)?;
    if matches!(problem, ProblemConfig::MulticoilMri { .. }) {
        readers::write_reconstruction(options.out_dir.join("reconstruction.h5"), &images, shape)?;
    }
    Ok(images)
}

/// Reconstructs every measurement with the operator the problem's factory builds.
struct Infer<'a> {
    package: &'a Package,
    measurements: Vec<Measurement>,
    input: &'a Path,
    device: &'a Device,
}

impl SimulationVisitor for Infer<'_> {
    type Output = Result<Vec<(Vec<f32>, [usize; 2])>, TrainError>;

    fn visit<S: Simulation>(self, simulation: S) -> Self::Output {
        let [c, h, w] = self.package.metadata.image_shape;
        let mut out = Vec::new();
        for Measurement { acquisition, values } in self.measurements {
            let fixed = matches!(acquisition, Acquisition::Fixed { .. });
            let op = simulation.operator(acquisition).map_err(TrainError::Usage)?;
            let y = match (values, op.mri(), op.real()) {
                (Values::Kspace(k), Some(view), _) => (view.kspace.from)(k),
                (Values::Real(v), _, Some(view)) => {
                    // A fixed operator (CS, CT) expects measurements of one shape.
                    if fixed {
                        let zero = (view.image.from)(Tensor::zeros([1, c, h, w], self.device));
                        let expected = (view.measurement.to)(op.forward(zero)).dims();
                        if v.dims()[1..] != expected[1..] {
                            return Err(TrainError::file(
                                self.input,
                                format!(
                                    "measurements of shape {:?} per sample, but the package's operator gives {:?}",
                                    &v.dims()[1..],
                                    &expected[1..]
                                ),
                            ));
                        }
                    }
                    simulation.rescale_physical(&op, (view.measurement.from)(v))
                }
                _ => unreachable!("measurements are read for the package's problem"),
            };
            let recon = reconstruct(&self.package.model, &op, y).image();
            let [n, _, h, w] = recon.dims();
            let data = host(recon.narrow(1, 0, 1));
            out.extend(data.chunks(h * w).take(n).map(|c| (c.to_vec(), [h, w])));
        }
        Ok(out)
    }
}

/// The measurements of the input for `problem`, and the size to crop reconstructions to.
fn read_measurements(
    problem: &ProblemConfig,
    [channels, ..]: [usize; 3],
    options: &InferOptions,
    device: &Device,
) -> Result<(Vec<Measurement>, Option<[usize; 2]>), TrainError> {
    let input = &options.input;
    let real = |t: Tensor<4>, acquisition| vec![Measurement { acquisition, values: Values::Real(t) }];
    let fixed = Acquisition::Fixed { device: device.clone() };
    let measurements = match problem {
        ProblemConfig::MulticoilMri { fft, coil_maps, .. } => {
            let volume = readers::read_fastmri(input)?;
            let crop = volume.reconstruction_size();
            let measurements = (0..volume.shape[0])
                .map(|s| {
                    let (acquisition, k) = Acquisition::from_kspace(&volume, s, *fft, *coil_maps, device)
                        .map_err(|e| TrainError::file(input, e))?;
                    Ok(Measurement { acquisition, values: Values::Kspace(k) })
                })
                .collect::<Result<_, TrainError>>()?;
            return Ok((measurements, (crop != [volume.shape[2], volume.shape[3]]).then_some(crop)));
        }
        ProblemConfig::Blur { sigma, kernel_size: k, boundary, .. } => {
            let (y, [h, w]) = read_image(input, channels, device)?;
            let s = options.psf_sigma.unwrap_or((sigma[0] + sigma[1]) / 2.0);
            let psf = Tensor::from_data(TensorData::new(gaussian_psf(*k, s), [1, 1, *k, *k]), device);
            // A `valid` blur's measurement is smaller than the image by the kernel's margin.
            let image = match boundary {
                BlurBoundary::Valid => [h + k - 1, w + k - 1],
                _ if *k > h.min(w) => {
                    return Err(TrainError::file(
                        input,
                        format!("{h}x{w} is smaller than the package's {k}x{k} blur kernel"),
                    ));
                }
                _ => [h, w],
            };
            real(y, Acquisition::Blur { psf, image })
        }
        ProblemConfig::Galaxy { .. } => {
            let (y, image) = read_image(input, channels, device)?;
            let Some(path) = &options.psf else {
                return Err(TrainError::Usage(
                    "infer: the galaxy problem needs the observation's PSF: --psf FILE".into(),
                ));
            };
            let (psf, _) = read_image(path, 1, device)?;
            let total = psf.clone().sum().into_scalar::<f32>();
            if !(total.is_finite() && total > 0.0) {
                return Err(TrainError::file(path, format!("a PSF must have a positive sum, got {total}")));
            }
            real(y, Acquisition::Blur { psf: psf / total, image })
        }
        ProblemConfig::Inpainting { .. } => {
            let (y, [h, w]) = read_image(input, channels, device)?;
            let mask = match &options.mask {
                Some(path) => {
                    let (mask, size) = read_image(path, 1, device)?;
                    if size != [h, w] {
                        return Err(TrainError::file(path, format!("mask of {size:?}, but the input is {h}x{w}")));
                    }
                    mask.not_equal_elem(0.0).float()
                }
                None => y.clone().abs().sum_dim(1).not_equal_elem(0.0).float(),
            };
            real(y, Acquisition::Inpainting { mask })
        }
        ProblemConfig::Denoising { .. } => real(read_image(input, channels, device)?.0, fixed),
        ProblemConfig::CompressedSensing { .. } | ProblemConfig::Tomography { .. } => {
            let array = readers::read_npy(input)?;
            let cs = matches!(problem, ProblemConfig::CompressedSensing { .. });
            let shape = match (cs, &array.shape[..]) {
                (true, &[m]) => [1, 1, 1, m],
                (true, &[n, m]) => [n, 1, 1, m],
                (false, &[d, a]) => [1, 1, d, a],
                (false, &[n, d, a]) => [n, 1, d, a],
                _ => {
                    let expected = if cs { "[m] or [N, m]" } else { "[detectors, angles] or [N, detectors, angles]" };
                    let message = format!("measurements of shape {:?}; expected {expected}", array.shape);
                    return Err(TrainError::file(input, message));
                }
            };
            real(Tensor::from_data(TensorData::new(array.data, shape), device), fixed)
        }
    };
    Ok((measurements, None))
}

fn host(t: Tensor<4>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data")
}

/// An image (PNG/JPEG, or a 2D NPY array for one channel) with the package's `channels`, as a
/// `[1, C, H, W]` tensor. A colour image for a grey package (or the reverse) is an error, not a
/// silent conversion.
fn read_image(path: &Path, channels: usize, device: &Device) -> Result<(Tensor<4>, [usize; 2]), TrainError> {
    let name = path.to_string_lossy().to_lowercase();
    let image = if [".fits", ".fit", ".fits.gz"].iter().any(|e| name.ends_with(e)) {
        let first = readers::read_fits_images(path, None)?.into_iter().next();
        first.ok_or_else(|| TrainError::file(path, "holds no image HDU"))?
    } else if name.ends_with(".npy") {
        let array = readers::read_npy(path)?;
        match array.shape[..] {
            [h, w] => readers::Image { channels: 1, height: h, width: w, data: array.data },
            _ => return Err(TrainError::file(path, format!("expected a 2D array, got shape {:?}", array.shape))),
        }
    } else {
        let colour = image::ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| TrainError::file(path, e))?
            .into_decoder()
            .map_err(|e| TrainError::file(path, e))?
            .color_type()
            .has_color();
        if colour && channels == 1 {
            return Err(TrainError::file(
                path,
                "is a colour image, but the package takes grey images; convert it to greyscale first",
            ));
        }
        readers::read_image(path, channels == 1)?
    };
    if image.channels != channels {
        return Err(TrainError::file(
            path,
            format!("has {} channel(s), but the package takes {channels}", image.channels),
        ));
    }
    let (c, h, w) = (image.channels, image.height, image.width);
    Ok((Tensor::from_data(TensorData::new(image.data, [1, c, h, w]), device), [h, w]))
}

/// Writes `recon.npy` and `recon_XXXX.png` (each slice scaled to its own maximum).
fn write_outputs(out: &Path, images: &[Vec<f32>], [h, w]: [usize; 2]) -> Result<(), TrainError> {
    std::fs::create_dir_all(out).map_err(|e| TrainError::file(out, e))?;
    let npy = out.join("recon.npy");
    let mut bytes = Vec::new();
    {
        let mut writer = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&[images.len() as u64, h as u64, w as u64])
            .writer(&mut bytes)
            .begin_nd()
            .map_err(|e| TrainError::file(&npy, e))?;
        writer.extend(images.iter().flatten().copied()).map_err(|e| TrainError::file(&npy, e))?;
        writer.finish().map_err(|e| TrainError::file(&npy, e))?;
    }
    crate::files::write_atomic(&npy, &bytes)?;
    for (i, image) in images.iter().enumerate() {
        let max = image.iter().fold(1e-12f32, |m, &v| m.max(v));
        let png = image::GrayImage::from_fn(w as u32, h as u32, |x, y| {
            image::Luma([((image[y as usize * w + x as usize] / max).clamp(0.0, 1.0) * 255.0).round() as u8])
        });
        let path = out.join(format!("recon_{i:04}.png"));
        png.save(&path).map_err(|e| TrainError::file(&path, e))?;
    }
    Ok(())
}
