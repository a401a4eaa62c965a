//! fastMRI HDF5 files: raw k-space (multi-coil or single-coil) and the reference reconstruction.
//!
//! Read with the pure-Rust `hdf5-pure`, which has no complex type: k-space is read as raw record
//! bytes and each float field is decoded at the byte offset its datatype gives.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use hdf5_pure::{AttrValue, Dataset, Datatype, DatatypeByteOrder, File, FloatingPointLayout, FormatError};

use super::{Array, MemoryOrder, check_finite};
use crate::error::{DataError, Result};

/// One fastMRI volume (or one slice of it) on the host.
///
/// k-space is split into real and imaginary parts, each `shape = [slices, coils, H, W]` in C
/// order; single-coil files have `coils = 1`; `maps` is the optional `sensitivity_map` dataset,
/// complex like k-space and of its shape. `target` is `reconstruction_rss` (or, in single-coil
/// files, `reconstruction_esc`) as `[slices, h, w]` when the file has it; `max`, `norm` and
/// `acquisition` are the file attributes of the same names.
#[derive(Debug, Clone, PartialEq)]
pub struct FastMriVolume {
    pub shape: [usize; 4],
    pub kspace_re: Vec<f32>,
    pub kspace_im: Vec<f32>,
    pub target: Option<Array>,
    /// The `sensitivity_map` dataset (coil maps shaped like k-space), real and imaginary parts.
    pub maps: Option<(Vec<f32>, Vec<f32>)>,
    pub max: Option<f64>,
    pub norm: Option<f64>,
    pub acquisition: Option<String>,
}

impl FastMriVolume {
    /// The size `[h, w]` of reconstructions: that of the reference reconstruction
    /// (`reconstruction_rss`/`_esc`, fastMRI's centre crop, which removes the readout oversampling)
    /// when the file has one, at most the k-space grid; the k-space grid otherwise.
    pub fn reconstruction_size(&self) -> [usize; 2] {
        let [_, _, height, width] = self.shape;
        self.target.as_ref().map_or([height, width], |t| [t.shape[1].min(height), t.shape[2].min(width)])
    }
}

/// Reads a whole fastMRI file.
///
/// The `kspace` dataset is `(slices, coils, H, W)` or `(slices, H, W)` complex, stored either as
/// an HDF5 compound of two floats named `{r, i}` (h5py, fastMRI) or `{real, imag}` (ISMRMRD), or
/// as floats with a trailing axis of 2 (re, im). Any other layout is an error naming the compound
/// fields found. Floats (f32 or f64, either byte order) are converted to f32. A NaN or infinite
/// value in k-space or the target is an error naming its index. The attributes `max` and `norm`
/// are float scalars, `acquisition` a (fixed- or variable-length) string.
///
/// HDF5 layouts hdf5-pure 0.47 does not read are an error saying "the file uses an unsupported
/// HDF5 layout": notably chunked datasets written by HDF5 2.0 under `libver="latest"` (data layout
/// message version 5; h5py with `libver="v114"` or earlier writes a readable file), and virtual
/// or external datasets. Contiguous `libver="latest"` files read.
pub fn read_fastmri(path: impl AsRef<Path>) -> Result<FastMriVolume> {
    read(path.as_ref(), None)
}

/// Writes `reconstruction` (`[slices, H, W]` float32, fastMRI's submission layout) to the HDF5 file
/// `path`, atomically (a temporary file renamed into place).
pub fn write_reconstruction(path: impl AsRef<Path>, images: &[Vec<f32>], [h, w]: [usize; 2]) -> Result<()> {
    let path = path.as_ref();
    let mut builder = hdf5_pure::FileBuilder::new();
    let data: Vec<f32> = images.iter().flatten().copied().collect();
    builder.create_dataset("reconstruction").with_f32_data(&data).with_shape(&[
        images.len() as u64,
        h as u64,
        w as u64,
    ]);
    let tmp = path.with_extension("h5.tmp");
    builder.write(&tmp).map_err(|e| h5_error(path, "dataset `reconstruction`", e))?;
    std::fs::rename(&tmp, path).map_err(|e| DataError::file(path, e))
}

