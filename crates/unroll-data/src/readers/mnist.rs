//! Digit data sets: MNIST-style IDX files and CSV files with one image per row.

use std::io::Read;
use std::path::Path;

use super::{Image, open_maybe_gz, read_maybe_gz};
use crate::error::{DataError, FileContext, Result};

/// IDX magic number of unsigned-byte image files (`idx3-ubyte`).
pub(crate) const IDX_IMAGES: u32 = 2051;
/// IDX magic number of unsigned-byte label files (`idx1-ubyte`).
pub(crate) const IDX_LABELS: u32 = 2049;

/// Reads an IDX image file (magic 2051: count, rows, cols, then bytes), plain or gzipped, as
/// 1-channel images with values `byte / 255`.
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<Vec<Image>> {
    let path = path.as_ref();
    let (dims, bytes) = read_idx(path, IDX_IMAGES)?;
    let (height, width) = (dims[1], dims[2]);
    if height * width == 0 {
        return Err(DataError::file(path, format!("IDX dims {dims:?}: empty images")));
    }
    Ok(bytes
        .chunks_exact(height * width)
        .map(|pixels| Image {
            channels: 1,
            height,
            width,
            data: pixels.iter().map(|&p| f32::from(p) / 255.0).collect(),
        })
        .collect())
}

/// Reads an IDX label file (magic 2049: count, then one byte per label), plain or gzipped.
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    Ok(read_idx(path.as_ref(), IDX_LABELS)?.1)
}

/// The header of an IDX file, `(magic, dims)`, from its first bytes (big-endian u32 words).
pub(crate) fn idx_header(head: &[u8]) -> Option<(u32, Vec<usize>)> {
    let word = |i: usize| head.get(4 * i..4 * i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let magic = word(0)?;
    let ndim = match magic {
        IDX_IMAGES => 3,
        IDX_LABELS => 1,
        _ => return None,
    };
    let dims = (1..=ndim).map(|i| word(i).map(|d| d as usize)).collect::<Option<_>>()?;
    Some((magic, dims))
}

/// The dims and the data bytes of an IDX file whose magic must be `magic`.
fn read_idx(path: &Path, magic: u32) -> Result<(Vec<usize>, Vec<u8>)> {
    let mut bytes = read_maybe_gz(path)?;
    let (found, dims) = idx_header(&bytes).ok_or_else(|| {
        DataError::file(
            path,
            format!("not an IDX file with magic {magic} (header {:02x?})", &bytes[..bytes.len().min(16)]),
        )
    })?;
    if found != magic {
        return Err(DataError::file(path, format!("IDX magic {found}, expected {magic}")));
    }
    let header = 4 * (dims.len() + 1);
    let expected = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if expected != Some(bytes.len() - header) {
        let message = format!("IDX dims {dims:?}, but {} data bytes", bytes.len() - header);
        return Err(DataError::file(path, message));
    }
    bytes.drain(..header);
    Ok((dims, bytes))
}

/// Reads a CSV of digits, plain or gzipped: one `side × side` image per row, its pixels in
/// row-major order then the label last (MNIST CSVs: side 28, values 0..255; scikit-learn's 8×8
/// digits: side 8, values 0..16). Pixels are divided by the range's maximum, chosen from the
/// file's largest value: 255 if it exceeds 16, else 16. Empty lines are skipped; no header line.
pub fn read_digits_csv(path: impl AsRef<Path>, side: usize) -> Result<(Vec<Image>, Vec<u8>)> {
    let path = path.as_ref();
    if side == 0 {
        return Err(DataError::file(path, "image side 0"));
    }
    let mut text = String::new();
    open_maybe_gz(path)?.read_to_string(&mut text).at(path)?;
    let pixels_per_row = side * side;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |message: String| DataError::file(path, format!("line {}: {message}", number + 1));
        let values = line
            .split(',')
            .map(|v| v.trim().parse::<f32>().map_err(|e| bad(format!("`{}`: {e}", v.trim()))))
            .collect::<Result<Vec<f32>>>()?;
        if values.len() != pixels_per_row + 1 {
            let message = format!("{} values, expected {pixels_per_row} pixels and a label", values.len());
            return Err(bad(message));
        }
        if let Some(v) = values.iter().find(|v| !(0.0..=255.0).contains(*v) || v.fract() != 0.0) {
            return Err(bad(format!("value {v} is not an integer in 0..=255")));
        }
        pixels.extend_from_slice(&values[..pixels_per_row]);
        labels.push(values[pixels_per_row] as u8);
    }
    if labels.is_empty() {
        return Err(DataError::file(path, "no rows"));
    }
    let max = if pixels.iter().any(|&p| p > 16.0) { 255.0 } else { 16.0 };
    let images = pixels
        .chunks_exact(pixels_per_row)
        .map(|row| Image { channels: 1, height: side, width: side, data: row.iter().map(|p| p / max).collect() })
        .collect();
    Ok((images, labels))
}
