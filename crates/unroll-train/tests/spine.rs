//! Checkpoints are atomic and resumable; configs parse, validate and take overrides; schedules;
//! the FITS and DICOM sources load through an experiment's `[data]`.

use std::path::Path;
use std::sync::Arc;

use burn::prelude::*;
use unroll_data::{SourceConfig, Split};
use unroll_models::{ModelConfig, UnrolledPgdConfig};
use unroll_train::checkpoint::{self, LoopState};
use unroll_train::config::{Decay, ExperimentConfig, ScheduleConfig};
use unroll_train::trainer::optimizer;

const EXPERIMENT: &str = r#"
[data]
source = { kind = "image_folder", path = "images" }
[data.problem]
kind = "denoising"
noise = { kind = "gaussian", sigma = 0.1 }
[model]
kind = "unrolled_pgd"
iterations = 2
[train]
epochs = 3
"#;

fn parse(text: &str, overrides: &[&str]) -> Result<ExperimentConfig, String> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    ExperimentConfig::parse(text, Path::new("/exp/test.toml"), &overrides).map_err(|e| e.to_string())
}

#[test]
fn configs_parse_with_defaults_and_resolve_paths() {
    let config = parse(EXPERIMENT, &[]).unwrap();
    assert_eq!(config.name(), "test");
    assert_eq!(config.train.batch_size, 4);
    assert_eq!(config.data.source.path(), Path::new("/exp/images"));
    assert!(matches!(config.model, ModelConfig::UnrolledPgd(UnrolledPgdConfig { iterations: 2, .. })));
}

#[test]
fn overrides_are_type_checked() {
    let config = parse(EXPERIMENT, &["train.epochs=7", "optimizer.lr=3e-4", "model.tied=true"]).unwrap();
    assert_eq!(config.train.epochs, 7);
    assert_eq!(config.optimizer.lr, 3e-4);
    let err = parse(EXPERIMENT, &["train.epochs=seven"]).unwrap_err();
    assert!(err.contains("test.toml") && err.contains("epochs") && err.contains("seven"), "{err}");
    let err = parse(EXPERIMENT, &["train.epoch=1"]).unwrap_err();
    assert!(err.contains("epoch"), "{err}");
    assert!(parse(EXPERIMENT, &["noequals"]).unwrap_err().contains("key=value"));
}

#[test]
fn semantic_errors_name_the_key() {
    let err = parse(EXPERIMENT, &["optimizer.lr=-1.0"]).unwrap_err();
    assert!(err.contains("optimizer.lr"), "{err}");
    let err = parse(&EXPERIMENT.replace("sigma = 0.1", "sigma = -0.1"), &[]).unwrap_err();
    assert!(err.contains("data.problem") && err.contains("sigma"), "{err}");
}

#[test]
fn schedules_warm_up_and_decay() {
    let cosine = ScheduleConfig { warmup_steps: 4, decay: Decay::Cosine { min_factor: 0.1 } };
    assert!((cosine.lr(1.0, 0, 104) - 0.25).abs() < 1e-12);
    assert!((cosine.lr(1.0, 4, 104) - 1.0).abs() < 1e-12);
    assert!((cosine.lr(1.0, 104, 104) - 0.1).abs() < 1e-12);
    let step = ScheduleConfig { warmup_steps: 0, decay: Decay::Step { every: 10, gamma: 0.5 } };
    assert!((step.lr(1.0, 25, 100) - 0.25).abs() < 1e-12);
}

