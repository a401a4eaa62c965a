//! Every problem trains under the generic unrolled network: a short run on tiny brain crops gives a
//! finite loss and beats the `Aᴴy` input, and the report names the problem's classical baseline.
//! Each trained model is then exported and run by `unroll infer` on a measurement of its problem.

mod common;

use common::*;

#[test]
fn every_problem_trains_past_its_adjoint_input() {
    let dir = tempfile::tempdir().unwrap();
    let mri = "kind = \"multicoil_mri\"\ncoils = 4\nmask = { kind = \"equispaced_fraction\", acceleration = 4.0, center_fraction = 0.1 }";
    let mri_acs = mri.replace("center_fraction = 0.1", "center_fraction = 0.2");
    let problems = [
        // Coil maps come from the ACS: 6 of the 32 columns.
        ("mri", mri_acs.as_str(), "CG-SENSE"),
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
        let (values, inferred) = export_and_infer(dir.path(), &run, name, name);
        assert!(values.iter().all(|v| v.is_finite()) && values.iter().any(|&v| v != 0.0), "{name}");
        // MRI inference also writes fastMRI's `reconstruction` dataset.
        if name == "mri" {
            let described = ok(&unroll(&["inspect", s(&inferred.join("reconstruction.h5"))], dir.path()));
            assert!(described.contains("reconstruction") && described.contains("[2, 4, 3]"), "{described}");
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Exports the run `run` to `dir/{name}.pkg` and runs `unroll infer` with it on a measurement of
/// `problem` (see [`measurement`]) into `dir/{name}.out`; checks the shape of `recon.npy` and
/// returns its values and the output folder.
fn export_and_infer(
    dir: &std::path::Path,
    run: &std::path::Path,
    name: &str,
    problem: &str,
) -> (Vec<f32>, std::path::PathBuf) {
    let package = dir.join(format!("{name}.pkg"));
    ok(&unroll(&["export", "--checkpoint", s(run), "--out", s(&package)], dir));
    let (measurement, shape) = measurement(dir, problem);
    let inferred = dir.join(format!("{name}.out"));
    ok(&unroll(&["infer", "--model", s(&package), "--input", s(&measurement), "--out", s(&inferred)], dir));
    let bytes = std::fs::read(inferred.join("recon.npy")).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), shape, "{name}");
    (npy.into_vec::<f32>().unwrap(), inferred)
}

/// A measurement file for problem `name` (32×32 images), and the `recon.npy` shape it gives.
fn measurement(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, Vec<u64>) {
    let npy = |file: &str, shape: &[u64]| {
        let path = dir.join(file);
        let len = shape.iter().product::<u64>() as usize;
        let values: Vec<f32> = (0..len).map(|i| ((i * 37 % 101) as f32) / 101.0).collect();
        let mut bytes = Vec::new();
        {
            use npyz::WriterBuilder;
            let mut writer =
                npyz::WriteOptions::<f32>::new().default_dtype().shape(shape).writer(&mut bytes).begin_nd().unwrap();
            writer.extend(values).unwrap();
            writer.finish().unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
        path
    };
    match name {
        "mri" => (fixture("crates/unroll-data/tests/data/fastmri_ri_multicoil.h5"), vec![2, 4, 3]),
        // 256 = 0.25 · 32 · 32 measurements, two samples.
        "cs" => (npy("cs.npy", &[2, 256]), vec![2, 32, 32]),
        // 46 = ⌈√2 · 32⌉ detectors × 30 angles.
        "ct" => (npy("ct.npy", &[46, 30]), vec![1, 32, 32]),
        _ => {
            let path = dir.join(format!("{name}.png"));
            image::GrayImage::from_fn(32, 32, |x, y| image::Luma([(x * 7 + y * 3) as u8 + 10])).save(&path).unwrap();
            (path, vec![1, 32, 32])
        }
    }
}

/// Real k-space as a training source: the shipped fastMRI-layout file trains (coil images cropped to
/// the 96×96 `reconstruction_rss` size of the 192×96 grid, undersampled retrospectively, maps from
/// the ACS, RSS targets), and the source is refused with another problem or with "true" coil maps.
#[test]
fn fastmri_kspace_trains_and_is_refused_where_it_cannot_serve() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("datasets/fastmri/brain_multicoil.h5");
    let experiment = |problem: &str| {
        format!(
            "seed = 3\n[data]\nsource = {{ kind = \"fastmri\", path = \"{}\" }}\nsplit = {{ train = 0.5, val = 0.5, contiguous = true }}\n\
             [data.problem]\n{problem}\n[model]\nkind = \"unrolled_pgd\"\niterations = 2\nfeatures = 8\nlayers = 3\n\
             [train]\nepochs = 2\nbatch_size = 1\n",
            file.display()
        )
    };
    let mri = "kind = \"multicoil_mri\"\nmask = { kind = \"equispaced_fraction\", acceleration = 4.0, center_fraction = 0.08 }";
    let exp = dir.path().join("fastmri.toml");
    std::fs::write(&exp, experiment(mri)).unwrap();
    let run = dir.path().join("run");
    let out = ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
    assert!(out.contains("1 training / 1 validation images of [16, 96, 96]"), "{out}");
    let last = &json(&run.join("summary.json"))["last"];
    let (loss, recon) = (last["train_loss"].as_f64().unwrap(), last["val"]["recon"]["psnr"].as_f64().unwrap());
    assert!(loss.is_finite() && recon.is_finite() && recon > 15.0, "loss {loss}, PSNR {recon}");

    std::fs::write(&exp, experiment(&format!("{mri}\ncoil_maps = \"true\""))).unwrap();
    let stderr = fails(&unroll(&["train", s(&exp), "--out", s(&dir.path().join("r2"))], dir.path()));
    assert!(stderr.contains("coil_maps") && stderr.contains("fastmri.toml"), "{stderr}");
    std::fs::write(&exp, experiment("kind = \"denoising\"\nnoise = { kind = \"gaussian\", sigma = 0.1 }")).unwrap();
    let stderr = fails(&unroll(&["train", s(&exp), "--out", s(&dir.path().join("r3"))], dir.path()));
    assert!(stderr.contains("fastmri") && stderr.contains("denoising"), "{stderr}");

    // Validation is per volume (fastMRI's metrics): two copies of the file, one volume each way.
    let folder = dir.path().join("volumes");
    std::fs::create_dir(&folder).unwrap();
    for name in ["a.h5", "b.h5"] {
        std::fs::copy(&file, folder.join(name)).unwrap();
    }
    std::fs::write(&exp, experiment(mri).replace(&*file.to_string_lossy(), &folder.to_string_lossy())).unwrap();
    let run = dir.path().join("volumes_run");
    let out = ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
    assert!(out.contains("2 training / 2 validation images"), "{out}");
    assert_eq!(json(&run.join("summary.json"))["last"]["val"]["items"], 1, "one validation volume");
    let report = dir.path().join("volumes.eval");
    ok(&unroll(&["eval", "--checkpoint", s(&run), "--out", s(&report)], dir.path()));
    assert_eq!(json(&report.join("metrics.json"))["items"].as_array().unwrap().len(), 1);

    // Coil maps from the files (`coil_maps = "file"`): trained, evaluated and inferred with the
    // files' `sensitivity_map`; refused for a file without one and for a source that is not fastmri.
    let with_maps = fixture("tests/data/multicoil_maps.h5");
    let file_maps = format!("{mri}\ncoil_maps = \"file\"");
    std::fs::write(&exp, experiment(&file_maps).replace(&*file.to_string_lossy(), &with_maps.to_string_lossy()))
        .unwrap();
    let run = dir.path().join("maps");
    let out = ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
    assert!(out.contains("1 training / 1 validation images of [16, 32, 32]"), "{out}");
    let recon = json(&run.join("summary.json"))["last"]["val"]["recon"]["psnr"].as_f64().unwrap();
    assert!(recon.is_finite() && recon > 10.0, "PSNR {recon}");
    let report = dir.path().join("maps.eval");
    ok(&unroll(&["eval", "--checkpoint", s(&run), "--data", s(&with_maps), "--out", s(&report)], dir.path()));
    let stderr =
        fails(&unroll(&["eval", "--checkpoint", s(&run), "--data", s(&file), "--out", s(&report)], dir.path()));
    assert!(stderr.contains("brain_multicoil.h5") && stderr.contains("sensitivity_map"), "{stderr}");
    std::fs::write(&exp, experiment(&file_maps)).unwrap();
    let stderr = fails(&unroll(&["train", s(&exp), "--out", s(&dir.path().join("r4"))], dir.path()));
    assert!(stderr.contains("brain_multicoil.h5") && stderr.contains("sensitivity_map"), "{stderr}");
    let nifti =
        tiny_experiment_text(1).replace("center_fraction = 0.1 }", "center_fraction = 0.1 }\ncoil_maps = \"file\"");
    std::fs::write(&exp, nifti).unwrap();
    let stderr = fails(&unroll(&["train", s(&exp), "--out", s(&dir.path().join("r5"))], dir.path()));
    assert!(stderr.contains("coil_maps") && stderr.contains("fastmri"), "{stderr}");
}

/// The MRI models (small configurations) train on the tiny brain experiment, evaluate on the
/// shipped fastMRI-layout file, export and infer on k-space; paired with a blur problem they are
/// refused when the config is loaded, naming the model and the problem.
#[test]
fn mri_models_train_evaluate_export_and_infer() {
    let dir = tempfile::tempdir().unwrap();
    let models = [
        (
            "recurrentvarnet",
            "steps = 2\nhidden = 8\nlayers = 2\ninitializer = { channels = [8, 8], dilations = [1, 2], multiscale = 2 }",
        ),
        (
            "cirim",
            "cascades = 2\nsteps = 2\nfilters = 8\n[loss]\nterms = [{ kind = \"l1\", weight = 1.0 }]\niterates = { kind = \"logspace\" }",
        ),
        ("e2e_varnet", "cascades = 2\nchans = 4\npools = 2"),
    ];
    let pgd = "kind = \"unrolled_pgd\"\niterations = 2\nfeatures = 8\nlayers = 3";
    for (kind, options) in models {
        let exp = dir.path().join(format!("{kind}.toml"));
        std::fs::write(&exp, tiny_experiment_text(3).replace(pgd, &format!("kind = \"{kind}\"\n{options}"))).unwrap();
        let run = dir.path().join(kind);
        ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
        let last = &json(&run.join("summary.json"))["last"];
        let (loss, recon) = (last["train_loss"].as_f64().unwrap(), last["val"]["recon"]["psnr"].as_f64().unwrap());
        assert!(loss.is_finite() && recon.is_finite() && recon > 10.0, "{kind}: loss {loss}, PSNR {recon}");

        let evaluated = dir.path().join(format!("{kind}.eval"));
        let kspace = fixture("datasets/fastmri/brain_multicoil.h5");
        ok(&unroll(&["eval", "--checkpoint", s(&run), "--data", s(&kspace), "--out", s(&evaluated)], dir.path()));
        let psnr = json(&evaluated.join("metrics.json"))["mean"]["recon"]["psnr"].as_f64().unwrap();
        assert!(psnr.is_finite() && psnr > 10.0, "{kind}: eval PSNR {psnr}");

        let (values, _) = export_and_infer(dir.path(), &run, kind, "mri");
        assert!(values.iter().all(|v| v.is_finite()), "{kind}");

        // Real k-space through the fastmri source (the shipped 8-coil file, 96×96 after its crop).
        let fastmri = format!(
            "seed = 3\n[data]\nsource = {{ kind = \"fastmri\", path = \"{}\" }}\nsplit = {{ train = 0.5, val = 0.5, contiguous = true }}\n\
             [data.problem]\nkind = \"multicoil_mri\"\nmask = {{ kind = \"equispaced_fraction\", acceleration = 4.0, center_fraction = 0.08 }}\n\
             [model]\nkind = \"{kind}\"\n{options}\n[train]\nepochs = 1\nbatch_size = 1\n",
            kspace.display()
        );
        let real = dir.path().join(format!("{kind}_fastmri.toml"));
        std::fs::write(&real, fastmri).unwrap();
        let run = dir.path().join(format!("{kind}_fastmri"));
        ok(&unroll(&["train", s(&real), "--out", s(&run)], dir.path()));
        let recon = json(&run.join("summary.json"))["last"]["val"]["recon"]["psnr"].as_f64().unwrap();
        assert!(recon.is_finite() && recon > 10.0, "{kind} on fastMRI k-space: PSNR {recon}");

        let blur = "kind = \"blur\"\nsigma = [1.0, 2.0]";
        let mri = "kind = \"multicoil_mri\"\ncoils = 4\nmask = { kind = \"equispaced_fraction\", acceleration = 4.0, center_fraction = 0.1 }";
        std::fs::write(&exp, std::fs::read_to_string(&exp).unwrap().replace(mri, blur)).unwrap();
        let stderr = fails(&unroll(&["train", s(&exp), "--out", s(&dir.path().join("refused"))], dir.path()));
        assert!(stderr.contains(&format!("`{kind}`")) && stderr.contains("`blur`"), "{stderr}");
    }
}

/// Unrolled PnP-ADMM deblurs patches of the shipped photos (several crops per image): it trains past
/// the blurred input, evaluates on the held-out split, exports, and infers on a blurred image.
#[test]
fn pnp_admm_deblurs_photo_patches_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = format!(
        "seed = 5\n[data]\nsource = {{ kind = \"image_folder\", path = \"{}\" }}\n\
         split = {{ train = 0.5, val = 0.25, test = 0.25 }}\ncrop = [32, 32]\ncrops_per_image = 4\n\
         [data.problem]\nkind = \"blur\"\nsigma = [1.0, 2.0]\nnoise = {{ kind = \"gaussian\", sigma = 0.01 }}\n\
         [model]\nkind = \"pnp_admm\"\niterations = 2\ndenoiser = {{ depth = 3, features = 8 }}\n\
         [train]\nepochs = 3\nbatch_size = 4\nlog_every = 1\n",
        fixture("datasets/photos").display()
    );
    let exp = dir.path().join("pnp.toml");
    std::fs::write(&exp, experiment).unwrap();
    let run = dir.path().join("run");
    let out = ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
    assert!(out.contains("baseline: Wiener"), "{out}");
    let last = &json(&run.join("summary.json"))["last"];
    let (loss, recon, input) = (
        last["train_loss"].as_f64().unwrap(),
        last["val"]["recon"]["psnr"].as_f64().unwrap(),
        last["val"]["input"]["psnr"].as_f64().unwrap(),
    );
    assert!(loss.is_finite() && recon > input, "loss {loss}, PSNR {recon:.2} dB vs the blurred input's {input:.2} dB");

    let evaluated = dir.path().join("eval");
    ok(&unroll(&["eval", "--checkpoint", s(&run), "--out", s(&evaluated)], dir.path()));
    let metrics = json(&evaluated.join("metrics.json"));
    let psnr = metrics["mean"]["recon"]["psnr"].as_f64().unwrap();
    assert!(psnr.is_finite() && psnr > 10.0, "eval PSNR {psnr}: {metrics}");

    let (values, _) = export_and_infer(dir.path(), &run, "pnp", "blur");
    assert!(values.iter().all(|v| v.is_finite()));
    // Only a learned proximal network has a regulariser to evaluate.
    let stderr = fails(&unroll(&["prior", "--model", s(&dir.path().join("pnp.pkg"))], dir.path()));
    assert!(stderr.contains("model `lpn`") && stderr.contains("`pnp_admm`"), "{stderr}");
    // Nor can it serve as the denoiser of plug-and-play: it was trained on deblurring.
    let stderr =
        fails(&unroll(&["pnp", "--denoiser", s(&dir.path().join("pnp.pkg")), "--experiment", s(&exp)], dir.path()));
    assert!(stderr.contains("trained on `blur`"), "{stderr}");
}

