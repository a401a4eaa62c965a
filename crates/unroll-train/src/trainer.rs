//! The training loop.
//!
//! A hand-written loop on Burn's primitives (`backward`, `GradientsParams`, `ModuleOptimizer`) rather
//! than burn-train's `Learner`: the project needs checkpoints every N *steps* written atomically with
//! the loop position (so `--resume` continues mid-epoch), best-model tracking on validation PSNR of
//! simulated measurements, and a clean stop with a message on NaN/Inf, none of which the Learner's
//! per-epoch checkpointers provide.
//!
//! Normalisation: see [`crate::normalise`].

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::grad_clipping::GradientClippingConfig;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, MultiGradientsParams};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use unroll_data::{Measured, Simulation, SimulationBatcher, SimulationVisitor, Split, SplitDataset};
use unroll_models::Model;
use unroll_physics::{Physics, Signal};

use crate::checkpoint::{self, EpochRecord, LoopState};
use crate::config::{ExperimentConfig, ModelShape, OptimizerKind};
use crate::error::TrainError;
use crate::evaluate::{self, EvalSummary};
use crate::files;
use crate::logs::{RunLog, StepRecord};
use crate::losses::LossConfig;
use crate::normalise::{forward, per_sample_max};
use crate::plot;

/// Options of one training run.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Output folder (checkpoints, logs, metrics).
    pub out_dir: PathBuf,
    /// Continue from the checkpoint in `out_dir`.
    pub resume: bool,
}

/// The outcome of a training run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Experiment name.
    pub name: String,
    /// Epochs completed.
    pub epochs: usize,
    /// Optimisation steps.
    pub steps: usize,
    /// Best validation PSNR and its epoch.
    pub best: Option<(f64, usize)>,
    /// The last validation.
    pub last: Option<EpochRecord>,
    /// Why the run ended.
    pub stopped: String,
    /// Wall time of this invocation, seconds.
    pub seconds: f64,
    /// Output folder.
    pub out_dir: PathBuf,
}

/// Trains the experiment (see the module docs); prints progress and a summary.
pub fn train(config: &ExperimentConfig, options: &TrainOptions) -> Result<TrainSummary, TrainError> {
    if options.resume {
        check_resume_matches(config, &options.out_dir)?;
    }
    let images = Arc::new(config.data.load()?);
    let split = |which| config.data.dataset(images.clone(), which, config.seed).map_err(|m| config.error(m));
    let (train_set, val_set) = (split(Split::Train)?, split(Split::Val)?);
    if train_set.is_empty() || val_set.is_empty() {
        return Err(config.error(format!(
            "data.split: {} training and {} validation images from {}; both need at least one",
            train_set.len(),
            val_set.len(),
            config.data.source.path().display()
        )));
    }
    let shape = train_set.item_shape().expect("non-empty split");
    config.validate_shape(shape).map_err(|m| config.error(m))?;
    config.data.problem.visit(shape, TrainVisitor { config, options, train_set, val_set })
}

/// `--resume` continues the run only with the data, split, seed, batching and model it started
/// with; anything else would silently mix two experiments. Optimiser, schedule and loop length may
/// change. Refuses with the keys that differ.
fn check_resume_matches(config: &ExperimentConfig, out: &Path) -> Result<(), TrainError> {
    let stored_path = out.join("config.toml");
    if !stored_path.exists() {
        return Ok(());
    }
    let stored = ExperimentConfig::load(&stored_path, &[])?;
    let (a, b) = (&stored, config);
    let checks: [(&str, bool); 9] = [
        ("seed", a.seed == b.seed),
        ("data.source", a.data.source == b.data.source),
        ("data.problem", a.data.problem == b.data.problem),
        ("data.split", a.data.split == b.data.split),
        ("data.crop", a.data.crop == b.data.crop),
        ("data.augment", a.data.augment == b.data.augment),
        ("model", a.model == b.model),
        ("train.batch_size", a.train.batch_size == b.train.batch_size),
        ("train.devices", a.train.devices == b.train.devices),
    ];
    let changed: Vec<&str> = checks.iter().filter(|(_, same)| !same).map(|(key, _)| *key).collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(config.error(format!(
        "--resume: {} differ{} from the run in {} (its config.toml); resume with the same values, \
         or start a new run with another --out",
        changed.join(", "),
        if changed.len() == 1 { "s" } else { "" },
        out.display()
    )))
}

struct TrainVisitor<'a> {
    config: &'a ExperimentConfig,
    options: &'a TrainOptions,
    train_set: SplitDataset,
    val_set: SplitDataset,
}