/// Reads slice `slice` of a fastMRI file (`shape[0] == 1`).
///
/// Only that slice is read from disk: the file is opened for streaming reads (metadata on
/// demand) and k-space and target are read as a one-row window along their first axis, which
/// reads just that slice's bytes (contiguous storage) or the chunks that hold it (chunked).
pub fn read_fastmri_slice(path: impl AsRef<Path>, slice: usize) -> Result<FastMriVolume> {
    read(path.as_ref(), Some(slice))
}

/// The number of slices of a fastMRI-layout file (the first axis of `kspace`), read from its
/// metadata alone.
pub fn fastmri_slices(path: impl AsRef<Path>) -> Result<usize> {
    let path = path.as_ref();
    let file = File::open_streaming(path).map_err(|e| h5_error(path, "", e))?;
    let what = "dataset `kspace`";
    let kspace = file.dataset("kspace").map_err(|e| h5_error(path, what, e))?;
    Ok(Layout::of(&kspace).map_err(|e| e.at(path, what))?.shape[0])
}

fn read(path: &Path, slice: Option<usize>) -> Result<FastMriVolume> {
    // A whole volume is read in one go (`File::open` loads the file into memory); one slice is
    // streamed so that the rest of the file is never read.
    let file = match slice {
        None => File::open(path),
        Some(_) => File::open_streaming(path),
    }
    .map_err(|e| h5_error(path, "", e))?;
    let root = file.root();
    let datasets = root.datasets().map_err(|e| h5_error(path, "root group", e))?;
    if !datasets.iter().any(|name| name == "kspace") {
        return Err(DataError::file(path, format!("no dataset `kspace` (datasets: {datasets:?})")));
    }
    let what = "dataset `kspace`";
    let kspace = file.dataset("kspace").map_err(|e| h5_error(path, what, e))?;
    let layout = Layout::of(&kspace).map_err(|e| e.at(path, what))?;
    let [slices, coils, height, width] = layout.shape;
    let slices = match slice {
        None => 0..slices,
        Some(s) if s < slices => s..s + 1,
        Some(s) => return Err(DataError::file(path, format!("slice {s} out of 0..{slices}"))),
    };
    check_size(path, what, layout.bytes(slices.len()), file.file_size())?;
    let raw = kspace.read_raw_rows(slices.start as u64, slices.len() as u64).map_err(|e| h5_error(path, what, e))?;
    let (kspace_re, kspace_im) = layout.decode(&raw, slices.len()).map_err(|e| DataError::file(path, e))?;
    layout.check_finite(path, "kspace", slices.start, &kspace_re, &kspace_im)?;

    let target = read_target(path, &file, &datasets, slices.clone())?;
    let maps = if datasets.iter().any(|d| d == "sensitivity_map") {
        let what = "dataset `sensitivity_map`";
        let dataset = file.dataset("sensitivity_map").map_err(|e| h5_error(path, what, e))?;
        let maps = Layout::of(&dataset).map_err(|e| e.at(path, what))?;
        if maps.shape != layout.shape {
            let message = format!("{what}: shape {:?}, but k-space is {:?}", maps.shape, layout.shape);
            return Err(DataError::file(path, message));
        }
        let raw =
            dataset.read_raw_rows(slices.start as u64, slices.len() as u64).map_err(|e| h5_error(path, what, e))?;
        let (re, im) = maps.decode(&raw, slices.len()).map_err(|e| DataError::file(path, e))?;
        maps.check_finite(path, "sensitivity_map", slices.start, &re, &im)?;
        Some((re, im))
    } else {
        None
    };
    let attrs = root.attrs().map_err(|e| h5_error(path, "file attributes", e))?;
    // `attrs` leaves out an attribute whose value it cannot decode (a variable-length string whose
    // heap is missing from a truncated file, say): one the file has must not read as absent.
    let types = root.attr_datatypes().map_err(|e| h5_error(path, "file attributes", e))?;
    if let Some(name) =
        ["max", "norm", "acquisition"].into_iter().find(|&n| types.contains_key(n) && !attrs.contains_key(n))
    {
        let message = format!("attribute `{name}` ({}) could not be read", type_name(&types[name]));
        return Err(DataError::file(path, message));
    }
    Ok(FastMriVolume {
        shape: [slices.len(), coils, height, width],
        kspace_re,
        kspace_im,
        target,
        maps,
        max: float_attr(path, &attrs, "max")?,
        norm: float_attr(path, &attrs, "norm")?,
        acquisition: string_attr(path, &attrs, "acquisition")?,
    })
}

