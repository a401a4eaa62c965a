//! Splits, crops, augmentation and simulation are deterministic and shaped as promised.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::prelude::*;
use unroll_data::readers::Image;
use unroll_data::{
    AugmentConfig, CoilMapSource, DataConfig, ProblemConfig, Simulation, SimulationBatcher, SimulationVisitor,
    SourceConfig, Split, SplitConfig,
};
use unroll_physics::{BlurBoundary, LinearOperator, MaskConfig, NoiseModel, Physics, Signal};

fn images(count: usize) -> Arc<Vec<Image>> {
    Arc::new(
        (0..count)
            .map(|i| Image {
                channels: 1,
                height: 20,
                width: 24,
                data: (0..480).map(|p| ((p * (i + 1)) % 17) as f32 / 16.0).collect(),
            })
            .collect(),
    )
}

fn config(problem: ProblemConfig) -> DataConfig {
    DataConfig {
        source: SourceConfig::ImageFolder { path: "unused".into(), grayscale: true },
        problem,
        split: SplitConfig { train: 0.6, val: 0.2, test: 0.2, contiguous: false, train_limit: None },
        crop: Some([16, 16]),
        crops_per_image: 1,
        augment: AugmentConfig { flip: true },
    }
}

#[test]
fn splits_are_disjoint_deterministic_and_complete() {
    let split = SplitConfig { train: 0.6, val: 0.2, test: 0.2, contiguous: false, train_limit: None };
    let parts: Vec<Vec<usize>> =
        [Split::Train, Split::Val, Split::Test].iter().map(|&s| split.indices(10, s, 3)).collect();
    assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), [6, 2, 2]);
    let mut all: Vec<usize> = parts.concat();
    all.sort();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert_eq!(split.indices(10, Split::Val, 3), parts[1]);
    assert_ne!(split.indices(10, Split::Train, 4), parts[0], "another seed, another split");
    let contiguous = SplitConfig { contiguous: true, ..split.clone() };
    assert_eq!(contiguous.indices(10, Split::Val, 3), vec![6, 7]);
    // A training limit keeps the first images of the training split and leaves the others alone.
    let limited = SplitConfig { train_limit: Some(4), ..split.clone() };
    assert_eq!(limited.indices(10, Split::Train, 3), parts[0][..4]);
    assert_eq!(limited.indices(10, Split::Val, 3), parts[1]);
    assert_eq!(SplitConfig { train_limit: Some(60), ..split }.indices(10, Split::Train, 3), parts[0]);
}

#[test]
fn training_items_vary_by_epoch_and_validation_items_do_not() {
    let cfg = config(ProblemConfig::Denoising { noise: NoiseModel::Gaussian { sigma: 0.1 } });
    let train = cfg.dataset(images(10), Split::Train, 1).unwrap();
    let val = cfg.dataset(images(10), Split::Val, 1).unwrap();
    let item = train.at_epoch(0).get(0).unwrap();
    assert_eq!((item.image.height, item.image.width), (16, 16));
    assert_eq!(train.at_epoch(0).get(0).unwrap().image.data, item.image.data, "same epoch, same item");
    let other = train.at_epoch(1).get(0).unwrap();
    assert!(other.seed != item.seed, "a new epoch draws new measurement seeds");
    assert_eq!(val.at_epoch(0).get(1).unwrap().seed, val.at_epoch(5).get(1).unwrap().seed);
    // Validation takes the centre crop.
    let v = val.get(0).unwrap();
    let source = &images(10)[cfg.split.indices(10, Split::Val, 1)[0]];
    assert_eq!(v.image.data[0], source.data[2 * 24 + 4]);
}

/// With several crops per image, each image gives that many items: new positions every epoch for
/// training, fixed positions (not all the centre) for validation.
#[test]
fn several_crops_per_image_give_more_items() {
    let cfg = DataConfig {
        crop: Some([4, 4]),
        crops_per_image: 6,
        ..config(ProblemConfig::Denoising { noise: NoiseModel::None })
    };
    let train = cfg.dataset(images(10), Split::Train, 1).unwrap();
    let val = cfg.dataset(images(10), Split::Val, 1).unwrap();
    assert_eq!((train.len(), val.len()), (6 * 6, 2 * 6));
    let crops =
        |set: &unroll_data::SplitDataset| -> Vec<Vec<f32>> { (0..6).map(|p| set.get(p).unwrap().image.data).collect() };
    let (first, again) = (crops(&val.at_epoch(0)), crops(&val.at_epoch(3)));
    assert_eq!(first, again, "validation crops do not move");
    assert!(first.iter().any(|c| *c != first[0]), "the crops of one image differ");
    assert_ne!(crops(&train.at_epoch(0)), crops(&train.at_epoch(1)), "training crops move every epoch");
}

