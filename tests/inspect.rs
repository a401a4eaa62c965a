//! `unroll inspect` on data files, run folders (and their `curves.png`) and packages, `--help`, and
//! the JSON lines of `unroll bench`.

mod common;

use common::*;

#[test]
fn help_lists_every_subcommand() {
    let out = ok(&unroll(&["--help"], &repo()));
    for sub in ["train", "eval", "infer", "export", "inspect", "bench"] {
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

#[test]
fn bench_prints_one_json_line_per_model() {
    let tiny = ["--json", "--size", "16", "--runs", "1", "--warmup", "0"];
    let known = unroll_train::bench::bench_names();
    let models_of = |stdout: &str| -> Vec<String> {
        stdout
            .lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                let mut keys: Vec<&str> = v.as_object().expect("an object").keys().map(String::as_str).collect();
                keys.sort_unstable();
                let expected = [
                    "backend",
                    "config",
                    "forward_s",
                    "model",
                    "params",
                    "peak_rss_mib",
                    "ratio",
                    "reference",
                    "train_step_s",
                ];
                assert_eq!(keys, expected, "{line}");
                assert!(v["params"].as_u64().is_some_and(|p| p > 0), "{line}");
                for key in ["forward_s", "train_step_s"] {
                    assert!(v[key].as_f64().is_some_and(|t| t.is_finite() && t > 0.0), "{key}: {line}");
                }
                if cfg!(target_os = "linux") {
                    assert!(v["peak_rss_mib"].as_f64().is_some_and(|m| m > 0.0), "{line}");
                }
                assert_eq!(v["backend"], "flex", "{line}");
                assert_eq!(v["config"]["size"], serde_json::json!([16, 16]), "{line}");
                let name = v["model"].as_str().expect("a model name");
                assert!(name == "conv_net" || v["config"]["model"]["kind"].is_string(), "{line}");
                // The PyTorch figures are for the models' own sizes, not 16x16.
                assert!(v["reference"].is_null() && v["ratio"].is_null(), "{line}");
                v["model"].as_str().expect("a model name").to_string()
            })
            .collect()
    };
    let one = ok(&unroll(&[&["bench", "quickstart"][..], &tiny].concat(), &repo()));
    assert_eq!(models_of(&one), ["quickstart"]);
    // At its own shape the quickstart is compared with its PyTorch twin.
    let own = ok(&unroll(&["bench", "quickstart", "--json", "--runs", "1", "--warmup", "0"], &repo()));
    let v: serde_json::Value = serde_json::from_str(own.trim()).unwrap();
    assert_eq!(v["config"]["size"], serde_json::json!([96, 96]), "{own}");
    assert_eq!(v["config"]["batch"], 4, "{own}");
    let step = v["train_step_s"].as_f64().unwrap() / v["reference"]["train_step_s"].as_f64().unwrap();
    assert!((v["ratio"]["train_step"].as_f64().unwrap() - step).abs() < 1e-9, "{own}");
    let all = ok(&unroll(&[&["bench", "all"][..], &tiny].concat(), &repo()));
    assert_eq!(models_of(&all), known);
    assert!(known.contains(&"quickstart") && known.contains(&"conv_net"), "{known:?}");

    let stderr = fails(&unroll(&["bench", "nosuchmodel"], &repo()));
    assert!(stderr.contains("nosuchmodel"), "{stderr}");
    for name in &known {
        assert!(stderr.contains(name), "the error does not name {name}: {stderr}");
    }
    // A failing child is one error naming its model.
    let stderr = fails(&unroll(&["bench", "all", "--size", "300"], &repo()));
    assert!(stderr.contains(&format!("model {} failed", known[0])) && stderr.contains("300x300"), "{stderr}");
}
