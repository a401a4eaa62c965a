//! Image data sets: sources, deterministic splits, crops and flips, and batching through a
//! simulation into `(operator, measurement, target)` batches.
//!
//! Normalisation convention: every clean image is scaled to `[0, 1]` on its own, divided by its
//! maximum after a shift by its minimum when that is negative (see [`SourceConfig::load`]); the
//! training step further scales each measurement by its adjoint image's maximum and
//! undoes that scale at the output (see `unroll-train`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::galaxies::GalaxyCatalog;
use crate::readers::{self, Image};
use crate::simulate::{
    CoilMapSource, Measured, NO_SENSITIVITY_MAP, ProblemConfig, Simulation, kspace_slice, planes_slice,
};
use unroll_physics::{Complex, Fft2};

/// Where the clean images come from (typed config: `kind = "image_folder"`, …). Relative paths are
/// resolved against the experiment file's folder by the caller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// Every PNG/JPEG file of a folder, sorted by name.
    ImageFolder {
        /// The folder.
        path: PathBuf,
        /// Convert colour images to one luma channel.
        #[serde(default = "default_true")]
        grayscale: bool,
    },
    /// Slices of a NIfTI volume.
    Nifti {
        /// The `.nii` or `.nii.gz` file.
        path: PathBuf,
        /// Slicing axis of the NIfTI (x, y, z) grid (2 = axial).
        #[serde(default = "default_axis")]
        axis: usize,
        /// Half-open slice range `[first, end)`; all slices if absent.
        #[serde(default, deserialize_with = "crate::pairs::optional_pair")]
        slices: Option<[usize; 2]>,
    },
    /// A `.npy` array of shape `[H, W]` or `[N, H, W]`, or one array of a `.npz` archive.
    Npy {
        /// The file.
        path: PathBuf,
        /// The array's name inside a `.npz`.
        key: Option<String>,
    },
    /// Fully sampled k-space in fastMRI's HDF5 layout (a file, or every `.h5` file of a folder,
    /// sorted), for the `multicoil_mri` problem: every slice is an item holding its coil images
    /// (`2·coils` channels, real and imaginary parts interleaved as `Complex::to_channels` lays
    /// them out), which the problem undersamples retrospectively with its mask, with maps from the
    /// ACS (or the files' `sensitivity_map`, with `coil_maps = "file"`) and the RSS of the coil
    /// images as the target. The coil images are centre-cropped to the
    /// size of the file's `reconstruction_rss` when it has one (fastMRI's crop, which removes the
    /// readout oversampling); `data.crop` and flips then act on them. The problem's `coils` is
    /// ignored: the files have their own.
    Fastmri {
        /// The file or folder.
        path: PathBuf,
        /// The FFT convention of the files' k-space (fastMRI: centred, orthonormal).
        #[serde(default)]
        fft: Fft2,
    },
    /// The 2-D image HDUs of a FITS file (HST galaxy stamps, PSFs), physical values
    /// (`BSCALE`, `BZERO` applied).
    Fits {
        /// The file (gzipped or not).
        path: PathBuf,
        /// Half-open HDU range `[first, end)`, 0 being the primary HDU, each of them an image; all
        /// image HDUs with data if absent.
        #[serde(default, deserialize_with = "crate::pairs::optional_pair")]
        hdus: Option<[usize; 2]>,
    },
    /// The frames of a DICOM file, or of every `.dcm` file of a folder (sorted by name), with the
    /// modality rescale applied (Hounsfield units for CT).
    Dicom {
        /// The file or folder.
        path: PathBuf,
    },
    /// Simulated galaxies ([`crate::galaxies`]): `per_galaxy` random realisations (rotation,
    /// shear, magnification, offset) of every real HST stamp (image HDUs of `stamps`) and every
    /// parametric Sérsic fit of a GalSim COSMOS catalogue (`catalog`, with its HST PSFs in
    /// `psfs`), `size × size` pixels of 0.2″, galaxy-major with the stamps first, so that a
    /// `contiguous` split holds out whole galaxies.
    Galaxies {
        /// The parametric-fit catalogue (`real_galaxy_catalog_23.5_example_fits.fits`).
        catalog: PathBuf,
        /// Its PSF images, one image HDU per catalogue row.
        psfs: PathBuf,
        /// FITS files of real galaxy stamps (0.03″ pixels, sky-subtracted).
        #[serde(default)]
        stamps: Vec<PathBuf>,
        /// Realisations per galaxy.
        #[serde(default = "default_per_galaxy")]
        per_galaxy: usize,
        /// Image side in pixels (even).
        #[serde(default = "default_galaxy_size")]
        size: usize,
        /// Seed of the realisations.
        #[serde(default)]
        seed: u64,
    },
    /// MNIST-style digits: an IDX image file (`.gz` or plain) or a CSV with the label last.
    Digits {
        /// The file.
        path: PathBuf,
        /// Image side for CSV files (28 for MNIST, 8 for sklearn digits).
        #[serde(default = "default_side")]
        side: usize,
        /// Use only the first `limit` images.
        limit: Option<usize>,
    },
}

