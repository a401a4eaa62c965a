//! The two FFT engines agree with each other and invert, at sizes that are not powers of two, and
//! their gradients agree.

use burn::prelude::*;
use unroll_physics::{Complex, Fft2, FftDirection, FftEngine, FftNorm, Signal};

use crate::common::{assert_close, devices, host, host_stacked};

fn conventions() -> [Fft2; 4] {
    [
        Fft2::CENTRED_ORTHO,
        Fft2 { centred: false, norm: FftNorm::Ortho },
        Fft2 { centred: true, norm: FftNorm::Backward },
        Fft2::PLAIN_BACKWARD,
    ]
}

#[test]
fn host_and_dense_engines_agree_and_invert() {
    for (name, device) in devices() {
        for shape in [[2, 3, 15, 12], [1, 2, 17, 10]] {
            let x = Complex::<4>::zeros(shape, &device).randn_like(42);
            for fft in conventions() {
                for direction in [FftDirection::Forward, FftDirection::Inverse] {
                    let dense = fft.apply_with(x.clone(), direction, FftEngine::Dense);
                    let auto = fft.apply(x.clone(), direction);
                    let label = format!("{fft:?} {direction:?} {shape:?} on {name}");
                    assert_close(&label, &host_stacked(auto), &host_stacked(dense), 1e-5);
                }
                let back = fft.inverse(fft.forward(x.clone()));
                assert_close(
                    &format!("{fft:?} roundtrip on {name}"),
                    &host_stacked(back),
                    &host_stacked(x.clone()),
                    1e-5,
                );
            }
        }
    }
}

#[test]
fn engines_have_the_same_gradient() {
    let device = Device::flex().autodiff();
    let target = Complex::<4>::zeros([1, 2, 9, 14], &device).randn_like(1);
    let gradient = |engine: FftEngine, fft: Fft2| {
        let x = Complex::<4>::zeros([1, 2, 9, 14], &device).randn_like(2).to_channels().require_grad();
        let weights = Tensor::<4>::zeros([1, 2, 9, 14], &device).randn_like(3);
        let k = fft.apply_with(Complex::from_channels(x.clone()), FftDirection::Forward, engine);
        // A loss that is not a plain norm, so the gradient is not just the adjoint of a residual.
        let loss = k.sub(target.clone()).abs_sq().mul(weights).sum();
        host(x.grad(&loss.backward()).unwrap())
    };
    for fft in conventions() {
        assert_close(
            &format!("{fft:?} gradient"),
            &gradient(FftEngine::Host, fft),
            &gradient(FftEngine::Dense, fft),
            1e-4,
        );
    }
}

#[test]
fn channel_layout_roundtrip() {
    let device = Device::flex();
    let z = Complex::<4>::zeros([2, 3, 4, 5], &device).randn_like(9);
    let channels = z.clone().to_channels();
    assert_eq!(channels.dims(), [2, 6, 4, 5]);
    // Channel 2c is the real part of channel c, 2c + 1 its imaginary part.
    let re1 = host(z.re.clone().narrow(1, 1, 1));
    assert_eq!(host(channels.clone().narrow(1, 2, 1)), re1);
    let im2 = host(z.im.clone().narrow(1, 2, 1));
    assert_eq!(host(channels.clone().narrow(1, 5, 1)), im2);
    let back = Complex::from_channels(channels);
    assert_eq!(host_stacked(back), host_stacked(z));
}