/// File attribute `name` as a float scalar (f32 or f64), if the file has it.
fn float_attr(path: &Path, attrs: &HashMap<String, AttrValue>, name: &str) -> Result<Option<f64>> {
    attrs
        .get(name)
        .map(|value| {
            // `as_f64`: an f32 or f64 scalar (or one-element array); integers are refused.
            value
                .as_f64()
                .ok_or_else(|| DataError::file(path, format!("attribute `{name}` = {value}: expected a float scalar")))
        })
        .transpose()
}

/// File attribute `name` as a string (fixed- or variable-length), if the file has it.
fn string_attr(path: &Path, attrs: &HashMap<String, AttrValue>, name: &str) -> Result<Option<String>> {
    attrs
        .get(name)
        .map(|value| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| DataError::file(path, format!("attribute `{name}` = {value}: expected a string")))
        })
        .transpose()
}

/// `reconstruction_rss` (or `reconstruction_esc`), slices `slices`, if the file has one.
fn read_target(path: &Path, file: &File, datasets: &[String], slices: Range<usize>) -> Result<Option<Array>> {
    let Some(name) = ["reconstruction_rss", "reconstruction_esc"].into_iter().find(|n| datasets.iter().any(|d| d == n))
    else {
        return Ok(None);
    };
    let what = format!("dataset `{name}`");
    let dataset = file.dataset(name).map_err(|e| h5_error(path, &what, e))?;
    let shape = dims(&dataset).map_err(|e| e.at(path, &what))?;
    let &[count, h, w] = shape.as_slice() else {
        return Err(DataError::file(path, format!("{what}: shape {shape:?}, expected (slices, h, w)")));
    };
    if slices.end > count {
        return Err(DataError::file(path, format!("{what}: {count} slices, k-space has more")));
    }
    let element = dataset.element_size().map_err(|e| h5_error(path, &what, e))?;
    let bytes = [slices.len(), h, w, usize::try_from(element).unwrap_or(usize::MAX)]
        .into_iter()
        .try_fold(1usize, usize::checked_mul);
    check_size(path, &what, bytes, file.file_size())?;
    let data = dataset.read_f32_rows(slices.start as u64, slices.len() as u64).map_err(|e| h5_error(path, &what, e))?;
    if data.len() != slices.len() * h * w {
        let message = format!("{what}: read {} values, expected {}", data.len(), slices.len() * h * w);
        return Err(DataError::file(path, message));
    }
    check_finite(path, name, &shape, MemoryOrder::RowMajor, slices.start * h * w, data.iter().map(|&v| [v]))?;
    Ok(Some(Array { shape: vec![slices.len(), h, w], data }))
}

/// An error unless `bytes` (the uncompressed size of what is about to be read from `what`; `None`:
/// more than `usize` holds) can come from a file of `file_size` bytes, at most about 1032 times
/// as large as deflate (h5py's gzip) can compress. A shape beyond that is a corrupt file (or one
/// whose datasets were never written, all fill value), refused before hdf5-pure allocates it:
/// allocating a corrupt shape's terabytes aborts the process, which no error handling can catch.
fn check_size(path: &Path, what: &str, bytes: Option<usize>, file_size: u64) -> Result<()> {
    let limit = file_size.saturating_mul(1100).saturating_add(1 << 20);
    match bytes {
        Some(n) if n as u64 <= limit => Ok(()),
        _ => {
            let size = bytes.map_or_else(|| "more than fit in memory".into(), |n| format!("{n} bytes"));
            let message =
                format!("{what}: {size} to read, more than a file of {file_size} bytes can hold (corrupt file?)");
            Err(DataError::file(path, message))
        }
    }
}

