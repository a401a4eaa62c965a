//! `unroll bench conv_net`: the convolution micro-benchmark of the CPU-speed work. A plain
//! 5-layer 3×3 CNN `1 → 64 → 64 → 64 → 64 → 1` (zero "same" padding, bias, ReLU between), batch
//! 4 × 1 × 64² (`--size` sets the side), random input and target, one forward without autodiff,
//! and one L1 + backward + Adam (lr 1e-3) step.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::relu;
use unroll_models::cpu_conv::conv2d;

use super::{BenchOptions, BenchResult, CONV_NET, Reference, median_seconds, peak_rss_mib};
use crate::config::autodiff_device;
use crate::error::TrainError;

const CHANNELS: [usize; 6] = [1, 64, 64, 64, 64, 1];
const BATCH: usize = 4;
const SIZE: usize = 64;

#[derive(Module, Debug)]
struct ConvNet {
    layers: Vec<Conv2d>,
}

impl ConvNet {
    fn new(device: &Device) -> Self {
        let layers = CHANNELS
            .windows(2)
            .map(|c| Conv2dConfig::new([c[0], c[1]], [3, 3]).with_padding(PaddingConfig2d::Same).init(device))
            .collect();
        Self { layers }
    }

    fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        let last = self.layers.len() - 1;
        for (i, conv) in self.layers.iter().enumerate() {
            x = conv2d(conv, x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }
}

/// The figures of the module docs' CNN.
pub fn bench(options: &BenchOptions) -> Result<BenchResult, TrainError> {
    if options.runs == 0 {
        return Err(TrainError::Usage("bench: --runs must be at least 1".into()));
    }
    let size = options.size.unwrap_or(SIZE);
    let device = options.backend.device();
    let adevice = autodiff_device(device.clone(), options.gradient_checkpointing);
    adevice.seed(super::BENCH_SEED);
    let model = ConvNet::new(&adevice);
    let params = model.num_params();
    let normal = Distribution::Normal(0.0, 1.0);
    let [x, target] = [(); 2].map(|()| Tensor::<4>::random([BATCH, 1, size, size], normal, &device));

    let inference = model.valid();
    let forward_s = median_seconds(options, (), |()| {
        inference.forward(x.clone()).sum().into_scalar::<f64>();
        Ok(())
    })?;
    drop(inference);

    let (x, target) = (x.to_device(&adevice), target.to_device(&adevice));
    let mut optim = AdamConfig::new().init();
    let train_step_s = median_seconds(options, model, |model| {
        let loss = (model.forward(x.clone()) - target.clone()).abs().mean();
        let value = loss.clone().into_scalar::<f64>();
        if !value.is_finite() {
            return Err(TrainError::Diverged(format!("bench conv_net: the loss is {value}")));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(1e-3, model, grads);
        adevice.sync().map_err(|e| TrainError::Usage(format!("bench: the device failed: {e}")))?;
        Ok(model)
    })?;
    let result = BenchResult {
        model: CONV_NET.into(),
        params,
        forward_s,
        train_step_s,
        peak_rss_mib: peak_rss_mib(),
        backend: options.backend,
        config: serde_json::json!({
            "channels": CHANNELS,
            "kernel": [3, 3],
            "batch": BATCH,
            "size": [size, size],
            "loss": "l1",
            "optimizer": "adam, lr 1e-3",
            "gradient_checkpointing": options.gradient_checkpointing,
            "runs": options.runs,
            "warmup": options.warmup,
        }),
        reference: None,
        ratio: None,
    };
    Ok(result.against((size == SIZE).then(reference)))
}

/// PyTorch's figures for the same network at 64², batch 4.
fn reference() -> Reference {
    Reference {
        source: "PyTorch 2.15, the same network (nn.Conv2d, padding 1), 2 threads, median of 3 runs interleaved \
                 with ours, 2026-12-03"
            .into(),
        forward_s: Some(0.0180),
        train_step_s: 0.0721,
        peak_rss_mib: Some(738.0),
    }
}
