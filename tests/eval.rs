//! `unroll eval`: reports (metrics, CSV, panels) from a run folder and from its package, held-out
//! images and fastMRI-layout k-space, and the same checkpoint on every backend.

mod common;

use common::*;

#[test]
fn eval_reports_and_agrees_across_package_and_backends() {
    let dir = tempfile::tempdir().unwrap();
    let (run, package) = trained_package(dir.path(), 2);

    let report = dir.path().join("report");
    let out = ok(&unroll(&["eval", "--checkpoint", s(&run), "--out", s(&report)], dir.path()));
    assert!(out.contains("reconstruction") && out.contains("input"), "{out}");
    let metrics = json(&report.join("metrics.json"));
    let psnr = metrics["mean"]["recon"]["psnr"].as_f64().unwrap();
    assert!(psnr.is_finite() && metrics["mean"]["input"]["psnr"].as_f64().unwrap().is_finite());
    assert!(psnr > metrics["mean"]["input"]["psnr"].as_f64().unwrap(), "the model beats zero-filling");
    assert_eq!(metrics["items"].as_array().unwrap().len(), 3, "the 3 test-split slices");
    assert!(std::fs::read_to_string(report.join("metrics.csv")).unwrap().starts_with("index,psnr"));
    let panels =
        std::fs::read_dir(&report).unwrap().filter(|e| e.as_ref().unwrap().path().extension() == Some("png".as_ref()));
    assert_eq!(panels.count(), 3);
    // 32×32 items are upscaled 8× into five tiles: target, input, baseline, reconstruction, error.
    assert_eq!(image::image_dimensions(report.join("panel_0000.png")).unwrap(), (5 * 256, 256));

    // The package evaluates exactly like the checkpoint it came from.
    let report2 = dir.path().join("report2");
    ok(&unroll(&["eval", "--checkpoint", s(&package), "--out", s(&report2)], dir.path()));
    let psnr2 = json(&report2.join("metrics.json"))["mean"]["recon"]["psnr"].as_f64().unwrap();
    assert!((psnr - psnr2).abs() < 1e-6, "package {psnr2} vs checkpoint {psnr}");

    // Held-out data is evaluated whole: `--data` takes every slice of the source, not a split.
    let held_out = dir.path().join("held_out");
    let volume = repo().join("datasets/brain/ch2.nii.gz");
    ok(&unroll(&["eval", "--checkpoint", s(&run), "--data", s(&volume), "--out", s(&held_out)], dir.path()));
    assert_eq!(json(&held_out.join("metrics.json"))["items"].as_array().unwrap().len(), 12, "slices 80..92");

    // Real k-space: a fastMRI-layout file (or a folder of them) is undersampled retrospectively with
    // the experiment's mask and scored per volume, images cropped to `reconstruction_rss` (96×96 of
    // the 192×96 oversampled grid).
    for data in ["datasets/fastmri/brain_multicoil.h5", "datasets/fastmri"] {
        let kspace = dir.path().join("kspace");
        let out = ok(&unroll(
            &["eval", "--checkpoint", s(&run), "--data", s(&fixture(data)), "--out", s(&kspace)],
            dir.path(),
        ));
        assert!(out.contains("1 volumes") && out.contains("brain_multicoil.h5: PSNR"), "{out}");
        let metrics = json(&kspace.join("metrics.json"));
        assert_eq!(metrics["items"].as_array().unwrap().len(), 1, "one volume");
        for of in ["recon", "input", "baseline"] {
            let psnr = metrics["mean"][of]["psnr"].as_f64().unwrap();
            assert!(psnr.is_finite() && psnr > 10.0, "{of}: {psnr}");
        }
        assert!(kspace.join("panel_0000.png").exists());
    }

    // Single-coil k-space (`kspace` (slices, H, W), `reconstruction_esc`): no maps, the same scoring.
    let single = dir.path().join("single");
    let data = fixture("tests/data/singlecoil.h5");
    let out = ok(&unroll(&["eval", "--checkpoint", s(&run), "--data", s(&data), "--out", s(&single)], dir.path()));
    assert!(out.contains("1 volumes"), "{out}");
    let mean = &json(&single.join("metrics.json"))["mean"];
    let (recon, input) = (mean["recon"]["psnr"].as_f64().unwrap(), mean["input"]["psnr"].as_f64().unwrap());
    assert!(recon.is_finite() && input.is_finite() && input > 10.0, "recon {recon}, input {input}");

    // The same checkpoint on ndarray, and on wgpu when available, gives the same model output.
    let mut backends = vec!["ndarray"];
    if std::env::var("UNROLL_TEST_WGPU").is_ok_and(|v| v == "1") {
        backends.push("wgpu");
    }
    for backend in backends {
        let other = dir.path().join(format!("report-{backend}"));
        ok(&unroll(&["eval", "--checkpoint", s(&run), "--out", s(&other), "--backend", backend], dir.path()));
        let items = json(&other.join("metrics.json"))["items"].clone();
        for (a, b) in items.as_array().unwrap().iter().zip(metrics["items"].as_array().unwrap()) {
            let (pa, pb) = (a["recon"]["psnr"].as_f64().unwrap(), b["recon"]["psnr"].as_f64().unwrap());
            assert!((pa - pb).abs() < 0.01, "{backend} PSNR {pa} vs flex {pb}");
            let (sa, sb) = (a["recon"]["ssim"].as_f64().unwrap(), b["recon"]["ssim"].as_f64().unwrap());
            assert!((sa - sb).abs() < 1e-3, "{backend} SSIM {sa} vs flex {sb}");
        }
    }
}
