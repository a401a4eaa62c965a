//! fastMRI HDF5 files: raw k-space (multi-coil or single-coil) and the reference reconstruction.

use std::ops::Range;
use std::path::Path;

use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Attribute, Dataset, File, H5Type, Hyperslab, SliceOrIndex};

use super::Array;
use crate::error::{DataError, FileContext, Result};

/// One fastMRI volume (or one slice of it) on the host.
///
/// k-space is split into real and imaginary parts, each `shape = [slices, coils, H, W]` in C
/// order; single-coil files have `coils = 1`. `target` is `reconstruction_rss` (or, in single-coil
/// files, `reconstruction_esc`) as `[slices, h, w]` when the file has it; `max` and `acquisition`
/// are the file attributes of the same names.
#[derive(Debug, Clone, PartialEq)]
pub struct FastMriVolume {
    pub shape: [usize; 4],
    pub kspace_re: Vec<f32>,
    pub kspace_im: Vec<f32>,
    pub target: Option<Array>,
    pub max: Option<f64>,
    pub acquisition: Option<String>,
}

/// Reads a whole fastMRI file.
///
/// The `kspace` dataset is `(slices, coils, H, W)` or `(slices, H, W)` complex, stored either as
/// an HDF5 compound of two floats named `{r, i}` (h5py, fastMRI) or `{real, imag}` (ISMRMRD), or
/// as floats with a trailing axis of 2 (re, im). Any other layout is an error naming the compound
/// fields found. Floats of any width are converted to f32.
pub fn read_fastmri(path: impl AsRef<Path>) -> Result<FastMriVolume> {
    read(path.as_ref(), None)
}

/// Reads slice `slice` of a fastMRI file (`shape[0] == 1`); only that slice is read from disk.
pub fn read_fastmri_slice(path: impl AsRef<Path>, slice: usize) -> Result<FastMriVolume> {
    read(path.as_ref(), Some(slice))
}

fn read(path: &Path, slice: Option<usize>) -> Result<FastMriVolume> {
    let file = File::open(path).at(path)?;
    let dataset = file.dataset("kspace").at_with(path, "dataset `kspace`")?;
    let layout = Layout::of(&dataset).at_with(path, "dataset `kspace`")?;
    let [slices, coils, height, width] = layout.shape;
    let slices = match slice {
        None => 0..slices,
        Some(s) if s < slices => s..s + 1,
        Some(s) => {
            return Err(DataError::file(path, format!("slice {s} out of 0..{slices}")));
        }
    };
    let (mut kspace_re, mut kspace_im) = (Vec::new(), Vec::new());
    for s in slices.clone() {
        for c in 0..coils {
            layout
                .read_plane(&dataset, s, c, &mut kspace_re, &mut kspace_im)
                .at_with(path, format_args!("dataset `kspace`, slice {s}, coil {c}"))?;
        }
    }
    let max = file_attr(path, &file, "max")?
        .map(|attr| attr.read_scalar::<f64>().at_with(path, "attribute `max`"))
        .transpose()?;
    let acquisition = file_attr(path, &file, "acquisition")?
        .map(|attr| {
            attr_string(&attr)
                .at_with(path, "attribute `acquisition`")?
                .ok_or_else(|| DataError::file(path, "attribute `acquisition` is not a string"))
        })
        .transpose()?;
    Ok(FastMriVolume {
        shape: [slices.len(), coils, height, width],
        kspace_re,
        kspace_im,
        target: read_target(path, &file, slices)?,
        max,
        acquisition,
    })
}

/// File attribute `name`, if the file has one.
fn file_attr(path: &Path, file: &File, name: &str) -> Result<Option<Attribute>> {
    if !file.attr_names().at(path)?.iter().any(|n| n == name) {
        return Ok(None);
    }
    file.attr(name).at_with(path, format_args!("attribute `{name}`")).map(Some)
}

