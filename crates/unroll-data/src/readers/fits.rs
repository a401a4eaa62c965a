//! FITS files (gzip is detected from the content), read with the pure-Rust `fitsrs`.
//!
//! HDUs are numbered from 0 (the primary HDU) in file order, as astropy's `hdul[i]` and GalSim's
//! `PSF_HDU` columns do.

use std::io::Cursor;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use fitsrs::card::Value;
use fitsrs::hdu::header::ValueMap;
use fitsrs::hdu::header::extension::image::Image as ImageHeader;
use fitsrs::{Fits, HDU, Pixels};

use super::{Image, MemoryOrder, check_finite, read_maybe_gz};
use crate::error::{DataError, Result};

/// The 2-D images of HDUs `hdus` of a FITS file (every image HDU with data when `None`), as
/// 1-channel images of shape `[H, W] = [NAXIS2, NAXIS1]` (NumPy order: rows are NAXIS2, the first
/// row is the first stored), with the physical values `stored · BSCALE + BZERO` (defaults 1 and 0)
/// as f32.
///
/// Image HDUs (primary or `IMAGE` extensions) of any BITPIX are read; axes beyond NAXIS2 must have
/// length 1. Without `hdus`, HDUs without data (an empty primary) and tables are skipped; within
/// `hdus` every HDU must be a 2-D image. Integer pixels equal to BLANK are undefined: like a NaN or
/// infinite value they are an error naming the HDU and pixel (`HDU 1: pixel[3, 4] is NaN`).
pub fn read_fits_images(path: impl AsRef<Path>, hdus: Option<Range<usize>>) -> Result<Vec<Image>> {
    let path = path.as_ref();
    let mut file = FitsFile::open(path)?;
    let mut images = Vec::new();
    while let Some((index, hdu)) = file.next_hdu()? {
        let wanted = hdus.as_ref().is_none_or(|range| range.contains(&index));
        let image_hdu = match &hdu {
            HDU::Primary(image) | HDU::XImage(image) if wanted => image,
            _ if hdus.is_none() || !wanted => continue,
            _ => return Err(DataError::file(path, format!("HDU {index} is a {}, not an image", kind(&hdu)))),
        };
        let xtension = image_hdu.get_header().get_xtension();
        let shape = match image_shape(xtension) {
            Ok(shape) => shape,
            Err(_) if hdus.is_none() && xtension.get_num_pixels() == 0 => continue,
            Err(message) => return Err(DataError::file(path, format!("HDU {index}: {message}"))),
        };
        let scaling =
            Scaling::of(image_hdu.get_header()).map_err(|m| DataError::file(path, format!("HDU {index}: {m}")))?;
        let raw: Vec<f64> = match file.fits.get_data(image_hdu).pixels() {
            Pixels::U8(it) => it.map(f64::from).collect(),
            Pixels::I16(it) => it.map(f64::from).collect(),
            Pixels::I32(it) => it.map(f64::from).collect(),
            Pixels::I64(it) => it.map(|v| v as f64).collect(),
            Pixels::F32(it) => it.map(f64::from).collect(),
            Pixels::F64(it) => it.collect(),
        };
        let [height, width] = shape;
        if raw.len() != height * width {
            let message = format!("HDU {index}: {} of {} pixels could be read", raw.len(), height * width);
            return Err(DataError::file(path, message));
        }
        let data: Vec<f32> = raw.into_iter().map(|v| scaling.apply(v)).collect();
        let name = format!("HDU {index}: pixel");
        check_finite(path, &name, &shape, MemoryOrder::RowMajor, 0, data.iter().map(|&v| [v]))?;
        images.push(Image { channels: 1, height, width, data });
    }
    let count = file.count;
    if let Some(range) = hdus
        && (range.start > range.end || range.end > count)
    {
        return Err(DataError::file(path, format!("HDUs {range:?} outside the file's 0..{count}")));
    }
    Ok(images)
}

