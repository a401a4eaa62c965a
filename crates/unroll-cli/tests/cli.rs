//! End-to-end tests of the `unroll` binary on tiny data: train → checkpoint → kill/resume → eval →
//! export → inspect → infer, config errors, reproducibility, and flex/wgpu agreement of a whole
//! model (wgpu with `UNROLL_TEST_WGPU=1`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn unroll(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unroll")).args(args).current_dir(cwd).stdin(Stdio::null()).output().expect("runs")
}

fn ok(output: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    stdout.into_owned()
}

fn fails(output: &Output) -> String {
    assert!(!output.status.success(), "should have failed: {}", String::from_utf8_lossy(&output.stdout));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panicked instead of an error: {stderr}");
    stderr
}

/// A tiny multi-coil MRI experiment on 12 brain slices cropped to 32×32.
fn tiny_experiment(dir: &Path, epochs: usize) -> PathBuf {
    let volume = repo().join("datasets/brain/ch2.nii.gz");
    let text = format!(
        r#"
seed = 7
[data]
source = {{ kind = "nifti", path = "{}", axis = 2, slices = [80, 92] }}
split = {{ train = 0.5, val = 0.25, test = 0.25, contiguous = true }}
crop = [32, 32]
[data.problem]
kind = "multicoil_mri"
coils = 4
mask = {{ kind = "equispaced_fraction", acceleration = 4.0, center_fraction = 0.1 }}
[model]
kind = "unrolled_pgd"
iterations = 2
features = 8
layers = 3
[train]
epochs = {epochs}
batch_size = 2
checkpoint_every = 2
log_every = 1
"#,
        volume.display()
    );
    let path = dir.join("tiny.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

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
fn train_kill_resume_eval_export_inspect_infer() {
    let dir = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(dir.path(), 3);
    let run = dir.path().join("run");

    // Start a 3-epoch run (3 steps per epoch) and kill it once the first checkpoint exists.
    let mut child = Command::new(env!("CARGO_BIN_EXE_unroll"))
        .args(["train", exp.to_str().unwrap(), "--out", run.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !run.join("checkpoint/state.json").exists() && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    // A kill between the two renames of a checkpoint swap leaves only `checkpoint.old`; resume uses it.
    let state = ["checkpoint", "checkpoint.old"].iter().map(|d| run.join(d).join("state.json")).find(|p| p.exists());
    let killed_at = json(&state.expect("a checkpoint was written"))["step"].as_u64().unwrap();
    assert!(killed_at < 9, "the run finished before it could be killed");

    // Starting again without --resume refuses to overwrite; with --resume it finishes the run.
    let stderr = fails(&unroll(&["train", exp.to_str().unwrap(), "--out", run.to_str().unwrap()], dir.path()));
    assert!(stderr.contains("--resume"), "{stderr}");
    let out = ok(&unroll(&["train", exp.to_str().unwrap(), "--out", run.to_str().unwrap(), "--resume"], dir.path()));
    assert!(out.contains("PSNR"), "{out}");
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["epochs"], 3);
    assert_eq!(summary["steps"], 9, "3 epochs × 3 steps, counted across the kill");
    assert!(run.join("best/model.bpk").exists());

    // Eval: metrics for reconstruction and input, CSV, panels.
    let report = dir.path().join("report");
    let out =
        ok(&unroll(&["eval", "--checkpoint", run.to_str().unwrap(), "--out", report.to_str().unwrap()], dir.path()));
    assert!(out.contains("reconstruction"), "{out}");
    let metrics = json(&report.join("metrics.json"));
    let psnr = metrics["mean"]["recon"]["psnr"].as_f64().unwrap();
    assert!(psnr.is_finite() && metrics["mean"]["input"]["psnr"].as_f64().unwrap().is_finite());
    assert_eq!(metrics["items"].as_array().unwrap().len(), 3);
    assert!(std::fs::read_to_string(report.join("metrics.csv")).unwrap().starts_with("index,psnr"));
    assert!(std::fs::read_dir(&report).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".png")));

    // Export and inspect.
    let package = dir.path().join("model.pkg");
    ok(&unroll(&["export", "--checkpoint", run.to_str().unwrap(), "--out", package.to_str().unwrap()], dir.path()));
    for file in ["model.safetensors", "config.toml", "metadata.json"] {
        assert!(package.join(file).exists(), "package misses {file}");
    }
    assert!(ok(&unroll(&["inspect", package.to_str().unwrap()], dir.path())).contains("unrolled_pgd"));
    assert!(ok(&unroll(&["inspect", run.to_str().unwrap()], dir.path())).contains("step"));
    let volume = repo().join("datasets/brain/ch2.nii.gz");
    assert!(ok(&unroll(&["inspect", volume.to_str().unwrap()], dir.path())).contains("181"));

    // The package evaluates like the checkpoint it came from.
    let report2 = dir.path().join("report2");
    ok(&unroll(&["eval", "--checkpoint", package.to_str().unwrap(), "--out", report2.to_str().unwrap()], dir.path()));
    let psnr2 = json(&report2.join("metrics.json"))["mean"]["recon"]["psnr"].as_f64().unwrap();
    assert!((psnr - psnr2).abs() < 1e-6, "package {psnr2} vs checkpoint {psnr}");

    // Inference on a fastMRI-layout HDF5 file (no target).
    let h5 = repo().join("crates/unroll-data/tests/data/fastmri_ri_multicoil.h5");
    let inferred = dir.path().join("inferred");
    ok(&unroll(
        &[
            "infer",
            "--model",
            package.to_str().unwrap(),
            "--input",
            h5.to_str().unwrap(),
            "--out",
            inferred.to_str().unwrap(),
        ],
        dir.path(),
    ));
    assert!(inferred.join("recon.npy").exists() && inferred.join("recon_0000.png").exists());

    // The same checkpoint on ndarray, and on wgpu when available, gives the same model output.
    let mut backends = vec!["ndarray"];
    if std::env::var("UNROLL_TEST_WGPU").is_ok_and(|v| v == "1") {
        backends.push("wgpu");
    }
    for backend in backends {
        let other = dir.path().join(format!("report-{backend}"));
        ok(&unroll(
            &["eval", "--checkpoint", run.to_str().unwrap(), "--out", other.to_str().unwrap(), "--backend", backend],
            dir.path(),
        ));
        let items = json(&other.join("metrics.json"))["items"].clone();
        for (a, b) in items.as_array().unwrap().iter().zip(metrics["items"].as_array().unwrap()) {
            let (pa, pb) = (a["recon"]["psnr"].as_f64().unwrap(), b["recon"]["psnr"].as_f64().unwrap());
            assert!((pa - pb).abs() < 0.01, "{backend} PSNR {pa} vs flex {pb}");
            let (sa, sb) = (a["recon"]["ssim"].as_f64().unwrap(), b["recon"]["ssim"].as_f64().unwrap());
            assert!((sa - sb).abs() < 1e-3, "{backend} SSIM {sa} vs flex {sb}");
        }
    }
}

#[test]
fn seeded_runs_are_reproducible_on_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(dir.path(), 1);
    let losses: Vec<f64> = ["a", "b"]
        .iter()
        .map(|name| {
            let run = dir.path().join(name);
            ok(&unroll(&["train", exp.to_str().unwrap(), "--out", run.to_str().unwrap()], dir.path()));
            json(&run.join("summary.json"))["last"]["train_loss"].as_f64().unwrap()
        })
        .collect();
    assert_eq!(losses[0], losses[1], "same seed, same losses");
}

