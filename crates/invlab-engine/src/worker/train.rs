//! One epoch of SGD on the device-resident training set, and cRT's head reset.

use std::time::Instant;

use crate::resources;

use tch::{Kind, Tensor};

use super::optim::{crt_learning_rate, learning_rate, named_params, Sgd};
use super::{Flow, Trainer};
use crate::error::{EngineError, EngineResult};
use crate::events::{Event, Phase};
use crate::generative::augment::Nuisance;
use crate::method;
use crate::models::unit_columns;
use crate::torch_seed::with_torch_seed;
use invlab_core::config::{Augment, Loss};
use invlab_core::seed::{self, SeedPurpose};

/// What an epoch of training measured.
pub(super) struct EpochTraining {
    pub loss: f64,
    pub accuracy: f64,
    pub seconds: f64,
    /// Generated images mixed into the batches (GIT runs), else `None`.
    pub generated: Option<usize>,
    /// Images drawn from each class (by label).
    pub drawn_per_class: Vec<usize>,
}

impl Trainer<'_> {
    /// The learning rate of 0-based `epoch`, in whichever stage it belongs to.
    pub(super) fn lr_at(&self, epoch: usize) -> f64 {
        if self.in_crt_stage(epoch) {
            crt_learning_rate(&self.config, epoch - self.config.train.epochs)
        } else {
            learning_rate(&self.config, epoch)
        }
    }

    /// One epoch of SGD. `None` when stopped.
    pub(super) fn train_epoch(
        &mut self,
        epoch: usize,
        optimizer: &mut Sgd,
    ) -> EngineResult<Option<EpochTraining>> {
        self.emit(Event::Phase(Phase::Training));
        let t0 = Instant::now();
        let crt = self.in_crt_stage(epoch);
        let lr = self.lr_at(epoch);
        let e1 = self.config.train.decay_epochs[0];
        let sizes = &self.info.train_sizes;
        let sampling = method::sampling_weights(&self.config.method, sizes, epoch, e1, crt);
        let mut order_rng = seed::rng(self.config.seed, SeedPurpose::Order { epoch });
        let order = method::epoch_order(
            &self.data.train_labels,
            sampling.as_deref(),
            &self.data.train_by_class,
            &mut order_rng,
        );
        let mut drawn_per_class = vec![0usize; sizes.len()];
        for &i in &order {
            drawn_per_class[self.data.train_labels[i] as usize] += 1;
        }
        let device = self.vs.device();
        let weights = method::loss_weights(&self.config.method, sizes, epoch, e1).map(|w| {
            let w: Vec<f32> = w.into_iter().map(|x| x as f32).collect();
            Tensor::from_slice(&w).to_device(device)
        });
        let mut aug_rng = seed::rng(self.config.seed, SeedPurpose::Augment { epoch });
        let labels_all = Tensor::from_slice(&self.data.train_labels).to_device(device);
        // What fills GIT's mixed rows, and the images their content comes from: the generator
        // on the stored training images, or (the oracle control) the true transform on the
        // untransformed ones.
        let (nuisance, content_images) = match (self.config.method.augment, &self.generator) {
            (Augment::GitOracle, _) => (
                Some(Nuisance::True(self.config.data.transform)),
                self.data.train_raw.as_ref().unwrap_or(&self.data.train),
            ),
            (_, Some(generator)) => (Some(Nuisance::Generator(&generator.net)), &self.data.train),
            (_, None) => (None, &self.data.train),
        };
        if let (Some(git), Some(nuisance)) = (&mut self.git, &nuisance) {
            git.start_epoch(
                nuisance,
                epoch,
                content_images,
                &self.data.train_labels,
                sampling.as_deref(),
                &self.data.train_by_class,
            );
        }
        let batch_size = self.config.train.batch_size;
        let batches = order.len().div_ceil(batch_size);
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0i64, 0usize);
        let mut last_report = Instant::now();
        if self.first_batch_seconds.is_none() && !order.is_empty() {
            self.first_batch_seconds = Some(
                resources::since_process_start()
                    .unwrap_or_else(|| self.started.elapsed().as_secs_f64()),
            );
        }
        let mut generated: Option<usize> = None;
        let mut window = ReadbackWindow::default();
        for (b, chunk) in order.chunks(batch_size).enumerate() {
            if let Flow::Stop = self.check_controls()? {
                return Ok(None);
            }
            let idx: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
            let idx = Tensor::from_slice(&idx).to_device(device);
            let y = labels_all.index_select(0, &idx);
            let x = self.data.training_batch(&self.config, &idx, &mut aug_rng);
            let (x, y) = match (&self.git, &nuisance) {
                (Some(git), Some(nuisance)) if !crt => {
                    let mixed = git.mix(nuisance, b, &x, &y, content_images, &labels_all);
                    *generated.get_or_insert(0) += mixed.generated;
                    (mixed.images, mixed.labels)
                }
                _ => (x, y),
            };
            let x = self.data.normalize(&x);
            let logits = if crt {
                let features = tch::no_grad(|| self.model.backbone.forward_t(&x, false));
                self.model.head.forward(&features)
            } else {
                self.model.forward_t(&x, true)
            };
            let loss = self.loss.compute(&logits, &y, weights.as_ref());
            optimizer.zero_grad();
            loss.backward();
            optimizer.step(lr);
            window.push(
                loss.detach(),
                logits.argmax(-1, false).eq_tensor(&y).sum(Kind::Int64),
                chunk.len(),
            );
            let report = last_report.elapsed().as_millis() >= 200 || b + 1 == batches;
            if report || window.is_full() {
                // One host synchronisation for the whole window (on a GPU the queue stays full).
                let first_batch = b + 2 - window.len();
                let (losses, corrects, sizes) = window.read_back()?;
                for (k, (loss_value, n)) in losses.into_iter().zip(sizes).enumerate() {
                    if !loss_value.is_finite() {
                        return Err(EngineError::Diverged {
                            epoch: epoch + 1,
                            batch: first_batch + k,
                            value: loss_value,
                        });
                    }
                    loss_sum += loss_value * n as f64;
                    seen += n;
                }
                correct += corrects;
            }
            if report {
                last_report = Instant::now();
                self.emit(Event::Batch {
                    epoch: epoch + 1,
                    batch: b + 1,
                    batches,
                    loss: loss_sum / seen as f64,
                });
            }
        }
        let seen = seen.max(1) as f64;
        Ok(Some(EpochTraining {
            loss: loss_sum / seen,
            accuracy: correct as f64 / seen,
            seconds: t0.elapsed().as_secs_f64(),
            generated,
            drawn_per_class,
        }))
    }

    /// cRT: a fresh classifier, seeded.
    pub(super) fn reset_head(&mut self) {
        let device = self.vs.device();
        // Re-draw the head's variables in place (the model holds views of them).
        with_torch_seed(seed::derive(self.config.seed, SeedPurpose::CrtHead), || {
            tch::no_grad(|| {
                for (name, mut t) in named_params(&self.vs, "head") {
                    let shape = t.size();
                    let value = if name.ends_with("bias") {
                        Tensor::zeros(shape.as_slice(), (Kind::Float, device))
                    } else if self.config.method.loss == Loss::Ldam {
                        // As the cosine head's own init: U(-1, 1), unit-norm class columns.
                        let uniform =
                            Tensor::rand(shape.as_slice(), (Kind::Float, device)) * 2.0 - 1.0;
                        unit_columns(&uniform)
                    } else {
                        let fan_in = shape[1] as f64;
                        Tensor::randn(shape.as_slice(), (Kind::Float, device))
                            * (2.0 / fan_in).sqrt()
                    };
                    t.copy_(&value);
                }
            })
        });
    }
}