/// An error reading an HDF5 object, before it is attached to its file.
enum ReadError {
    Hdf5(hdf5_pure::Error),
    Message(String),
}

impl ReadError {
    fn at(self, path: &Path, what: &str) -> DataError {
        match self {
            ReadError::Hdf5(error) => h5_error(path, what, error),
            ReadError::Message(message) => DataError::file(path, format!("{what}: {message}")),
        }
    }
}

impl From<hdf5_pure::Error> for ReadError {
    fn from(error: hdf5_pure::Error) -> Self {
        ReadError::Hdf5(error)
    }
}

/// `error` about `path` while reading `what` (empty: the file itself). Errors that mean the file
/// uses a part of the HDF5 format hdf5-pure does not read (a virtual or external dataset, an
/// unknown filter, a newer version of a structure) say so.
fn h5_error(path: &Path, what: &str, error: hdf5_pure::Error) -> DataError {
    use FormatError as F;
    let context = if what.is_empty() { String::new() } else { format!("{what}: ") };
    // Both kinds say "the file uses an unsupported HDF5 layout", which the tests look for.
    let kind = match &error {
        hdf5_pure::Error::Format(
            F::UnsupportedVersion(_)
            | F::UnsupportedMessage(_)
            | F::UnsupportedVirtualLayout
            | F::UnsupportedExternalStorage
            | F::UnsupportedFilter(_)
            | F::UnsupportedFilteredHeapObject
            | F::UnsupportedSohmReference
            | F::UnsupportedZfp(_)
            | F::UnsupportedFillValueVersion(_)
            | F::UnsupportedFileSpaceInfoVersion(_),
        ) => "the file uses an unsupported HDF5 layout: ",
        hdf5_pure::Error::Format(
            F::InvalidDatatypeClass(_)
            | F::InvalidDatatypeVersion { .. }
            | F::InvalidDataspaceVersion(_)
            | F::InvalidLayoutVersion(_)
            | F::InvalidLayoutClass(_)
            | F::InvalidChunkIndexType(_)
            | F::InvalidObjectHeaderVersion(_)
            | F::InvalidFilterPipelineVersion(_),
        ) => "the file uses an unsupported HDF5 layout (newer than hdf5-pure 0.47 reads) or is corrupt: ",
        _ => "",
    };
    DataError::file(path, format!("{context}{kind}{error}"))
}

/// The shape of `dataset`.
fn dims(dataset: &Dataset) -> std::result::Result<Vec<usize>, ReadError> {
    dataset
        .shape()?
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| ReadError::Message(format!("dimension {d} too large"))))
        .collect()
}

/// An IEEE float field of a k-space record.
#[derive(Clone, Copy)]
struct Float {
    /// Byte offset in the record.
    offset: usize,
    /// f64 (else f32).
    double: bool,
    big_endian: bool,
}

impl Float {
    /// The field of type `datatype` at `offset`, `None` unless it is an IEEE f32 or f64.
    fn of(datatype: &Datatype, offset: usize) -> Option<Self> {
        let Datatype::FloatingPoint { size, byte_order, layout } = datatype else {
            return None;
        };
        let double = match (*size, *layout) {
            (4, FloatingPointLayout::IEEE754_BINARY32) => false,
            (8, FloatingPointLayout::IEEE754_BINARY64) => true,
            _ => return None,
        };
        let big_endian = match byte_order {
            DatatypeByteOrder::LittleEndian => false,
            DatatypeByteOrder::BigEndian => true,
            _ => return None,
        };
        Some(Float { offset, double, big_endian })
    }

    fn end(self) -> usize {
        self.offset + if self.double { 8 } else { 4 }
    }