#[test]
fn config_errors_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(dir.path(), 1);
    let text = std::fs::read_to_string(&exp).unwrap();
    let case = |name: &str, content: String, args: &[&str], expected: &[&str]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let mut all = vec!["train", path.to_str().unwrap()];
        all.extend_from_slice(args);
        let stderr = fails(&unroll(&all, dir.path()));
        for e in expected {
            assert!(stderr.contains(e), "{name}: expected {e:?} in {stderr}");
        }
    };
    case(
        "unknown.toml",
        text.replace("batch_size = 2", "batch_size = 2\nbatchsize = 3"),
        &[],
        &["unknown.toml", "batchsize"],
    );
    case("type.toml", text.replace("epochs = 1", "epochs = \"many\""), &[], &["type.toml", "many", "epochs"]);
    case("missing.toml", text.replace("ch2.nii.gz", "nope.nii.gz"), &[], &["nope.nii.gz"]);
    case(
        "bad_value.toml",
        text.replace("acceleration = 4.0", "acceleration = 0.5"),
        &[],
        &["bad_value.toml", "acceleration"],
    );
    case("override.toml", text.clone(), &["--set", "train.epochs=\"x\""], &["override.toml", "epochs"]);
    let stderr = fails(&unroll(&["train", dir.path().join("absent.toml").to_str().unwrap()], dir.path()));
    assert!(stderr.contains("absent.toml"), "{stderr}");
}

#[test]
fn a_diverging_run_stops_with_a_message_and_keeps_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(dir.path(), 3);
    let run = dir.path().join("run");
    // A sane first epoch writes checkpoints; then an absurd learning rate makes the loss overflow.
    ok(&unroll(
        &["train", exp.to_str().unwrap(), "--out", run.to_str().unwrap(), "--set", "train.epochs=1"],
        dir.path(),
    ));
    let before = std::fs::read(run.join("checkpoint/model.bpk")).unwrap();
    let args =
        ["train", exp.to_str().unwrap(), "--out", run.to_str().unwrap(), "--resume", "--set", "optimizer.lr=1e30"];
    let stderr = fails(&unroll(&args, dir.path()));
    assert!(stderr.contains("training stopped") && stderr.contains("loss is"), "{stderr}");
    assert!(stderr.contains("checkpoint"), "{stderr}");
    assert_eq!(std::fs::read(run.join("checkpoint/model.bpk")).unwrap(), before, "the last good checkpoint is kept");
}

/// Data-parallel training through Burn's multi-device primitives (fork, per-device gradients,
/// `step_multi`), exercised on replicas of the CPU device (CI has no GPUs).
#[test]
fn multi_device_training_runs() {
    let dir = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(dir.path(), 2);
    let run = dir.path().join("run");
    let out = ok(&unroll(
        &["train", exp.to_str().unwrap(), "--out", run.to_str().unwrap(), "--set", "train.devices=2"],
        dir.path(),
    ));
    assert!(out.contains("× 2"), "{out}");
    // 6 training images, 2 devices × batch 2 per step: 2 steps per epoch.
    assert_eq!(json(&run.join("summary.json"))["steps"], 4);
    let loss = json(&run.join("summary.json"))["last"]["train_loss"].as_f64().unwrap();
    assert!(loss.is_finite() && loss > 0.0);
}