#[test]
fn checkpoints_are_atomic_and_round_trip() {
    use burn::optim::{GradientsParams, ModuleOptimizer};
    use unroll_models::{Model, Reconstructor};
    use unroll_physics::{Identity, Signal};

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let config = parse(EXPERIMENT, &[]).unwrap();
    let device = Device::flex();
    // A denoising batch, and a training step on the MSE of the reconstruction (autodiff device).
    let adevice = device.clone().autodiff();
    let target = Tensor::<4>::zeros([2, 1, 8, 8], &adevice).randn_like(1);
    let noisy = target.clone() + target.randn_like(2) * 0.1;
    let context = config.model_context(unroll_train::config::ModelShape { channels: 1, image_shape: [1, 8, 8] });
    let train_step = |model: Model, optim: &mut ModuleOptimizer| {
        let error = model.reconstruct_final(&Identity, noisy.clone()) - target.clone();
        let grads = GradientsParams::from_grads((error.clone() * error).mean().backward(), &model);
        optim.step(1e-3, model, grads)
    };
    // Two steps before saving, so the optimiser holds non-trivial moments and a step count.
    let mut model = config.model.init(&context, &adevice);
    let mut optim = optimizer(&config);
    for _ in 0..2 {
        model = train_step(model, &mut optim);
    }
    let state = LoopState { step: 5, epoch: 1, batch_in_epoch: 2, ..Default::default() };
    checkpoint::save(out, &model, &optim, &state).unwrap();
    // No temporary files are left behind.
    let names: Vec<String> =
        std::fs::read_dir(out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["checkpoint".to_string()]);
    // A crash while writing the next checkpoint (a half-written checkpoint.tmp) loses nothing.
    std::fs::create_dir_all(out.join("checkpoint.tmp")).unwrap();
    std::fs::write(out.join("checkpoint.tmp/model.bpk"), b"partial").unwrap();
    let dir_found = checkpoint::find(out).unwrap();
    let (loaded, mut loaded_optim, loaded_state) =
        checkpoint::load(&dir_found, config.model.init(&context, &adevice), optimizer(&config)).unwrap();
    assert_eq!(loaded_state, state);
    assert_eq!(checkpoint::model_bytes(&loaded).unwrap(), checkpoint::model_bytes(&model).unwrap());
    // The resumed pair takes the same next step as the original, bit for bit, and that step is not
    // the one a fresh optimiser takes (so the optimiser state really was restored).
    let fresh_step = checkpoint::model_bytes(&train_step(loaded.clone(), &mut optimizer(&config))).unwrap();
    let resumed_step = checkpoint::model_bytes(&train_step(loaded, &mut loaded_optim)).unwrap();
    let original_step = checkpoint::model_bytes(&train_step(model.clone(), &mut optim)).unwrap();
    assert!(resumed_step == original_step, "the resumed optimiser's step differs from the original's");
    assert!(fresh_step != original_step, "a fresh optimiser takes the same step: the test shows nothing");
    // A crash between the two renames leaves only checkpoint.old, which is still found.
    std::fs::rename(out.join("checkpoint"), out.join("checkpoint.old")).unwrap();
    assert_eq!(checkpoint::find(out).unwrap(), out.join("checkpoint.old"));
    // The next save replaces everything cleanly.
    checkpoint::save(out, &model, &optim, &LoopState { step: 6, ..state }).unwrap();
    assert!(!out.join("checkpoint.old").exists() && !out.join("checkpoint.tmp").exists());
    // A corrupt checkpoint is an error naming the file, not a panic.
    std::fs::write(out.join("checkpoint/model.bpk"), b"garbage").unwrap();
    let err = checkpoint::load(&out.join("checkpoint"), config.model.init(&context, &device), optimizer(&config))
        .err()
        .unwrap();
    assert!(err.to_string().contains("model.bpk"), "{err}");
}

