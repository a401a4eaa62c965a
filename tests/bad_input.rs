//! Bad input through the binary, table-driven: malformed configs (truncated, wrong type, wrong
//! shape, impossible parameters, huge sizes), corrupt or NaN data files, and bad arguments to eval,
//! infer, export and inspect. Every case must exit 1 with one `error:` line that names the file or
//! key, never a panic or a hang.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;

/// What a case runs and what its error must mention.
struct Case {
    name: String,
    args: Vec<String>,
    expected: Vec<String>,
}

/// The reason `output` is not a clean error mentioning every `expected` text, if it is not.
fn problem(output: &Output, expected: &[String]) -> Option<String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    if output.status.code() != Some(1) || stderr.contains("panicked") || errors != 1 {
        return Some(format!("exit {:?}, {errors} error lines:\n{stderr}", output.status.code()));
    }
    let missing: Vec<&String> = expected.iter().filter(|e| !stderr.contains(e.as_str())).collect();
    (!missing.is_empty()).then(|| format!("error does not mention {missing:?}:\n{stderr}"))
}

fn write_npy(path: &Path, shape: &[u64], values: &[f32]) {
    use npyz::WriterBuilder;
    let mut bytes = Vec::new();
    let mut writer =
        npyz::WriteOptions::<f32>::new().default_dtype().shape(shape).writer(&mut bytes).begin_nd().unwrap();
    writer.extend(values.iter().copied()).unwrap();
    writer.finish().unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The first half of `source`'s bytes, as `dir/name`.
fn truncated(source: &Path, dir: &Path, name: &str) -> String {
    let bytes = std::fs::read(source).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    s(&path).to_string()
}

#[test]
fn malformed_configs_and_data_files_give_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = tiny_experiment_text(1);
    let mri_problem = "kind = \"multicoil_mri\"\ncoils = 4\nmask = { kind = \"equispaced_fraction\", acceleration = 4.0, center_fraction = 0.1 }";
    let mut cases: Vec<Case> = Vec::new();
    let mut config = |name: &str, text: String, extra: &[&str], expected: &[&str]| {
        let path = d.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let mut args =
            vec!["train".to_string(), s(&path).to_string(), "--out".into(), s(&d.join(format!("out-{name}"))).into()];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut expected: Vec<String> = expected.iter().map(|e| e.to_string()).collect();
        expected.push(format!("{name}.toml"));
        cases.push(Case { name: name.into(), args, expected });
    };
    let with = |from: &str, to: &str| {
        assert!(base.contains(from), "{from:?} not in the base experiment");
        base.replace(from, to)
    };
    let problem_text = |text: &str| with(mri_problem, text);

    // Malformed TOML and wrong types.
    config("truncated", base[..base.len() / 2].to_string(), &[], &[]);
    config("empty", String::new(), &[], &["missing field"]);
    config("unknown_key", with("batch_size = 2", "batch_size = 2\nbatchsize = 3"), &[], &["batchsize"]);
    config("wrong_type", with("epochs = 1", "epochs = \"many\""), &[], &["epochs", "many"]);
    config("negative_count", with("epochs = 1", "epochs = -1"), &[], &["epochs"]);
    config(
        "missing_model",
        with("[model]\nkind = \"unrolled_pgd\"\n", "[modell]\nkind = \"unrolled_pgd\"\n"),
        &[],
        &["modell"],
    );
    config("unknown_problem", with("kind = \"multicoil_mri\"", "kind = \"mri9\""), &[], &["mri9"]);
    config("crop_wrong_shape", with("crop = [32, 32]", "crop = [32, 32, 3]"), &[], &["crop"]);
    // Values that cannot work.
    config("crop_below_ssim_window", with("crop = [32, 32]", "crop = [6, 6]"), &[], &["data.crop", "SSIM"]);
    config("crop_zero", with("crop = [32, 32]", "crop = [0, 0]"), &[], &["data.crop"]);
    config("crop_huge", with("crop = [32, 32]", "crop = [100000, 100000]"), &[], &["data.crop", "larger"]);
    config(
        "blur_kernel_too_large",
        with("crop = [32, 32]", "crop = [8, 8]")
            .replace(mri_problem, "kind = \"blur\"\nsigma = [1.0, 2.0]\nkernel_size = 15"),
        &[],
        &["data.problem.kernel_size"],
    );
    config(
        "blur_even_kernel",
        problem_text("kind = \"blur\"\nsigma = [1.0, 2.0]\nkernel_size = 4"),
        &[],
        &["kernel_size"],
    );
    config("blur_sigma", problem_text("kind = \"blur\"\nsigma = [2.0, 1.0]"), &[], &["sigma"]);
    config(
        "multiscale_scales",
        format!("{base}\n[loss]\nterms = [{{ kind = \"multiscale_l1\", scales = 7, weight = 1.0 }}]\n"),
        &[],
        &["loss.terms[0].scales"],
    );
    config(
        "mask_after_rounding",
        with("crop = [32, 32]", "crop = [20, 20]").replace("center_fraction = 0.1", "center_fraction = 0.23"),
        &[],
        &["data.problem.mask", "after rounding"],
    );
    config("mask_acceleration", with("acceleration = 4.0", "acceleration = 0.5"), &[], &["acceleration"]);
    config("mask_center_fraction", with("center_fraction = 0.1", "center_fraction = 1.5"), &[], &["center_fraction"]);
    config(
        "cs_matrix_too_large",
        with("crop = [32, 32]", "crop = [160, 160]").replace(mri_problem, "kind = \"compressed_sensing\"\nratio = 1.0"),
        &[],
        &["data.problem.ratio", "GiB"],
    );
    config("cs_ratio", problem_text("kind = \"compressed_sensing\"\nratio = 1.5"), &[], &["ratio"]);
    config(
        "poisson_on_complex",
        problem_text(&format!("{mri_problem}\nnoise = {{ kind = \"poisson\", gain = 0.1 }}")),
        &[],
        &["noise", "Poisson"],
    );
    let nifti_source = format!(
        "kind = \"nifti\", path = \"{}\", axis = 2, slices = [80, 92]",
        repo().join("datasets/brain/ch2.nii.gz").display()
    );
    let folder_source = format!("kind = \"image_folder\", path = \"{}\", grayscale = false", d.display());
    config("colour_for_mri", with(&nifti_source, &folder_source), &[], &["grayscale"]);
    config(
        "tomography_not_square",
        with("crop = [32, 32]", "crop = [32, 40]").replace(mri_problem, "kind = \"tomography\"\nangles = 10"),
        &[],
        &["square"],
    );
    config("tomography_angles", problem_text("kind = \"tomography\"\nangles = 0"), &[], &["angles"]);
    config("inpainting_keep", problem_text("kind = \"inpainting\"\nkeep = 0.0"), &[], &["keep"]);
    config(
        "noise_sigma",
        problem_text("kind = \"denoising\"\nnoise = { kind = \"gaussian\", sigma = -1.0 }"),
        &[],
        &["sigma"],
    );
    config("lr_negative", base.clone(), &["--set", "optimizer.lr=-1"], &["optimizer.lr"]);
    config("epochs_zero", base.clone(), &["--set", "train.epochs=0"], &["train.epochs"]);
    config("split_over_one", base.clone(), &["--set", "data.split.train=0.9"], &["data.split"]);
    config(
        "split_no_validation",
        base.clone(),
        &["--set", "data.split.val=0.0", "--set", "data.split.test=0.0"],
        &["data.split", "validation"],
    );
    config("set_wrong_type", base.clone(), &["--set", "train.epochs=\"x\""], &["epochs"]);
    config("set_without_value", base.clone(), &["--set", "train.epochs"], &["key=value"]);
    config("resume_nothing", base.clone(), &["--resume"], &["--resume", "no checkpoint"]);
    // Data files: missing, truncated, NaN, all zero, wrong shape, empty.
    let volume = repo().join("datasets/brain/ch2.nii.gz");
    let path_of = |text: &str| base.replace(s(&volume), text);
    config("missing_volume", path_of("nope.nii.gz"), &[], &["nope.nii.gz"]);
    let cut = truncated(&volume, d, "cut.nii.gz");
    config("truncated_volume", path_of(&cut), &[], &["cut.nii.gz"]);
    config("slices_out_of_range", with("slices = [80, 92]", "slices = [80, 900]"), &[], &["ch2.nii.gz", "slice"]);
    let npy = |name: &str, shape: &[u64], values: &[f32]| {
        let path = d.join(name);
        write_npy(&path, shape, values);
        base.replace(
            &format!("kind = \"nifti\", path = \"{}\", axis = 2, slices = [80, 92]", volume.display()),
            &format!("kind = \"npy\", path = \"{}\"", path.display()),
        )
    };
    let mut values = vec![0.5f32; 8 * 32 * 32];
    values[2 * 32 * 32 + 33] = f32::NAN;
    config("nan_image", npy("nan.npy", &[8, 32, 32], &values), &[], &["nan.npy", "NaN"]);
    config("zero_image", npy("zero.npy", &[8, 32, 32], &vec![0.0; 8 * 32 * 32]), &[], &["zero.npy", "image 0"]);
    config("npy_4d", npy("four.npy", &[2, 1, 32, 32], &vec![1.0; 2 * 32 * 32]), &[], &["four.npy", "shape"]);
    let text = npy("whole.npy", &[8, 32, 32], &vec![1.0; 8 * 32 * 32]);
    let cut = truncated(&d.join("whole.npy"), d, "cut.npy");
    config("truncated_npy", text.replace(s(&d.join("whole.npy")), &cut), &[], &["cut.npy"]);
    std::fs::create_dir_all(d.join("no_images")).unwrap();
    config(
        "empty_folder",
        path_of(s(&d.join("no_images")))
            .replace("kind = \"nifti\"", "kind = \"image_folder\"")
            .replace(", axis = 2, slices = [80, 92]", ""),
        &[],
        &["no_images"],
    );
    let with_source = |source: String| base.replace(&nifti_source, &source);
    let cut = truncated(&repo().join("datasets/galaxies/real_galaxy_PSF_images.fits"), d, "cut.fits");
    config("truncated_fits", with_source(format!("kind = \"fits\", path = \"{cut}\"")), &[], &["cut.fits", "HDU"]);
    // A galaxy catalogue that is an image file, not a table.
    let psfs = repo().join("datasets/galaxies/real_galaxy_PSF_images.fits");
    let galaxies = format!("kind = \"galaxies\", catalog = \"{0}\", psfs = \"{0}\", per_galaxy = 1", s(&psfs));
    config(
        "galaxy_catalog_not_a_table",
        with_source(galaxies),
        &[],
        &["real_galaxy_PSF_images.fits", "not a binary table"],
    );
    let cut = truncated(&repo().join("datasets/ct/693_UNCI.dcm"), d, "cut.dcm");
    config("truncated_dicom", with_source(format!("kind = \"dicom\", path = \"{cut}\"")), &[], &["cut.dcm"]);

    // From `resume_nothing` on, the error is about the output folder or a data file, and names that
    // rather than the config.
    let first = cases.iter().position(|c| c.name == "resume_nothing").unwrap();
    for case in &mut cases[first..] {
        case.expected.pop();
    }

    // eval, export, infer and inspect on a real package and broken inputs.
    let (run, package) = trained_package(&d.join("trained"), 1);
    let mut command = |name: &str, args: &[&str], expected: &[&str]| {
        cases.push(Case {
            name: name.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            expected: expected.iter().map(|e| e.to_string()).collect(),
        });
    };
    let absent = d.join("absent");
    command("train_absent_file", &["train", s(&d.join("absent.toml"))], &["absent.toml"]);
    command("eval_absent_checkpoint", &["eval", "--checkpoint", s(&absent)], &["absent"]);
    command(
        "eval_absent_data",
        &["eval", "--checkpoint", s(&run), "--data", s(&d.join("gone.nii.gz"))],
        &["gone.nii.gz"],
    );
    let broken = d.join("broken.pkg");
    std::fs::create_dir_all(&broken).unwrap();
    for file in ["config.toml", "model.safetensors"] {
        std::fs::copy(package.join(file), broken.join(file)).unwrap();
    }
    std::fs::write(broken.join("metadata.json"), "{ garbage").unwrap();
    command("eval_corrupt_package", &["eval", "--checkpoint", s(&broken)], &["metadata.json"]);
    let renormalised = d.join("renormalised.pkg");
    std::fs::create_dir_all(&renormalised).unwrap();
    for file in ["config.toml", "model.safetensors"] {
        std::fs::copy(package.join(file), renormalised.join(file)).unwrap();
    }
    let metadata = std::fs::read_to_string(package.join("metadata.json")).unwrap();
    assert!(metadata.contains("\"min_scale\": 1e-8"), "{metadata}");
    std::fs::write(renormalised.join("metadata.json"), metadata.replace("\"min_scale\": 1e-8", "\"min_scale\": 1.0"))
        .unwrap();
    command(
        "package_other_normalisation",
        &["eval", "--checkpoint", s(&renormalised)],
        &["metadata.json", "normalisation"],
    );
    let torn = d.join("torn.pkg");
    std::fs::create_dir_all(&torn).unwrap();
    for file in ["config.toml", "metadata.json"] {
        std::fs::copy(package.join(file), torn.join(file)).unwrap();
    }
    truncated(&package.join("model.safetensors"), &torn, "model.safetensors");
    command("eval_truncated_weights", &["eval", "--checkpoint", s(&torn)], &["model.safetensors"]);
    command(
        "export_not_a_run",
        &["export", "--checkpoint", s(&d.join("no_images")), "--out", s(&d.join("x.pkg"))],
        &["config.toml"],
    );
    let nan_h5 = fixture("crates/unroll-data/tests/data/fastmri_nan.h5");
    command(
        "infer_nan_kspace",
        &["infer", "--model", s(&package), "--input", s(&nan_h5), "--out", s(&d.join("i1"))],
        &["fastmri_nan.h5", "NaN"],
    );
    let h5 = fixture("crates/unroll-data/tests/data/fastmri_ri_multicoil.h5");
    let cut_h5 = truncated(&h5, d, "cut.h5");
    command(
        "infer_truncated_kspace",
        &["infer", "--model", s(&package), "--input", &cut_h5, "--out", s(&d.join("i2"))],
        &["cut.h5"],
    );
    let png = d.join("grey.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    command(
        "infer_image_into_mri",
        &["infer", "--model", s(&package), "--input", s(&png), "--out", s(&d.join("i3"))],
        &["grey.png"],
    );
    command("infer_absent_input", &["infer", "--model", s(&package), "--input", s(&d.join("none.h5"))], &["none.h5"]);
    command("infer_absent_package", &["infer", "--model", s(&absent), "--input", s(&h5)], &["absent"]);
    std::fs::write(d.join("stub.h5"), b"\x89HDF\r\n\x1a\n\0\0").unwrap();
    command("inspect_truncated", &["inspect", s(&d.join("stub.h5"))], &["stub.h5"]);
    std::fs::write(d.join("notes.txt"), "plain text").unwrap();
    command("inspect_unknown_type", &["inspect", s(&d.join("notes.txt"))], &["notes.txt", "unknown file type"]);
    command("inspect_absent", &["inspect", s(&d.join("nothing.h5"))], &["nothing.h5"]);

    assert!(cases.len() >= 30, "{} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
            problem(&unroll(&args, d), &case.expected).map(|p| format!("[{}] {p}", case.name))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
