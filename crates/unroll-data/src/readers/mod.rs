//! File readers: PNG/JPEG, NIfTI, NPY/NPZ, MNIST IDX and digit CSVs, fastMRI HDF5, FITS, DICOM.
//!
//! Everything here is host-side (values as f32, no tensors). Every error names the file; bad
//! input (missing, truncated or corrupt files, unsupported layouts, NaN or infinite values in
//! NIfTI, NPY/NPZ, fastMRI, FITS and DICOM data) is an error, never a panic.

mod dicom;
mod fastmri;
mod fits;
mod image;
mod mnist;
mod nifti;
mod npy;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

pub use self::dicom::{list_dicom_files, read_dicom_slices};
pub use self::fastmri::{FastMriVolume, fastmri_slices, read_fastmri, read_fastmri_slice, write_reconstruction};
pub use self::fits::{read_fits_images, read_fits_table};
pub use self::image::{Image, list_images, read_image};
pub use self::mnist::{read_digits_csv, read_idx_images, read_idx_labels};
pub use self::nifti::{nifti_dims, read_nifti_slices};
pub use self::npy::{Array, npz_keys, read_npy, read_npz};
use crate::error::{DataError, FileContext, Result};

/// A multi-line, human-readable description of a data file, its type found from its content:
/// HDF5 (datasets with shapes and types, file attributes with values), NIfTI (dims, datatype,
/// voxel size, scaling), NPY/NPZ (arrays, shapes, dtypes), PNG/JPEG (size, colour type, bit
/// depth), IDX (count, rows, cols), FITS (one line per HDU: kind, shape in NumPy order, BITPIX,
/// BZERO, BSCALE; rows and columns of tables), DICOM (modality, size, frames, bits, rescale,
/// pixel spacing, transfer syntax). gzipped NIfTI, IDX, FITS and DICOM files are recognised too.
/// Every line, the last included, ends with a newline.
pub fn inspect(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let mut head = Vec::new();
    open_maybe_gz(path)?.take(352).read_to_end(&mut head).at(path)?;
    let text = if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        fastmri::describe_hdf5(path)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") || head.starts_with(&[0xff, 0xd8, 0xff]) {
        image::describe_image(path)
    } else if head.starts_with(b"\x93NUMPY") {
        npy::describe_npy(path)
    } else if head.starts_with(b"PK\x03\x04") {
        npy::describe_npz(path)
    } else if head.starts_with(b"SIMPLE  =") {
        fits::describe_fits(path)
    } else if head.get(128..132) == Some(b"DICM") {
        dicom::describe_dicom(path)
    } else if matches!(head.get(344..348), Some(b"n+1\0" | b"ni1\0")) {
        nifti::describe_nifti(path)
    } else if let Some((_, dims)) = mnist::idx_header(&head) {
        Ok(match dims[..] {
            [count, rows, cols] => {
                format!("{}: IDX images: {count} of {rows}x{cols}", path.display())
            }
            _ => format!("{}: IDX labels: {}", path.display(), dims[0]),
        })
    } else {
        Err(DataError::file(path, "unknown file type (not HDF5, NIfTI, NPY/NPZ, PNG/JPEG, IDX, FITS or DICOM)"))
    };
    Ok(text? + "\n")
}

/// The fastMRI-layout files of `path`: the file itself if it is HDF5, or the `.h5` HDF5 files of a
/// folder (sorted by name); empty for anything else.
pub fn hdf5_files(path: &Path) -> Result<Vec<std::path::PathBuf>> {
    let is_hdf5 = |path: &Path| {
        let mut magic = [0u8; 8];
        File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"\x89HDF\r\n\x1a\n"
    };
    if !path.is_dir() {
        return Ok(if is_hdf5(path) { vec![path.to_path_buf()] } else { vec![] });
    }
    let mut files: Vec<_> = std::fs::read_dir(path)
        .at(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "h5") && is_hdf5(p))
        .collect();
    files.sort();
    Ok(files)
}

/// Element types the readers convert to f32.
pub(crate) trait ToF32: Copy {
    fn to_f32(self) -> f32;
}

macro_rules! to_f32 {
    ($($t:ty),*) => {
        $(impl ToF32 for $t {
            fn to_f32(self) -> f32 {
                self as f32
            }
        })*
    };
}

to_f32!(u8, i8, u16, i16, u32, i32, i64, f32, f64);

/// The order an array's values are stored in, to name a value by its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemoryOrder {
    /// C order: the last index varies fastest.
    RowMajor,
    /// Fortran order: the first index varies fastest (NIfTI voxels).
    ColumnMajor,
}

/// An error unless every value read from array `name` of `path` is finite: the first NaN or
/// infinite one is named by its index in the array's own axes (`kspace[1, 2, 3, 4] is NaN`).
///
/// `shape` is the array's shape as stored and `values` its elements in storage `order`, the
/// first at flat index `start` (non-zero when only part of the array was read). An element is
/// one value (`N = 1`) or the real and imaginary parts of a complex value (`N = 2`, the message
/// names the part).
pub(crate) fn check_finite<const N: usize>(
    path: &Path,
    name: &str,
    shape: &[usize],
    order: MemoryOrder,
    start: usize,
    values: impl IntoIterator<Item = [f32; N]>,
) -> Result<()> {
    let bad = values.into_iter().enumerate().find_map(|(offset, parts)| {
        let part = parts.iter().position(|v| !v.is_finite())?;
        Some((start + offset, part, parts[part]))
    });
    let Some((mut flat, part, value)) = bad else {
        return Ok(());
    };
    let mut index = vec![0; shape.len()];
    let mut axes: Vec<usize> = (0..shape.len()).collect();
    if order == MemoryOrder::RowMajor {
        axes.reverse();
    }
    for axis in axes {
        let n = shape[axis].max(1);
        index[axis] = flat % n;
        flat /= n;
    }
    let index = if index.is_empty() {
        String::new()
    } else {
        format!("[{}]", index.iter().map(usize::to_string).collect::<Vec<_>>().join(", "))
    };
    let kind = if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "Inf"
    } else {
        "-Inf"
    };
    let part = match (N, part) {
        (2, 0) => " (real part)",
        (2, _) => " (imaginary part)",
        _ => "",
    };
    Err(DataError::file(path, format!("{name}{index} is {kind}{part}")))
}

/// The file's bytes, gunzipped when it starts with the gzip magic.
pub(crate) fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>> {
    let mut reader = BufReader::new(File::open(path).at(path)?);
    let gzipped = reader.fill_buf().at(path)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzipped { Box::new(MultiGzDecoder::new(reader)) } else { Box::new(reader) })
}

/// The file's bytes, gunzipped when it starts with the gzip magic.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_maybe_gz(path)?.read_to_end(&mut bytes).at(path)?;
    Ok(bytes)
}

/// The files directly inside `dir` whose extension is one of `extensions` (any case), sorted by
/// file name. An error if `dir` cannot be read or holds none (`what` names the kind of file).
pub(crate) fn list_files(dir: &Path, extensions: &[&str], what: &str) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let known = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.iter().any(|known| e.eq_ignore_ascii_case(known)));
        if known && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(DataError::file(dir, format!("no {what} files in this folder")));
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}
