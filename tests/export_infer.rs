//! `unroll export` and `unroll infer`: package contents, MRI inference on fastMRI-layout HDF5
//! k-space (also all-zero k-space), deblurring with the `valid` boundary, and images of the wrong
//! colour type.

mod common;

use common::*;

fn npy_f32(path: &std::path::Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    (npy.shape().to_vec(), npy.into_vec::<f32>().unwrap())
}

#[test]
fn mri_packages_reconstruct_hdf5_kspace() {
    let dir = tempfile::tempdir().unwrap();
    let (_, package) = trained_package(dir.path(), 1);
    for file in ["model.safetensors", "config.toml", "metadata.json"] {
        assert!(package.join(file).exists(), "package misses {file}");
    }

    let h5 = fixture("crates/unroll-data/tests/data/fastmri_ri_multicoil.h5");
    let inferred = dir.path().join("inferred");
    let out = ok(&unroll(&["infer", "--model", s(&package), "--input", s(&h5), "--out", s(&inferred)], dir.path()));
    assert!(out.contains("2 image(s)"), "{out}");
    let (shape, values) = npy_f32(&inferred.join("recon.npy"));
    // Cropped to the size of the file's `reconstruction_rss`, as fastMRI does.
    assert_eq!(shape, [2, 4, 3]);
    assert!(values.iter().all(|v| v.is_finite()) && values.iter().any(|&v| v > 0.0));
    assert!(inferred.join("recon_0000.png").exists() && inferred.join("recon_0001.png").exists());

    // Single-coil k-space: cropped to its 32×32 `reconstruction_esc`, also as `reconstruction`.
    let single = dir.path().join("single");
    let h5 = fixture("tests/data/singlecoil.h5");
    ok(&unroll(&["infer", "--model", s(&package), "--input", s(&h5), "--out", s(&single)], dir.path()));
    let (shape, values) = npy_f32(&single.join("recon.npy"));
    assert_eq!(shape, [2, 32, 32]);
    assert!(values.iter().all(|v| v.is_finite()) && values.iter().any(|&v| v > 0.0));
    let described = ok(&unroll(&["inspect", s(&single.join("reconstruction.h5"))], dir.path()));
    assert!(described.contains("reconstruction") && described.contains("[2, 32, 32]"), "{described}");

    // All-zero k-space has nothing to reconstruct: a defined zero image, never NaN.
    let zero = fixture("tests/data/kspace_zero.h5");
    let inferred = dir.path().join("zero");
    ok(&unroll(&["infer", "--model", s(&package), "--input", s(&zero), "--out", s(&inferred)], dir.path()));
    let (shape, values) = npy_f32(&inferred.join("recon.npy"));
    assert_eq!(shape, [1, 32, 32]);
    assert!(values.iter().all(|&v| v == 0.0), "zero k-space gave {:?}", &values[..4]);
}

#[test]
fn deblurring_packages_infer_valid_blurs_and_refuse_colour_images() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("blur.toml");
    let text = tiny_experiment_text(1).replace(
        "kind = \"multicoil_mri\"\ncoils = 4\nmask = { kind = \"equispaced_fraction\", acceleration = 4.0, center_fraction = 0.1 }",
        "kind = \"blur\"\nsigma = [1.0, 1.5]\nkernel_size = 5\nboundary = \"valid\"",
    );
    assert!(text.contains("valid"));
    std::fs::write(&exp, text).unwrap();
    let run = dir.path().join("run");
    ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
    let package = dir.path().join("blur.pkg");
    ok(&unroll(&["export", "--checkpoint", s(&run), "--out", s(&package)], dir.path()));

    // A valid-boundary measurement of 28×20 comes from a 32×24 image.
    let grey = dir.path().join("grey.png");
    image::GrayImage::from_fn(20, 28, |x, y| image::Luma([(x * 9 + y * 5) as u8])).save(&grey).unwrap();
    let out_dir = dir.path().join("deblurred");
    ok(&unroll(&["infer", "--model", s(&package), "--input", s(&grey), "--out", s(&out_dir)], dir.path()));
    let (shape, values) = npy_f32(&out_dir.join("recon.npy"));
    assert_eq!(shape, [1, 32, 24]);
    assert!(values.iter().all(|v| v.is_finite()));

    // A colour image is refused, not silently converted.
    let colour = dir.path().join("colour.png");
    image::RgbImage::from_fn(20, 28, |x, y| image::Rgb([(x * 9) as u8, (y * 5) as u8, 7])).save(&colour).unwrap();
    let stderr = fails(&unroll(&["infer", "--model", s(&package), "--input", s(&colour)], dir.path()));
    assert!(stderr.contains("colour.png") && stderr.contains("colour image"), "{stderr}");
}