#[test]
fn mismatched_crops_and_shapes_are_reported() {
    let mut cfg = config(ProblemConfig::Denoising { noise: NoiseModel::None });
    cfg.crop = Some([40, 40]);
    assert!(cfg.dataset(images(5), Split::Train, 0).unwrap_err().contains("crop"));
    let tomo = ProblemConfig::Tomography { angles: 8, noise: NoiseModel::None };
    let mut cfg = config(tomo);
    cfg.crop = Some([16, 12]);
    assert!(cfg.dataset(images(5), Split::Train, 0).unwrap_err().contains("square"));
}

struct Check {
    shape: [usize; 3],
}

impl SimulationVisitor for Check {
    type Output = ();
    fn visit<S: Simulation>(self, simulation: S) {
        let device = Device::flex();
        let data = config(ProblemConfig::Denoising { noise: NoiseModel::None });
        let set = data.dataset(images(10), Split::Val, 2).unwrap();
        let batcher = SimulationBatcher { simulation };
        let a = batcher.batch(set.items(&[0, 1]).unwrap(), &device);
        let b = batcher.batch(set.items(&[0, 1]).unwrap(), &device);
        // Seeded: the same items give the same measurement.
        let (ya, yb) = (a.y.clone().to_channels(), b.y.to_channels());
        assert_eq!(ya.clone().into_data(), yb.into_data());
        // The measurement is consistent with the operator: y ≈ A x (noise aside).
        let residual = a.op.forward(a.target.clone()).sub(a.y).to_channels().abs().max().into_scalar::<f64>();
        assert!(residual < 0.5, "residual {residual}");
        assert_eq!(a.target.image().dims()[1..], self.shape[..]);
    }
}

#[test]
fn every_problem_simulates_reproducibly() {
    let noise = NoiseModel::Gaussian { sigma: 0.01 };
    for problem in [
        ProblemConfig::MulticoilMri {
            coils: 4,
            mask: MaskConfig::Random { acceleration: 4.0, center_fraction: 0.1 },
            noise,
            fft: Default::default(),
            phase: 1.0,
            coil_maps: CoilMapSource::True,
        },
        ProblemConfig::Blur { sigma: [0.5, 2.0], kernel_size: 5, boundary: BlurBoundary::Zero, noise },
        ProblemConfig::Inpainting { keep: 0.5, noise },
        ProblemConfig::Denoising { noise },
        ProblemConfig::CompressedSensing { ratio: 0.3, matrix_seed: 1, noise },
        ProblemConfig::Tomography { angles: 10, noise },
    ] {
        problem.validate().unwrap();
        problem.visit([1, 16, 16], Check { shape: [1, 16, 16] });
    }
}

/// By default the simulated MRI operator carries maps estimated from the ACS of its own k-space (as
/// at inference): normalised to Σ|S|² = 1 on the support, not the true maps, and the ACS is kept.
#[test]
fn simulated_mri_estimates_its_maps_from_the_acs() {
    struct Maps;
    impl SimulationVisitor for Maps {
        type Output = ();
        fn visit<S: Simulation>(self, simulation: S) {
            let device = Device::flex();
            let clean = Tensor::<4>::ones([2, 1, 16, 16], &device) * 0.5;
            let batch = simulation.simulate(clean, &[1, 2]);
            let view = batch.op.mri().expect("an MRI operator");
            let acs = view.op.acs().expect("the ACS is kept").clone();
            let mask = view.op.mask().clone();
            // The ACS lies inside the mask.
            assert_eq!((acs.clone() - mask).clamp_min(0.0).sum().into_scalar::<f64>(), 0.0);
            assert!(acs.sum().into_scalar::<f64>() >= 2.0);
            let rss = view.op.maps().expect("multi-coil").clone().rss();
            let (min, max) = (rss.clone().min().into_scalar::<f64>(), rss.max().into_scalar::<f64>());
            assert!(min > 0.99 && max < 1.01, "estimated maps not normalised: RSS in [{min}, {max}]");
        }
    }
    let problem: ProblemConfig = toml::from_str(
        r#"kind = "multicoil_mri"
coils = 4
mask = { kind = "equispaced_fraction", acceleration = 4, center_fraction = 0.15 }"#,
    )
    .unwrap();
    assert!(matches!(problem, ProblemConfig::MulticoilMri { coil_maps: CoilMapSource::Acs, .. }));
    problem.visit([1, 16, 16], Maps);
}

