//! Saving and restoring a run: weights, SGD momentum, metrics so far, and `state.json`.

use super::optim::{named_params, Sgd};
use super::Trainer;
use crate::error::{EngineError, EngineResult};
use invlab_core::atomic::save_atomic_with_room;
use invlab_core::rundir::{now_secs, RunState, Status};

/// Bytes of the tensors' data (what a checkpoint of them holds, before the archive's headers).
pub(super) fn tensor_bytes<'t>(tensors: impl IntoIterator<Item = &'t tch::Tensor>) -> u64 {
    tensors
        .into_iter()
        .map(|t| t.numel() as u64 * t.kind().elt_size_in_bytes() as u64)
        .sum()
}

impl Trainer<'_> {
    pub(super) fn write_state(&self, status: Status) -> EngineResult<()> {
        self.dir
            .write_state(&RunState {
                status,
                checkpoint_epoch: self.checkpoint_epoch,
                epochs_done: self.history.len(),
                generator_iteration: self.generator_iteration.get(),
                total_epochs: self.total_epochs(),
                message: String::new(),
                updated: now_secs(),
                seconds: self.seconds_so_far(),
            })
            .map_err(|e| EngineError::writing(&self.dir.file("state.json"), e))
    }

    /// Wall seconds over every attempt: the earlier ones' (from `state.json`) and this one's.
    pub(super) fn seconds_so_far(&self) -> f64 {
        self.earlier_seconds + self.started.elapsed().as_secs_f64()
    }

    /// Loads the last checkpoint and the metrics up to it.
    pub(super) fn restore(&mut self) -> EngineResult<()> {
        let state = self
            .dir
            .state_or_recovered()
            .map_err(|e| EngineError::Resume(e.to_string()))?
            .unwrap_or_else(|| RunState::at_start(Status::Stopped, ""));
        if state.status == Status::Finished {
            return Err(EngineError::Resume(format!(
                "{} already finished; nothing to resume",
                self.dir.path.display()
            )));
        }
        let done = state.checkpoint_epoch;
        if done > self.total_epochs() {
            return Err(EngineError::Resume(format!(
                "{} holds a checkpoint after epoch {done}, but its config trains {} epochs (was config.toml edited?); restore train.epochs to {done} or more",
                self.dir.path.display(),
                self.total_epochs()
            )));
        }
        // SGD's momentum is part of the state: without it the resumed run would not continue
        // as the unbroken one (the last epoch of the main stage before cRT needs none).
        let optimizer = self.dir.file("optimizer.ot");
        let needs_momentum = done > 0
            && !(self.config.method.rule == invlab_core::config::Rule::Crt
                && done == self.config.train.epochs);
        if needs_momentum && !optimizer.is_file() {
            return Err(EngineError::Resume(format!(
                "{} is missing: the checkpoint's SGD momentum is lost, and a resume would not continue the run exactly; restore it, or move the directory away to start over",
                optimizer.display()
            )));
        }
        if done > 0 {
            let path = self.dir.file("checkpoint.ot");
            self.vs
                .load(&path)
                .map_err(|e| EngineError::reading(&path, e))?;
        }
        let mut history = self.dir.read_metrics();
        history.truncate(done);
        if history.len() != done {
            return Err(EngineError::Resume(format!(
                "{} holds {} epochs but the checkpoint is at epoch {done}",
                self.dir.file("metrics.jsonl").display(),
                history.len()
            )));
        }
        self.history = history;
        self.checkpoint_epoch = done;
        self.earlier_seconds = state.seconds;
        self.info.resumed_at = Some(done);
        Ok(())
    }

    /// The optimizer for the stage `epoch` belongs to, with momentum restored on resume.
    pub(super) fn optimizer_for(&self, epoch: usize) -> EngineResult<Sgd> {
        let prefix = if self.in_crt_stage(epoch) { "head" } else { "" };
        let mut sgd = Sgd::new(
            named_params(&self.vs, prefix),
            self.config.train.momentum,
            self.config.train.weight_decay,
        );
        let path = self.dir.file("optimizer.ot");
        if epoch > 0
            && epoch == self.checkpoint_epoch
            && path.is_file()
            && !(self.in_crt_stage(epoch) && epoch == self.config.train.epochs)
        {
            sgd.load(&path, self.vs.device())?;
        }
        Ok(sgd)
    }

    pub(super) fn save_checkpoint(
        &mut self,
        optimizer: &Sgd,
        epochs_done: usize,
    ) -> EngineResult<()> {
        let path = self.dir.file("checkpoint.ot");
        let bytes = tensor_bytes(self.vs.variables().values());
        save_atomic_with_room(&path, bytes, |tmp| self.vs.save(tmp))
            .map_err(|e| EngineError::writing(&path, e))?;
        optimizer.save(&self.dir.file("optimizer.ot"))?;
        self.dir
            .write_checkpoint_epoch(epochs_done)
            .map_err(|e| EngineError::writing(&self.dir.file("checkpoint.json"), e))?;
        self.checkpoint_epoch = epochs_done;
        Ok(())
    }
}