/// The galaxy unrolled ADMM (a small configuration) trains on simulated galaxies (the shipped HST
/// catalogue, ground-based PSFs, SNR-scaled noise; a finite validation score: two tiny epochs say
/// nothing about its quality), evaluates, infers a FITS-free observation with its PSF through an
/// exported package, and runs the shear benchmark, where deconvolution (Richardson–Lucy) measures
/// shapes better than the raw observation at high SNR. Paired with MRI it is refused when the
/// config is loaded, and `shear` refuses a model of another problem.
#[test]
fn galaxy_admm_trains_on_simulated_galaxies_and_measures_shear() {
    let dir = tempfile::tempdir().unwrap();
    let galaxies = fixture("datasets/galaxies");
    let experiment = format!(
        "seed = 3\n[data]\nsplit = {{ train = 0.1, val = 0.05, test = 0.05, contiguous = true }}\n\
         [data.source]\nkind = \"galaxies\"\ncatalog = \"{0}/real_galaxy_catalog_23.5_example_fits.fits\"\n\
         psfs = \"{0}/real_galaxy_PSF_images.fits\"\nstamps = [\"{0}/AEGIS_F814w_images_02.fits\"]\n\
         per_galaxy = 2\nsize = 32\n[data.problem]\nkind = \"galaxy\"\n\
         [model]\nkind = \"galaxy_admm\"\niterations = 2\nlevels = [4, 8, 8, 8]\nblocks = 1\n\
         [loss]\nterms = [{{ kind = \"multiscale_l1\", scales = 3, weight = 1.0 }}]\n\
         [train]\nepochs = 2\nbatch_size = 8\nlog_every = 1\n",
        galaxies.display()
    );
    let exp = dir.path().join("galaxy.toml");
    std::fs::write(&exp, &experiment).unwrap();
    let run = dir.path().join("run");
    let out = ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
    assert!(out.contains("input (observation)") && out.contains("baseline: Wiener"), "{out}");
    let recon = json(&run.join("summary.json"))["last"]["val"]["recon"]["psnr"].as_f64().unwrap();
    assert!(recon.is_finite(), "PSNR {recon}");
    let evaluated = dir.path().join("eval");
    ok(&unroll(&["eval", "--checkpoint", s(&run), "--out", s(&evaluated)], dir.path()));
    assert!(json(&evaluated.join("metrics.json"))["mean"]["recon"]["psnr"].as_f64().unwrap().is_finite());

    // Inference needs the observation's PSF.
    let package = dir.path().join("galaxy.pkg");
    ok(&unroll(&["export", "--checkpoint", s(&run), "--out", s(&package)], dir.path()));
    let (observation, _) = measurement(dir.path(), "galaxy");
    let psf = dir.path().join("psf.png");
    image::GrayImage::from_fn(32, 32, |x, y| {
        let r2 = (x as f32 - 16.0).powi(2) + (y as f32 - 16.0).powi(2);
        image::Luma([(255.0 * (-r2 / 8.0).exp()) as u8])
    })
    .save(&psf)
    .unwrap();
    let infer = |extra: &[&str]| {
        let args =
            [&["infer", "--model", s(&package), "--input", s(&observation), "--out", "inferred"], extra].concat();
        unroll(&args, dir.path())
    };
    assert!(fails(&infer(&[])).contains("--psf"));
    ok(&infer(&["--psf", s(&psf)]));
    let bytes = std::fs::read(dir.path().join("inferred/recon.npy")).unwrap();
    assert_eq!(npyz::NpyFile::new(&bytes[..]).unwrap().shape(), [1, 32, 32]);

    let shear = dir.path().join("shear");
    let args = ["shear", "--model", s(&package), "--snr", "20,200", "--richardson-lucy", "20", "--out", s(&shear)];
    let out = ok(&unroll(&args, dir.path()));
    assert!(out.contains("Richardson–Lucy (20)") && out.contains("galaxy_admm (model)"), "{out}");
    let report = json(&shear.join("shear.json"));
    let methods = report["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 5, "{report}");
    let errors =
        |m: usize| -> Vec<f64> { methods[m][1].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
    assert!((0..5).all(|m| errors(m).iter().all(|e| (0.0..=1.0).contains(e))), "{report}");
    assert!(errors(3)[1] < errors(0)[1], "RL at SNR 200 measures shapes better than the observation: {report}");
    assert!(shear.join("shear.png").exists());

    let mri = "[data.problem]\nkind = \"multicoil_mri\"\ncoils = 4\n\
               mask = { kind = \"equispaced_fraction\", acceleration = 4.0, center_fraction = 0.1 }";
    std::fs::write(&exp, experiment.replace("[data.problem]\nkind = \"galaxy\"", mri)).unwrap();
    let stderr = fails(&unroll(&["train", s(&exp), "--out", s(&dir.path().join("refused"))], dir.path()));
    assert!(stderr.contains("`galaxy_admm`") && stderr.contains("`multicoil_mri`"), "{stderr}");
    let (_, other) = trained_package(&dir.path().join("other"), 1);
    let stderr = fails(&unroll(&["shear", "--model", s(&other)], dir.path()));
    assert!(stderr.contains("not `galaxy`"), "{stderr}");
}

/// A learned proximal network denoises shipped MNIST digits through the CLI: L1 pretraining, then
/// proximal matching at a tenth of the learning rate; the validation PSNR rises over the run (the
/// network starts near zero, its z-path weights at `exp(−10)`), and the run evaluates, exports and
/// infers.
#[test]
fn lpn_trains_both_stages_on_digits_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = format!(
        "seed = 3\n[data]\nsource = {{ kind = \"digits\", path = \"{}\", limit = 96 }}\n\
         split = {{ train = 0.5, val = 0.25, test = 0.25 }}\n\
         [data.problem]\nkind = \"denoising\"\nnoise = {{ kind = \"gaussian\", sigma = 0.1 }}\n\
         [model]\nkind = \"lpn\"\nlayout = \"mnist\"\nhidden = 16\n\
         [loss]\nterms = [{{ kind = \"l1\", weight = 1.0 }}]\n[loss.proximal_matching]\n\
         [optimizer]\nlr = 0.01\n[train]\nepochs = 4\nbatch_size = 16\nlog_every = 1\n",
        fixture("datasets/digits/mnist_5k.csv.gz").display()
    );
    let exp = dir.path().join("lpn.toml");
    std::fs::write(&exp, experiment).unwrap();
    let run = dir.path().join("run");
    let out = ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
    assert!(out.contains("baseline: noisy image"), "{out}");
    // 48 training digits in batches of 16: 12 steps, the last 6 on proximal matching.
    let log = std::fs::read_to_string(run.join("train_log.csv")).unwrap();
    let rates: Vec<f64> = log.lines().skip(1).map(|l| l.split(',').nth(3).unwrap().parse().unwrap()).collect();
    assert_eq!(rates.len(), 12, "{log}");
    assert!(rates[..6].iter().all(|&r| r == 0.01) && rates[6..].iter().all(|&r| (r - 0.001).abs() < 1e-12), "{log}");
    let history = std::fs::read_to_string(run.join("validation.csv")).unwrap();
    let summary = json(&run.join("summary.json"));
    let last = summary["last"]["val"]["recon"]["psnr"].as_f64().unwrap();
    let first: f64 = history.lines().nth(1).and_then(|l| l.split(',').nth(3)).unwrap().parse().unwrap();
    assert!(last.is_finite() && last > first, "validation PSNR {first} → {last}:\n{history}");

    let evaluated = dir.path().join("eval");
    ok(&unroll(&["eval", "--checkpoint", s(&run), "--out", s(&evaluated)], dir.path()));
    let psnr = json(&evaluated.join("metrics.json"))["mean"]["recon"]["psnr"].as_f64().unwrap();
    assert!(psnr.is_finite(), "eval PSNR {psnr}");
    let package = dir.path().join("lpn.pkg");
    ok(&unroll(&["export", "--checkpoint", s(&run), "--out", s(&package)], dir.path()));
    let noisy = dir.path().join("noisy.png");
    image::GrayImage::from_fn(28, 28, |x, y| image::Luma([((x * 9 + y * 5) % 256) as u8])).save(&noisy).unwrap();
    let inferred = dir.path().join("denoised");
    ok(&unroll(&["infer", "--model", s(&package), "--input", s(&noisy), "--out", s(&inferred)], dir.path()));
    let bytes = std::fs::read(inferred.join("recon.npy")).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), [1, 28, 28]);
    assert!(npy.into_vec::<f32>().unwrap().iter().all(|v| v.is_finite()));

    // The learned regulariser on clean and corrupted test digits.
    let report = dir.path().join("prior");
    let out = ok(&unroll(
        &["prior", "--model", s(&package), "--perturb", "--limit", "8", "--iterations", "300", "--out", s(&report)],
        dir.path(),
    ));
    assert!(out.contains("learned regulariser"), "{out}");
    let summaries = json(&report.join("prior.json"));
    let summaries = summaries.as_array().unwrap();
    assert_eq!(summaries.len(), 13, "clean and 4 levels of 3 corruptions");
    assert!(summaries.iter().all(|s| s["mean"].as_f64().unwrap().is_finite() && s["images"] == 8), "{summaries:?}");
    assert!(report.join("prior.png").exists() && report.join("prior.csv").exists());

    // The LPN as the fixed prox of PnP-ADMM and PnP-PGD, deblurring 40×40 photo crops patch-wise
    // (2×2 overlapping patches of the 28×28 it was trained on); the experiment's model is unused.
    let deblur = dir.path().join("deblur.toml");
    std::fs::write(
        &deblur,
        format!(
            "seed = 1\n[data]\nsource = {{ kind = \"image_folder\", path = \"{}\" }}\n\
             split = {{ train = 0.5, val = 0.25, test = 0.25 }}\ncrop = [40, 40]\n\
             [data.problem]\nkind = \"blur\"\nsigma = [1.0, 1.0]\nnoise = {{ kind = \"gaussian\", sigma = 0.02 }}\n\
             [model]\nkind = \"dncnn\"\n[train]\nepochs = 1\n",
            fixture("datasets/photos").display()
        ),
    )
    .unwrap();
    let pnp = |solver: &str, gammas: &str, report: &std::path::Path, set: &str| {
        let experiment = ["pnp", "--denoiser", s(&package), "--experiment", s(&deblur), "--set", set];
        let rest = ["--solver", solver, "--iterations", "3", "--gamma", gammas, "--out", s(report)];
        let clip: &[&str] = if solver == "pgd" { &["--clip"] } else { &[] };
        unroll(&[&experiment[..], &rest[..], clip].concat(), dir.path())
    };
    // `--set` reaches the experiment file: an unknown key is refused by name.
    let refused = fails(&pnp("pgd", "1", &dir.path().join("unused"), "data.problem.radius=3"));
    assert!(refused.contains("radius"), "{refused}");
    let report = dir.path().join("pnp_pgd");
    let printed = ok(&pnp("pgd", "1", &report, "data.problem.sigma=[2.0, 2.0]"));
    assert!(printed.contains("Wiener") && printed.contains("clipped to [0, 1]"), "{printed}");
    let psnr = json(&report.join("metrics.json"))["mean"]["recon"]["psnr"].as_f64().unwrap();
    assert!(psnr.is_finite(), "PnP-PGD: PSNR {psnr}");
    // A sweep over γ: one report per value and their means side by side.
    let report = dir.path().join("pnp_admm");
    assert!(ok(&pnp("admm", "1,4", &report, "data.problem.noise.sigma=0.04")).contains("γ sweep"));
    let sweep = json(&report.join("sweep.json"));
    assert_eq!(sweep.as_array().map(Vec::len), Some(2), "{sweep}");
    for (entry, gamma) in sweep.as_array().unwrap().iter().zip(["1", "4"]) {
        let psnr = json(&report.join(format!("gamma_{gamma}/metrics.json")))["mean"]["recon"]["psnr"].as_f64().unwrap();
        assert_eq!(entry["mean"]["recon"]["psnr"].as_f64(), Some(psnr), "{sweep}");
    }
}