impl SimulationVisitor for TrainVisitor<'_> {
    type Output = Result<TrainSummary, TrainError>;

    fn visit<S: Simulation>(self, simulation: S) -> Self::Output {
        run(self.config, self.options, self.train_set, self.val_set, simulation)
    }
}

/// The optimiser of the config.
pub fn optimizer(config: &ExperimentConfig) -> ModuleOptimizer {
    let o = &config.optimizer;
    let clip = o.grad_clip.map(|c| GradientClippingConfig::Norm(c as f32));
    match o.kind {
        OptimizerKind::Adam => {
            let decay = (o.weight_decay > 0.0).then(|| WeightDecayConfig::new(o.weight_decay as f32));
            AdamConfig::new().with_weight_decay(decay).with_grad_clipping(clip).init()
        }
        OptimizerKind::Adamw => {
            AdamWConfig::new().with_weight_decay(o.weight_decay as f32).with_grad_clipping(clip).init()
        }
    }
}

fn run<S: Simulation>(
    config: &ExperimentConfig,
    options: &TrainOptions,
    train_set: SplitDataset,
    val_set: SplitDataset,
    simulation: S,
) -> Result<TrainSummary, TrainError> {
    let started = Instant::now();
    let out = &options.out_dir;
    let tc = &config.train;
    let devices: Vec<Device> = config.backend.devices(tc.devices).into_iter().map(|d| tc.autodiff(d)).collect();
    let adevice = devices[0].clone();
    let device = adevice.clone().inner();
    adevice.seed(config.seed);
    let image_shape = train_set.item_shape().expect("non-empty");
    let shape = ModelShape { channels: simulation.model_channels(image_shape[0]), image_shape };
    let mut model = config.model.init(&config.model_context(shape), &adevice);
    let mut optim = optimizer(config);
    let mut state = LoopState::default();
    if options.resume {
        let dir = checkpoint::find(out)
            .ok_or_else(|| TrainError::Usage(format!("--resume: no checkpoint in {}", out.display())))?;
        (model, optim, state) = checkpoint::load(&dir, model, optim)?;
        println!("resuming from {} at epoch {}, step {}", dir.display(), state.epoch + 1, state.step);
    } else if checkpoint::find(out).is_some() {
        return Err(TrainError::Usage(format!(
            "{} already holds a checkpoint: pass --resume to continue it, or choose another --out",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| TrainError::file(out, e))?;
    let config_text = toml::to_string_pretty(config).expect("config serialises");
    files::write_atomic(&out.join("config.toml"), config_text.as_bytes())?;
    files::write_atomic(&out.join("model.json"), &serde_json::to_vec_pretty(&shape).expect("json"))?;

    let mut log = RunLog::open(out, options.resume.then_some((state.step, state.epoch)))?;
    let batcher = SimulationBatcher { simulation };
    let per_step = tc.batch_size * devices.len();
    let steps_per_epoch = train_set.len().div_ceil(per_step);
    let total_steps = steps_per_epoch * tc.epochs;
    println!(
        "training {} ({} parameters) on {:?} × {}: {} training / {} validation images of {:?}, {} epochs × {} steps",
        config.name(),
        model.num_params(),
        config.backend,
        devices.len(),
        train_set.len(),
        val_set.len(),
        train_set.item_shape().expect("non-empty"),
        tc.epochs,
        steps_per_epoch
    );
    let progress = Progress::new(total_steps, state.step, tc.log_every);
    let diverged = |what: String| {
        progress.finish();
        let kept = checkpoint::find(out).map_or("none was written yet".into(), |d| d.display().to_string());
        TrainError::Diverged(format!("{what}; the last good checkpoint is kept: {kept}"))
    };
    // A step's checkpoint is written once the model it holds has given a finite loss on the next
    // batch, so a checkpoint never holds weights that already diverged.
    let mut pending_checkpoint = false;
    let mut stopped = format!("completed {} epochs", tc.epochs);
    while state.epoch < tc.epochs {
        let epoch = state.epoch;
        let dataset = train_set.at_epoch(epoch as u64);
        let mut order: Vec<usize> = (0..dataset.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(
            config.seed ^ (epoch as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D),
        ));
        if state.batch_in_epoch == 0 {
            state.epoch_loss = (0.0, 0);
        }
        let mut lr = config.schedule.lr(config.optimizer.lr, state.step, total_steps);
        for positions in order.chunks(per_step).skip(state.batch_in_epoch) {
            let done = state.step as f64 / total_steps.max(1) as f64;
            lr = config.schedule.lr(config.optimizer.lr, state.step, total_steps) * config.loss.lr_factor(done);
            let shards: Vec<&[usize]> = positions.chunks(tc.batch_size).collect();
            let step =
                |model: &Model, shard: &[usize], device: &Device| -> Result<(f64, f64, GradientsParams), TrainError> {
                    let batch = batcher.batch(dataset.items(shard)?, device);
                    let loss = batch_loss(&config.loss, model, &batch, done);
                    let value = loss.clone().into_scalar::<f64>();
                    // The optimiser sums the devices' gradients: weigh each shard so the sum is the mean.
                    let loss = loss * (shard.len() as f64 / positions.len() as f64);
                    let grads = GradientsParams::from_grads(loss.backward(), model);
                    Ok((value, gradient_norm(model, &grads), grads))
                };
            let results: Vec<Result<(f64, f64, GradientsParams), TrainError>> = if shards.len() == 1 {
                vec![step(&model, shards[0], &devices[0])]
            } else {
                // Burn's data-parallel primitives: the model forked to every device, one batch each.
                std::thread::scope(|scope| {
                    let workers: Vec<_> = shards
                        .iter()
                        .zip(&devices)
                        .map(|(shard, device)| {
                            let model = model.clone().fork(device);
                            scope.spawn(move || step(&model, shard, device))
                        })
                        .collect();
                    workers.into_iter().map(|w| w.join().expect("training worker panicked")).collect()
                })
            };
            let (mut value, mut grad_norm) = (0.0, 0.0);
            let mut gradients = Vec::with_capacity(results.len());
            for (result, (shard, device)) in results.into_iter().zip(shards.iter().zip(&devices)) {
                let (shard_value, shard_norm, grads) = result?;
                value += shard_value * shard.len() as f64 / positions.len() as f64;
                // Each shard's loss is weighted by its share, so its gradient is too: the norm of
                // the sum is at most this sum (exact for one device).
                grad_norm += shard_norm;
                gradients.push((grads, device.clone()));
            }
            if !value.is_finite() {
                return Err(diverged(format!("the loss is {value} at epoch {}, step {}", epoch + 1, state.step + 1)));
            }
            if pending_checkpoint {
                checkpoint::save(out, &model, &optim, &state)?;
            }
            model = if gradients.len() == 1 {
                optim.step(lr, model, gradients.pop().expect("one device").0)
            } else {
                optim.step_multi(lr, model, MultiGradientsParams { grads: gradients })
            }
            .project();
            state.step += 1;
            state.batch_in_epoch += 1;
            state.epoch_loss.0 += value;
            state.epoch_loss.1 += 1;
            let steps_per_s = progress.step(state.step, epoch + 1, tc.epochs, value, lr);
            log.step(&StepRecord { step: state.step, epoch: epoch + 1, loss: value, lr, grad_norm, steps_per_s })?;
            pending_checkpoint = tc.checkpoint_every > 0 && state.step.is_multiple_of(tc.checkpoint_every);
        }
        state.epoch += 1;
        state.batch_in_epoch = 0;
        let validate = state.epoch % tc.validate_every == 0 || state.epoch == tc.epochs;
        if validate {
            let results =
                evaluate::evaluate(&model.valid(), &val_set, &batcher.simulation, &device, tc.batch_size, false)?;
            let val = EvalSummary::from_items(
                &results,
                (batcher.simulation.input_name(), batcher.simulation.baseline_name()),
            );
            if !val.recon.psnr.is_finite() {
                return Err(diverged(format!("the validation PSNR is {} after epoch {}", val.recon.psnr, state.epoch)));
            }
            let record = EpochRecord {
                epoch: state.epoch,
                step: state.step,
                train_loss: state.epoch_loss.0 / state.epoch_loss.1.max(1) as f64,
                val: val.clone(),
                lr,
            };
            progress.println(&format!(
                "epoch {}/{}: train loss {:.5} | val PSNR {:.2} dB (input {:.2}, {} {:.2}), SSIM {:.4}",
                state.epoch,
                tc.epochs,
                record.train_loss,
                val.recon.psnr,
                val.input.psnr,
                val.baseline_name,
                val.baseline.psnr,
                val.recon.ssim,
            ));
            log.validation(&record)?;
            state.history.push(record);
            // Under a staged loss, only models of its last phase compete for best (the earlier
            // phases optimise another objective: the L1 pretraining of proximal matching would
            // otherwise win on PSNR), and early stopping counts validations of that phase only.
            let final_phase =
                config.loss.in_final_phase(state.step.saturating_sub(1) as f64 / total_steps.max(1) as f64);
            if final_phase && state.best.is_none_or(|(best, _)| val.recon.psnr > best) {
                state.best = Some((val.recon.psnr, state.epoch));
                state.since_best = 0;
                let best = out.join("best");
                std::fs::create_dir_all(&best).map_err(|e| TrainError::file(&best, e))?;
                files::write_atomic(&best.join("model.bpk"), &checkpoint::model_bytes(&model.valid())?)?;
            } else if final_phase {
                state.since_best += 1;
            }
        }
        checkpoint::save(out, &model, &optim, &state)?;
        pending_checkpoint = false;
        if let Some(patience) = tc.early_stopping
            && validate
            && state.since_best >= patience
        {
            stopped = format!("early stopping: no better validation PSNR for {patience} validations");
            break;
        }
    }
    progress.finish();
    let summary = TrainSummary {
        name: config.name().to_string(),
        epochs: state.epoch,
        steps: state.step,
        best: state.best,
        last: state.history.last().cloned(),
        stopped,
        seconds: started.elapsed().as_secs_f64(),
        out_dir: out.clone(),
    };
    let json = serde_json::to_vec_pretty(&summary).expect("summary serialises");
    files::write_atomic(&out.join("summary.json"), &json)?;
    // The run is done and saved: a plot that fails is only a warning.
    let curves = plot::plot_run(out).inspect_err(|e| eprintln!("warning: no training curves: {e}")).ok();
    print_summary(&summary, curves.as_deref());
    Ok(summary)
}

fn print_summary(summary: &TrainSummary, curves: Option<&Path>) {
    println!("\n== {} ({}, {} steps, {:.1} s) ==", summary.name, summary.stopped, summary.steps, summary.seconds);
    if let Some(last) = &summary.last {
        print!("{}", last.val.table("validation"));
    }
    if let Some((psnr, epoch)) = summary.best {
        println!(
            "best validation PSNR {psnr:.2} dB at epoch {epoch}; best model in {}",
            summary.out_dir.join("best").display()
        );
    }
    if let Some(curves) = curves {
        println!("curves: {}", curves.display());
    }
    println!("checkpoint: {}", checkpoint::checkpoint_dir(&summary.out_dir).display());
}

/// The training loss of `model` on `batch`: the model runs under the normalisation of
/// [`crate::normalise`], and `loss` compares its iterates with the target divided by the same
/// per-sample scale (SSIM's data range is that scaled target's maximum). `progress`, the fraction
/// of the training steps done, picks the phase of a staged loss ([`LossConfig::at`]).
pub fn batch_loss<Op: Physics>(loss: &LossConfig, model: &Model, batch: &Measured<Op>, progress: f64) -> Tensor<1> {
    let (iterates, scale) = forward(model, &batch.op, batch.y.clone());
    let target = batch.target.clone().image().mul_per_sample(scale.recip());
    let images: Vec<Tensor<4>> = iterates.into_iter().map(Signal::image).collect();
    let [_, c, h, w] = target.dims();
    loss.at(progress, [c, h, w]).total(&images, model.iterate_groups(), &target, &per_sample_max(target.clone()))
}

/// Global L2 norm of `grads` over the parameters of `model`.
fn gradient_norm(model: &Model, grads: &GradientsParams) -> f64 {
    struct SumOfSquares<'a> {
        grads: &'a GradientsParams,
        total: Option<Tensor<1>>,
    }
    impl ModuleVisitor for SumOfSquares<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                let squares = g.square().sum();
                self.total = Some(match self.total.take() {
                    Some(total) => total + squares,
                    None => squares,
                });
            }
        }
    }
    let mut visitor = SumOfSquares { grads, total: None };
    model.visit(&mut visitor);
    visitor.total.map_or(0.0, |t| t.into_scalar::<f64>().sqrt())
}

/// Progress: a bar on a terminal, plain lines every `log_every` steps otherwise (CI logs).
struct Progress {
    bar: Option<ProgressBar>,
    log_every: usize,
    total: usize,
    started: Instant,
    first_step: usize,
}

impl Progress {
    fn new(total: usize, done: usize, log_every: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64).with_position(done as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise}<{eta_precise}]")
                    .expect("valid template"),
            );
            bar
        });
        Self { bar, log_every: log_every.max(1), total, started: Instant::now(), first_step: done }
    }

    /// Shows step `step`; returns the steps per second of this invocation.
    fn step(&self, step: usize, epoch: usize, epochs: usize, loss: f64, lr: f64) -> f64 {
        let message = format!("epoch {epoch}/{epochs} loss {loss:.5} lr {lr:.2e}");
        let rate = (step - self.first_step) as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        match &self.bar {
            Some(bar) => {
                bar.set_position(step as u64);
                bar.set_message(message);
            }
            None if step.is_multiple_of(self.log_every) || step == self.total => {
                println!("step {step}/{} {message} ({rate:.2} steps/s)", self.total);
            }
            None => {}
        }
        rate
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
