//! Inference on new measurements with an exported package (no target needed).
//!
//! * MRI packages take a fastMRI-layout HDF5 file (`kspace`, `(slices, coils, H, W)` complex): the
//!   mask is read off the data (sampled = non-zero columns), coil maps are estimated from the fully
//!   sampled centre (ACS) with DIRECT's recipe, and every slice is reconstructed.
//! * Denoising and deblurring packages take an image (PNG/JPEG/NPY) as the measurement; deblurring
//!   uses a Gaussian PSF of the given width (default: the middle of the training range).
//!
//! Outputs: `recon.npy` (`[N, H, W]` float32, modulus for complex images) and one PNG per slice.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::ImageDecoder;
use npyz::WriterBuilder;
use unroll_data::{ProblemConfig, gaussian_psf, readers};
use unroll_physics::coils::estimate_maps_from_acs;
use unroll_physics::masks::acs_columns;
use unroll_physics::{Blur, BlurBoundary, Complex, Identity, MultiCoilMri, Signal};

use crate::error::TrainError;
use crate::evaluate::reconstruct;
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
}

/// Runs the package on the input; returns the reconstructions `[N, H, W]` written to disk.
pub fn infer(package: &Package, options: &InferOptions, device: &Device) -> Result<Vec<Vec<f32>>, TrainError> {
    let input = &options.input;
    let (images, [h, w]) = match &package.metadata.problem {
        ProblemConfig::MulticoilMri { fft, .. } => {
            let volume = readers::read_fastmri(input)?;
            let [slices, coils, h, w] = volume.shape;
            let plane = h * w * coils;
            let mut out = Vec::with_capacity(slices);
            for s in 0..slices {
                let part = |v: &[f32]| {
                    Tensor::<4>::from_data(
                        TensorData::new(v[s * plane..(s + 1) * plane].to_vec(), [1, coils, h, w]),
                        device,
                    )
                };
                let k = Complex::new(part(&volume.kspace_re), part(&volume.kspace_im));
                let (mask, acs) = mask_from_kspace(
                    &volume.kspace_re[s * plane..(s + 1) * plane],
                    &volume.kspace_im[s * plane..(s + 1) * plane],
                    [coils, h, w],
                    fft.centred,
                );
                let mask_t = Tensor::<4>::from_data(TensorData::new(mask, [1, 1, 1, w]), device);
                let acs_t = Tensor::<4>::from_data(TensorData::new(acs, [1, 1, 1, w]), device);
                let op = if coils == 1 {
                    MultiCoilMri::single_coil(mask_t, *fft)
                } else {
                    let maps = estimate_maps_from_acs(k.clone(), acs_t, Some(0.7), *fft);
                    MultiCoilMri::new(maps, mask_t, *fft)
                };
                out.push(host(reconstruct(&package.model, &op, k).image()));
            }
            (out, [h, w])
        }
        ProblemConfig::Denoising { .. } | ProblemConfig::Blur { .. } => {
            let image = read_measurement(input, package.metadata.image_shape[0])?;
            let (c, h, w) = (image.channels, image.height, image.width);
            let y = Tensor::<4>::from_data(TensorData::new(image.data, [1, c, h, w]), device);
            let recon = match &package.metadata.problem {
                ProblemConfig::Blur { sigma, kernel_size: k, boundary, .. } => {
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
                    reconstruct(&package.model, &Blur::new(psf, image, *boundary), y)
                }
                _ => reconstruct(&package.model, &Identity, y),
            };
            let [_, _, h, w] = recon.dims();
            (vec![host(recon.narrow(1, 0, 1))], [h, w])
        }
        other => {
            return Err(TrainError::Usage(format!(
                "infer supports MRI (HDF5 k-space), denoising and deblurring packages; this package was trained for {other:?}"
            )));
        }
    };
    if let Some((slice, index)) =
        images.iter().enumerate().find_map(|(s, image)| image.iter().position(|v| !v.is_finite()).map(|i| (s, i)))
    {
        return Err(TrainError::file(
            input,
            format!("the reconstruction of slice {slice} is not finite at pixel {index}; nothing was written"),
        ));
    }
    write_outputs(&options.out_dir, &images, [h, w])?;
    Ok(images)
}

fn host(t: Tensor<4>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data")
}

/// A measurement image with the package's `channels`: PNG/JPEG or a 2D NPY array (one channel).
/// A colour image for a grey package (or the reverse) is an error, not a silent conversion.
fn read_measurement(path: &Path, channels: usize) -> Result<readers::Image, TrainError> {
    let name = path.to_string_lossy().to_lowercase();
    let image = if name.ends_with(".npy") {
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
    Ok(image)
}

/// Sampled columns (any non-zero value in the column, over coils and rows) and the ACS block
/// around the DC column (see [`acs_columns`]).
fn mask_from_kspace(re: &[f32], im: &[f32], [coils, h, w]: [usize; 3], centred: bool) -> (Vec<f32>, Vec<f32>) {
    let sampled: Vec<bool> =
        (0..w).map(|col| (0..coils * h).any(|row| re[row * w + col] != 0.0 || im[row * w + col] != 0.0)).collect();
    let as_f32 = |v: &[bool]| v.iter().map(|&s| f32::from(u8::from(s))).collect();
    (as_f32(&sampled), as_f32(&acs_columns(&sampled, centred)))
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