/// The 1-D Laplacian toy at 1 % of the reference's steps: the learned prox is already a shrinkage
/// within 1 of soft-thresholding everywhere on [−4, 4] (the identity, or the untrained network's
/// near-constant map, are off by at least 1), and the report is written.
#[test]
fn lpn_toy_learns_a_shrinkage() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("toy");
    let printed = ok(&unroll(&["lpn-toy", "--scale", "0.01", "--out", s(&out)], dir.path()));
    assert!(printed.contains("max |f(y) − soft(y)|"), "{printed}");
    let summary = json(&out.join("toy.json"));
    let (l1, pm) = (summary["l1_max_error"].as_f64().unwrap(), summary["pm_max_error"].as_f64().unwrap());
    assert!(l1 < 1.0 && pm < 1.0, "max errors: L1 {l1}, proximal matching {pm}");
    assert_eq!((summary["l1_steps"].as_u64(), summary["pm_steps"].as_u64()), (Some(200), Some(240)));
    assert!(out.join("toy.png").exists() && out.join("toy.csv").exists());
}

/// DR-CG-Net (a small configuration) trains on compressed sensing (DCT basis) and CT past the adjoint input,
/// evaluates, exports and infers; it is refused for MRI, which has no real-image view.
#[test]
fn drcgnet_trains_on_compressed_sensing_and_ct_and_is_refused_for_mri() {
    let dir = tempfile::tempdir().unwrap();
    let pgd = "kind = \"unrolled_pgd\"\niterations = 2\nfeatures = 8\nlayers = 3";
    let drcgnet = "kind = \"drcgnet\"\niterations = 2\nz_steps = 2\ndepth = 3\nfeatures = 8\ncg_iterations = 10\ncovariance = { kind = \"const\", initial = 10.0 }";
    let mri = "kind = \"multicoil_mri\"\ncoils = 4\nmask = { kind = \"equispaced_fraction\", acceleration = 4.0, center_fraction = 0.1 }";
    // Compressed sensing in the DCT basis (as the reference runs it), CT in pixels.
    let problems = [
        (
            "cs",
            "kind = \"compressed_sensing\"\nratio = 0.25\nnoise = { kind = \"snr\", db = 40.0 }",
            "\nbasis = \"dct\"",
        ),
        ("ct", "kind = \"tomography\"\nangles = 30\nnoise = { kind = \"snr\", db = 40.0 }", ""),
    ];
    for (name, problem, basis) in problems {
        let exp = dir.path().join(format!("{name}.toml"));
        let model = format!("{drcgnet}{basis}");
        std::fs::write(&exp, tiny_experiment_text(6).replace(pgd, &model).replace(mri, problem)).unwrap();
        let run = dir.path().join(name);
        ok(&unroll(&["train", s(&exp), "--out", s(&run)], dir.path()));
        let last = &json(&run.join("summary.json"))["last"]["val"];
        let (recon, input) = (last["recon"]["psnr"].as_f64().unwrap(), last["input"]["psnr"].as_f64().unwrap());
        assert!(recon > input, "{name}: PSNR {recon:.2} dB vs the adjoint's {input:.2} dB");
        let evaluated = dir.path().join(format!("{name}_eval"));
        ok(&unroll(&["eval", "--checkpoint", s(&run), "--out", s(&evaluated)], dir.path()));
        let (values, _) = export_and_infer(dir.path(), &run, &format!("drcgnet_{name}"), name);
        assert!(values.iter().all(|v| v.is_finite()), "{name}");
    }
    let exp = dir.path().join("mri.toml");
    std::fs::write(&exp, tiny_experiment_text(1).replace(pgd, drcgnet)).unwrap();
    let stderr = fails(&unroll(&["train", s(&exp), "--out", s(&dir.path().join("refused"))], dir.path()));
    assert!(stderr.contains("`drcgnet`") && stderr.contains("real-image view"), "{stderr}");
}
