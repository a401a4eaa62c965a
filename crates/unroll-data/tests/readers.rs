//! The file readers, on tiny fixtures (`tests/data`, made by `make_fixtures.py`), files written
//! here, and the real data of `../shared/data`.

use std::io::Write;
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use unroll_data::readers::*;

/// `../shared/data` from the repository root (override with `UNROLL_SHARED_DATA`).
fn shared(relative: &str) -> PathBuf {
    match std::env::var_os("UNROLL_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
    .join(relative)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
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
    let camera = shared("images/camera.png");
    let grey = read_image(&camera, true).unwrap();
    assert_eq!((grey.channels, grey.height, grey.width), (1, 512, 512));
    assert_eq!(grey.data[100 * 512 + 200], 54.0 / 255.0);
    let rgb = read_image(&camera, false).unwrap();
    assert_eq!((rgb.channels, rgb.data.len()), (3, 3 * 512 * 512));
    assert!(rgb.data.chunks(512 * 512).all(|plane| plane == grey.data.as_slice()));
}

#[test]
fn readers_image_colour_and_alpha() {
    let chelsea = shared("images/chelsea.png");
    let rgb = read_image(&chelsea, false).unwrap();
    assert_eq!((rgb.channels, rgb.height, rgb.width), (3, 300, 451));
    let at = |c: usize| rgb.data[(c * 300 + 10) * 451 + 20];
    assert_eq!([at(0), at(1), at(2)], [151.0 / 255.0, 129.0 / 255.0, 115.0 / 255.0]);
    let grey = read_image(&chelsea, true).unwrap();
    assert_eq!((grey.channels, grey.height, grey.width), (1, 300, 451));
    let luma = 0.2126 * at(0) + 0.7152 * at(1) + 0.0722 * at(2);
    assert!((grey.data[10 * 451 + 20] - luma).abs() < 1e-6);

    // RGBA: alpha dropped (the corner pixel is white with alpha 110).
    let horse = read_image(shared("images/horse.png"), false).unwrap();
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
    let cut = truncated(&shared("images/camera.png"), dir.path());
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
    let ch2 = shared("mri/ch2.nii.gz");
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
    let cut = truncated(&shared("mri/ch2.nii.gz"), dir.path());
    error_naming(read_nifti_slices(&cut, 2, None), &cut);
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

    let ct_path = shared("ct/693_ct_head_512_hu_int16.npy");
    let ct = read_npy(&ct_path).unwrap();
    assert_eq!(ct.shape, [512, 512]);
    assert_eq!(range_of(&ct.data), (-3995.0, 1812.0));
    assert_eq!(ct.data[256 * 512 + 256], 32.0);
    let cut = truncated(&ct_path, dir.path());
    error_naming(read_npy(&cut), &cut);
}

#[test]
fn readers_npz() {
    let ascent = shared("images/pywt_ascent.npz");
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
    let images = read_idx_images(shared("digits/t10k-images-idx3-ubyte.gz")).unwrap();
    assert_eq!(images.len(), 10_000);
    assert!(images.iter().all(|im| (im.channels, im.height, im.width) == (1, 28, 28)));
    assert_eq!(range_of(&images.iter().flat_map(|im| im.data.iter().copied()).collect::<Vec<_>>()), (0.0, 1.0));
    let labels_path = shared("digits/t10k-labels-idx1-ubyte.gz");
    let labels = read_idx_labels(&labels_path).unwrap();
    assert_eq!(labels.len(), 10_000);
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
    let cut = truncated(&shared("digits/t10k-images-idx3-ubyte.gz"), dir.path());
    error_naming(read_idx_images(&cut), &cut);
}

#[test]
fn readers_digits_csv() {
    let (images, labels) = read_digits_csv(shared("digits/mnist_5k.csv.gz"), 28).unwrap();
    assert_eq!((images.len(), labels.len()), (5000, 5000));
    assert!(labels.iter().all(|&l| l < 10));
    assert_eq!((images[0].height, images[0].width), (28, 28));
    assert_eq!(range_of(&images.iter().flat_map(|im| im.data.iter().copied()).collect::<Vec<_>>()), (0.0, 1.0));

    let (images, labels) = read_digits_csv(shared("digits/sklearn_digits_8x8.csv.gz"), 8).unwrap();
    assert_eq!((images.len(), labels.len()), (1797, 1797));
    assert_eq!(labels[..2], [0, 1]);
    // First row: 0,0,5,13,... in sixteenths.
    assert_eq!(images[0].data[2..4], [5.0 / 16.0, 13.0 / 16.0]);

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "0,1,2,3,4\n0,1,2,3\n").unwrap();
    assert!(error_naming(read_digits_csv(&bad, 2), &bad).contains("line 2"));
    std::fs::write(&bad, "0,1,x,3,4\n").unwrap();
    assert!(error_naming(read_digits_csv(&bad, 2), &bad).contains("line 1"));
}

