//! The run's logs, in its output folder: `train_log.csv` (one row per optimisation step: step,
//! epoch, loss, learning rate, gradient norm before clipping, steps per second) and
//! `validation.csv` (one row per validation). Rows are flushed as they are written; on `--resume`,
//! rows past the checkpoint (steps that will be redone) are dropped first, so the logs of a killed
//! and resumed run read like those of an uninterrupted one (apart from the speed column).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::checkpoint::EpochRecord;
use crate::error::TrainError;

pub(crate) const STEP_HEADER: &str = "step,epoch,loss,lr,grad_norm,steps_per_s";
pub(crate) const VALIDATION_HEADER: &str =
    "epoch,step,train_loss,psnr,ssim,nmse,input_psnr,input_ssim,baseline_psnr,baseline_ssim,baseline,lr";

/// One optimisation step.
#[derive(Clone, Copy, Debug)]
pub struct StepRecord {
    /// Steps done, this one included.
    pub step: usize,
    /// Epoch (1-based).
    pub epoch: usize,
    /// Training loss of the step's batch.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global L2 norm of the gradients, before clipping.
    pub grad_norm: f64,
    /// Steps per second since this invocation started.
    pub steps_per_s: f64,
}

/// The open logs of a run.
pub struct RunLog {
    steps: (PathBuf, BufWriter<File>),
    validations: (PathBuf, BufWriter<File>),
}

impl RunLog {
    /// Opens the logs of `out`: new ones, or, when resuming at `step`/`epoch`, the existing ones
    /// without their rows past that point.
    pub fn open(out: &Path, resume: Option<(usize, usize)>) -> Result<Self, TrainError> {
        let open = |name: &str, header: &str, keep: &dyn Fn(usize) -> bool| -> Result<_, TrainError> {
            let path = out.join(name);
            let mut text = format!("{header}\n");
            if resume.is_some()
                && let Ok(old) = std::fs::read_to_string(&path)
            {
                for line in old.lines().skip(1) {
                    let first = line.split(',').next().and_then(|v| v.parse::<usize>().ok());
                    if first.is_some_and(keep) {
                        text += &format!("{line}\n");
                    }
                }
            }
            crate::files::write_atomic(&path, text.as_bytes())?;
            let file = File::options().append(true).open(&path).map_err(|e| TrainError::file(&path, e))?;
            Ok((path, BufWriter::new(file)))
        };
        let (step, epoch) = resume.unwrap_or((0, 0));
        Ok(Self {
            steps: open("train_log.csv", STEP_HEADER, &|s| s <= step)?,
            validations: open("validation.csv", VALIDATION_HEADER, &|e| e <= epoch)?,
        })
    }

    /// Appends a step.
    pub fn step(&mut self, r: &StepRecord) -> Result<(), TrainError> {
        let line =
            format!("{},{},{:.6e},{:.6e},{:.6e},{:.3}", r.step, r.epoch, r.loss, r.lr, r.grad_norm, r.steps_per_s);
        write_line(&mut self.steps, &line)
    }

    /// Appends a validation.
    pub fn validation(&mut self, r: &EpochRecord) -> Result<(), TrainError> {
        let (v, i, b) = (&r.val.recon, &r.val.input, &r.val.baseline);
        let line = format!(
            "{},{},{:.6e},{:.4},{:.5},{:.6},{:.4},{:.5},{:.4},{:.5},{},{:.6e}",
            r.epoch,
            r.step,
            r.train_loss,
            v.psnr,
            v.ssim,
            v.nmse,
            i.psnr,
            i.ssim,
            b.psnr,
            b.ssim,
            r.val.baseline_name,
            r.lr
        );
        write_line(&mut self.validations, &line)
    }
}

fn write_line((path, file): &mut (PathBuf, BufWriter<File>), line: &str) -> Result<(), TrainError> {
    writeln!(file, "{line}")
        .and_then(|()| file.flush())
        .map_err(|e| TrainError::file(path.as_path(), format!("cannot write: {e}")))
}
