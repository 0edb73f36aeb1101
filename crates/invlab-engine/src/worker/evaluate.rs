//! Test accuracy after each epoch, and eKLD (the live estimate and the final one). Both check
//! the run's controls between forward batches, so a stop never waits for a whole evaluation.

use std::time::{Duration, Instant};

use tch::{Device, Tensor};

use super::data::DeviceData;
use super::train::EpochTraining;
use super::{Flow, Trainer};
use crate::error::EngineResult;
use crate::events::{Event, Phase};
use crate::generative::munit::Generator;
use crate::metrics::adaptive::AdaptivePlan;
use crate::{generative, metrics, transforms};
use invlab_core::config::{EkldSampling, EkldTransform, RunConfig};
use invlab_core::records::{EpochMetrics, GroupAccuracy, InvarianceReport, SamplingUsage, Stage};
use invlab_core::seed::{self, SeedPurpose};
use invlab_core::summary::group_means;

impl Trainer<'_> {
    /// Inference logits of float 0..=255 images (`Classifier::logits`: s * cos for LDAM's
    /// cosine head, so eKLD compares the distributions the loss trains).
    fn logits(&self, images: &Tensor) -> Tensor {
        self.model.logits(&self.data.normalize(images))
    }

    /// True when a stop arrived (blocks while paused, like training does).
    fn stop_requested(&self) -> bool {
        match self.check_controls() {
            Ok(Flow::Stop) => true,
            Ok(Flow::Continue) => false,
            Err(e) => {
                tracing::warn!("while checking controls: {e}");
                false
            }
        }
    }

    /// Test accuracy per class after `epoch`. `None` when stopped.
    pub(super) fn evaluate(
        &self,
        epoch: usize,
        trained: EpochTraining,
    ) -> EngineResult<Option<EpochMetrics>> {
        self.emit(Event::Phase(Phase::Evaluating));
        let t0 = Instant::now();
        let n = self.data.test.size()[0];
        let mut predictions = Vec::with_capacity(n as usize);
        let mut start = 0;
        while start < n {
            if self.stop_requested() {
                return Ok(None);
            }
            let len = (metrics::FORWARD_BATCH as i64).min(n - start);
            let logits = tch::no_grad(|| self.logits(&self.data.test.narrow(0, start, len)));
            predictions.extend(Vec::<i64>::try_from(
                logits.argmax(-1, false).to_device(Device::Cpu),
            )?);
            start += len;
        }
        let classes = self.info.num_classes;
        let per_class = metrics::per_class_accuracy(&predictions, &self.data.test_labels, classes);
        let correct = predictions
            .iter()
            .zip(&self.data.test_labels)
            .filter(|(p, y)| p == y)
            .count();
        let present: Vec<f64> = per_class
            .iter()
            .zip(&self.info.test_sizes)
            .filter(|(_, &n)| n > 0)
            .map(|(a, _)| *a)
            .collect();
        let [many, medium, few] = group_means(&per_class, &self.info.train_sizes);
        Ok(Some(EpochMetrics {
            epoch: epoch + 1,
            total_epochs: self.total_epochs(),
            stage: if self.in_crt_stage(epoch) {
                Stage::Crt
            } else {
                Stage::Train
            },
            lr: self.lr_at(epoch),
            train_loss: trained.loss,
            train_accuracy: trained.accuracy,
            test_accuracy: correct as f64 / predictions.len().max(1) as f64,
            balanced_accuracy: present.iter().sum::<f64>() / present.len().max(1) as f64,
            groups: GroupAccuracy { many, medium, few },
            per_class_accuracy: per_class,
            train_seconds: trained.seconds,
            eval_seconds: t0.elapsed().as_secs_f64(),
            invariance: None,
            generated_images: trained.generated,
            drawn_per_class: trained.drawn_per_class,
        }))
    }

    /// eKLD per class: the quick live estimate, or the full one at the end. `None` when stopped.
    pub(super) fn invariance(
        &self,
        epoch: usize,
        full: bool,
    ) -> EngineResult<Option<InvarianceReport>> {
        self.emit(Event::Phase(Phase::Invariance));
        let measured = InvarianceInputs {
            config: &self.config,
            data: &self.data,
            train_sizes: &self.info.train_sizes,
            generator: self.generator.as_ref().map(|g| &g.net),
        }
        .measure(epoch, full, &|x| self.logits(x), &|| self.stop_requested());
        Ok(measured)
    }
}

