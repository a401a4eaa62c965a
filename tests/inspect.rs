//! `unroll inspect` on data files, run folders (and their `curves.png`) and packages, and `--help`.

mod common;

use common::*;

#[test]
fn help_lists_every_subcommand() {
    let out = ok(&unroll(&["--help"], &repo()));
    for sub in ["train", "eval", "infer", "export", "inspect"] {
        assert!(out.contains(sub), "--help misses {sub}: {out}");
    }
    let train = ok(&unroll(&["train", "--help"], &repo()));
    for option in ["--out", "--resume", "--backend", "--set"] {
        assert!(train.contains(option), "train --help misses {option}");
    }
}

#[test]
fn inspect_describes_files_runs_and_packages() {
    let dir = tempfile::tempdir().unwrap();
    let (run, package) = trained_package(dir.path(), 1);
    let text = ok(&unroll(&["inspect", s(&package)], dir.path()));
    assert!(text.contains("unrolled_pgd") && text.contains("multicoil_mri"), "{text}");
    // Training plots its curves; `inspect` plots them again.
    let curves = run.join("curves.png");
    std::fs::remove_file(&curves).expect("training wrote curves.png");
    let text = ok(&unroll(&["inspect", s(&run)], dir.path()));
    assert!(text.contains("checkpoint: epoch 1, step 3"), "{text}");
    assert!(text.contains(&format!("curves: {}", curves.display())) && curves.exists(), "{text}");
    let volume = repo().join("datasets/brain/ch2.nii.gz");
    let text = ok(&unroll(&["inspect", s(&volume)], dir.path()));
    assert!(text.contains("181") && text.contains("217"), "{text}");
    let h5 = fixture("crates/unroll-data/tests/data/fastmri_ri_multicoil.h5");
    let text = ok(&unroll(&["inspect", s(&h5)], dir.path()));
    assert!(text.contains("kspace") && text.contains("[2, 3, 8, 6]") && text.contains("CORPD_FBK"), "{text}");
    let ct = repo().join("datasets/ct/693_UNCI.dcm");
    let text = ok(&unroll(&["inspect", s(&ct)], dir.path()));
    assert!(
        text.contains("DICOM") && text.contains("modality CT, 512x512") && text.contains("intercept -1024"),
        "{text}"
    );
    let psfs = repo().join("datasets/galaxies/real_galaxy_PSF_images.fits");
    let text = ok(&unroll(&["inspect", s(&psfs)], dir.path()));
    assert!(text.contains("FITS, 100 HDU(s)") && text.contains("HDU 1: IMAGE, shape [39, 37], BITPIX -64"), "{text}");
}