/// `reconstruction_rss` (or `reconstruction_esc`), slices `slices`, if the file has one.
fn read_target(path: &Path, file: &File, slices: Range<usize>) -> Result<Option<Array>> {
    let Some(name) = ["reconstruction_rss", "reconstruction_esc"].into_iter().find(|n| file.link_exists(n)) else {
        return Ok(None);
    };
    let what = format!("dataset `{name}`");
    let dataset = file.dataset(name).at_with(path, &what)?;
    let &[count, h, w] = dataset.shape().as_slice() else {
        let message = format!("{what}: shape {:?}, expected (slices, h, w)", dataset.shape());
        return Err(DataError::file(path, message));
    };
    if slices.end > count {
        return Err(DataError::file(path, format!("{what}: {count} slices, k-space has more")));
    }
    let mut data = Vec::new();
    for s in slices.clone() {
        data.extend(dataset.read_slice_2d::<f32, _>((s, .., ..)).at_with(path, &what)?.iter());
    }
    Ok(Some(Array { shape: vec![slices.len(), h, w], data }))
}

/// A complex sample as a compound of two floats, with the field names one writer uses.
trait ComplexPair: H5Type + Copy {
    fn parts(self) -> (f32, f32);
}

macro_rules! complex_pair {
    ($name:ident, $re:ident, $im:ident) => {
        #[derive(H5Type, Clone, Copy)]
        #[repr(C)]
        struct $name {
            $re: f32,
            $im: f32,
        }

        impl ComplexPair for $name {
            fn parts(self) -> (f32, f32) {
                (self.$re, self.$im)
            }
        }
    };
}

complex_pair!(FastMriComplex, r, i);
complex_pair!(IsmrmrdComplex, real, imag);

/// How a `kspace` dataset stores its complex values.
#[derive(Clone, Copy)]
enum Storage {
    /// Compound `{r, i}`.
    FastMri,
    /// Compound `{real, imag}`.
    Ismrmrd,
    /// Floats with a trailing axis of 2.
    Interleaved,
}

struct Layout {
    storage: Storage,
    /// Whether the file has a coil axis.
    coil_axis: bool,
    /// `[slices, coils, H, W]`.
    shape: [usize; 4],
}

impl Layout {
    fn of(dataset: &Dataset) -> std::result::Result<Self, String> {
        let shape = dataset.shape();
        let dtype = dataset.dtype().and_then(|t| t.to_descriptor()).map_err(|e| e.to_string())?;
        let storage = match &dtype {
            TypeDescriptor::Compound(compound) => {
                let mut names: Vec<&str> = compound.fields.iter().map(|f| f.name.as_str()).collect();
                names.sort_unstable();
                let floats = compound.fields.iter().all(|f| matches!(f.ty, TypeDescriptor::Float(_)));
                match (names.as_slice(), floats) {
                    (["i", "r"], true) => Storage::FastMri,
                    (["imag", "real"], true) => Storage::Ismrmrd,
                    _ => {
                        return Err(format!(
                            "unsupported complex layout {}: expected float fields {{r, i}} \
                             (fastMRI, h5py) or {{real, imag}} (ISMRMRD)",
                            type_name(&dtype)
                        ));
                    }
                }
            }
            TypeDescriptor::Float(_) if shape.last() == Some(&2) => Storage::Interleaved,
            _ => {
                return Err(format!(
                    "{} of shape {shape:?}: expected complex values (a compound {{r, i}} or \
                     {{real, imag}}, or floats with a trailing axis of 2)",
                    type_name(&dtype)
                ));
            }
        };
        let dims = match storage {
            Storage::Interleaved => &shape[..shape.len() - 1],
            _ => &shape[..],
        };
        let (coil_axis, shape) = match *dims {
            [slices, height, width] => (false, [slices, 1, height, width]),
            [slices, coils, height, width] => (true, [slices, coils, height, width]),
            _ => {
                return Err(format!("shape {shape:?}: expected (slices, coils, H, W) or (slices, H, W)"));
            }
        };
        Ok(Layout { storage, coil_axis, shape })
    }

