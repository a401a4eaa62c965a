//! FFT and SENSE benchmark, printed as JSON on stdout.
//!
//! `cargo bench -p unroll-physics --bench operators` times, per call (median over repetitions):
//! * `rustfft`: plain single-threaded `rustfft` 2D transforms of the same data on the host (the
//!   yardstick: no shifts, no tensors);
//! * `fft2_host` / `fft2_dense`: `Fft2::CENTRED_ORTHO` forward through each engine;
//! * `fft2_grad_host` / `fft2_grad_dense`: forward + backward of `Σ|F x|²` on the autodiff device;
//! * `sense_host` / `sense_dense`: SENSE forward followed by adjoint.
//!
//! Sizes: 8 coils × 320×320 and 8 × 218×170 complex, batch 1 and 4. Devices: `UNROLL_BENCH_DEVICES`
//! (comma-separated `flex`, `ndarray`, `wgpu`; default `flex`). `UNROLL_BENCH_REPS` sets the
//! repetitions (default 10).

mod common;

use std::time::Instant;

use burn::prelude::*;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;
use unroll_physics::coils::birdcage_maps;
use unroll_physics::{Complex, Fft2, FftDirection, FftEngine, LinearOperator, MaskConfig, MultiCoilMri, Signal};

const COILS: usize = 8;

fn median_ms(reps: usize, device: &Device, mut f: impl FnMut()) -> f64 {
    for _ in 0..2 {
        f();
        device.sync().expect("device sync");
    }
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            device.sync().expect("device sync");
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

/// Plain rustfft 2D FFT of `images` images of `h × w`, serial, rows then columns via transposes.
fn rustfft_ms(reps: usize, images: usize, h: usize, w: usize) -> f64 {
    let mut planner = FftPlanner::<f32>::new();
    let (rows, cols) = (planner.plan_fft_forward(w), planner.plan_fft_forward(h));
    let mut data: Vec<Complex32> =
        (0..images * h * w).map(|i| Complex32::new((i % 7) as f32, (i % 5) as f32)).collect();
    let mut scratch = vec![Complex32::default(); h * w];
    let mut run = || {
        for image in data.chunks_mut(h * w) {
            rows.process(image);
            for r in 0..h {
                for c in 0..w {
                    scratch[c * h + r] = image[r * w + c];
                }
            }
            cols.process(&mut scratch);
            for c in 0..w {
                for r in 0..h {
                    image[r * w + c] = scratch[c * h + r];
                }
            }
        }
    };
    let cpu = Device::flex();
    median_ms(reps, &cpu, &mut run)
}

fn main() {
    let reps = common::reps();
    let mut rows = Vec::new();
    for (name, device) in common::devices() {
        let engines: Vec<(&str, FftEngine)> = if unroll_physics::fft::is_host_device(&device) {
            vec![("host", FftEngine::Host), ("dense", FftEngine::Dense)]
        } else {
            vec![("dense", FftEngine::Dense)]
        };
        for [h, w] in [[320, 320], [218, 170]] {
            for batch in [1, 4] {
                let images = batch * COILS;
                let baseline = rustfft_ms(reps, images, h, w);
                rows.push(format!(
                    r#"{{"device":"host","op":"rustfft","batch":{batch},"coils":{COILS},"h":{h},"w":{w},"ms":{baseline:.3}}}"#
                ));
                let x = Complex::<4>::zeros([batch, COILS, h, w], &device).randn_like(1);
                let image = Complex::<4>::zeros([batch, 1, h, w], &device).randn_like(2);
                let mask = MaskConfig::EquispacedFraction { acceleration: 4.0, center_fraction: 0.08 }
                    .generate([h, w], 0)
                    .to_tensor(&device);
                let maps = birdcage_maps([h, w], COILS, 1.5, 0.0, &device);
                for (engine_name, engine) in &engines {
                    let fft_ms = median_ms(reps, &device, || {
                        let _ = Fft2::CENTRED_ORTHO.apply_with(x.clone(), FftDirection::Forward, *engine);
                    });
                    let adevice = device.clone().autodiff();
                    let xa = Complex::<4>::zeros([batch, COILS, h, w], &adevice).randn_like(1).to_channels();
                    let grad_ms = median_ms(reps, &device, || {
                        let input = xa.clone().require_grad();
                        let k = Fft2::CENTRED_ORTHO.apply_with(
                            Complex::from_channels(input.clone()),
                            FftDirection::Forward,
                            *engine,
                        );
                        let _ = input.grad(&k.abs_sq().sum().backward());
                    });
                    let sense = MultiCoilMri::new(maps.clone(), mask.clone(), Fft2::CENTRED_ORTHO);
                    let sense_ms = if *engine == FftEngine::Dense && unroll_physics::fft::is_host_device(&device) {
                        // The operator always uses the Auto engine; time the dense path by hand.
                        median_ms(reps, &device, || {
                            let k = Fft2::CENTRED_ORTHO
                                .apply_with(sense.expand(image.clone()), FftDirection::Forward, FftEngine::Dense)
                                .mul_real(mask.clone());
                            let _ = sense.reduce(Fft2::CENTRED_ORTHO.apply_with(
                                k.mul_real(mask.clone()),
                                FftDirection::Inverse,
                                FftEngine::Dense,
                            ));
                        })
                    } else {
                        median_ms(reps, &device, || {
                            let _ = sense.adjoint(sense.forward(image.clone()));
                        })
                    };
                    for (op, ms) in [("fft2", fft_ms), ("fft2_grad", grad_ms), ("sense_fwd_adj", sense_ms)] {
                        rows.push(format!(
                            r#"{{"device":"{name}","op":"{op}_{engine_name}","batch":{batch},"coils":{COILS},"h":{h},"w":{w},"ms":{ms:.3},"vs_rustfft":{:.2}}}"#,
                            ms / baseline
                        ));
                    }
                }
            }
        }
    }
    println!(
        "{{\"threads\":{},\"reps\":{reps},\"results\":[\n  {}\n]}}",
        rayon::current_num_threads(),
        rows.join(",\n  ")
    );
}
