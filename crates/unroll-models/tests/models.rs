//! Model shapes, iterates, gradient flow and the residual start of the unrolled network.

use burn::module::{Module, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use unroll_models::blocks::CoilRefinement;
use unroll_models::context::check_views;
use unroll_models::{
    CirimConfig, DnCnnConfig, E2eVarNetConfig, ModelConfig, ModelContext, Reconstructor, RecurrentCell,
    RecurrentVarNetConfig, RsiConfig, Splitting, UnetConfig, UnrolledPgdConfig, UnrolledPnpConfig,
};
use unroll_physics::coils::birdcage_maps;
use unroll_physics::{
    Blur, BlurBoundary, Complex, Family, Fft2, LinearOperator, MaskConfig, MultiCoilMri, Signal, ViewKind,
};

fn mri(device: &Device) -> (MultiCoilMri, Complex<4>) {
    let mask = MaskConfig::EquispacedFraction { acceleration: 4.0, center_fraction: 0.1 }
        .generate([20, 18], 1)
        .to_tensor(device);
    let op = MultiCoilMri::new(birdcage_maps([20, 18], 3, 1.5, 0.0, device), mask, Fft2::CENTRED_ORTHO);
    let x = Complex::<4>::zeros([2, 1, 20, 18], device).randn_like(3);
    let y = op.forward(x);
    (op, y)
}

/// The context of a model on `channels`-channel signals of `family`.
fn context(channels: usize, image_shape: [usize; 3], family: Family) -> ModelContext {
    ModelContext { channels, image_shape, problem: "test", family }
}

#[test]
fn unrolled_pgd_returns_every_iterate_and_starts_as_a_gradient_step() {
    let device = Device::flex();
    let (op, y) = mri(&device);
    let config = UnrolledPgdConfig { iterations: 3, features: 8, layers: 3, ..Default::default() };
    let model = config.init(2, &device);
    let iterates = model.reconstruct(&op, y.clone());
    assert_eq!(iterates.len(), 3);
    assert_eq!(iterates[2].dims(), [2, 1, 20, 18]);
    // The CNNs start as the identity, so the first iterate is exactly one gradient step from Aᴴy.
    let x0 = op.adjoint(y.clone());
    let expected = x0.clone().sub(op.adjoint(op.forward(x0).sub(y)));
    let diff = iterates[0].clone().sub(expected).abs_sq().max().into_scalar::<f64>();
    assert!(diff < 1e-10, "first iterate differs from a plain gradient step by {diff}");
}

/// Every parameter tensor gets a non-zero gradient. At initialisation the residual CNNs' last
/// convolutions are zero, which blocks the gradient of every layer before them, so the check is made
/// after one Adam step (which moves every parameter that had a gradient, the last convolutions
/// included), on a fresh backward pass.
#[test]
fn gradients_reach_every_parameter() {
    use burn::optim::AdamConfig;
    let device = Device::flex().autodiff();
    let (op, y) = mri(&device);
    let target = op.adjoint(y.clone()).image().detach();
    for config in [
        ModelConfig::UnrolledPgd(UnrolledPgdConfig { iterations: 2, features: 4, layers: 3, ..Default::default() }),
        ModelConfig::Unet(UnetConfig { chans: 4, pools: 2, dropout: 0.0 }),
        tiny_mri_models()[0].clone(),
        tiny_mri_models()[1].clone(),
        tiny_mri_models()[2].clone(),
        tiny_mri_models()[3].clone(),
        tiny_pnp(Splitting::Admm),
    ] {
        let loss = |model: &unroll_models::Model| {
            let error = model.reconstruct_final(&op, y.clone()).image() - target.clone() * 0.9;
            (error.clone() * error).mean()
        };
        // A fixed draw of the weights (the device's generator is shared with the other tests).
        device.seed(11);
        let model = config.init(&context(2, [1, 20, 18], Family::Mri), &device);
        let grads = GradientsParams::from_grads(loss(&model).backward(), &model);
        let mut optim = AdamConfig::new().init();
        let model = optim.step(1e-2, model, grads);
        let grads = GradientsParams::from_grads(loss(&model).backward(), &model);
        let params = model.params_with_paths();
        assert_eq!(params.len(), model.num_params_tensors());
        for (path, id) in params {
            // The k-space schemes start from k₀ = y, so the first DC residual M⊙(k₀ − y) is zero
            // and the first DC step never gets a gradient (as in DIRECT and fastMRI).
            if path == "RecurrentVarNet.blocks.0.step" || path == "E2eVarNet.cascades.0.dc_weight" {
                continue;
            }
            let largest = gradient_max_abs(&model, &grads, id)
                .unwrap_or_else(|| panic!("{config:?}: {path} ({id}) got no gradient"));
            assert!(largest > 0.0, "{config:?}: the gradient of {path} ({id}) is zero after one optimiser step");
        }
    }
}

#[test]
fn models_work_on_real_signals_and_odd_sizes() {
    let device = Device::flex();
    let psf = Tensor::<4>::ones([1, 1, 3, 3], &device) / 9.0;
    let op = Blur::new(psf, [13, 11], BlurBoundary::Circular);
    let y = Tensor::<4>::zeros([1, 1, 13, 11], &device).randn_like(1);
    let unet = ModelConfig::Unet(UnetConfig { chans: 4, pools: 2, dropout: 0.0 })
        .init(&context(1, [1, 13, 11], Family::Blur), &device);
    assert_eq!(unet.reconstruct_final(&op, y.clone()).dims(), [1, 1, 13, 11]);
    let pgd = ModelConfig::UnrolledPgd(UnrolledPgdConfig {
        iterations: 2,
        tied: true,
        features: 4,
        layers: 2,
        initial_step: 0.5,
    })
    .init(&context(1, [1, 13, 11], Family::Blur), &device);
    assert_eq!(pgd.reconstruct(&op, y.clone()).len(), 2);
    let pnp = tiny_pnp(Splitting::Hqs).init(&context(1, [1, 13, 11], Family::Blur), &device);
    let iterates = pnp.reconstruct(&op, y);
    assert_eq!((iterates.len(), iterates[1].dims()), (2, [1, 1, 13, 11]));
}

/// A small unrolled PnP network with one DnCNN per iteration.
fn tiny_pnp(splitting: Splitting) -> ModelConfig {
    ModelConfig::PnpAdmm(UnrolledPnpConfig {
        iterations: 2,
        splitting,
        tied: false,
        denoiser: DnCnnConfig { depth: 3, features: 4, bias: true },
        ..Default::default()
    })
}

/// Small configurations of the MRI models that use every option (RSI, coil refinement, both
/// cells, explicit DC).
fn tiny_mri_models() -> Vec<ModelConfig> {
    let cirim = CirimConfig { cascades: 2, steps: 2, filters: 8, ..Default::default() };
    vec![
        ModelConfig::RecurrentVarNet(RecurrentVarNetConfig {
            steps: 2,
            hidden: 8,
            layers: 3,
            shared: false,
            initializer: Some(RsiConfig { channels: vec![4, 6], dilations: vec![1, 2], multiscale: 2 }),
            coil_refinement: true,
        }),
        ModelConfig::Cirim(cirim.clone()),
        ModelConfig::Cirim(CirimConfig {
            cell: RecurrentCell::Gru,
            explicit_dc: true,
            coil_refinement: false,
            ..cirim
        }),
        ModelConfig::E2eVarnet(E2eVarNetConfig { cascades: 2, chans: 2, pools: 2, coil_refinement: true }),
    ]
}

/// The MRI models return one image `[N, 1, H, W]` per step (CIRIM: per step of every cascade),
/// finite, and their first estimate is already closer to the truth's scale than zero.
#[test]
fn mri_models_return_every_estimate() {
    let device = Device::flex();
    let (op, y) = mri(&device);
    for (config, count) in tiny_mri_models().into_iter().zip([2, 4, 4, 2]) {
        let model = config.init(&context(2, [1, 20, 18], Family::Mri), &device);
        let estimates = model.reconstruct(&op, y.clone());
        assert_eq!(estimates.len(), count, "{config:?}");
        assert_eq!(model.iterate_groups(), if matches!(config, ModelConfig::Cirim(_)) { 2 } else { 1 });
        for x in estimates {
            assert_eq!(x.dims(), [2, 1, 20, 18]);
            assert!(x.image().sum().into_scalar::<f64>().is_finite(), "{config:?}");
        }
    }
}

/// Parameter counts of the reference configurations (`mri.md` §1.9, §2.5 and the MRI issue),
/// counted on the reference PyTorch classes.
#[test]
fn mri_models_have_the_reference_parameter_counts() {
    let device = Device::flex();
    let count = |config: ModelConfig| config.init(&context(2, [1, 32, 32], Family::Mri), &device).num_params();
    let rvn = |steps, hidden, layers, shared, multiscale, refinement| {
        ModelConfig::RecurrentVarNet(RecurrentVarNetConfig {
            steps,
            hidden,
            layers,
            shared,
            initializer: Some(RsiConfig { multiscale, ..Default::default() }),
            coil_refinement: refinement,
        })
    };
    // Calgary-Campinas paper config, without and with the coil U-Net; fastMRI AXT1; shared ablation.
    assert_eq!(count(rvn(8, 128, 4, false, 3, false)), 6_918_424);
    assert_eq!(count(rvn(8, 128, 4, false, 3, true)), 7_403_322);
    assert_eq!(count(rvn(8, 96, 3, false, 3, false)), 2_827_320);
    assert_eq!(count(rvn(8, 128, 4, true, 3, false)), 994_051);
    // DIRECT's `RecurrentVarNetConfig` defaults = the bench config.
    assert_eq!(count(rvn(15, 64, 4, false, 1, false)), 3_296_045);
    assert_eq!(CoilRefinement::new(&device).num_params(), 484_898);
    let cirim = |filters| CirimConfig { filters, coil_refinement: false, ..Default::default() };
    assert_eq!(count(ModelConfig::Cirim(cirim(64))), 264_960);
    assert_eq!(count(ModelConfig::Cirim(cirim(128))), 980_480);
    let varnet = |coil_refinement| E2eVarNetConfig { coil_refinement, ..Default::default() };
    assert_eq!(count(ModelConfig::E2eVarnet(varnet(true))), 29_936_966);
    assert_eq!(count(ModelConfig::E2eVarnet(varnet(false))), 29_452_068);
}

/// Number of parameter tensors of a module.
trait CountTensors {
    fn num_params_tensors(&self) -> usize;
}

impl<M: Module> CountTensors for M {
    fn num_params_tensors(&self) -> usize {
        struct Counter(usize);
        impl burn::module::ModuleVisitor for Counter {
            fn visit_float<const D: usize>(&mut self, _: &burn::module::Param<Tensor<D>>) {
                self.0 += 1;
            }
        }
        let mut counter = Counter(0);
        self.visit(&mut counter);
        counter.0
    }
}

/// Every float parameter of a module as (path, id), e.g. `UnrolledPgd.denoisers.0.layers.2.weight`.
trait ParamsWithPaths {
    fn params_with_paths(&self) -> Vec<(String, ParamId)>;
}

impl<M: Module> ParamsWithPaths for M {
    fn params_with_paths(&self) -> Vec<(String, ParamId)> {
        #[derive(Default)]
        struct Collector {
            path: Vec<String>,
            params: Vec<(String, ParamId)>,
        }
        impl burn::module::ModuleVisitor for Collector {
            fn enter_module(&mut self, name: &str, _: &str) {
                self.path.push(name.to_string());
            }
            fn exit_module(&mut self, _: &str, _: &str) {
                self.path.pop();
            }
            fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
                self.params.push((self.path.join("."), param.id));
            }
        }
        let mut collector = Collector::default();
        self.visit(&mut collector);
        collector.params
    }
}

