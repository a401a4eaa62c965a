//! PNG and JPEG images.

use std::path::{Path, PathBuf};

use ::image::{DynamicImage, ImageDecoder, ImageReader};

use super::list_files;

use crate::error::{FileContext, Result};

/// A host-side image: `channels × height × width` values, channel-first and row-major
/// (`data[(c * height + y) * width + x]`).
///
/// Images read from PNG/JPEG/IDX/CSV files hold values in `[0, 1]` (the stored integer divided by
/// its type's maximum); NIfTI slices, FITS images and DICOM frames hold the file's (rescaled)
/// values as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

/// ITU-R BT.709 luma weights (as `image` and scikit-image use) for the RGB → grey conversion.
const LUMA: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// Reads a PNG or JPEG file (the format is detected from its content), 8 or 16 bits per sample,
/// scaled to `[0, 1]` by the type's maximum (255 or 65535).
///
/// `grayscale`: one channel; colour images are converted to luma with the BT.709 weights.
/// Otherwise three RGB channels; grey images are replicated into them. Alpha is dropped.
pub fn read_image(path: impl AsRef<Path>, grayscale: bool) -> Result<Image> {
    let path = path.as_ref();
    let decoded = ImageReader::open(path).at(path)?.with_guessed_format().at(path)?.decode().at(path)?;
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    let data = if grayscale && !decoded.color().has_color() {
        samples(&decoded, true)
    } else {
        let interleaved = samples(&decoded, false);
        let rgb: Vec<f32> = (0..3).flat_map(|c| interleaved.iter().skip(c).step_by(3).copied()).collect();
        if grayscale {
            let mut grey = vec![0.0; width * height];
            for (plane, weight) in rgb.chunks_exact(width * height).zip(LUMA) {
                grey.iter_mut().zip(plane).for_each(|(g, v)| *g += weight * v);
            }
            grey
        } else {
            rgb
        }
    };
    let channels = if grayscale { 1 } else { 3 };
    Ok(Image { channels, height, width, data })
}

/// The samples divided by their type's maximum, interleaved: luma only (`luma`, for images
/// without colour) or RGB (alpha dropped, grey replicated).
fn samples(image: &DynamicImage, luma: bool) -> Vec<f32> {
    let colour = image.color();
    if colour.bytes_per_pixel() == colour.channel_count() {
        let raw = if luma { image.to_luma8().into_raw() } else { image.to_rgb8().into_raw() };
        raw.into_iter().map(|v| f32::from(v) / 255.0).collect()
    } else {
        let raw = if luma { image.to_luma16().into_raw() } else { image.to_rgb16().into_raw() };
        raw.into_iter().map(|v| f32::from(v) / 65535.0).collect()
    }
}

/// The PNG and JPEG files (`.png`, `.jpg`, `.jpeg`, any case) directly inside `dir`, sorted by file
/// name. An error if `dir` cannot be read or holds none.
pub fn list_images(dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
    list_files(dir.as_ref(), &["png", "jpg", "jpeg"], "PNG or JPEG")
}

/// Format, size, colour type and bit depth of a PNG or JPEG file, from its header.
pub(crate) fn describe_image(path: &Path) -> Result<String> {
    let reader = ImageReader::open(path).at(path)?.with_guessed_format().at(path)?;
    let format = reader.format().map_or_else(|| "image".to_string(), |f| format!("{f:?}"));
    let decoder = reader.into_decoder().at(path)?;
    let (width, height) = decoder.dimensions();
    let colour = decoder.original_color_type();
    let channels = colour.channel_count();
    let bits = colour.bits_per_pixel() / u16::from(channels.max(1));
    Ok(format!(
        "{}: {format} {width}x{height}, colour {colour:?} ({channels} channels, {bits} bits per sample)",
        path.display()
    ))
}