    /// The value in `record` (whose length [`Layout::of`] checked), as f32.
    fn get(self, record: &[u8]) -> f32 {
        let bytes = &record[self.offset..self.end()];
        if self.double {
            let mut b = [0; 8];
            b.copy_from_slice(bytes);
            (if self.big_endian { f64::from_be_bytes(b) } else { f64::from_le_bytes(b) }) as f32
        } else {
            let mut b = [0; 4];
            b.copy_from_slice(bytes);
            if self.big_endian { f32::from_be_bytes(b) } else { f32::from_le_bytes(b) }
        }
    }
}

/// How a `kspace` dataset stores its complex values.
struct Layout {
    /// The dataset's shape as stored (with the trailing axis of 2 of interleaved floats).
    dims: Vec<usize>,
    /// `[slices, coils, H, W]`.
    shape: [usize; 4],
    /// Floats with a trailing (re, im) axis, rather than one compound record per value.
    interleaved: bool,
    /// Bytes per complex value: one compound record, or two floats.
    record: usize,
    re: Float,
    im: Float,
}

impl Layout {
    fn of(dataset: &Dataset) -> std::result::Result<Self, ReadError> {
        let dims = dims(dataset)?;
        let dtype = dataset.datatype()?;
        let unsupported = |message: String| Err(ReadError::Message(message));
        let (interleaved, record, re, im) = match &dtype {
            Datatype::Compound { size, members } => {
                let mut names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                names.sort_unstable();
                let (re, im) = match names.as_slice() {
                    ["i", "r"] => ("r", "i"),
                    ["imag", "real"] => ("real", "imag"),
                    _ => {
                        return unsupported(format!(
                            "unsupported complex layout {}: expected float fields {{r, i}} (fastMRI, h5py) or \
                             {{real, imag}} (ISMRMRD)",
                            type_name(&dtype)
                        ));
                    }
                };
                let record = *size as usize;
                let field = |name: &str| {
                    members
                        .iter()
                        .find(|m| m.name == name)
                        .and_then(|m| Float::of(&m.datatype, usize::try_from(m.byte_offset).ok()?))
                        .filter(|f| f.end() <= record)
                };
                let (Some(re), Some(im)) = (field(re), field(im)) else {
                    return unsupported(format!(
                        "unsupported complex layout {}: fields must be f32 or f64 inside the {record}-byte record",
                        type_name(&dtype)
                    ));
                };
                (false, record, re, im)
            }
            Datatype::FloatingPoint { .. } if dims.last() == Some(&2) => {
                let Some(re) = Float::of(&dtype, 0) else {
                    return unsupported(format!("unsupported float type {}: expected f32 or f64", type_name(&dtype)));
                };
                let im = Float { offset: re.end(), ..re };
                (true, 2 * re.end(), re, im)
            }
            _ => {
                return unsupported(format!(
                    "{} of shape {dims:?}: expected complex values (a compound {{r, i}} or {{real, imag}}, or \
                     floats with a trailing axis of 2)",
                    type_name(&dtype)
                ));
            }
        };
        let complex_dims = if interleaved { &dims[..dims.len() - 1] } else { &dims[..] };
        let shape = match *complex_dims {
            [slices, height, width] => [slices, 1, height, width],
            [slices, coils, height, width] => [slices, coils, height, width],
            _ => {
                return unsupported(format!(
                    "shape {dims:?}: expected (slices, coils, H, W) or (slices, H, W){}",
                    if interleaved { " with a trailing axis of 2" } else { "" }
                ));
            }
        };
        Ok(Layout { dims, shape, interleaved, record, re, im })
    }

    /// The size in bytes of `slices` slices (`None`: more than `usize` holds).
    fn bytes(&self, slices: usize) -> Option<usize> {
        let [_, coils, height, width] = self.shape;
        [slices, coils, height, width, self.record].into_iter().try_fold(1usize, usize::checked_mul)
    }

    /// The real and imaginary parts of `slices` slices from their raw record bytes.
    fn decode(&self, raw: &[u8], slices: usize) -> std::result::Result<(Vec<f32>, Vec<f32>), String> {
        let expected = self.bytes(slices);
        if expected != Some(raw.len()) {
            let expected = expected.map_or_else(|| "more than fit in memory".into(), |n| n.to_string());
            return Err(format!("dataset `kspace`: read {} bytes, expected {expected}", raw.len()));
        }
        Ok(raw.chunks_exact(self.record).map(|record| (self.re.get(record), self.im.get(record))).unzip())
    }

