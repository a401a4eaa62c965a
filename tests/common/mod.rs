//! Helpers shared by the end-to-end tests of the `unroll` binary: running it, checking its exit,
//! tiny experiments on the shipped brain volume.
#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A test fixture shipped in the repository, by its path from the root.
pub fn fixture(relative: &str) -> PathBuf {
    repo().join(relative)
}

/// Runs `unroll` with `args` in `cwd`, stdin closed.
pub fn unroll(args: &[&str], cwd: &Path) -> Output {
    command(args, cwd).output().expect("runs")
}

/// The `unroll` command, ready to run in `cwd`.
pub fn command(args: &[&str], cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_unroll"));
    command.args(args).current_dir(cwd).stdin(Stdio::null());
    command
}

/// Checks success; returns stdout.
pub fn ok(output: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    stdout.into_owned()
}

/// Checks a clean failure: exit code 1, exactly one `error:` line, no panic. Returns stderr.
pub fn fails(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit 1, got {}\nstdout:\n{}\nstderr:\n{stderr}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(!stderr.contains("panicked"), "panicked instead of an error: {stderr}");
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "expected one `error:` line, got {errors}:\n{stderr}");
    stderr
}

/// The text of a tiny multi-coil MRI experiment on 12 brain slices cropped to 32×32.
pub fn tiny_experiment_text(epochs: usize) -> String {
    let volume = repo().join("datasets/brain/ch2.nii.gz");
    format!(
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
    )
}

/// Writes [`tiny_experiment_text`] to `dir/tiny.toml`.
pub fn tiny_experiment(dir: &Path, epochs: usize) -> PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, tiny_experiment_text(epochs)).unwrap();
    path
}

/// Trains the tiny experiment into `dir/run` and exports it to `dir/model.pkg`; returns both.
pub fn trained_package(dir: &Path, epochs: usize) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let exp = tiny_experiment(dir, epochs);
    let run = dir.join("run");
    ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir));
    let package = dir.join("model.pkg");
    ok(&unroll(&["export", "--checkpoint", s(&run), "--out", s(&package)], dir));
    (run, package)
}

/// A path as `&str`.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// A JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}