/// Numeric columns `names` of binary-table HDU `hdu` of a FITS file, as f64: for each name, one
/// `Vec` per row holding the column's repeat count of values (`8D` → 8). Types `B`, `I`, `J`, `K`,
/// `E`, `D` (big-endian, as FITS stores them; `TSCALn`/`TZEROn` applied); a missing column, another
/// type or a table running past the file is an error naming the file, HDU and column.
pub fn read_fits_table(path: impl AsRef<Path>, hdu: usize, names: &[&str]) -> Result<Vec<Vec<Vec<f64>>>> {
    let path = path.as_ref();
    let mut file = FitsFile::open(path)?;
    while let Some((index, unit)) = file.next_hdu()? {
        if index != hdu {
            continue;
        }
        let HDU::XBinaryTable(table) = &unit else {
            return Err(DataError::file(path, format!("HDU {index} is a {}, not a binary table", kind(&unit))));
        };
        let header = table.get_header();
        let error = |m: String| DataError::file(path, format!("HDU {index}: {m}"));
        let integer = |key: &str| match header.get(key) {
            Some(Value::Integer { value, .. }) if *value >= 0 => Ok(*value as usize),
            other => Err(error(format!("{key} is not a non-negative integer: {other:?}"))),
        };
        let text = |key: &str| match header.get(key) {
            Some(Value::String { value, .. }) => Some(value.trim().to_string()),
            _ => None,
        };
        let number = |key: &str, default: f64| match header.get(key) {
            Some(Value::Integer { value, .. }) => *value as f64,
            Some(Value::Float { value, .. }) => *value,
            _ => default,
        };
        let (row_bytes, rows, columns) = (integer("NAXIS1")?, integer("NAXIS2")?, integer("TFIELDS")?);
        // (name, repeat, type code, value width, byte offset in the row, number) of every column.
        let mut layout = Vec::with_capacity(columns);
        let mut offset = 0;
        for i in 1..=columns {
            let form = text(&format!("TFORM{i}")).ok_or_else(|| error(format!("TFORM{i} is missing")))?;
            let digits: String = form.chars().take_while(char::is_ascii_digit).collect();
            let repeat: usize =
                if digits.is_empty() { 1 } else { digits.parse().map_err(|_| error(format!("TFORM{i} = {form}")))? };
            let code = form[digits.len()..].chars().next().ok_or_else(|| error(format!("TFORM{i} = {form}")))?;
            let width = match code {
                'L' | 'B' | 'A' => 1,
                'I' => 2,
                'J' | 'E' => 4,
                'K' | 'D' | 'C' | 'P' => 8,
                'M' | 'Q' => 16,
                'X' => 0,
                _ => return Err(error(format!("TFORM{i} = {form} has an unknown type"))),
            };
            let bytes = if code == 'X' { repeat.div_ceil(8) } else { repeat * width };
            layout.push((text(&format!("TTYPE{i}")), repeat, code, width, offset, i));
            offset += bytes;
        }
        let start = unit.get_data_unit_byte_offset() as usize;
        let bytes = &file.bytes;
        if start + row_bytes * rows > bytes.len() {
            return Err(error(format!("the table of {rows} rows of {row_bytes} bytes runs past the end of the file")));
        }
        return names
            .iter()
            .map(|&name| {
                let (_, repeat, code, width, offset, i) = *layout
                    .iter()
                    .find(|(ttype, ..)| ttype.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(name)))
                    .ok_or_else(|| error(format!("no column `{name}`")))?;
                let (scale, zero) = (number(&format!("TSCAL{i}"), 1.0), number(&format!("TZERO{i}"), 0.0));
                let value = |b: &[u8]| -> Option<f64> {
                    Some(match code {
                        'B' => f64::from(b[0]),
                        'I' => f64::from(i16::from_be_bytes(b[..2].try_into().ok()?)),
                        'J' => f64::from(i32::from_be_bytes(b[..4].try_into().ok()?)),
                        'K' => i64::from_be_bytes(b[..8].try_into().ok()?) as f64,
                        'E' => f64::from(f32::from_be_bytes(b[..4].try_into().ok()?)),
                        'D' => f64::from_be_bytes(b[..8].try_into().ok()?),
                        _ => return None,
                    })
                };
                (0..rows)
                    .map(|r| {
                        (0..repeat)
                            .map(|k| {
                                let at = start + r * row_bytes + offset + k * width;
                                value(&bytes[at..at + width])
                                    .map(|v| v * scale + zero)
                                    .ok_or_else(|| error(format!("column `{name}` has type {code}, not a number")))
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
    }
    Err(DataError::file(path, format!("has no HDU {hdu} (it has {})", file.count)))
}

/// One line per HDU: index, kind, shape (NumPy order) and BITPIX, BZERO and BSCALE of images;
/// rows and column names of tables.
pub(crate) fn describe_fits(path: &Path) -> Result<String> {
    let mut file = FitsFile::open(path)?;
    let mut lines = Vec::new();
    while let Some((index, hdu)) = file.next_hdu()? {
        let what = match &hdu {
            HDU::Primary(image) | HDU::XImage(image) => {
                let header = image.get_header();
                let xtension = header.get_xtension();
                let shape: Vec<u64> = xtension.get_naxis().iter().rev().copied().collect();
                let shape = if shape.is_empty() { "no data".to_string() } else { format!("shape {shape:?}") };
                let scaling = match Scaling::of(header) {
                    Ok(Scaling { bzero, bscale, .. }) => format!("BZERO {bzero}, BSCALE {bscale}"),
                    Err(message) => message,
                };
                format!("{shape}, BITPIX {}, {scaling}", xtension.get_bitpix() as i8)
            }
            HDU::XBinaryTable(table) => {
                let header = table.get_header();
                let table = header.get_xtension();
                let compressed =
                    if table.get_z_image().is_some() { " (a tile-compressed image, not read)" } else { "" };
                table_text(header, table.get_num_rows(), table.get_num_cols()) + compressed
            }
            HDU::XASCIITable(table) => {
                let header = table.get_header();
                let table = header.get_xtension();
                table_text(header, table.get_num_rows(), table.get_num_cols())
            }
        };
        lines.push(format!("  HDU {index}: {}, {what}", kind(&hdu)));
    }
    Ok(format!("{}: FITS, {} HDU(s)\n{}", path.display(), lines.len(), lines.join("\n")))
}

/// A FITS file's HDUs, read in order.
struct FitsFile<'a> {
    path: &'a Path,
    fits: Fits<Cursor<Arc<[u8]>>>,
    /// The file's bytes (shared with `fits`), for the table columns fitsrs does not decode.
    bytes: Arc<[u8]>,
    /// The file's length in bytes.
    len: u64,
    /// Where the next HDU would start: after the last one's data, padded to a 2880-byte block.
    next_start: u64,
    /// HDUs read so far.
    count: usize,
}

impl<'a> FitsFile<'a> {
    fn open(path: &'a Path) -> Result<Self> {
        let bytes = read_maybe_gz(path)?;
        if !bytes.starts_with(b"SIMPLE  =") {
            return Err(DataError::file(path, "not a FITS file (it does not start with `SIMPLE  =`)"));
        }
        let len = bytes.len() as u64;
        let bytes: Arc<[u8]> = bytes.into();
        Ok(Self { path, fits: Fits::from_reader(Cursor::new(bytes.clone())), bytes, len, next_start: 0, count: 0 })
    }

    /// The next HDU and its index, `None` at the end of the file; an error if it is corrupt or
    /// its data unit runs past the end of the file. (The end is found here: fitsrs finds it by
    /// failing to read a header, and logs that as an error.)
    fn next_hdu(&mut self) -> Result<Option<(usize, HDU)>> {
        if self.count > 0 && self.next_start >= self.len {
            return Ok(None);
        }
        let index = self.count;
        let Some(hdu) = self.fits.next() else {
            return Ok(None);
        };
        let hdu = hdu.map_err(|e| fits_error(self.path, index, e))?;
        let size = match &hdu {
            HDU::Primary(image) | HDU::XImage(image) => {
                let xtension = image.get_header().get_xtension();
                let bytes = xtension.get_bitpix().byte_size() as u64;
                let naxis = xtension.get_naxis();
                naxis.iter().try_fold(if naxis.is_empty() { 0 } else { bytes }, |total, &n| total.checked_mul(n))
            }
            _ => Some(hdu.get_data_unit_byte_size()),
        };
        let offset = hdu.get_data_unit_byte_offset();
        match size.and_then(|size| offset.checked_add(size)) {
            Some(end) if end <= self.len => {
                self.next_start = end.div_ceil(2880) * 2880;
                self.count += 1;
                Ok(Some((index, hdu)))
            }
            _ => {
                let size = size.map_or_else(|| "too many".to_string(), |s| s.to_string());
                let message =
                    format!("HDU {index}: data of {size} bytes at byte {offset} runs past the end of the file");
                Err(DataError::file(self.path, format!("{message} ({} bytes): truncated or corrupt", self.len)))
            }
        }
    }
}

/// `PRIMARY`, `IMAGE`, `BINTABLE` or `TABLE`.
fn kind(hdu: &HDU) -> &'static str {
    match hdu {
        HDU::Primary(_) => "PRIMARY",
        HDU::XImage(_) => "IMAGE",
        HDU::XBinaryTable(_) => "BINTABLE",
        HDU::XASCIITable(_) => "TABLE",
    }
}

/// `[H, W]` of a 2-D image header (trailing axes of 1 allowed).
fn image_shape(xtension: &ImageHeader) -> std::result::Result<[usize; 2], String> {
    let naxis = xtension.get_naxis();
    let numpy: Vec<u64> = naxis.iter().rev().copied().collect();
    match naxis {
        [w, h, rest @ ..] if *w > 0 && *h > 0 && rest.iter().all(|&n| n == 1) => {
            let size = |n: u64| usize::try_from(n).map_err(|_| format!("shape {numpy:?} is too large"));
            Ok([size(*h)?, size(*w)?])
        }
        _ => Err(format!("shape {numpy:?} (NumPy order) is not a 2-D image")),
    }
}

/// `rows, columns: NAME, ...` of a table HDU.
fn table_text(values: &ValueMap, rows: usize, cols: usize) -> String {
    let names: Vec<String> = (1..=cols)
        .map(|i| match values.get(&format!("TTYPE{i}")) {
            Some(Value::String { value, .. }) => value.trim().to_string(),
            _ => format!("(column {i})"),
        })
        .collect();
    format!("{rows} rows, {cols} columns: {}", names.join(", "))
}

/// The linear scaling of stored to physical values, and the BLANK value of integer images.
struct Scaling {
    bzero: f64,
    bscale: f64,
    blank: Option<f64>,
}

impl Scaling {
    fn of(values: &ValueMap) -> std::result::Result<Self, String> {
        let number = |key: &str| match values.get(key) {
            None | Some(Value::Undefined) => Ok(None),
            Some(Value::Integer { value, .. }) => Ok(Some(*value as f64)),
            Some(Value::Float { value, .. }) if value.is_finite() => Ok(Some(*value)),
            Some(other) => Err(format!("{key} is not a finite number: {other:?}")),
        };
        let integer = values.get("BITPIX").is_some_and(|b| matches!(b, Value::Integer { value, .. } if *value > 0));
        Ok(Self {
            bzero: number("BZERO")?.unwrap_or(0.0),
            bscale: number("BSCALE")?.unwrap_or(1.0),
            blank: if integer { number("BLANK")? } else { None },
        })
    }

    /// The physical value of stored value `v` (NaN for BLANK).
    fn apply(&self, v: f64) -> f32 {
        if self.blank == Some(v) { f32::NAN } else { (v * self.bscale + self.bzero) as f32 }
    }
}

/// A `fitsrs` error about HDU `index` of `path` (its I/O errors display only their kind).
fn fits_error(path: &Path, index: usize, error: fitsrs::error::Error) -> DataError {
    let message = match error {
        fitsrs::error::Error::Io(std::io::ErrorKind::UnexpectedEof) => "the file ends in its header: truncated".into(),
        fitsrs::error::Error::Io(kind) => kind.to_string(),
        other => other.to_string(),
    };
    DataError::file(path, format!("HDU {index}: {message}"))
}
