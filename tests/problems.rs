//! Every problem trains under the generic unrolled network: a short run on tiny brain crops gives a
//! finite loss and beats the `Aᴴy` input, and the report names the problem's classical baseline.

mod common;

use common::*;

#[test]
fn every_problem_trains_past_its_adjoint_input() {
    let dir = tempfile::tempdir().unwrap();
    let mri = "kind = \"multicoil_mri\"\ncoils = 4\nmask = { kind = \"equispaced_fraction\", acceleration = 4.0, center_fraction = 0.1 }";
    let problems = [
        ("mri", mri, "CG-SENSE"),
        ("blur", "kind = \"blur\"\nsigma = [1.0, 2.0]\nnoise = { kind = \"gaussian\", sigma = 0.01 }", "Wiener"),
        ("inpainting", "kind = \"inpainting\"\nkeep = 0.5", "masked image"),
        ("denoising", "kind = \"denoising\"\nnoise = { kind = \"gaussian\", sigma = 0.1 }", "noisy image"),
        (
            "cs",
            "kind = \"compressed_sensing\"\nratio = 0.25\nnoise = { kind = \"gaussian\", sigma = 0.01 }",
            "Tikhonov (CG)",
        ),
        ("ct", "kind = \"tomography\"\nangles = 30\nnoise = { kind = \"gaussian\", sigma = 0.01 }", "FBP"),
    ];
    let mut failures = Vec::new();
    for (name, problem, baseline) in problems {
        let exp = dir.path().join(format!("{name}.toml"));
        std::fs::write(&exp, tiny_experiment_text(10).replace(mri, problem)).unwrap();
        let run = dir.path().join(name);
        let out = ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
        assert!(out.contains(&format!("baseline: {baseline}")), "{name}: {out}");
        let last = &json(&run.join("summary.json"))["last"];
        let (loss, recon, input) = (
            last["train_loss"].as_f64().unwrap(),
            last["val"]["recon"]["psnr"].as_f64().unwrap(),
            last["val"]["input"]["psnr"].as_f64().unwrap(),
        );
        let baseline_psnr = last["val"]["baseline"]["psnr"].as_f64().unwrap();
        if !(loss.is_finite() && recon > input + 0.1 && baseline_psnr.is_finite()) {
            failures.push(format!("{name}: loss {loss}, PSNR {recon:.2} dB vs input {input:.2} dB"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