/// The data of an experiment in `experiments/` reading `source` (paths relative to that folder),
/// with `crop`, loaded: the config and its images, or the error naming the file.
fn source_images(source: &str, crop: &str) -> Result<(ExperimentConfig, Vec<unroll_data::Image>), String> {
    let text = EXPERIMENT
        .replace(r#"source = { kind = "image_folder", path = "images" }"#, &format!("source = {source}\n{crop}"));
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/test.toml");
    let config = ExperimentConfig::parse(&text, &file, &[]).map_err(|e| e.to_string())?;
    let images = config.data.source.load().map_err(|e| e.to_string())?;
    Ok((config, images))
}

fn range_of(image: &unroll_data::Image) -> (f32, f32) {
    image.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

#[test]
fn fits_and_dicom_sources_load_images_scaled_to_unit_range() {
    // The CT head in HU (-3995..1812): shifted by its minimum, then divided by the range.
    let (config, ct) = source_images(r#"{ kind = "dicom", path = "../datasets/ct/693_UNCI.dcm" }"#, "").unwrap();
    assert!(matches!(&config.data.source, SourceConfig::Dicom { path } if path.is_absolute()));
    assert_eq!((ct.len(), ct[0].height, ct[0].width), (1, 512, 512));
    assert_eq!(range_of(&ct[0]), (0.0, 1.0));
    assert_eq!(ct[0].data[256 * 512 + 256], (32.0 + 3995.0) / (1812.0 + 3995.0));

    // The 100 HST PSFs (positive): each divided by its maximum; HDUs [10, 20).
    let psfs = r#"{ kind = "fits", path = "../datasets/galaxies/real_galaxy_PSF_images.fits", hdus = [10, 20] }"#;
    let (config, images) = source_images(psfs, "crop = [36, 36]").unwrap();
    assert!(matches!(config.data.source, SourceConfig::Fits { hdus: Some([10, 20]), .. }));
    assert_eq!(images.len(), 10);
    assert!(images.iter().all(|image| range_of(image).0 > 0.0 && range_of(image).1 == 1.0));
    // Their sizes differ (37 or 39 a side): a crop makes them one size, its absence is an error
    // naming the file.
    let dataset = config.data.dataset(Arc::new(images.clone()), Split::Train, 1).unwrap();
    assert_eq!(dataset.item_shape(), Some([1, 36, 36]));
    let (uncropped, _) = source_images(psfs, "").unwrap();
    let message = uncropped.data.dataset(Arc::new(images), Split::Train, 1).unwrap_err();
    assert!(message.contains("different sizes") && message.contains("real_galaxy_PSF_images.fits"), "{message}");
    let message = source_images(&psfs.replace("[10, 20]", "[10, 101]"), "").unwrap_err();
    assert!(
        message.contains("real_galaxy_PSF_images.fits") && message.contains("outside the file's 0..100"),
        "{message}"
    );
    assert!(source_images(&psfs.replace("hdus", "hdu"), "").unwrap_err().contains("hdu"));

    // A folder of DICOM files: every `.dcm` file's frames, by file name.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/ct/693_UNCI.dcm"),
        dir.path().join("b.dcm"),
    )
    .unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../unroll-data/tests/data/MR_small.dcm"),
        dir.path().join("a.dcm"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not DICOM").unwrap();
    let folder = format!("{{ kind = \"dicom\", path = \"{}\" }}", dir.path().display());
    let (_, series) = source_images(&folder, "").unwrap();
    let sizes: Vec<_> = series.iter().map(|image| (image.height, image.width)).collect();
    assert_eq!(sizes, [(64, 64), (512, 512)]);
    assert_eq!(series[1], ct[0]);
    assert_eq!(range_of(&series[0]), (127.0 / 2145.0, 1.0));
}

/// Every shipped experiment file loads and validates (model, loss, schedule, model↔problem pairing).
#[test]
fn every_shipped_experiment_loads() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension() == Some("toml".as_ref()) {
            let config = ExperimentConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            names.push(config.name().to_string());
        }
    }
    for name in ["quickstart", "recurrentvarnet_brain", "cirim_paper", "e2e_varnet_brain", "lpn_mnist", "drcgnet_cs"] {
        assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
    }
}

/// Model configs survive the TOML round trip of saved runs and packages, switches included
/// (`initializer = false` must not come back as the default initialiser).
#[test]
fn model_configs_round_trip_through_toml() {
    use unroll_models::{CirimConfig, E2eVarNetConfig, ModelConfig, RecurrentCell, RecurrentVarNetConfig};
    for model in [
        ModelConfig::RecurrentVarNet(RecurrentVarNetConfig { initializer: None, shared: true, ..Default::default() }),
        ModelConfig::RecurrentVarNet(RecurrentVarNetConfig::default()),
        ModelConfig::Cirim(CirimConfig { cell: RecurrentCell::Gru, explicit_dc: true, ..Default::default() }),
        ModelConfig::E2eVarnet(E2eVarNetConfig { coil_refinement: false, ..Default::default() }),
    ] {
        let text = toml::to_string(&model).unwrap();
        assert_eq!(toml::from_str::<ModelConfig>(&text).unwrap(), model, "{text}");
    }
}
