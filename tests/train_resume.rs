//! Training through the binary: kill and resume (bit-exact with an uninterrupted run), refusal to
//! resume a changed experiment, reproducibility, a diverging run, data-parallel training.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// The checkpoint a kill left: `checkpoint/`, or `checkpoint.old/` if it fell between two renames.
fn surviving_step(run: &std::path::Path) -> Option<u64> {
    ["checkpoint", "checkpoint.old"]
        .iter()
        .map(|d| run.join(d).join("state.json"))
        // Read, not `exists()` then read: the folder may be renamed in between.
        .find_map(|p| std::fs::read(p).ok())
        .map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["step"].as_u64().unwrap())
}

#[test]
fn killed_and_resumed_runs_end_exactly_like_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    // 40 epochs × 3 steps: long enough (about 1.5 s) to be killed mid-run.
    let exp = tiny_experiment(dir.path(), 40);
    let straight = dir.path().join("straight");
    ok(&unroll(&["train", s(&exp), "--out", s(&straight)], dir.path()));

    // Kill the run three times at different moments after its first checkpoint, then finish it.
    let run = dir.path().join("run");
    let mut resume = false;
    let mut killed_mid_run = 0;
    for delay_ms in [0, 100, 250] {
        let mut args = vec!["train", s(&exp), "--out", s(&run)];
        if resume {
            args.push("--resume");
        }
        let mut child = command(&args, dir.path()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let started = Instant::now();
        let before = surviving_step(&run);
        while surviving_step(&run) == before
            && child.try_wait().unwrap().is_none()
            && started.elapsed() < Duration::from_secs(300)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let step = surviving_step(&run).expect("a kill always leaves a findable checkpoint");
        killed_mid_run += usize::from(step < 120);
        resume = true;
    }
    assert!(killed_mid_run >= 2, "only {killed_mid_run} of 3 kills came before the end");
    // Starting again without --resume refuses to overwrite.
    let stderr = fails(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
    assert!(stderr.contains("--resume"), "{stderr}");
    // A CPU resume never starts the GPU stack (with a Vulkan driver installed, wgpu's start-up
    // complains about the missing XDG_RUNTIME_DIR).
    let output = command(&["train", s(&exp), "--out", s(&run), "--resume"], dir.path())
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("BURN_DEVICE")
        .output()
        .unwrap();
    let out = ok(&output);
    assert!(out.contains("PSNR"), "{out}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "the CPU resume touched the GPU stack: {stderr}");

    let (a, b) = (json(&straight.join("summary.json")), json(&run.join("summary.json")));
    assert_eq!(b["steps"], 120, "40 epochs × 3 steps, counted across the kills");
    assert_eq!(a["last"]["val"], b["last"]["val"], "resumed run's final validation differs");
    assert_eq!(a["last"]["train_loss"], b["last"]["train_loss"]);
    assert_eq!(a["best"], b["best"]);
    assert!(run.join("best/model.bpk").exists());

    // The per-step and per-validation logs read like the uninterrupted run's (speed aside).
    let columns = |path: std::path::PathBuf, keep: usize| -> Vec<String> {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.lines().map(|l| l.split(',').take(keep).collect::<Vec<_>>().join(",")).collect()
    };
    let steps = columns(run.join("train_log.csv"), 5);
    assert_eq!(steps[0], "step,epoch,loss,lr,grad_norm");
    assert_eq!(steps.len(), 121, "one row per step after the header");
    assert_eq!(steps, columns(straight.join("train_log.csv"), 5));
    assert_eq!(columns(run.join("validation.csv"), 11), columns(straight.join("validation.csv"), 11));
    assert_eq!(columns(run.join("validation.csv"), 1).len(), 41);
}

#[test]
fn resume_refuses_a_changed_experiment_and_names_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(dir.path(), 1);
    let run = dir.path().join("run");
    ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
    for (set, key) in [
        ("seed=8", "seed"),
        ("train.batch_size=3", "train.batch_size"),
        ("data.crop=[24, 24]", "data.crop"),
        ("data.split.train=0.4", "data.split"),
        ("data.source.slices=[80, 94]", "data.source"),
        ("data.problem.coils=2", "data.problem"),
    ] {
        let stderr = fails(&unroll(
            &["train", s(&exp), "--out", s(&run), "--resume", "--set", set, "--set", "train.epochs=2"],
            dir.path(),
        ));
        assert!(stderr.contains(key) && stderr.contains("--resume"), "{set}: {stderr}");
    }
    // Loop length and optimiser settings may change.
    ok(&unroll(
        &["train", s(&exp), "--out", s(&run), "--resume", "--set", "train.epochs=2", "--set", "optimizer.lr=5e-4"],
        dir.path(),
    ));
    assert_eq!(json(&run.join("summary.json"))["epochs"], 2);
}

#[test]
fn resuming_from_checkpoint_old_never_leaves_the_run_without_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(dir.path(), 1);
    let run = dir.path().join("run");
    ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
    // A kill between the two renames of a swap leaves only `checkpoint.old`.
    std::fs::rename(run.join("checkpoint"), run.join("checkpoint.old")).unwrap();
    let mut child = command(&["train", s(&exp), "--out", s(&run), "--resume", "--set", "train.epochs=3"], dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // While it writes its checkpoints, one of the two folders is complete at every moment.
    let mut polls = 0;
    while child.try_wait().unwrap().is_none() {
        assert!(surviving_step(&run).is_some(), "no findable checkpoint after {polls} polls");
        polls += 1;
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(json(&run.join("summary.json"))["steps"], 9);
    assert!(!run.join("checkpoint.old").exists() && !run.join("checkpoint.tmp").exists());
}

#[test]
fn seeded_runs_are_reproducible_on_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(dir.path(), 1);
    let losses: Vec<f64> = ["a", "b"]
        .iter()
        .map(|name| {
            let run = dir.path().join(name);
            ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
            json(&run.join("summary.json"))["last"]["train_loss"].as_f64().unwrap()
        })
        .collect();
    assert_eq!(losses[0], losses[1], "same seed, same losses");
}

#[test]
fn a_diverging_run_stops_with_a_message_and_keeps_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(dir.path(), 3);
    let run = dir.path().join("run");
    // A sane first epoch writes checkpoints; then an absurd learning rate makes the loss overflow.
    ok(&unroll(&["train", s(&exp), "--out", s(&run), "--set", "train.epochs=1"], dir.path()));
    let before = std::fs::read(run.join("checkpoint/model.bpk")).unwrap();
    let args = ["train", s(&exp), "--out", s(&run), "--resume", "--set", "optimizer.lr=1e30"];
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
    let out = ok(&unroll(&["train", s(&exp), "--out", s(&run), "--set", "train.devices=2"], dir.path()));
    assert!(out.contains("× 2"), "{out}");
    // 6 training images, 2 devices × batch 2 per step: 2 steps per epoch.
    assert_eq!(json(&run.join("summary.json"))["steps"], 4);
    let loss = json(&run.join("summary.json"))["last"]["train_loss"].as_f64().unwrap();
    assert!(loss.is_finite() && loss > 0.0);
}
