//! NIfTI-1 volumes (`.nii`, `.nii.gz`; gzip is detected from the content).

use std::ops::Range;
use std::path::Path;

use nifti::{DataElement, InMemNiftiObject, InMemNiftiVolume, NiftiError, NiftiHeader, NiftiObject, NiftiType};

use super::{Image, MemoryOrder, ToF32, check_finite, open_maybe_gz};
use crate::error::{DataError, Result};

/// The volume's voxel grid `[nx, ny, nz]` (NIfTI `dim[1..=3]`; 1 for missing axes), read from the
/// header only. Volumes with more than one time point or channel (`dim[4..] > 1`) are refused.
pub fn nifti_dims(path: impl AsRef<Path>) -> Result<[usize; 3]> {
    let path = path.as_ref();
    let header = at(NiftiHeader::from_reader(open_maybe_gz(path)?), path)?;
    spatial_dims(path, &header)
}

/// Slices of a 3-D NIfTI volume along voxel axis `axis` (0, 1 or 2, the NIfTI `(i, j, k)` order),
/// `range` of slice indices along it (all when `None`), as 1-channel images.
///
/// Values are the stored intensities as f32, times `scl_slope` plus `scl_inter` when `scl_slope`
/// is non-zero; they are *not* normalised. Datatypes: (u)int8, (u)int16, (u)int32, int64,
/// float32, float64. A NaN or infinite value anywhere in the volume (after scaling) is an error
/// naming its voxel (`voxel[i, j, k] is NaN`).
///
/// Orientation (voxel axes; the qform/sform affine is not applied): the two remaining axes, lower
/// first, give the columns (index increasing to the right) and the rows (index increasing *up*,
/// i.e. the last image row is index 0):
///
/// | axis | plane (RAS-aligned volume) | columns | rows, top to bottom |
/// |---|---|---|---|
/// | 0 | sagittal | j (y) | k (z) reversed: superior up |
/// | 1 | coronal | i (x) | k (z) reversed: superior up |
/// | 2 | axial | i (x) | j (y) reversed: anterior up |
pub fn read_nifti_slices(path: impl AsRef<Path>, axis: usize, range: Option<Range<usize>>) -> Result<Vec<Image>> {
    let path = path.as_ref();
    let object = at(InMemNiftiObject::from_reader(open_maybe_gz(path)?), path)?;
    let header = object.header();
    let dims = spatial_dims(path, header)?;
    if axis > 2 {
        return Err(DataError::file(path, format!("slice axis {axis} is not 0, 1 or 2")));
    }
    let range = range.unwrap_or(0..dims[axis]);
    if range.start > range.end || range.end > dims[axis] {
        let n = dims[axis];
        return Err(DataError::file(path, format!("slices {range:?} outside 0..{n} along axis {axis}")));
    }
    let (slope, inter) = (header.scl_slope, header.scl_inter);
    let datatype = at(header.data_type(), path)?;
    let mut voxels = voxels_f32(path, object.into_volume(), datatype)?;
    if slope != 0.0 && slope.is_finite() {
        voxels.iter_mut().for_each(|v| *v = *v * slope + inter);
    }
    check_finite(path, "voxel", &dims, MemoryOrder::ColumnMajor, 0, voxels.iter().map(|&v| [v]))?;

    let strides = [1, dims[0], dims[0] * dims[1]];
    let (cols, rows) = match axis {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let (width, height) = (dims[cols], dims[rows]);
    let voxels = &voxels;
    Ok(range
        .map(|slice| {
            let base = slice * strides[axis];
            let data = (0..height)
                .rev()
                .flat_map(|row| (0..width).map(move |col| voxels[base + row * strides[rows] + col * strides[cols]]))
                .collect();
            Image { channels: 1, height, width, data }
        })
        .collect())
}

/// `[nx, ny, nz]`, refusing volumes with more than one 3-D frame.
fn spatial_dims(path: &Path, header: &NiftiHeader) -> Result<[usize; 3]> {
    let dim = at(header.dim(), path)?;
    if dim.iter().skip(3).any(|&d| d > 1) {
        return Err(DataError::file(path, format!("dims {dim:?}: only 3-D volumes are supported")));
    }
    let mut dims = [1; 3];
    dims.iter_mut().zip(dim).for_each(|(out, &d)| *out = usize::from(d));
    Ok(dims)
}

/// All voxels, in file (column-major) order, as f32.
fn voxels_f32(path: &Path, volume: InMemNiftiVolume, datatype: NiftiType) -> Result<Vec<f32>> {
    fn typed<T: DataElement + ToF32>(volume: InMemNiftiVolume) -> nifti::Result<Vec<f32>> {
        Ok(volume.into_nifti_typed_data::<T>()?.into_iter().map(T::to_f32).collect())
    }
    let voxels = match datatype {
        NiftiType::Uint8 => typed::<u8>(volume),
        NiftiType::Int8 => typed::<i8>(volume),
        NiftiType::Uint16 => typed::<u16>(volume),
        NiftiType::Int16 => typed::<i16>(volume),
        NiftiType::Uint32 => typed::<u32>(volume),
        NiftiType::Int32 => typed::<i32>(volume),
        NiftiType::Int64 => typed::<i64>(volume),
        NiftiType::Float32 => typed::<f32>(volume),
        NiftiType::Float64 => typed::<f64>(volume),
        other => {
            return Err(DataError::file(path, format!("unsupported NIfTI datatype {other:?}")));
        }
    };
    at(voxels, path)
}

/// `result` with its error about `path` (NIfTI I/O errors display only as debug output, so their
/// own message is used).
fn at<T>(result: nifti::Result<T>, path: &Path) -> Result<T> {
    result.map_err(|error| match error {
        NiftiError::Io(io) => DataError::file(path, io),
        other => DataError::file(path, other),
    })
}

/// Dims, datatype, voxel size and intensity scaling of a NIfTI file, from its header.
pub(crate) fn describe_nifti(path: &Path) -> Result<String> {
    let header = at(NiftiHeader::from_reader(open_maybe_gz(path)?), path)?;
    let dim = at(header.dim(), path)?;
    let datatype = header.data_type().map_or_else(|_| format!("code {}", header.datatype), |t| format!("{t:?}"));
    Ok(format!(
        "{}: NIfTI-1\n  dims {dim:?}\n  datatype {datatype} ({} bits)\n  pixdim {:?}\n  scl_slope {}, scl_inter {}",
        path.display(),
        header.bitpix,
        &header.pixdim[1..=dim.len()],
        header.scl_slope,
        header.scl_inter
    ))
}