fn default_true() -> bool {
    true
}
fn default_axis() -> usize {
    2
}
fn default_side() -> usize {
    28
}
fn default_per_galaxy() -> usize {
    16
}
fn default_galaxy_size() -> usize {
    48
}
fn default_crops() -> usize {
    1
}

impl SourceConfig {
    /// The same source with its path resolved against `base` if relative (made absolute, so a saved
    /// copy of the config stays valid from any folder).
    pub fn resolved(mut self, base: &Path) -> Self {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                let joined = base.join(&*path);
                *path = std::path::absolute(&joined).unwrap_or(joined);
            }
        };
        let path = match &mut self {
            SourceConfig::Galaxies { catalog, psfs, stamps, .. } => {
                [catalog, psfs].into_iter().chain(stamps.iter_mut()).for_each(resolve);
                return self;
            }
            SourceConfig::ImageFolder { path, .. }
            | SourceConfig::Nifti { path, .. }
            | SourceConfig::Npy { path, .. }
            | SourceConfig::Fastmri { path, .. }
            | SourceConfig::Fits { path, .. }
            | SourceConfig::Dicom { path }
            | SourceConfig::Digits { path, .. } => path,
        };
        resolve(path);
        self
    }

    /// Loads every image, each scaled to `[0, 1]` on its own: divided by its maximum, after a shift
    /// by its minimum when that is negative (CT in Hounsfield units, sky-subtracted galaxy stamps).
    pub fn load(&self) -> Result<Vec<Image>, DataError> {
        self.load_with(false)
    }

    /// [`SourceConfig::load`]; with `file_maps`, each `fastmri` slice's coil images are followed
    /// by its `sensitivity_map` (cropped alike, not scaled: `4·coils` channels), as
    /// `coil_maps = "file"` needs, and a file without one is an error naming it.
    pub fn load_with(&self, file_maps: bool) -> Result<Vec<Image>, DataError> {
        let mut images = match self {
            SourceConfig::ImageFolder { path, grayscale } => readers::list_images(path)?
                .iter()
                .map(|p| readers::read_image(p, *grayscale))
                .collect::<Result<Vec<_>, _>>()?,
            SourceConfig::Nifti { path, axis, slices } => {
                readers::read_nifti_slices(path, *axis, slices.map(|[a, b]| a..b))?
            }
            SourceConfig::Npy { path, key } => {
                let array = match key {
                    Some(key) => readers::read_npz(path, key)?,
                    None => readers::read_npy(path)?,
                };
                let (count, h, w) = match array.shape[..] {
                    [h, w] => (1, h, w),
                    [n, h, w] => (n, h, w),
                    _ => {
                        return Err(DataError::file(
                            path,
                            format!("expected shape [H, W] or [N, H, W], got {:?}", array.shape),
                        ));
                    }
                };
                array
                    .data
                    .chunks(h * w)
                    .take(count)
                    .map(|c| Image { channels: 1, height: h, width: w, data: c.to_vec() })
                    .collect()
            }
            SourceConfig::Fastmri { path, fft } => {
                let files = readers::hdf5_files(path)?;
                if files.is_empty() {
                    return Err(DataError::file(path, "holds no fastMRI-layout HDF5 (.h5) file"));
                }
                let mut images = Vec::new();
                for file in &files {
                    let volume = readers::read_fastmri(file)?;
                    if file_maps && volume.maps.is_none() {
                        return Err(DataError::file(file, NO_SENSITIVITY_MAP));
                    }
                    images.extend(coil_images(&volume, *fft, file_maps).map_err(|e| DataError::file(file, e))?);
                }
                return Ok(images);
            }
            SourceConfig::Fits { path, hdus } => readers::read_fits_images(path, hdus.map(|[a, b]| a..b))?,
            SourceConfig::Galaxies { catalog, psfs, stamps, per_galaxy, size, seed } => {
                if *per_galaxy == 0 || *size < 8 || size % 2 == 1 {
                    let message = format!(
                        "per_galaxy must be at least 1 and size even and at least 8, got {per_galaxy} and {size}"
                    );
                    return Err(DataError::file(catalog, message));
                }
                GalaxyCatalog::read(catalog, psfs, stamps)?.render(*per_galaxy, *size, *seed)
            }
            SourceConfig::Dicom { path } => {
                let files = if path.is_dir() { readers::list_dicom_files(path)? } else { vec![path.clone()] };
                files.iter().map(readers::read_dicom_slices).collect::<Result<Vec<_>, _>>()?.concat()
            }
            SourceConfig::Digits { path, side, limit } => {
                let name = path.to_string_lossy().to_lowercase();
                let mut images = if name.ends_with(".csv") || name.ends_with(".csv.gz") {
                    readers::read_digits_csv(path, *side)?.0
                } else {
                    readers::read_idx_images(path)?
                };
                images.truncate(limit.unwrap_or(usize::MAX));
                images
            }
        };
        if images.is_empty() {
            return Err(DataError::file(self.path(), "contains no images".to_string()));
        }
        for (i, image) in images.iter_mut().enumerate() {
            if !scale_to_unit(image) {
                let (what, hint) = match self {
                    SourceConfig::Nifti { slices, axis, .. } => (
                        format!("slice {} along axis {axis}", slices.map_or(0, |[first, _]| first) + i),
                        "; choose `slices` that hold the object",
                    ),
                    _ => (format!("image {i}"), ""),
                };
                let value = image.data.first().copied().unwrap_or(0.0);
                return Err(DataError::file(
                    self.path(),
                    format!("{what} is constant ({value}), so it cannot be scaled to [0, 1]{hint}"),
                ));
            }
        }
        Ok(images)
    }

    /// The file or folder it reads.
    pub fn path(&self) -> &Path {
        match self {
            SourceConfig::ImageFolder { path, .. }
            | SourceConfig::Nifti { path, .. }
            | SourceConfig::Npy { path, .. }
            | SourceConfig::Fastmri { path, .. }
            | SourceConfig::Fits { path, .. }
            | SourceConfig::Dicom { path }
            | SourceConfig::Digits { path, .. } => path,
            SourceConfig::Galaxies { catalog, .. } => catalog,
        }
    }
}