/// What an eKLD measurement reads: the run's settings, its images and the generator (GIT).
pub(crate) struct InvarianceInputs<'a> {
    pub config: &'a RunConfig,
    pub data: &'a DeviceData,
    pub train_sizes: &'a [usize],
    pub generator: Option<&'a Generator>,
}

impl InvarianceInputs<'_> {
    /// eKLD per class after `epoch` (0-based) under `config.eval`: the live estimate, or the
    /// final one when `full`. Its draws follow from the seed and the epoch alone, so measuring
    /// the same model again (`invlab eval`) gives the same figures. `None` when `stop` says so.
    pub fn measure(
        &self,
        epoch: usize,
        full: bool,
        logits_of: &dyn Fn(&Tensor) -> Tensor,
        stop: &dyn Fn() -> bool,
    ) -> Option<InvarianceReport> {
        let t0 = Instant::now();
        let e = &self.config.eval;
        let (images, samples) = if full {
            (e.ekld_images_per_class, e.ekld_samples)
        } else {
            (e.live_images_per_class, e.live_samples)
        };
        let adaptive = e.ekld_sampling == EkldSampling::Adaptive;
        // Adaptive sampling measures every usable image in a seeded order, its pilot the
        // order's prefix (the live estimate stays within its own caps, with a looser target).
        let plan = if full {
            AdaptivePlan::for_final(e)
        } else {
            AdaptivePlan::for_live(e)
        };
        // The same held-out images every time, so live estimates are comparable across epochs.
        let mut pick_rng = seed::rng(self.config.seed, SeedPurpose::EkldImages);
        let chosen = metrics::pick_per_class(
            &self.data.test_labels,
            self.train_sizes.len(),
            if adaptive { plan.max_images } else { images },
            &mut pick_rng,
        );
        let mut rng = seed::rng(self.config.seed, SeedPurpose::Ekld { epoch });
        let kind = self.config.ekld_transform();
        // Time inside the transform, for the benchmark's stage split; only where a call's
        // return means its work is done (CPU kernels run synchronously, CUDA's do not).
        let on_cpu = self.data.test_raw.device() == Device::Cpu;
        let mut transform_time = Duration::ZERO;
        let mut transform = |x: &Tensor| {
            let started = Instant::now();
            let moved = match (kind.fixed_kind(), self.generator) {
                (Some(fixed), _) => transforms::apply(fixed, x, &mut rng),
                (None, Some(g)) if kind == EkldTransform::Generator => {
                    generative::augment::generate(g, x, &mut rng)
                }
                (None, _) => {
                    unreachable!("the generator is loaded before the first epoch; auto is resolved")
                }
            };
            transform_time += started.elapsed();
            moved
        };
        let measured = if adaptive {
            metrics::invariance_adaptive(
                logits_of,
                &self.data.test_raw,
                &chosen,
                &plan,
                &mut transform,
                stop,
            )
        } else {
            metrics::invariance(
                logits_of,
                &self.data.test_raw,
                &chosen,
                samples,
                &mut transform,
                stop,
            )
        };
        let inv = measured?;
        let sizes: Vec<f64> = self.train_sizes.iter().map(|&n| n as f64).collect();
        Some(InvarianceReport {
            epoch: epoch + 1,
            transform: Some(kind),
            images_per_class: images,
            samples,
            spearman_size_ekld: metrics::spearman(&sizes, &inv.ekld),
            ekld: inv.ekld,
            consistency: inv.consistency,
            ekld_stderr: inv.ekld_stderr,
            ekld_ci95: inv.ekld_ci95,
            seconds: t0.elapsed().as_secs_f64(),
            transform_seconds: on_cpu.then_some(transform_time.as_secs_f64()),
            sampling: SamplingUsage {
                mode: Some(e.ekld_sampling),
                images: inv.images,
                samples_per_image: inv.samples_per_image,
            },
        })
    }
}