/// The shipped galaxies render (real stamps first, then the Sérsic fits; non-negative, scaled to a
/// maximum of 1, centred), and the galaxy problem gives each sample a PSF summing to 1 and noise at
/// the SNR asked for (`‖Ax‖₂ / σ`), or drawn from the density ∝ SNR^−0.7 on [18, 220] (median 79).
#[test]
fn galaxies_render_centred_and_simulate_with_unit_psfs_at_the_asked_snr() {
    let datasets = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets/galaxies");
    let source = SourceConfig::Galaxies {
        catalog: datasets.join("real_galaxy_catalog_23.5_example_fits.fits"),
        psfs: datasets.join("real_galaxy_PSF_images.fits"),
        stamps: vec![datasets.join("AEGIS_F814w_images_02.fits")],
        per_galaxy: 1,
        size: 32,
        seed: 1,
    };
    let images = source.load().unwrap();
    assert_eq!(images.len(), 102, "2 stamps and 100 fits");
    for image in &images {
        assert_eq!((image.channels, image.height, image.width), (1, 32, 32));
        let max = image.data.iter().cloned().fold(0.0, f32::max);
        assert!(image.data.iter().all(|&v| v >= 0.0) && max == 1.0);
        let total: f32 = image.data.iter().sum();
        let centroid = |axis: fn(usize) -> usize| {
            image.data.iter().enumerate().map(|(i, v)| axis(i) as f32 * v).sum::<f32>() / total
        };
        let (row, col) = (centroid(|i| i / 32), centroid(|i| i % 32));
        assert!((row - 16.0).abs() < 2.0 && (col - 16.0).abs() < 2.0, "centroid ({row}, {col})");
    }
    let batch = 48;
    let clean: Vec<f32> = images[..batch].iter().flat_map(|i| i.data.clone()).collect();
    let seeds: Vec<u64> = (0..batch as u64).collect();
    let realised = |snr: [f64; 2]| -> Vec<f64> {
        let problem = ProblemConfig::Galaxy { snr };
        problem.validate().unwrap();
        problem.validate_for([1, 32, 32]).unwrap();
        problem.visit([1, 32, 32], Realised { clean: clean.clone(), seeds: seeds.clone() })
    };
    let fixed = realised([50.0, 50.0]);
    assert!(fixed.iter().all(|s| (s - 50.0).abs() < 5.0), "{fixed:?}");
    let mut drawn = realised([18.0, 220.0]);
    drawn.sort_by(f64::total_cmp);
    assert!(drawn[0] > 15.0 && drawn[batch - 1] < 240.0 && (50.0..120.0).contains(&drawn[batch / 2]), "{drawn:?}");
    assert!(ProblemConfig::Galaxy { snr: [0.0, 10.0] }.validate().is_err());
    assert!(ProblemConfig::Galaxy { snr: [20.0, 20.0] }.validate_for([1, 32, 31]).is_err());
}

/// Simulates a galaxy batch, checks every PSF sums to 1 (its transfer function at zero frequency),
/// and returns each sample's realised SNR `‖Ax‖₂ / (‖y − Ax‖₂ / √m)`.
struct Realised {
    clean: Vec<f32>,
    seeds: Vec<u64>,
}

impl SimulationVisitor for Realised {
    type Output = Vec<f64>;

    fn visit<S: Simulation>(self, simulation: S) -> Vec<f64> {
        let device = Device::flex();
        let n = self.seeds.len();
        let clean = Tensor::<4>::from_data(TensorData::new(self.clean, [n, 1, 32, 32]), &device);
        let measured = simulation.simulate(clean.clone(), &self.seeds);
        let blur = measured.op.blur().expect("a blur");
        let transfer = blur.op.transfer().re.clone().slice([0..n, 0..1, 0..1, 0..1]);
        let dc = transfer.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        assert!(dc.iter().all(|v| (v - 1.0).abs() < 1e-4), "PSF sums {dc:?}");
        let clean_y = blur.op.forward(clean);
        let y = (blur.measurement.to)(measured.y);
        let norm = |t: Tensor<4>| {
            t.powi_scalar(2).sum_dims(&[1, 2, 3]).sqrt().into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
        };
        let (signal, noise) = (norm(clean_y.clone()), norm(y - clean_y));
        signal.iter().zip(noise).map(|(s, e)| s / (e / 32.0)).collect()
    }
}