#[test]
fn readers_fastmri_multicoil() {
    let path = fixture("fastmri_ri_multicoil.h5");
    let volume = read_fastmri(&path).unwrap();
    assert_eq!(volume.shape, [2, 3, 8, 6]);
    let index = |s: usize, c: usize, h: usize, w: usize| ((s * 3 + c) * 8 + h) * 6 + w;
    let code = |s: usize, c: usize, h: usize, w: usize| (1000 * s + 100 * c + 10 * h + w) as f32;
    for (s, c, h, w) in [(0, 0, 0, 0), (1, 2, 7, 5), (0, 1, 3, 4), (1, 0, 6, 1)] {
        assert_eq!(volume.kspace_re[index(s, c, h, w)], code(s, c, h, w));
        assert_eq!(volume.kspace_im[index(s, c, h, w)], -code(s, c, h, w));
    }
    let target = volume.target.as_ref().unwrap();
    assert_eq!(target.shape, [2, 4, 3]);
    assert_eq!(target.data, (0..24).map(|v| v as f32).collect::<Vec<_>>());
    assert_eq!(volume.max, Some(0.5));
    assert_eq!(volume.acquisition.as_deref(), Some("CORPD_FBK"));

    let slice = read_fastmri_slice(&path, 1).unwrap();
    assert_eq!(slice.shape, [1, 3, 8, 6]);
    assert_eq!(slice.kspace_re[..], volume.kspace_re[index(1, 0, 0, 0)..]);
    assert_eq!(slice.kspace_im[..], volume.kspace_im[index(1, 0, 0, 0)..]);
    let target = slice.target.unwrap();
    assert_eq!((target.shape.as_slice(), &target.data[..]), ([1, 4, 3].as_slice(), &volume.target.unwrap().data[12..]));
    assert!(error_naming(read_fastmri_slice(&path, 2), &path).contains("slice 2"));
}

#[test]
fn readers_fastmri_other_layouts() {
    // ISMRMRD {real, imag}, single-coil, fixed-length string attribute, no target.
    let path = fixture("ismrmrd_real_imag.h5");
    let volume = read_fastmri(&path).unwrap();
    assert_eq!(volume.shape, [2, 1, 8, 6]);
    assert_eq!(volume.kspace_re[(8 + 7) * 6 + 5], 1075.0);
    assert_eq!(volume.kspace_im[(8 + 7) * 6 + 5], -1075.0);
    assert_eq!((volume.target, volume.max, volume.acquisition.as_deref()), (None, None, Some("AXT2")));

    // float64 with a trailing (re, im) axis.
    let volume = read_fastmri(fixture("interleaved_float64.h5")).unwrap();
    assert_eq!(volume.shape, [1, 2, 4, 4]);
    assert_eq!(volume.kspace_re[(4 + 3) * 4 + 2], 132.0);
    assert_eq!(volume.kspace_im[(4 + 3) * 4 + 2], -132.0);

    // Unknown compound fields: an error naming them, never zeros.
    let unknown = fixture("unknown_fields.h5");
    let message = error_naming(read_fastmri(&unknown), &unknown);
    assert!(message.contains("{re: float32, im: float32}"), "{message}");
}

#[test]
fn readers_fastmri_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cut = truncated(&fixture("fastmri_ri_multicoil.h5"), dir.path());
    error_naming(read_fastmri(&cut), &cut);
    error_naming(read_fastmri_slice(&cut, 0), &cut);
    let missing = dir.path().join("missing.h5");
    error_naming(read_fastmri(&missing), &missing);
    let no_kspace = shared("images/camera.png");
    error_naming(read_fastmri(&no_kspace), &no_kspace);
}

#[test]
fn readers_inspect() {
    let h5 = inspect(fixture("fastmri_ri_multicoil.h5")).unwrap();
    for part in [
        "dataset /kspace: shape [2, 3, 8, 6], compound {r: float32, i: float32}",
        "dataset /reconstruction_rss: shape [2, 4, 3], float32",
        "attribute acquisition = \"CORPD_FBK\"",
        "attribute max = 0.5",
        "attribute norm = 2.25",
    ] {
        assert!(h5.contains(part), "{part:?} not in {h5}");
    }
    assert!(h5.ends_with("\n") && !h5.ends_with("\n\n"), "{h5:?}");
    let nii = inspect(shared("mri/ch2.nii.gz")).unwrap();
    assert!(
        nii.contains("dims [181, 217, 181]") && nii.contains("Uint8") && nii.contains("pixdim [1.0, 1.0, 1.0]"),
        "{nii}"
    );
    let npz = inspect(shared("images/pywt_ascent.npz")).unwrap();
    assert!(npz.contains("data: shape [512, 512], dtype |u1, C order"), "{npz}");
    let npy = inspect(shared("ct/693_ct_head_512_hu_int16.npy")).unwrap();
    assert!(npy.contains("shape [512, 512], dtype <i2"), "{npy}");
    let png = inspect(shared("images/camera.png")).unwrap();
    assert!(png.contains("Png 512x512") && png.contains("L8"), "{png}");
    let jpg = inspect(shared("images/retina.jpg")).unwrap();
    assert!(jpg.contains("Jpeg 1411x1411") && jpg.contains("Rgb8"), "{jpg}");
    let idx = inspect(shared("digits/t10k-images-idx3-ubyte.gz")).unwrap();
    assert!(idx.contains("10000 of 28x28"), "{idx}");
    assert!(inspect(shared("digits/t10k-labels-idx1-ubyte.gz")).unwrap().contains("IDX labels: 10000"));
    let csv = shared("digits/mnist_5k.csv.gz");
    assert!(error_naming(inspect(&csv), &csv).contains("unknown file type"));
}
