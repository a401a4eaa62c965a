//! Metrics against scikit-image references (`tests/data/make_metric_references.py`), losses on
//! flex: values, agreement of the SSIM loss with the host SSIM, gradients, and the loss config.

use std::path::PathBuf;

use burn::prelude::*;
use serde_json::Value;
use unroll_train::losses::{
    IterateWeighting, LossConfig, LossTerm, WeightedLoss, gamma_min, l1, l2, multiscale_l1, proximal_matching,
    ssim_loss,
};
use unroll_train::metrics::{MetricError, Metrics, ellipticity, nmse, psnr, ssim, volume_metrics};

const PAIRS: [&str; 3] = ["smooth", "nonsquare", "camera"];

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// A float32 `.npy` fixture: `([height, width], values)`.
fn load(name: &str) -> ([usize; 2], Vec<f32>) {
    let path = data_dir().join(format!("{name}.npy"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let values = npy.into_vec::<f32>().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ([shape[0], shape[1]], values)
}

/// `(shape, target, pred)` of a fixture pair.
fn pair(name: &str) -> ([usize; 2], Vec<f32>, Vec<f32>) {
    let (shape, target) = load(&format!("{name}_target"));
    (shape, target, load(&format!("{name}_pred")).1)
}

/// The two 32×32 slices of the reference volume: `[smooth, camera[8..40, 8..40]]`, (target, pred).
fn volume_slices() -> [(Vec<f32>, Vec<f32>); 2] {
    let (_, smooth_t, smooth_p) = pair("smooth");
    let ([_, w], camera_t, camera_p) = pair("camera");
    let crop = |v: &[f32]| -> Vec<f32> { (8..40).flat_map(|r| v[r * w + 8..r * w + 40].to_vec()).collect() };
    [(smooth_t, smooth_p), (crop(&camera_t), crop(&camera_p))]
}

fn references() -> Value {
    let text = std::fs::read_to_string(data_dir().join("metric_references.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn number(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("reference `{key}` missing"))
}

fn assert_metrics(name: &str, m: Metrics, reference: &Value) {
    let rel = |a: f64, b: f64| ((a - b) / b).abs();
    assert!(rel(m.psnr, number(reference, "psnr")) < 1e-6, "{name}: PSNR {} vs {}", m.psnr, reference["psnr"]);
    assert!(rel(m.nmse, number(reference, "nmse")) < 1e-6, "{name}: NMSE {} vs {}", m.nmse, reference["nmse"]);
    assert!((m.ssim - number(reference, "ssim")).abs() < 1e-5, "{name}: SSIM {} vs {}", m.ssim, reference["ssim"]);
}

fn image(values: &[f32], shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().try_into_vec_as::<f64>().unwrap()
}

fn scalar(t: Tensor<1>) -> f64 {
    assert_eq!(t.dims(), [1]);
    host(t)[0]
}

#[test]
fn metrics_losses_metrics_match_skimage() {
    let refs = references();
    for name in PAIRS {
        let ([h, w], target, pred) = pair(name);
        let reference = &refs["pairs"][name];
        let range = number(reference, "data_range");
        let single = Metrics {
            psnr: psnr(&target, &pred, range).unwrap(),
            ssim: ssim(&target, &pred, h, w, range).unwrap(),
            nmse: nmse(&target, &pred).unwrap(),
        };
        assert_metrics(name, single, reference);
        assert_metrics(name, volume_metrics(&[&target], &[&pred], h, w).unwrap(), reference);
    }
}

#[test]
fn metrics_losses_volume_matches_fastmri() {
    let slices = volume_slices();
    let targets: Vec<&[f32]> = slices.iter().map(|(t, _)| t.as_slice()).collect();
    let preds: Vec<&[f32]> = slices.iter().map(|(_, p)| p.as_slice()).collect();
    let metrics = volume_metrics(&targets, &preds, 32, 32).unwrap();
    assert_metrics("volume", metrics, &references()["volume"]);
}

#[test]
fn metrics_losses_metric_errors_name_shapes() {
    let (a, b) = (vec![0.5f32; 64], vec![0.5f32; 63]);
    let err = psnr(&a, &b, 1.0).unwrap_err();
    assert_eq!(err, MetricError::ShapeMismatch { target: vec![64], pred: vec![63] });
    assert_eq!(err.to_string(), "target shape [64] differs from prediction shape [63]");
    assert!(nmse(&a, &b).is_err());
    assert!(psnr(&[], &[], 1.0).is_err());
    let err = ssim(&a, &b, 8, 8, 1.0).unwrap_err();
    assert_eq!(err.to_string(), "an image of 63 values does not have shape [8, 8]");
    assert_eq!(ssim(&a, &a, 4, 16, 1.0), Err(MetricError::TooSmall { height: 4, width: 16 }));
    let err = volume_metrics(&[&a, &a], &[&a], 8, 8).unwrap_err();
    assert_eq!(err.to_string(), "target shape [2, 8, 8] differs from prediction shape [1, 8, 8]");
    assert!(volume_metrics(&[&a], &[&b], 8, 8).is_err());
    assert_eq!(volume_metrics(&[], &[], 8, 8), Err(MetricError::Empty));
}

#[test]
fn metrics_losses_metrics_mean_and_json() {
    let a = Metrics { psnr: 30.0, ssim: 0.9, nmse: 0.01 };
    let b = Metrics { psnr: 34.0, ssim: 0.7, nmse: 0.03 };
    let mean = Metrics::mean(&[a, b]);
    assert!((mean.psnr - 32.0).abs() < 1e-12 && (mean.ssim - 0.8).abs() < 1e-12);
    assert!((mean.nmse - 0.02).abs() < 1e-12);
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<Metrics>(&json).unwrap(), a);
}

#[test]
fn metrics_losses_ssim_loss_matches_host_ssim() {
    let device = Device::flex();
    let refs = references();
    for name in PAIRS {
        let ([h, w], target, pred) = pair(name);
        let range = number(&refs["pairs"][name], "data_range");
        let loss = ssim_loss(
            image(&pred, [1, 1, h, w], &device),
            image(&target, [1, 1, h, w], &device),
            Tensor::from_data(TensorData::new(vec![range as f32], [1]), &device),
        );
        let host = ssim(&target, &pred, h, w, range).unwrap();
        let loss = scalar(loss);
        assert!((1.0 - loss - host).abs() < 1e-4, "{name}: 1 − loss = {} vs host SSIM {host}", 1.0 - loss);
    }

    // A batch of two samples, each with its own data range (its maximum)...
    let slices = volume_slices();
    let targets: Vec<f32> = slices.iter().flat_map(|(t, _)| t.iter().copied()).collect();
    let preds: Vec<f32> = slices.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    let maxima: Vec<f32> = slices.iter().map(|(t, _)| t.iter().copied().fold(f32::MIN, f32::max)).collect();
    let batch = ssim_loss(
        image(&preds, [2, 1, 32, 32], &device),
        image(&targets, [2, 1, 32, 32], &device),
        Tensor::from_data(TensorData::new(maxima.clone(), [2]), &device),
    );
    let host: f64 =
        slices.iter().zip(&maxima).map(|((t, p), &m)| ssim(t, p, 32, 32, f64::from(m)).unwrap()).sum::<f64>() / 2.0;
    assert!((1.0 - scalar(batch) - host).abs() < 1e-4, "batch of 2");

    // ...and one sample whose two channels share a range: fastMRI's volume SSIM.
    let volume_max = maxima.iter().copied().fold(f32::MIN, f32::max);
    let channels = ssim_loss(
        image(&preds, [1, 2, 32, 32], &device),
        image(&targets, [1, 2, 32, 32], &device),
        Tensor::from_data(TensorData::new(vec![volume_max], [1]), &device),
    );
    let reference = number(&refs["volume"], "ssim");
    assert!((1.0 - scalar(channels) - reference).abs() < 1e-4, "two channels");
}

#[test]
fn metrics_losses_l1_l2_multiscale_by_hand() {
    let device = Device::flex();
    let pred = image(&[1.0, 2.0, 3.0, 4.0], [1, 1, 2, 2], &device);
    let target = image(&[0.0, 2.0, 5.0, 3.0], [1, 1, 2, 2], &device);
    // Differences 1, 0, −2, 1; the 2×2 averages are both 2.5.
    assert!((scalar(l1(pred.clone(), target.clone())) - 1.0).abs() < 1e-6);
    assert!((scalar(l2(pred.clone(), target.clone())) - 1.5).abs() < 1e-6);
    assert!((scalar(multiscale_l1(pred.clone(), target.clone(), 1)) - 1.0).abs() < 1e-6);
    // Weights 1 and ½: 1 + ½·0; against zeros, 2.5 + ½·2.5.
    assert!((scalar(multiscale_l1(pred.clone(), target, 2)) - 1.0).abs() < 1e-6);
    assert!((scalar(multiscale_l1(pred.clone(), pred.zeros_like(), 2)) - 3.75).abs() < 1e-6);
}

/// Loss at `pred` (values of shape `shape` on the autodiff `device`), its gradient w.r.t. `pred`,
/// and the loss after a step along −gradient whose first-order decrease is 1% of the loss.
fn descent(
    loss: impl Fn(Tensor<4>) -> Tensor<1>,
    pred: &[f32],
    shape: [usize; 4],
    device: &Device,
) -> (f64, Vec<f64>, f64) {
    let x = image(pred, shape, device).require_grad();
    let value = loss(x.clone());
    let grads = value.backward();
    let grad = host(x.grad(&grads).expect("gradient w.r.t. pred"));
    let value = scalar(value);
    let step = 0.01 * value / grad.iter().map(|g| g * g).sum::<f64>();
    let stepped: Vec<f32> = pred.iter().zip(&grad).map(|(&p, g)| (f64::from(p) - step * g) as f32).collect();
    (value, grad, scalar(loss(image(&stepped, shape, device))))
}

#[test]
fn metrics_losses_losses_are_differentiable() {
    let device = Device::flex().autodiff();
    let ([h, w], target, pred) = pair("camera");
    let shape = [1, 1, h, w];
    let target = image(&target, shape, &device);
    let range = Tensor::from_data(TensorData::new(vec![0.85f32], [1]), &device);
    let terms = [LossTerm::L1, LossTerm::L2, LossTerm::Ssim, LossTerm::MultiscaleL1 { scales: 3 }];
    for term in terms {
        let loss = |x: Tensor<4>| term.loss(x, target.clone(), range.clone());
        let (before, grad, after) = descent(loss, &pred, shape, &device);
        assert!(grad.iter().all(|v| v.is_finite()), "{term:?}: non-finite gradient");
        assert!(grad.iter().any(|&v| v != 0.0), "{term:?}: zero gradient");
        assert!(after < before, "{term:?}: step along −grad raised the loss {before} → {after}");
    }

    // Through LossConfig::total, every iterate gets a gradient under exponential weighting.
    let config = LossConfig {
        terms: vec![
            WeightedLoss { weight: 0.2, term: LossTerm::L1 },
            WeightedLoss { weight: 0.8, term: LossTerm::Ssim },
        ],
        iterates: IterateWeighting::Exponential { gamma: 0.5 },
        proximal_matching: None,
    };
    let iterates: Vec<Tensor<4>> = (0..3)
        .map(|k| {
            let scaled: Vec<f32> = pred.iter().map(|v| v * (1.0 - 0.1 * k as f32)).collect();
            image(&scaled, shape, &device).require_grad()
        })
        .collect();
    let grads = config.total(&iterates, 1, &target, &range).backward();
    for (k, x) in iterates.iter().enumerate() {
        let g = host(x.grad(&grads).expect("iterate gradient"));
        assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|&v| v != 0.0), "iterate {k}");
    }
}

#[test]
fn metrics_losses_total_weights_terms_and_iterates() {
    let device = Device::flex();
    let ([h, w], target, pred) = pair("smooth");
    let shape = [1, 1, h, w];
    let target = image(&target, shape, &device);
    let range = Tensor::from_data(TensorData::new(vec![2.4f32], [1]), &device);
    let iterates = [image(&pred, shape, &device), image(&pred, shape, &device).mul_scalar(0.9)];
    let terms =
        vec![WeightedLoss { weight: 0.5, term: LossTerm::L1 }, WeightedLoss { weight: 2.0, term: LossTerm::L2 }];
    let by_hand =
        |x: &Tensor<4>| 0.5 * scalar(l1(x.clone(), target.clone())) + 2.0 * scalar(l2(x.clone(), target.clone()));
    let uniform = LossConfig { terms: terms.clone(), iterates: IterateWeighting::Uniform, proximal_matching: None };
    let expected = 0.5 * (by_hand(&iterates[0]) + by_hand(&iterates[1]));
    assert!((scalar(uniform.total(&iterates, 1, &target, &range)) - expected).abs() < 1e-5);
    let last = LossConfig { terms, iterates: IterateWeighting::Last, proximal_matching: None };
    assert!((scalar(last.total(&iterates, 1, &target, &range)) - by_hand(&iterates[1])).abs() < 1e-5);
    let default = LossConfig::default();
    let l1_last = scalar(l1(iterates[1].clone(), target.clone()));
    assert!((scalar(default.total(&iterates, 1, &target, &range)) - l1_last).abs() < 1e-6);
}

#[test]
fn metrics_losses_iterate_weights_sum_to_one() {
    let weightings = [
        IterateWeighting::Last,
        IterateWeighting::Uniform,
        IterateWeighting::Linear,
        IterateWeighting::Exponential { gamma: 0.5 },
        IterateWeighting::Exponential { gamma: 1.0 },
        IterateWeighting::Exponential { gamma: 3.0 },
        IterateWeighting::Logspace,
    ];
    for weighting in &weightings {
        for k in 1..=8 {
            let weights = weighting.weights(k, 1);
            assert_eq!(weights.len(), k);
            let sum: f64 = weights.iter().sum();
            assert!((sum - 1.0).abs() < 1e-12, "{weighting:?}, K = {k}: sum {sum}");
            assert!(weights.iter().all(|w| w.is_finite() && *w >= 0.0));
        }
    }
    let close = |a: Vec<f64>, b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
    assert!(close(IterateWeighting::Last.weights(3, 1), &[0.0, 0.0, 1.0]));
    assert!(close(IterateWeighting::Uniform.weights(4, 1), &[0.25; 4]));
    assert!(close(IterateWeighting::Linear.weights(3, 1), &[1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0]));
    let exponential = IterateWeighting::Exponential { gamma: 0.5 }.weights(3, 1);
    assert!(close(exponential, &[0.25 / 1.75, 0.5 / 1.75, 1.0 / 1.75]));
    // Large K with γ far from 1 neither overflows nor loses the favoured end.
    let steep = IterateWeighting::Exponential { gamma: 1e3 }.weights(200, 1);
    assert!((steep[0] - (1.0 - 1e-3)).abs() < 1e-5 && steep[199] == 0.0);
    // CIRIM's: logspace(−1, 0) over 2 cascades × logspace(−1, 0) over 3 steps, normalised.
    let steps = [0.1, 10f64.powf(-0.5), 1.0];
    let raw: Vec<f64> = [0.1, 1.0].iter().flat_map(|g| steps.iter().map(move |t| g * t)).collect();
    let sum: f64 = raw.iter().sum();
    let expected: Vec<f64> = raw.iter().map(|w| w / sum).collect();
    assert!(close(IterateWeighting::Logspace.weights(6, 2), &expected));
}

#[test]
fn metrics_losses_config_from_toml() {
    let text = r#"
        iterates = { kind = "exponential", gamma = 0.8 }

        [[terms]]
        kind = "l1"
        weight = 0.16

        [[terms]]
        kind = "ssim"
        weight = 0.84

        [[terms]]
        kind = "multiscale_l1"
        scales = 3
        weight = 1
    "#;
    let config: LossConfig = toml::from_str(text).unwrap();
    let expected = LossConfig {
        terms: vec![
            WeightedLoss { weight: 0.16, term: LossTerm::L1 },
            WeightedLoss { weight: 0.84, term: LossTerm::Ssim },
            WeightedLoss { weight: 1.0, term: LossTerm::MultiscaleL1 { scales: 3 } },
        ],
        iterates: IterateWeighting::Exponential { gamma: 0.8 },
        proximal_matching: None,
    };
    assert_eq!(config, expected);
    config.validate().unwrap();
    assert_eq!(toml::from_str::<LossConfig>(&toml::to_string(&config).unwrap()).unwrap(), config);

    let minimal: LossConfig = toml::from_str(r#"terms = [{ kind = "l1", weight = 1.0 }]"#).unwrap();
    assert_eq!(minimal, LossConfig::default());
    LossConfig::default().validate().unwrap();

    let rejected = [
        (
            "top level",
            r#"terms = []
            extra = 1"#,
        ),
        ("unit term", r#"terms = [{ kind = "l1", weight = 1.0, scales = 2 }]"#),
        ("term with fields", r#"terms = [{ kind = "multiscale_l1", scales = 2, weight = 1.0, levels = 2 }]"#),
        ("unknown kind", r#"terms = [{ kind = "l3", weight = 1.0 }]"#),
        ("missing weight", r#"terms = [{ kind = "l2" }]"#),
        (
            "unit weighting",
            r#"terms = []
            iterates = { kind = "last", gamma = 0.5 }"#,
        ),
        (
            "weighting with fields",
            r#"terms = []
            iterates = { kind = "exponential", gamma = 0.5, beta = 1 }"#,
        ),
    ];
    for (case, text) in rejected {
        assert!(toml::from_str::<LossConfig>(text).is_err(), "{case}: accepted");
    }

    let invalid = [
        ("no terms", "terms = []"),
        ("negative weight", r#"terms = [{ kind = "l1", weight = -1.0 }]"#),
        ("infinite weight", r#"terms = [{ kind = "l1", weight = inf }]"#),
        ("all weights zero", r#"terms = [{ kind = "l1", weight = 0.0 }]"#),
        ("zero scales", r#"terms = [{ kind = "multiscale_l1", scales = 0, weight = 1.0 }]"#),
        (
            "gamma 0",
            r#"terms = [{ kind = "l1", weight = 1.0 }]
            iterates = { kind = "exponential", gamma = 0.0 }"#,
        ),
    ];
    for (case, text) in invalid {
        let config: LossConfig = toml::from_str(text).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(config.validate().is_err(), "{case}: validated");
    }
}

/// The proximal matching loss by hand, and LPN's schedule: L1 for the first half of the steps, then
/// four stages of proximal matching with γ halving to `γ_min = 0.08·√(C·H·W)`, at a tenth of the
/// learning rate.
#[test]
fn metrics_losses_proximal_matching_and_its_schedule() {
    let device = Device::flex();
    // Sample 0 is off by 1 at each of its 4 pixels (‖e‖² = 4), sample 1 is exact.
    let pred = Tensor::<4>::from_data(TensorData::new(vec![1f32, 1., 1., 1., 0., 0., 0., 0.], [2, 1, 2, 2]), &device);
    let target = pred.zeros_like();
    let expected = (1.0 - (-1f64).exp()) / 2.0;
    assert!((scalar(proximal_matching(pred.clone(), target.clone(), 2.0)) - expected).abs() < 1e-6);
    assert!((gamma_min([1, 28, 28]) - 2.24).abs() < 1e-12);

    let text = "terms = [{ kind = \"l1\", weight = 1.0 }]\n[proximal_matching]\n";
    let config: LossConfig = toml::from_str(text).unwrap();
    config.validate().unwrap();
    let gamma_at = |progress: f64| match config.at(progress, [1, 28, 28]).terms.as_slice() {
        [WeightedLoss { weight, term: LossTerm::ProximalMatching { gamma: Some(gamma) } }] if *weight == 1.0 => {
            Some(*gamma)
        }
        [WeightedLoss { term: LossTerm::L1, .. }] => None,
        other => panic!("unexpected terms {other:?}"),
    };
    let g = 2.24;
    for (progress, gamma, lr) in [
        (0.0, None, 1.0),
        (0.49, None, 1.0),
        (0.5, Some(8.0 * g), 0.1),
        (0.62, Some(8.0 * g), 0.1),
        (0.63, Some(4.0 * g), 0.1),
        (0.8, Some(2.0 * g), 0.1),
        (0.99, Some(g), 0.1),
    ] {
        let found = gamma_at(progress);
        assert!(
            found.zip(gamma).is_none_or(|(a, b)| (a - b).abs() < 1e-9) && found.is_some() == gamma.is_some(),
            "progress {progress}: γ {found:?}, expected {gamma:?}"
        );
        assert_eq!(config.lr_factor(progress), lr, "progress {progress}");
        assert_eq!(config.in_final_phase(progress), progress >= 0.875, "progress {progress}");
    }
    // The staged loss is the proximal matching of the stage's γ.
    let staged = config.at(0.99, [1, 2, 2]).total(std::slice::from_ref(&pred), 1, &target, &Tensor::ones([2], &device));
    let by_hand = proximal_matching(pred, target, gamma_min([1, 2, 2]));
    assert!((scalar(staged) - scalar(by_hand)).abs() < 1e-6);

    for (bad, key) in [("pretrain = 1.0", "pretrain"), ("stages = 0", "stages"), ("lr_factor = 0.0", "lr_factor")] {
        let config: LossConfig = toml::from_str(&format!("{text}{bad}\n")).unwrap();
        let error = config.validate().unwrap_err();
        assert!(error.contains(key), "{bad}: {error}");
    }
}

/// The reduced shear from weighted moments: an elliptical Gaussian made by shearing a round one by
/// `g` gives back `g` under a weight much wider than it, zero when round, and swapping rows and
/// columns flips `g₁`; a blank image has no shape.
#[test]
fn ellipticity_recovers_the_shear_of_an_elliptical_gaussian() {
    let n = 48;
    let gaussian = |[g1, g2]: [f64; 2]| -> Vec<f32> {
        // Covariance s²·S(g)² in (x, y) = (column, row); S(g)² = [[(1+g1)²+g2², 2g2], [2g2, (1−g1)²+g2²]]/(1−|g|²).
        let norm = 1.0 - g1 * g1 - g2 * g2;
        let (cxx, cyy, cxy) =
            (((1.0 + g1).powi(2) + g2 * g2) / norm, ((1.0 - g1).powi(2) + g2 * g2) / norm, 2.0 * g2 / norm);
        let det = cxx * cyy - cxy * cxy;
        (0..n * n)
            .map(|i| {
                let (y, x) = ((i / n) as f64 - 24.0, (i % n) as f64 - 24.0);
                let q = (cyy * x * x - 2.0 * cxy * x * y + cxx * y * y) / det / 9.0;
                (-q / 2.0).exp() as f32
            })
            .collect()
    };
    let wide = 1e4;
    let g = ellipticity(&gaussian([0.2, -0.1]), [n, n], wide).unwrap();
    assert!((g[0] - 0.2).abs() < 1e-3 && (g[1] + 0.1).abs() < 1e-3, "{g:?}");
    let round = ellipticity(&gaussian([0.0, 0.0]), [n, n], 3.0).unwrap();
    assert!(round[0].abs() < 1e-9 && round[1].abs() < 1e-9, "{round:?}");
    let image = gaussian([0.15, 0.0]);
    let rotated: Vec<f32> = (0..n * n).map(|i| image[(i % n) * n + i / n]).collect();
    let (a, b) = (ellipticity(&image, [n, n], 3.0).unwrap(), ellipticity(&rotated, [n, n], 3.0).unwrap());
    assert!(a[0] > 0.05 && (a[0] + b[0]).abs() < 1e-9, "{a:?} {b:?}");
    assert_eq!(ellipticity(&vec![0.0; n * n], [n, n], 3.0), None);
}