/// Batches between reads of the loss and accuracy back to the host. Each read waits for the
/// device to finish the queued work; reading once per window instead of once per batch keeps a
/// GPU's queue full. The values and the order they are summed in are the same either way.
const READBACK_BATCHES: usize = 16;

/// The losses and correct counts of the batches since the last read, still on the device.
#[derive(Default)]
struct ReadbackWindow {
    losses: Vec<Tensor>,
    corrects: Vec<Tensor>,
    sizes: Vec<usize>,
}

impl ReadbackWindow {
    fn push(&mut self, loss: Tensor, correct: Tensor, size: usize) {
        self.losses.push(loss);
        self.corrects.push(correct);
        self.sizes.push(size);
    }

    fn len(&self) -> usize {
        self.sizes.len()
    }

    fn is_full(&self) -> bool {
        self.len() >= READBACK_BATCHES
    }

    /// Each batch's loss (as `f64`, as a per-batch read gives it), the window's correct count
    /// and each batch's size; empties the window.
    fn read_back(&mut self) -> EngineResult<(Vec<f64>, i64, Vec<usize>)> {
        if self.losses.is_empty() {
            return Ok((Vec::new(), 0, Vec::new()));
        }
        let losses = Tensor::stack(&self.losses, 0).to_kind(Kind::Double);
        let losses = Vec::<f64>::try_from(&losses)?;
        let correct = i64::try_from(Tensor::stack(&self.corrects, 0).sum(Kind::Int64))?;
        self.losses.clear();
        self.corrects.clear();
        Ok((losses, correct, std::mem::take(&mut self.sizes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_reads_back_each_batch_loss_in_order_and_the_summed_correct_counts() {
        let mut w = ReadbackWindow::default();
        let batches = [(0.5f32, 3i64, 128usize), (f32::NAN, 7, 128), (1.25, 2, 5)];
        for (loss, correct, n) in batches {
            w.push(Tensor::from(loss), Tensor::from(correct), n);
        }
        assert_eq!(w.len(), 3);
        assert!(!w.is_full());
        let (losses, correct, sizes) = w.read_back().unwrap();
        assert_eq!(losses[0], 0.5);
        assert!(
            losses[1].is_nan(),
            "the non-finite batch stays where it was"
        );
        assert_eq!(losses[2], f64::from(1.25f32));
        assert_eq!(correct, 12);
        assert_eq!(sizes, vec![128, 128, 5]);
        assert_eq!(w.len(), 0, "reading empties the window");
        assert_eq!(w.read_back().unwrap(), (Vec::new(), 0, Vec::new()));
        for _ in 0..READBACK_BATCHES {
            w.push(Tensor::from(1.0f32), Tensor::from(1i64), 1);
        }
        assert!(w.is_full());
    }
}