    /// An error if a value read (slices from `first` on) is NaN or infinite, naming its index in
    /// the dataset's own axes.
    fn check_finite(&self, path: &Path, name: &str, first: usize, re: &[f32], im: &[f32]) -> Result<()> {
        let plane: usize = self.shape[1..].iter().product();
        let values = re.iter().zip(im);
        if self.interleaved {
            let values = values.flat_map(|(&r, &i)| [[r], [i]]);
            check_finite(path, name, &self.dims, MemoryOrder::RowMajor, 2 * first * plane, values)
        } else {
            let values = values.map(|(&r, &i)| [r, i]);
            check_finite(path, name, &self.dims, MemoryOrder::RowMajor, first * plane, values)
        }
    }
}

/// A readable name of an HDF5 type: `float32`, `int16`, compounds with their fields
/// (`compound {r: float32, i: float32}`).
fn type_name(dtype: &Datatype) -> String {
    let order = |byte_order: &DatatypeByteOrder| match byte_order {
        DatatypeByteOrder::BigEndian => " big-endian",
        _ => "",
    };
    match dtype {
        Datatype::FloatingPoint { size, byte_order, .. } => {
            format!("float{}{}", u64::from(*size) * 8, order(byte_order))
        }
        Datatype::FixedPoint { size, byte_order, layout } => {
            let sign = if layout.signed { "" } else { "u" };
            format!("{sign}int{}{}", u64::from(*size) * 8, order(byte_order))
        }
        Datatype::Compound { members, .. } => {
            let fields: Vec<String> =
                members.iter().map(|m| format!("{}: {}", m.name, type_name(&m.datatype))).collect();
            format!("compound {{{}}}", fields.join(", "))
        }
        Datatype::String { size, .. } => format!("string ({size} bytes)"),
        Datatype::VariableLength { is_string: true, .. } => "variable-length string".into(),
        other => other.to_string(),
    }
}

/// A multi-line description of an HDF5 file: every dataset (path, shape, type; by name, group by
/// group) and the file attributes with their values (by name).
pub(crate) fn describe_hdf5(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|e| h5_error(path, "", e))?;
    let mut lines = vec![format!("{}: HDF5", path.display())];
    let mut groups = vec![(String::from("/"), file.root())];
    while let Some((prefix, group)) = groups.pop() {
        let group_what = format!("group {prefix}");
        let mut datasets: Vec<_> = group.iter_datasets().map_err(|e| h5_error(path, &group_what, e))?.collect();
        datasets.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, dataset) in datasets {
            let what = format!("dataset {prefix}{name}");
            let shape = dataset.shape().map_err(|e| h5_error(path, &what, e))?;
            let dtype = dataset.datatype().map_err(|e| h5_error(path, &what, e))?;
            lines.push(format!("  {what}: shape {shape:?}, {}", type_name(&dtype)));
        }
        let mut children: Vec<_> = group.iter_groups().map_err(|e| h5_error(path, &group_what, e))?.collect();
        // Popped last first: the groups are described in name order.
        children.sort_by(|a, b| b.0.cmp(&a.0));
        groups.extend(children.into_iter().map(|(name, child)| (format!("{prefix}{name}/"), child)));
    }
    let root = file.root();
    let attrs = root.attrs().map_err(|e| h5_error(path, "file attributes", e))?;
    let types = root.attr_datatypes().map_err(|e| h5_error(path, "file attributes", e))?;
    let mut names: Vec<&String> = types.keys().collect();
    names.sort_unstable();
    for name in names {
        let value = match attrs.get(name) {
            Some(value) => match (value.as_str(), value.as_f64()) {
                (Some(text), _) => format!("{text:?}"),
                (None, Some(number)) => number.to_string(),
                (None, None) => value.to_string(),
            },
            None => type_name(&types[name]),
        };
        lines.push(format!("  attribute {name} = {value}"));
    }
    Ok(lines.join("\n"))
}