/// The fully sampled coil images of every slice of `volume`, `[2·coils, H, W]` (see
/// [`SourceConfig::Fastmri`]), computed on the host (flex), centre-cropped to the size of the
/// file's `reconstruction_rss` when it has one (fastMRI's crop, which removes the readout
/// oversampling), so their RSS is the file's target, and divided by their largest real or
/// imaginary magnitude (complex data are scaled, never shifted). With `maps`, the slice's
/// `sensitivity_map` follows, cropped alike and not scaled (`4·coils` channels). Per slice, an
/// error if its coil images are all zero.
fn coil_images(volume: &readers::FastMriVolume, fft: Fft2, maps: bool) -> Result<Vec<Image>, String> {
    let [slices, coils, height, width] = volume.shape;
    let [h, w] = volume.reconstruction_size();
    let (top, left) = ((height - h) / 2, (width - w) / 2);
    let device = Device::flex();
    let crop = |planes: Complex<4>| {
        let cropped = planes.to_channels().slice([0..1, 0..2 * coils, top..top + h, left..left + w]);
        cropped.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data")
    };
    (0..slices)
        .map(|s| {
            let mut data = crop(fft.inverse(kspace_slice(volume, s, &device)));
            let max = data.iter().fold(0f32, |m, v| m.max(v.abs()));
            if max == 0.0 {
                return Err(format!("slice {s} has all-zero k-space, so it cannot be scaled"));
            }
            data.iter_mut().for_each(|v| *v /= max);
            if let (true, Some((re, im))) = (maps, &volume.maps) {
                data.extend(crop(planes_slice(re, im, volume.shape, s, &device)));
            }
            let channels = if maps { 4 * coils } else { 2 * coils };
            Ok(Image { channels, height: h, width: w, data })
        })
        .collect()
}