    /// Appends the k-space plane of slice `s`, coil `c` to `re` and `im`.
    fn read_plane(
        &self,
        dataset: &Dataset,
        s: usize,
        c: usize,
        re: &mut Vec<f32>,
        im: &mut Vec<f32>,
    ) -> hdf5::Result<()> {
        let mut index = vec![SliceOrIndex::Index(s)];
        if self.coil_axis {
            index.push(SliceOrIndex::Index(c));
        }
        index.extend([SliceOrIndex::from(..), SliceOrIndex::from(..)]);
        match self.storage {
            Storage::FastMri => split_pairs::<FastMriComplex>(dataset, index, re, im),
            Storage::Ismrmrd => split_pairs::<IsmrmrdComplex>(dataset, index, re, im),
            Storage::Interleaved => {
                for (part, out) in [re, im].into_iter().enumerate() {
                    let mut selection = index.clone();
                    selection.push(SliceOrIndex::Index(part));
                    out.extend(dataset.read_slice_2d::<f32, _>(Hyperslab::from(selection))?.iter());
                }
                Ok(())
            }
        }
    }
}

fn split_pairs<T: ComplexPair>(
    dataset: &Dataset,
    index: Vec<SliceOrIndex>,
    re: &mut Vec<f32>,
    im: &mut Vec<f32>,
) -> hdf5::Result<()> {
    for value in dataset.read_slice_2d::<T, _>(Hyperslab::from(index))?.iter() {
        let (a, b) = value.parts();
        re.push(a);
        im.push(b);
    }
    Ok(())
}

/// A readable name of an HDF5 type; compounds list their fields (`compound {r: float32, …}`).
fn type_name(dtype: &TypeDescriptor) -> String {
    match dtype {
        TypeDescriptor::Compound(compound) => {
            let fields: Vec<String> =
                compound.fields.iter().map(|f| format!("{}: {}", f.name, type_name(&f.ty))).collect();
            format!("compound {{{}}}", fields.join(", "))
        }
        other => other.to_string(),
    }
}

/// The value of a string attribute (fixed or variable length), `None` for other types.
fn attr_string(attr: &Attribute) -> hdf5::Result<Option<String>> {
    Ok(Some(match attr.dtype()?.to_descriptor()? {
        TypeDescriptor::VarLenUnicode => attr.read_scalar::<VarLenUnicode>()?.to_string(),
        TypeDescriptor::VarLenAscii => attr.read_scalar::<VarLenAscii>()?.to_string(),
        TypeDescriptor::FixedAscii(_) => attr.read_scalar::<FixedAscii<1024>>()?.to_string(),
        TypeDescriptor::FixedUnicode(_) => attr.read_scalar::<FixedUnicode<1024>>()?.to_string(),
        _ => return Ok(None),
    }))
}

/// A multi-line description of an HDF5 file: every dataset (path, shape, type) and the file
/// attributes with their values.
pub(crate) fn describe_hdf5(path: &Path) -> Result<String> {
    let file = File::open(path).at(path)?;
    let mut lines = vec![format!("{}: HDF5", path.display())];
    let mut groups = vec![file.as_group().at(path)?];
    while let Some(group) = groups.pop() {
        for dataset in group.datasets().at(path)? {
            let dtype = dataset.dtype().and_then(|t| t.to_descriptor()).at(path)?;
            lines.push(format!("  dataset {}: shape {:?}, {}", dataset.name(), dataset.shape(), type_name(&dtype)));
        }
        groups.extend(group.groups().at(path)?);
    }
    for name in file.attr_names().at(path)? {
        let attr = file.attr(&name).at(path)?;
        let value = match attr_string(&attr).at(path)? {
            Some(text) => format!("{text:?}"),
            None => match attr.read_raw::<f64>() {
                Ok(values) if attr.is_scalar() => format!("{}", values[0]),
                Ok(values) => format!("{values:?} (shape {:?})", attr.shape()),
                Err(_) => type_name(&attr.dtype().and_then(|t| t.to_descriptor()).at(path)?),
            },
        };
        lines.push(format!("  attribute {name} = {value}"));
    }
    Ok(lines.join("\n"))
}
