//! DICOM files (gzip is detected from the content), read with the pure-Rust `dicom-object` and
//! `dicom-pixeldata`.

use std::error::Error;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions, Tag};
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};

use super::{Image, MemoryOrder, check_finite, list_files, read_maybe_gz};
use crate::error::{DataError, Result};

/// The frames of a DICOM file's pixel data as 1-channel images of shape `[Rows, Columns]`
/// (row-major, the first row is the top of the image), one per frame, with the modality rescale
/// applied: `stored · RescaleSlope + RescaleIntercept` (Hounsfield units for CT; the stored values
/// when the file has no rescale), as f32.
///
/// Monochrome images only (`MONOCHROME1` is not inverted). Transfer syntaxes: those with a
/// pure-Rust decoder (uncompressed little/big endian, deflate, RLE, JPEG baseline/extended/
/// lossless); any other (JPEG 2000, JPEG-LS, ...) is an error naming it. A NaN or infinite value
/// (from a corrupt rescale) is an error naming its `[frame, row, column]`.
pub fn read_dicom_slices(path: impl AsRef<Path>) -> Result<Vec<Image>> {
    let path = path.as_ref();
    let object = open(path, false)?;
    let (name, uid) = transfer_syntax(&object);
    if TransferSyntaxRegistry.get(uid).is_none_or(|ts| !ts.can_decode_all()) {
        let message =
            format!("transfer syntax {name} ({uid}) is not supported: no pure-Rust decoder for its pixel data");
        return Err(DataError::file(path, message));
    }
    let decoded = object.decode_pixel_data().map_err(|e| dicom_error(path, "pixel data", &e))?;
    let photometric = decoded.photometric_interpretation();
    if decoded.samples_per_pixel() != 1 || !photometric.is_monochrome() {
        let samples = decoded.samples_per_pixel();
        let photometric = photometric.as_str();
        let message = format!(
            "photometric interpretation {photometric}, {samples} sample(s) per pixel: only monochrome images are read"
        );
        return Err(DataError::file(path, message));
    }
    let (allocated, stored) = (decoded.bits_allocated(), decoded.bits_stored());
    if !matches!(allocated, 8 | 16) || stored == 0 || stored > allocated {
        let message =
            format!("{allocated} bits allocated, {stored} stored: only 8 or 16 with 1 to that many stored are read");
        return Err(DataError::file(path, message));
    }
    let shape = [decoded.number_of_frames() as usize, decoded.rows() as usize, decoded.columns() as usize];
    let values: Vec<f32> = decoded.to_vec().map_err(|e| dicom_error(path, "pixel data", &e))?;
    if values.len() != shape.iter().product::<usize>() {
        let message = format!("{} pixel values for {} frame(s) of {}x{}", values.len(), shape[0], shape[1], shape[2]);
        return Err(DataError::file(path, message));
    }
    check_finite(path, "pixel", &shape, MemoryOrder::RowMajor, 0, values.iter().map(|&v| [v]))?;
    let [_, height, width] = shape;
    Ok(values.chunks_exact(height * width).map(|c| Image { channels: 1, height, width, data: c.to_vec() }).collect())
}

/// The DICOM files (`.dcm`, any case) directly inside `dir`, sorted by file name. An error if
/// `dir` cannot be read or holds none.
pub fn list_dicom_files(dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
    list_files(dir.as_ref(), &["dcm"], "DICOM (.dcm)")
}

/// Modality, size, frames, bits, rescale, pixel spacing and transfer syntax of a DICOM file,
/// from the attributes before its pixel data.
pub(crate) fn describe_dicom(path: &Path) -> Result<String> {
    let object = open(path, true)?;
    let text = |tag: Tag| {
        let value = object.element_opt(tag).ok().flatten().and_then(|e| e.to_str().ok());
        value.map_or_else(|| "absent".to_string(), |v| v.trim().to_string())
    };
    let signed = match text(tags::PIXEL_REPRESENTATION).as_str() {
        "0" => "unsigned",
        "1" => "signed",
        _ => "signedness absent",
    };
    let (name, uid) = transfer_syntax(&object);
    let frames =
        object.element_opt(tags::NUMBER_OF_FRAMES).ok().flatten().map_or(1, |e| e.to_int::<u32>().unwrap_or(1));
    Ok([
        format!("{}: DICOM", path.display()),
        format!(
            "  modality {}, {}x{} (rows x columns), {frames} frame(s)",
            text(tags::MODALITY),
            text(tags::ROWS),
            text(tags::COLUMNS)
        ),
        format!(
            "  bits allocated {}, stored {}, {signed}, {}",
            text(tags::BITS_ALLOCATED),
            text(tags::BITS_STORED),
            text(tags::PHOTOMETRIC_INTERPRETATION)
        ),
        format!("  rescale slope {}, intercept {}", text(tags::RESCALE_SLOPE), text(tags::RESCALE_INTERCEPT)),
        format!("  pixel spacing {} mm (row, column)", text(tags::PIXEL_SPACING)),
        format!("  transfer syntax {name} ({uid})"),
    ]
    .join("\n"))
}

/// The file's data set, up to its pixel data when `header_only`.
fn open(path: &Path, header_only: bool) -> Result<DefaultDicomObject> {
    let bytes = read_maybe_gz(path)?;
    let options = OpenFileOptions::new();
    let options = if header_only { options.read_until(tags::PIXEL_DATA) } else { options };
    options.from_reader(bytes.as_slice()).map_err(|e| dicom_error(path, "not a readable DICOM file", &e))
}

/// The name (the UID when unknown) and the UID of the file's transfer syntax.
fn transfer_syntax(object: &DefaultDicomObject) -> (&'static str, &str) {
    let uid = object.meta().transfer_syntax();
    (TransferSyntaxRegistry.get(uid).map_or("(unknown)", |ts| ts.name()), uid)
}

/// `error` about `path` with the messages of its sources (the DICOM crates' errors display only
/// their outermost context).
fn dicom_error(path: &Path, what: &str, error: &dyn Error) -> DataError {
    let mut message = format!("{what}: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        message += &format!(": {cause}");
        source = cause.source();
    }
    DataError::file(path, message)
}
