//! Model shapes, iterates, gradient flow and the residual start of the unrolled network.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use unroll_models::{ModelConfig, Reconstructor, UnetConfig, UnrolledPgdConfig};
use unroll_physics::coils::birdcage_maps;
use unroll_physics::{Blur, BlurBoundary, Complex, Fft2, LinearOperator, MaskConfig, MultiCoilMri, Signal};

fn mri(device: &Device) -> (MultiCoilMri, Complex<4>) {
    let mask = MaskConfig::EquispacedFraction { acceleration: 4.0, center_fraction: 0.1 }
        .generate([20, 18], 1)
        .to_tensor(device);
    let op = MultiCoilMri::new(birdcage_maps([20, 18], 3, 1.5, 0.0, device), mask, Fft2::CENTRED_ORTHO);
    let x = Complex::<4>::zeros([2, 1, 20, 18], device).randn_like(3);
    let y = op.forward(x);
    (op, y)
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

#[test]
fn gradients_reach_every_parameter() {
    let device = Device::flex().autodiff();
    let (op, y) = mri(&device);
    for config in [
        ModelConfig::UnrolledPgd(UnrolledPgdConfig { iterations: 2, features: 4, layers: 2, ..Default::default() }),
        ModelConfig::Unet(UnetConfig { chans: 4, pools: 2, dropout: 0.0 }),
    ] {
        let model = config.init(2, &device);
        let out = model.reconstruct_final(&op, y.clone()).image();
        let grads = GradientsParams::from_grads(out.sum().backward(), &model);
        assert_eq!(grads.len(), model.num_params_tensors(), "{config:?}: some parameters got no gradient");
    }
}

#[test]
fn models_work_on_real_signals_and_odd_sizes() {
    let device = Device::flex();
    let psf = Tensor::<4>::ones([1, 1, 3, 3], &device) / 9.0;
    let op = Blur::new(psf, [13, 11], BlurBoundary::Circular);
    let y = Tensor::<4>::zeros([1, 1, 13, 11], &device).randn_like(1);
    let unet = ModelConfig::Unet(UnetConfig { chans: 4, pools: 2, dropout: 0.0 }).init(1, &device);
    assert_eq!(unet.reconstruct_final(&op, y.clone()).dims(), [1, 1, 13, 11]);
    let pgd = ModelConfig::UnrolledPgd(UnrolledPgdConfig {
        iterations: 2,
        tied: true,
        features: 4,
        layers: 2,
        initial_step: 0.5,
    })
    .init(1, &device);
    assert_eq!(pgd.reconstruct(&op, y).len(), 2);
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
