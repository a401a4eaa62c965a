//! Matrix product benchmark, printed as JSON on stdout.
//!
//! `cargo bench --workspace --bench matmul` times Burn's f32 `matmul` of two random `n × n`
//! matrices (median over repetitions, each up to a device sync) for n = 256, 512, 1024 and
//! 2048, and reports GFLOP/s (`2n³` per product). Devices: `UNROLL_BENCH_DEVICES` (comma-separated
//! `flex`, `ndarray`, `wgpu`; default `flex`); `UNROLL_BENCH_REPS` sets the repetitions (default
//! 10).

mod common;

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;

fn main() {
    let reps = common::reps();
    let mut rows = Vec::new();
    for (name, device) in common::devices() {
        for n in [256, 512, 1024, 2048] {
            let [a, b] = [1, 2].map(|_| Tensor::<2>::random([n, n], Distribution::Normal(0.0, 1.0), &device));
            let mut times: Vec<f64> = (0..reps + 2)
                .map(|_| {
                    let start = Instant::now();
                    let product = a.clone().matmul(b.clone());
                    device.sync().expect("device sync");
                    drop(product);
                    start.elapsed().as_secs_f64()
                })
                .skip(2)
                .collect();
            times.sort_by(f64::total_cmp);
            let seconds = times[reps / 2];
            let gflops = 2.0 * (n as f64).powi(3) / seconds / 1e9;
            rows.push(format!(r#"{{"device":"{name}","n":{n},"ms":{:.3},"gflops":{gflops:.1}}}"#, seconds * 1e3));
        }
    }
    println!(
        "{{\"threads\":{},\"reps\":{reps},\"results\":[\n  {}\n]}}",
        rayon::current_num_threads(),
        rows.join(",\n  ")
    );
}
