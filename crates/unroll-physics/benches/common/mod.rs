//! What the benchmarks share: the devices and repetitions they are told to use.

use burn::prelude::*;

/// `UNROLL_BENCH_REPS` (default 10).
pub fn reps() -> usize {
    std::env::var("UNROLL_BENCH_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(10)
}

/// The devices of `UNROLL_BENCH_DEVICES` (comma-separated `flex`, `ndarray`, `wgpu`; default
/// `flex`), with their names.
#[allow(deprecated)] // ndarray is deprecated upstream; the project keeps it selectable.
pub fn devices() -> Vec<(String, Device)> {
    let names = std::env::var("UNROLL_BENCH_DEVICES").unwrap_or_else(|_| "flex".into());
    names
        .split(',')
        .map(|name| {
            let device = match name {
                "flex" => Device::flex(),
                "ndarray" => Device::ndarray(),
                "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
                other => panic!("unknown device {other}"),
            };
            (name.to_owned(), device)
        })
        .collect()
}
