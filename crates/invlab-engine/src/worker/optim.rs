//! The optimizer and the learning-rate schedules.

use tch::nn::VarStore;
use tch::{Device, Tensor};

use crate::error::{EngineError, EngineResult};
use invlab_core::atomic::save_atomic_with_room;
use invlab_core::config::RunConfig;

/// SGD with momentum and weight decay, as `torch.optim.SGD` (dampening 0, no Nesterov), with
/// momentum buffers that can be checkpointed.
pub(super) struct Sgd {
    params: Vec<(String, Tensor)>,
    buffers: Vec<Tensor>,
    momentum: f64,
    weight_decay: f64,
}

impl Sgd {
    pub fn new(params: Vec<(String, Tensor)>, momentum: f64, weight_decay: f64) -> Sgd {
        let buffers = params.iter().map(|(_, p)| p.zeros_like()).collect();
        Sgd {
            params,
            buffers,
            momentum,
            weight_decay,
        }
    }

    pub(crate) fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    pub(crate) fn step(&mut self, lr: f64) {
        tch::no_grad(|| {
            for ((_, p), buf) in self.params.iter_mut().zip(&mut self.buffers) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let d = g + &*p * self.weight_decay;
                let _ = buf.g_mul_scalar_(self.momentum).g_add_(&d);
                let _ = p.g_sub_(&(&*buf * lr));
            }
        });
    }

    pub(crate) fn save(&self, path: &std::path::Path) -> EngineResult<()> {
        let named: Vec<(String, &Tensor)> = self
            .params
            .iter()
            .zip(&self.buffers)
            .map(|((name, _), b)| (name.clone(), b))
            .collect();
        let bytes = super::checkpoint::tensor_bytes(named.iter().map(|(_, t)| *t));
        save_atomic_with_room(path, bytes, |tmp| Tensor::save_multi(&named, tmp))
            .map_err(|e| EngineError::writing(path, e))
    }

    pub fn load(&mut self, path: &std::path::Path, device: Device) -> EngineResult<()> {
        let saved = Tensor::load_multi_with_device(path, device)
            .map_err(|e| EngineError::reading(path, e))?;
        for ((name, _), buf) in self.params.iter().zip(&mut self.buffers) {
            if let Some((_, t)) = saved.iter().find(|(n, _)| n == name) {
                tch::no_grad(|| buf.copy_(t));
            }
        }
        Ok(())
    }
}

/// Trainable variables under a prefix, sorted by name (a stable order for checkpoints).
pub(super) fn named_params(vs: &VarStore, prefix: &str) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(name, t)| name.starts_with(prefix) && t.requires_grad())
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// lr for 0-based `epoch` of the main stage: linear warm-up, then x0.01 after E1, x0.0001 after E2
/// (as Cao et al.'s reference: epoch counted from 1, warm-up while epoch <= warmup).
pub(crate) fn learning_rate(config: &RunConfig, epoch: usize) -> f64 {
    let t = &config.train;
    let e = epoch + 1;
    if t.warmup_epochs > 0 && e <= t.warmup_epochs {
        t.lr * e as f64 / t.warmup_epochs as f64
    } else if e > t.decay_epochs[1] {
        t.lr * 1e-4
    } else if e > t.decay_epochs[0] {
        t.lr * 1e-2
    } else {
        t.lr
    }
}

/// lr for cRT's classifier stage: cosine from the base lr to 0 over its epochs.
pub(super) fn crt_learning_rate(config: &RunConfig, stage_epoch: usize) -> f64 {
    let total = config.method.crt_epochs.max(1) as f64;
    config.train.lr * 0.5 * (1.0 + (std::f64::consts::PI * stage_epoch as f64 / total).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_the_reference() {
        let mut c = RunConfig::default();
        c.train.lr = 0.1;
        c.train.warmup_epochs = 5;
        c.train.decay_epochs = [160, 180];
        let lr = |e| learning_rate(&c, e);
        assert!((lr(0) - 0.02).abs() < 1e-12);
        assert!((lr(4) - 0.1).abs() < 1e-12);
        assert!((lr(159) - 0.1).abs() < 1e-12);
        assert!((lr(160) - 0.001).abs() < 1e-12);
        assert!((lr(180) - 0.00001).abs() < 1e-12);
    }
}