/// Scales `image` to `[0, 1]`: `(v - lo) / (max - lo)` with `lo = min(0, min v)`, so an image
/// without negative values is divided by its maximum. `false` (and unchanged) when it is constant
/// at a value `<= 0`.
fn scale_to_unit(image: &mut Image) -> bool {
    let (min, max) = image.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let lo = min.min(0.0);
    if max <= lo {
        return false;
    }
    image.data.iter_mut().for_each(|v| *v = (*v - lo) / (max - lo));
    true
}

/// Fractions of the images in each split (the rest is unused). The split is deterministic: the
/// image order is shuffled with the experiment seed (or kept, with `contiguous`, which keeps
/// neighbouring slices of a volume together) and cut into train, validation and test in that order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Training fraction.
    pub train: f64,
    /// Validation fraction.
    pub val: f64,
    /// Test fraction.
    #[serde(default)]
    pub test: f64,
    /// Keep the source order instead of shuffling.
    #[serde(default)]
    pub contiguous: bool,
    /// Train on at most this many images, the first of the training split (low-training studies:
    /// the held-out splits stay as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self { train: 0.8, val: 0.2, test: 0.0, contiguous: false, train_limit: None }
    }
}

/// One of the three splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Training (random crops and flips, new simulation seeds every epoch).
    Train,
    /// Validation (centre crops, fixed seeds).
    Val,
    /// Test (centre crops, fixed seeds).
    Test,
}

impl SplitConfig {
    /// Checks the fractions.
    pub fn validate(&self) -> Result<(), String> {
        let all = [self.train, self.val, self.test];
        if all.iter().any(|f| !(0.0..=1.0).contains(f)) || all.iter().sum::<f64>() > 1.0 + 1e-9 {
            return Err(format!("fractions must be in [0, 1] and sum to at most 1, got {all:?}"));
        }
        Ok(())
    }

    /// Image indices of `split` among `count` images.
    pub fn indices(&self, count: usize, split: Split, seed: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..count).collect();
        if !self.contiguous {
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        }
        let n_train = (self.train * count as f64).round() as usize;
        let n_val = ((self.val * count as f64).round() as usize).min(count - n_train);
        let n_test = ((self.test * count as f64).round() as usize).min(count - n_train - n_val);
        let range = match split {
            Split::Train => 0..self.train_limit.map_or(n_train, |limit| limit.min(n_train)),
            Split::Val => n_train..n_train + n_val,
            Split::Test => n_train + n_val..n_train + n_val + n_test,
        };
        order[range].to_vec()
    }
}

/// Random augmentation of training images.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// Random horizontal and vertical flips.
    #[serde(default)]
    pub flip: bool,
}

/// A data item: a clean image and the seed of its simulated measurement.
#[derive(Clone, Debug)]
pub struct Item {
    /// `[C, H, W]` in `[0, 1]`.
    pub image: Image,
    /// Seed of everything random in its measurement.
    pub seed: u64,
}