/// `max |g|` of the gradient registered for parameter `id` (of any rank), if there is one.
fn gradient_max_abs<M: Module>(model: &M, grads: &GradientsParams, id: ParamId) -> Option<f64> {
    struct Finder<'a> {
        id: ParamId,
        grads: &'a GradientsParams,
        found: Option<f64>,
    }
    impl burn::module::ModuleVisitor for Finder<'_> {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            if param.id == self.id {
                self.found = self.grads.get::<D>(self.id).map(|g| g.abs().max().into_scalar::<f64>());
            }
        }
    }
    let mut finder = Finder { id, grads, found: None };
    model.visit(&mut finder);
    finder.found
}

/// A model is refused, naming it and the problem, for a family that lacks a view it needs; the
/// generic models serve every family.
#[test]
fn a_model_needing_a_missing_view_is_refused() {
    let err = check_views("e2e_varnet", &[ViewKind::Mri], "blur", Family::Blur).unwrap_err();
    assert!(err.contains("e2e_varnet") && err.contains("`blur`") && err.contains("MRI view"), "{err}");
    assert!(check_views("e2e_varnet", &[ViewKind::Mri], "multicoil_mri", Family::Mri).is_ok());
    assert!(check_views("galaxy_admm", &[ViewKind::Blur, ViewKind::Real], "blur", Family::Blur).is_ok());
    let err = check_views("dr_cg_net", &[ViewKind::Real], "multicoil_mri", Family::Mri).unwrap_err();
    assert!(err.contains("real-image view"), "{err}");
    // The MRI models need the MRI view: refused for every other family, at config load.
    for model in tiny_mri_models() {
        let err = model.check_serves("blur", Family::Blur).unwrap_err();
        assert!(err.contains(model.name()) && err.contains("`blur`"), "{err}");
        assert!(model.check_serves("multicoil_mri", Family::Mri).is_ok());
    }
    for family in [Family::Mri, Family::Blur, Family::Tomography, Family::CompressedSensing] {
        for model in [
            ModelConfig::UnrolledPgd(Default::default()),
            ModelConfig::PnpAdmm(Default::default()),
            ModelConfig::Unet(Default::default()),
        ] {
            assert!(model.check_serves("any", family).is_ok());
        }
    }
}
