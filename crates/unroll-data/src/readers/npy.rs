//! NumPy `.npy` arrays and `.npz` archives.

use std::io::Read;
use std::path::Path;

use npyz::{DType, NpyFile, Order, TypeChar, npz::NpzArchive};

use super::{MemoryOrder, ToF32, check_finite};
use crate::error::{DataError, FileContext, Result};

/// A host-side n-dimensional array: `shape` and the values in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Reads a `.npy` file. Element types: f32, f64, u8, u16, u32, i8, i16, i32, i64 (any byte order),
/// converted to f32; C order only (Fortran-order arrays are refused). A NaN or infinite value is
/// an error naming its index (`array[1, 2] is NaN`).
pub fn read_npy(path: impl AsRef<Path>) -> Result<Array> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).at(path)?;
    let npy = NpyFile::new(std::io::BufReader::new(file)).at(path)?;
    let array = to_array(npy).map_err(|message| DataError::file(path, message))?;
    check_finite(path, "array", &array.shape, MemoryOrder::RowMajor, 0, array.data.iter().map(|&v| [v]))?;
    Ok(array)
}

/// The array names of a `.npz` archive, in archive order.
pub fn npz_keys(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    Ok(NpzArchive::open(path).at(path)?.array_names().map(String::from).collect())
}

/// Reads array `key` of a `.npz` archive (compressed or not), with [`read_npy`]'s conventions (a
/// NaN is named `key[1, 2] is NaN`).
pub fn read_npz(path: impl AsRef<Path>, key: &str) -> Result<Array> {
    let path = path.as_ref();
    let mut archive = NpzArchive::open(path).at(path)?;
    let keys: Vec<String> = archive.array_names().map(String::from).collect();
    let npy = archive.by_name(key).at_with(path, format_args!("array `{key}`"))?;
    let npy = npy.ok_or_else(|| DataError::file(path, format!("no array `{key}` (arrays: {keys:?})")))?;
    let array = to_array(npy).map_err(|message| DataError::file(path, format!("array `{key}`: {message}")))?;
    check_finite(path, key, &array.shape, MemoryOrder::RowMajor, 0, array.data.iter().map(|&v| [v]))?;
    Ok(array)
}

/// The dtype of an npy header as numpy writes it (`<f4`, `|u1`, or a record description).
fn dtype_name(dtype: &DType) -> String {
    match dtype {
        DType::Plain(type_str) => type_str.to_string(),
        other => other.descr(),
    }
}

fn to_array<R: Read>(npy: NpyFile<R>) -> std::result::Result<Array, String> {
    if npy.order() == Order::Fortran {
        return Err("Fortran-order array: only C order is supported (np.ascontiguousarray)".into());
    }
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    let dtype = npy.dtype();
    let kind = match &dtype {
        DType::Plain(type_str) => Some((type_str.type_char(), type_str.size_field())),
        _ => None,
    };
    let data = match kind {
        Some((TypeChar::Float, 4)) => values::<f32, R>(npy),
        Some((TypeChar::Float, 8)) => values::<f64, R>(npy),
        Some((TypeChar::Uint, 1)) => values::<u8, R>(npy),
        Some((TypeChar::Uint, 2)) => values::<u16, R>(npy),
        Some((TypeChar::Uint, 4)) => values::<u32, R>(npy),
        Some((TypeChar::Int, 1)) => values::<i8, R>(npy),
        Some((TypeChar::Int, 2)) => values::<i16, R>(npy),
        Some((TypeChar::Int, 4)) => values::<i32, R>(npy),
        Some((TypeChar::Int, 8)) => values::<i64, R>(npy),
        _ => return Err(format!("unsupported dtype {}", dtype_name(&dtype))),
    };
    let data = data.map_err(|e| e.to_string())?;
    Ok(Array { shape, data })
}

fn values<T: npyz::Deserialize + ToF32, R: Read>(npy: NpyFile<R>) -> std::io::Result<Vec<f32>> {
    Ok(npy.into_vec::<T>()?.into_iter().map(T::to_f32).collect())
}

/// Shape, dtype and order of a `.npy` file.
pub(crate) fn describe_npy(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).at(path)?;
    let npy = NpyFile::new(std::io::BufReader::new(file)).at(path)?;
    Ok(format!("{}: NPY: {}", path.display(), header_text(&npy)))
}

/// The arrays of a `.npz` archive with their shapes, dtypes and orders.
pub(crate) fn describe_npz(path: &Path) -> Result<String> {
    let mut archive = NpzArchive::open(path).at(path)?;
    let keys: Vec<String> = archive.array_names().map(String::from).collect();
    let mut lines = vec![format!("{}: NPZ, {} array(s)", path.display(), keys.len())];
    for key in keys {
        let what = format!("array `{key}`");
        let npy = archive.by_name(&key).at_with(path, &what)?;
        let npy = npy.ok_or_else(|| DataError::file(path, format!("{what} is listed but missing")))?;
        lines.push(format!("  {key}: {}", header_text(&npy)));
    }
    Ok(lines.join("\n"))
}

fn header_text<R: Read>(npy: &NpyFile<R>) -> String {
    let order = match npy.order() {
        Order::C => "C",
        Order::Fortran => "Fortran",
    };
    format!("shape {:?}, dtype {}, {order} order", npy.shape(), dtype_name(&npy.dtype()))
}