/// One split of an image set as a Burn [`Dataset`] of [`Item`]s.
#[derive(Clone, Debug)]
pub struct SplitDataset {
    images: Arc<Vec<Image>>,
    indices: Vec<usize>,
    /// The volume of every image (of `images`, not of the split), when the source has volumes.
    volumes: Option<Arc<Vec<usize>>>,
    split: Split,
    crop: Option<[usize; 2]>,
    augment: AugmentConfig,
    /// Items per image (see [`DataConfig::crops_per_image`]).
    crops: usize,
    seed: u64,
    epoch: u64,
}

impl SplitDataset {
    /// The split `split` of `images`. Checks that every image can be cropped to `crop` (or, without
    /// a crop, that all images share one size).
    pub fn new(
        images: Arc<Vec<Image>>,
        indices: Vec<usize>,
        split: Split,
        crop: Option<[usize; 2]>,
        augment: AugmentConfig,
        seed: u64,
    ) -> Result<Self, String> {
        let mut sizes = indices.iter().map(|&i| (images[i].channels, images[i].height, images[i].width));
        if let Some(first) = sizes.next() {
            for (c, h, w) in sizes.chain(std::iter::once(first)) {
                if c != first.0 {
                    return Err(format!("data.source: images have different channel counts ({c} and {})", first.0));
                }
                match crop {
                    Some([ch, cw]) if ch > h || cw > w => {
                        return Err(format!("data.crop: {ch}x{cw} is larger than an image of {h}x{w}"));
                    }
                    None if (h, w) != (first.1, first.2) => {
                        return Err(format!(
                            "data.source: images have different sizes ({h}x{w} and {}x{}); set data.crop",
                            first.1, first.2
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(Self { images, indices, volumes: None, split, crop, augment, crops: 1, seed, epoch: 0 })
    }

    /// The same split with `crops ≥ 1` items per image (see [`DataConfig::crops_per_image`]).
    pub fn with_crops_per_image(mut self, crops: usize) -> Self {
        self.crops = crops.max(1);
        self
    }

    /// The same split, knowing the volume of every image (`volumes[i]` for image `i` of the
    /// source), so that evaluation can score volumes.
    pub fn with_volumes(mut self, volumes: Arc<Vec<usize>>) -> Self {
        self.volumes = Some(volumes);
        self
    }

    /// The volume of the item at `position`, when the source has volumes.
    pub fn volume_of(&self, position: usize) -> Option<usize> {
        self.volumes.as_ref().map(|v| v[self.indices[position / self.crops]])
    }

    /// The same split at another epoch (training crops, flips and measurement seeds change).
    pub fn at_epoch(&self, epoch: u64) -> Self {
        Self { epoch, ..self.clone() }
    }

    /// Shape `[C, H, W]` of the items.
    pub fn item_shape(&self) -> Option<[usize; 3]> {
        let first = &self.images[*self.indices.first()?];
        let [h, w] = self.crop.unwrap_or([first.height, first.width]);
        Some([first.channels, h, w])
    }

    /// Items `positions` (positions in this split), loaded in parallel.
    pub fn items(&self, positions: &[usize]) -> Result<Vec<Item>, DataError> {
        positions.par_iter().map(|&p| self.get(p)).collect()
    }
}

impl Dataset<Item, DataError> for SplitDataset {
    fn get(&self, position: usize) -> Result<Item, DataError> {
        let (index, crop_number) = (self.indices[position / self.crops], (position % self.crops) as u64);
        let image = &self.images[index];
        let epoch = if self.split == Split::Train { self.epoch } else { 0 };
        let item_seed = self.seed
            ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ epoch.wrapping_mul(0xD1B5_4A32_D192_ED03)
            ^ crop_number.wrapping_mul(0x94D0_49BB_1331_11EB);
        let mut rng = ChaCha8Rng::seed_from_u64(item_seed);
        let [h, w] = self.crop.unwrap_or([image.height, image.width]);
        let (top, left) = if self.split == Split::Train || self.crops > 1 {
            (rng.random_range(0..=image.height - h), rng.random_range(0..=image.width - w))
        } else {
            ((image.height - h) / 2, (image.width - w) / 2)
        };
        let flip = self.split == Split::Train && self.augment.flip;
        let (flip_rows, flip_cols) = (flip && rng.random(), flip && rng.random());
        let mut data = Vec::with_capacity(image.channels * h * w);
        for c in 0..image.channels {
            for r in 0..h {
                let src_r = top + if flip_rows { h - 1 - r } else { r };
                for q in 0..w {
                    let src_c = left + if flip_cols { w - 1 - q } else { q };
                    data.push(image.data[(c * image.height + src_r) * image.width + src_c]);
                }
            }
        }
        Ok(Item { image: Image { channels: image.channels, height: h, width: w, data }, seed: rng.random() })
    }

    fn len(&self) -> usize {
        self.indices.len() * self.crops
    }
}

/// Stacks items into a clean batch `[N, C, H, W]` and simulates its measurement.
#[derive(Clone, Debug)]
pub struct SimulationBatcher<S> {
    /// The simulation.
    pub simulation: S,
}

impl<S: Simulation> Batcher<Item, Measured<S::Op>> for SimulationBatcher<S> {
    fn batch(&self, items: Vec<Item>, device: &Device) -> Measured<S::Op> {
        let first = &items[0].image;
        let shape = [items.len(), first.channels, first.height, first.width];
        let data: Vec<f32> = items.iter().flat_map(|i| i.image.data.iter().copied()).collect();
        let seeds: Vec<u64> = items.iter().map(|i| i.seed).collect();
        let clean = Tensor::from_data(TensorData::new(data, shape), device);
        self.simulation.simulate(clean, &seeds)
    }
}

/// Everything about the data of an experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Where the clean images come from.
    pub source: SourceConfig,
    /// The simulated inverse problem.
    pub problem: ProblemConfig,
    /// Train/validation/test fractions.
    #[serde(default)]
    pub split: SplitConfig,
    /// Crop size `[H, W]` (random position for training, centred otherwise).
    #[serde(default, deserialize_with = "crate::pairs::optional_pair")]
    pub crop: Option<[usize; 2]>,
    /// Items per image, for a few large images cut into patches: each image gives this many crops,
    /// at new random positions every epoch for training and at fixed random positions (instead of
    /// the centre) for validation and test when above 1.
    #[serde(default = "default_crops")]
    pub crops_per_image: usize,
    /// Training augmentation.
    #[serde(default)]
    pub augment: AugmentConfig,
}

impl DataConfig {
    /// Loads the source's images, with the files' coil maps when the problem takes them from the
    /// files (`coil_maps = "file"`, see [`SourceConfig::load_with`]).
    pub fn load(&self) -> Result<Vec<Image>, DataError> {
        let file_maps = matches!(self.problem, ProblemConfig::MulticoilMri { coil_maps: CoilMapSource::File, .. });
        self.source.load_with(file_maps)
    }

    /// Builds the split `split` of the loaded `images`; for the `fastmri` source it knows the
    /// volume (file) of every slice ([`SplitDataset::volume_of`]).
    pub fn dataset(&self, images: Arc<Vec<Image>>, split: Split, seed: u64) -> Result<SplitDataset, String> {
        let indices = self.split.indices(images.len(), split, seed);
        let mut dataset = SplitDataset::new(images.clone(), indices, split, self.crop, self.augment.clone(), seed)
            .map_err(|message| format!("{message} (images of {})", self.source.path().display()))?
            .with_crops_per_image(self.crops_per_image);
        if let SourceConfig::Fastmri { path, .. } = &self.source {
            let mut volumes = Vec::with_capacity(images.len());
            for (v, file) in readers::hdf5_files(path).map_err(|e| e.to_string())?.iter().enumerate() {
                volumes.extend(std::iter::repeat_n(v, readers::fastmri_slices(file).map_err(|e| e.to_string())?));
            }
            if volumes.len() != images.len() {
                return Err(format!("{}: the files changed while they were read", path.display()));
            }
            dataset = dataset.with_volumes(Arc::new(volumes));
        }
        if let Some(shape) = dataset.item_shape() {
            self.problem.validate_for(shape)?;
        }
        Ok(dataset)
    }
}
