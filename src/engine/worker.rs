//! The training worker: owns the device, the data tensors, the model and the optimizer for one
//! run, and reports through the event sink. Every random draw comes from a sub-seed of the run's
//! seed named for its purpose and epoch, so a resumed run continues exactly as an unbroken one.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::events::{
    Control, EpochMetrics, Event, GroupAccuracy, InvarianceReport, Phase, RunInfo,
};
use super::rundir::{now_secs, temp_path, RunDir, RunState};
use super::summary::{group_means, Summary};
use super::{EventSink, RunRequest};
use crate::config::{Loss, Rule, RunConfig};
use crate::data::longtail::derive_seed;
use crate::data::prepare::{prepare, Prepared};
use crate::method::{self, LossFn};
use crate::metrics;
use crate::models::Classifier;
use crate::{device, transforms};

/// How a run ended, short of failing.
enum Outcome {
    Finished(Box<Summary>),
    Stopped { epochs_done: usize },
}

/// Runs the request to its end and always emits exactly one terminal event.
pub fn run(request: RunRequest, sink: EventSink, controls: Receiver<Control>) {
    let mut dir_for_state: Option<RunDir> = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        execute(request, &sink, &controls, &mut dir_for_state)
    }));
    let event = match result {
        Ok(Ok(Outcome::Finished(summary))) => Event::Finished(summary),
        Ok(Ok(Outcome::Stopped { epochs_done })) => Event::Stopped { epochs_done },
        Ok(Err(message)) => Event::Failed { message },
        Err(panic) => Event::Failed {
            message: format!("internal error: {}", panic_text(&panic)),
        },
    };
    if let (Event::Failed { message }, Some(dir)) = (&event, &dir_for_state) {
        let mut state = dir.read_state().unwrap_or(RunState {
            status: String::new(),
            checkpoint_epoch: 0,
            epochs_done: 0,
            total_epochs: 0,
            message: String::new(),
            updated: 0,
        });
        state.status = "failed".into();
        state.message = message.clone();
        state.updated = now_secs();
        let _ = dir.write_state(&state);
    }
    sink(event);
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The training set, test sets and normalisation, resident on the device.
struct DeviceData {
    /// Transformed once, u8.
    train: Tensor,
    train_labels: Vec<i64>,
    train_by_class: Vec<Vec<usize>>,
    /// Transformed once, u8 (test accuracy).
    test: Tensor,
    test_labels: Vec<i64>,
    /// Untransformed, u8 (eKLD).
    test_raw: Tensor,
    mean: Tensor,
    std: Tensor,
    channels: i64,
    size: i64,
}

impl DeviceData {
    fn normalize(&self, images: &Tensor) -> Tensor {
        (images.to_kind(Kind::Float) / 255.0 - &self.mean) / &self.std
    }
}

/// Transforms a u8 image set once per image, in chunks, with a fresh parameter each.
fn transform_once(images: &Tensor, kind: crate::config::TransformKind, seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = images.size()[0];
    let mut parts = Vec::new();
    let chunk = 4096;
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let part = transforms::apply(
            kind,
            &images.narrow(0, start, len).to_kind(Kind::Float),
            &mut rng,
        );
        parts.push(part.to_kind(Kind::Uint8));
        start += len;
    }
    if parts.is_empty() {
        images.shallow_clone()
    } else {
        Tensor::cat(&parts, 0)
    }
}

fn to_device(set: &crate::data::ImageSet, device: Device) -> Tensor {
    transforms::images_tensor(
        &set.images,
        set.len(),
        set.channels,
        set.height,
        set.width,
        device,
    )
}

fn upload(prepared: &Prepared, config: &RunConfig, device: Device) -> Result<DeviceData, String> {
    let kind = config.data.transform;
    if prepared.train.is_empty() {
        return Err("the training set is empty".into());
    }
    if prepared.train.height != prepared.train.width {
        return Err(format!(
            "images must be square, got {}x{}",
            prepared.train.height, prepared.train.width
        ));
    }
    let train = transform_once(
        &to_device(&prepared.train, device),
        kind,
        derive_seed(config.seed, "train-transform"),
    );
    let test_raw = to_device(&prepared.test, device);
    let test = transform_once(&test_raw, kind, derive_seed(config.seed, "test-transform"));
    let c = prepared.train.channels as i64;
    let float = train.to_kind(Kind::Float) / 255.0;
    let mean = float.mean_dim([0i64, 2, 3].as_slice(), true, Kind::Float);
    let std = float
        .std_dim([0i64, 2, 3].as_slice(), true, true)
        .clamp_min(1e-3);
    Ok(DeviceData {
        train,
        train_labels: prepared.train.labels.clone(),
        train_by_class: prepared.train.indices_by_class(prepared.num_classes),
        test,
        test_labels: prepared.test.labels.clone(),
        test_raw,
        mean,
        std,
        channels: c,
        size: prepared.train.height as i64,
    })
}

/// SGD with momentum and weight decay, as `torch.optim.SGD` (dampening 0, no Nesterov), with
/// momentum buffers that can be checkpointed.
struct Sgd {
    params: Vec<(String, Tensor)>,
    buffers: Vec<Tensor>,
    momentum: f64,
    weight_decay: f64,
}

impl Sgd {
    fn new(params: Vec<(String, Tensor)>, momentum: f64, weight_decay: f64) -> Sgd {
        let buffers = params.iter().map(|(_, p)| p.zeros_like()).collect();
        Sgd {
            params,
            buffers,
            momentum,
            weight_decay,
        }
    }

    fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    fn step(&mut self, lr: f64) {
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

    fn save(&self, path: &std::path::Path) -> Result<(), String> {
        let named: Vec<(String, &Tensor)> = self
            .params
            .iter()
            .zip(&self.buffers)
            .map(|((name, _), b)| (name.clone(), b))
            .collect();
        let tmp = temp_path(path);
        Tensor::save_multi(&named, &tmp).map_err(|e| format!("saving {}: {e}", path.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("saving {}: {e}", path.display()))
    }

    fn load(&mut self, path: &std::path::Path, device: Device) -> Result<(), String> {
        let saved = Tensor::load_multi_with_device(path, device)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        for ((name, _), buf) in self.params.iter().zip(&mut self.buffers) {
            if let Some((_, t)) = saved.iter().find(|(n, _)| n == name) {
                tch::no_grad(|| buf.copy_(t));
            }
        }
        Ok(())
    }
}

/// Trainable variables under a prefix, sorted by name (a stable order for checkpoints).
fn named_params(vs: &VarStore, prefix: &str) -> Vec<(String, Tensor)> {
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
pub fn learning_rate(config: &RunConfig, epoch: usize) -> f64 {
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
fn crt_learning_rate(config: &RunConfig, stage_epoch: usize) -> f64 {
    let total = config.method.crt_epochs.max(1) as f64;
    config.train.lr * 0.5 * (1.0 + (std::f64::consts::PI * stage_epoch as f64 / total).cos())
}

struct Trainer<'a> {
    config: RunConfig,
    dir: RunDir,
    sink: &'a EventSink,
    controls: &'a Receiver<Control>,
    info: RunInfo,
    data: DeviceData,
    vs: VarStore,
    model: Classifier,
    loss: LossFn,
    history: Vec<EpochMetrics>,
    checkpoint_epoch: usize,
    started: Instant,
}

/// What a control check asks the loop to do.
enum Flow {
    Continue,
    Stop,
}

fn execute(
    request: RunRequest,
    sink: &EventSink,
    controls: &Receiver<Control>,
    dir_slot: &mut Option<RunDir>,
) -> Result<Outcome, String> {
    let started = Instant::now();
    let (config, dir, resume) = match request {
        RunRequest::New { config, runs_dir } => {
            config.validate("config").map_err(|e| e.to_string())?;
            let dir = RunDir::create(&runs_dir, &config.name).map_err(|e| {
                format!(
                    "cannot create a run directory under {}: {e}",
                    runs_dir.display()
                )
            })?;
            dir.write_config(&config)
                .map_err(|e| format!("writing {}: {e}", dir.file("config.toml").display()))?;
            (config, dir, false)
        }
        RunRequest::Resume { dir } => {
            let dir = RunDir::open(&dir).map_err(|e| e.to_string())?;
            let config = dir.read_config()?;
            (config, dir, true)
        }
    };
    *dir_slot = Some(dir.clone());
    let device = device::resolve(device::parse_device(&config.device)?)?;
    sink(Event::Phase(Phase::LoadingData));
    let prepared = prepare(&config).map_err(|e| e.to_string())?;
    let data = upload(&prepared, &config, device)?;

    tch::manual_seed(derive_seed(config.seed, "init") as i64);
    let vs = VarStore::new(device);
    let model = Classifier::new(
        &vs.root(),
        config.model.arch,
        data.channels,
        data.size,
        prepared.num_classes as i64,
        config.method.loss == Loss::Ldam,
    );
    let loss = LossFn::new(&config.method, &prepared.train_sizes, device);
    let total_epochs = config.train.epochs
        + if config.method.rule == Rule::Crt {
            config.method.crt_epochs
        } else {
            0
        };
    let info = RunInfo {
        run_id: dir.id(),
        dir: dir.path.clone(),
        config: config.clone(),
        device: device::describe(device),
        num_classes: prepared.num_classes,
        class_names: prepared.class_names.clone(),
        train_sizes: prepared.train_sizes.clone(),
        test_sizes: prepared.test_sizes.clone(),
        total_epochs,
        resumed_at: None,
        invlab_version: env!("CARGO_PKG_VERSION").to_string(),
        libtorch_version: device::libtorch_version().to_string(),
    };
    let mut trainer = Trainer {
        config,
        dir,
        sink,
        controls,
        info,
        data,
        vs,
        model,
        loss,
        history: Vec::new(),
        checkpoint_epoch: 0,
        started,
    };
    if resume {
        trainer.restore()?;
    }
    trainer.run()
}

impl Trainer<'_> {
    fn emit(&self, event: Event) {
        (self.sink)(event);
    }

    fn total_epochs(&self) -> usize {
        self.info.total_epochs
    }

    fn write_state(&self, status: &str) -> Result<(), String> {
        self.dir
            .write_state(&RunState {
                status: status.into(),
                checkpoint_epoch: self.checkpoint_epoch,
                epochs_done: self.history.len(),
                total_epochs: self.total_epochs(),
                message: String::new(),
                updated: now_secs(),
            })
            .map_err(|e| format!("writing {}: {e}", self.dir.file("state.json").display()))
    }

    /// Loads the last checkpoint and the metrics up to it.
    fn restore(&mut self) -> Result<(), String> {
        let state = self.dir.read_state().ok_or_else(|| {
            format!(
                "{} is missing or unreadable",
                self.dir.file("state.json").display()
            )
        })?;
        if state.status == "finished" {
            return Err(format!(
                "{} already finished; nothing to resume",
                self.dir.path.display()
            ));
        }
        let done = state.checkpoint_epoch;
        if done > 0 {
            self.vs.load(self.dir.file("checkpoint.ot")).map_err(|e| {
                format!("reading {}: {e}", self.dir.file("checkpoint.ot").display())
            })?;
        }
        let mut history = self.dir.read_metrics();
        history.truncate(done);
        if history.len() != done {
            return Err(format!(
                "{} holds {} epochs but the checkpoint is at epoch {done}",
                self.dir.file("metrics.jsonl").display(),
                history.len()
            ));
        }
        self.history = history;
        self.checkpoint_epoch = done;
        self.info.resumed_at = Some(done);
        Ok(())
    }

    /// Handles pending controls; blocks while paused.
    fn check_controls(&self) -> Result<Flow, String> {
        loop {
            match self.controls.try_recv() {
                Ok(Control::Stop) => return Ok(Flow::Stop),
                Ok(Control::Pause) => {
                    self.write_state("paused")?;
                    self.emit(Event::Paused);
                    loop {
                        match self.controls.recv() {
                            Ok(Control::Resume) => {
                                self.write_state("running")?;
                                self.emit(Event::Resumed);
                                break;
                            }
                            Ok(Control::Stop) => return Ok(Flow::Stop),
                            Ok(Control::Pause) => {}
                            // The front end is gone: carry on rather than hang forever.
                            Err(_) => break,
                        }
                    }
                }
                Ok(Control::Resume) => {}
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => {
                    return Ok(Flow::Continue)
                }
            }
        }
    }

    fn run(mut self) -> Result<Outcome, String> {
        self.dir
            .write_info(&self.info)
            .map_err(|e| format!("writing run.json: {e}"))?;
        self.write_state("running")?;
        self.emit(Event::Started(Box::new(self.info.clone())));
        let mut optimizer = self.optimizer_for(self.checkpoint_epoch)?;
        let mut last_invariance: Option<InvarianceReport> =
            self.history.iter().rev().find_map(|m| m.invariance.clone());
        for epoch in self.checkpoint_epoch..self.total_epochs() {
            if epoch == self.config.train.epochs && self.config.method.rule == Rule::Crt {
                self.reset_head();
                optimizer = self.optimizer_for(epoch)?;
            }
            let Some((train_loss, train_accuracy, train_seconds)) =
                self.train_epoch(epoch, &mut optimizer)?
            else {
                self.write_state("stopped")?;
                return Ok(Outcome::Stopped {
                    epochs_done: self.checkpoint_epoch,
                });
            };
            let mut metrics = self.evaluate(epoch, train_loss, train_accuracy, train_seconds);
            let last = epoch + 1 == self.total_epochs();
            let every = self.config.eval.ekld_every;
            if last || (every > 0 && (epoch + 1) % every == 0) {
                let report = self.invariance(epoch, last);
                self.emit(Event::Invariance(Box::new(report.clone())));
                metrics.invariance = Some(report.clone());
                last_invariance = Some(report);
            }
            self.history.push(metrics.clone());
            self.emit(Event::Phase(Phase::Writing));
            self.dir
                .write_metrics(&self.history)
                .map_err(|e| format!("writing metrics.jsonl: {e}"))?;
            let every = self.config.train.checkpoint_every;
            if last || (every > 0 && (epoch + 1) % every == 0) {
                self.save_checkpoint(&optimizer, epoch + 1)?;
            }
            self.write_state("running")?;
            self.emit(Event::Epoch(Box::new(metrics)));
        }
        let last = self.history.last().ok_or("no epoch ran")?;
        let summary = Summary::build(
            &self.info,
            last,
            last_invariance.as_ref(),
            "finished",
            self.started.elapsed().as_secs_f64(),
        );
        self.dir
            .write_summary(&summary)
            .map_err(|e| format!("writing summary.json: {e}"))?;
        self.write_state("finished")?;
        Ok(Outcome::Finished(Box::new(summary)))
    }

    fn in_crt_stage(&self, epoch: usize) -> bool {
        self.config.method.rule == Rule::Crt && epoch >= self.config.train.epochs
    }

    /// The optimizer for the stage `epoch` belongs to, with momentum restored on resume.
    fn optimizer_for(&self, epoch: usize) -> Result<Sgd, String> {
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

    /// cRT: a fresh classifier, seeded.
    fn reset_head(&mut self) {
        tch::manual_seed(derive_seed(self.config.seed, "crt-head") as i64);
        let device = self.vs.device();
        // Re-draw the head's variables in place (the model holds views of them).
        tch::no_grad(|| {
            for (name, mut t) in named_params(&self.vs, "head") {
                let shape = t.size();
                let value = if name.ends_with("bias") {
                    Tensor::zeros(shape.as_slice(), (Kind::Float, device))
                } else if self.config.method.loss == Loss::Ldam {
                    Tensor::rand(shape.as_slice(), (Kind::Float, device)) * 2.0 - 1.0
                } else {
                    let fan_in = shape[1] as f64;
                    Tensor::randn(shape.as_slice(), (Kind::Float, device)) * (2.0 / fan_in).sqrt()
                };
                t.copy_(&value);
            }
        });
    }

    fn save_checkpoint(&mut self, optimizer: &Sgd, epochs_done: usize) -> Result<(), String> {
        let path = self.dir.file("checkpoint.ot");
        let tmp = temp_path(&path);
        self.vs
            .save(&tmp)
            .map_err(|e| format!("saving {}: {e}", path.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("saving {}: {e}", path.display()))?;
        optimizer.save(&self.dir.file("optimizer.ot"))?;
        self.checkpoint_epoch = epochs_done;
        Ok(())
    }

    /// One epoch of SGD. `None` when stopped.
    fn train_epoch(
        &mut self,
        epoch: usize,
        optimizer: &mut Sgd,
    ) -> Result<Option<(f64, f64, f64)>, String> {
        self.emit(Event::Phase(Phase::Training));
        let t0 = Instant::now();
        let crt = self.in_crt_stage(epoch);
        let lr = if crt {
            crt_learning_rate(&self.config, epoch - self.config.train.epochs)
        } else {
            learning_rate(&self.config, epoch)
        };
        let e1 = self.config.train.decay_epochs[0];
        let sizes = &self.info.train_sizes;
        let sampling = method::sampling_weights(&self.config.method, sizes, epoch, e1, crt);
        let mut order_rng =
            ChaCha8Rng::seed_from_u64(derive_seed(self.config.seed, &format!("order-{epoch}")));
        let order = method::epoch_order(
            &self.data.train_labels,
            sampling.as_deref(),
            &self.data.train_by_class,
            &mut order_rng,
        );
        let device = self.vs.device();
        let weights = method::loss_weights(&self.config.method, sizes, epoch, e1).map(|w| {
            let w: Vec<f32> = w.into_iter().map(|x| x as f32).collect();
            Tensor::from_slice(&w).to_device(device)
        });
        let mut aug_rng =
            ChaCha8Rng::seed_from_u64(derive_seed(self.config.seed, &format!("augment-{epoch}")));
        let labels_all = Tensor::from_slice(&self.data.train_labels).to_device(device);
        let batch_size = self.config.train.batch_size;
        let batches = order.len().div_ceil(batch_size);
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0i64, 0usize);
        let mut last_report = Instant::now();
        for (b, chunk) in order.chunks(batch_size).enumerate() {
            if let Flow::Stop = self.check_controls()? {
                return Ok(None);
            }
            let idx: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
            let idx = Tensor::from_slice(&idx).to_device(device);
            let x = self.data.train.index_select(0, &idx).to_kind(Kind::Float);
            let y = labels_all.index_select(0, &idx);
            let x = method::augment_batch(&self.config, &x, &mut aug_rng);
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
            let loss_value = f64::try_from(&loss).map_err(|e| e.to_string())?;
            if !loss_value.is_finite() {
                return Err(format!("the loss diverged (became {loss_value}) at epoch {}, batch {}; try a smaller train.lr", epoch + 1, b + 1));
            }
            loss_sum += loss_value * chunk.len() as f64;
            correct +=
                i64::try_from(logits.argmax(-1, false).eq_tensor(&y).sum(Kind::Int64)).unwrap_or(0);
            seen += chunk.len();
            if last_report.elapsed().as_millis() >= 200 || b + 1 == batches {
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
        Ok(Some((
            loss_sum / seen,
            correct as f64 / seen,
            t0.elapsed().as_secs_f64(),
        )))
    }

    /// Evaluation logits. An LDAM model's head outputs cosines in [-1, 1] and its loss trains
    /// softmax(s * cos): eKLD must compare those distributions (softmax of bare cosines over 49
    /// classes is near uniform, which would report eKLD ~ 0 for any input).
    fn logits(&self, images: &Tensor) -> Tensor {
        let out = self.model.forward_t(&self.data.normalize(images), false);
        if self.config.method.loss == Loss::Ldam {
            out * self.config.method.ldam_scale
        } else {
            out
        }
    }

    fn evaluate(
        &self,
        epoch: usize,
        train_loss: f64,
        train_accuracy: f64,
        train_seconds: f64,
    ) -> EpochMetrics {
        self.emit(Event::Phase(Phase::Evaluating));
        let t0 = Instant::now();
        let predictions = tch::no_grad(|| {
            let n = self.data.test.size()[0];
            let mut preds = Vec::with_capacity(n as usize);
            let mut start = 0;
            while start < n {
                let len = (metrics::FORWARD_BATCH as i64).min(n - start);
                let logits = self.logits(&self.data.test.narrow(0, start, len));
                preds.extend(
                    Vec::<i64>::try_from(logits.argmax(-1, false).to_device(Device::Cpu))
                        .unwrap_or_default(),
                );
                start += len;
            }
            preds
        });
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
        let crt = self.in_crt_stage(epoch);
        EpochMetrics {
            epoch: epoch + 1,
            total_epochs: self.total_epochs(),
            stage: if crt { "crt" } else { "train" }.into(),
            lr: if crt {
                crt_learning_rate(&self.config, epoch - self.config.train.epochs)
            } else {
                learning_rate(&self.config, epoch)
            },
            train_loss,
            train_accuracy,
            test_accuracy: correct as f64 / predictions.len().max(1) as f64,
            balanced_accuracy: present.iter().sum::<f64>() / present.len().max(1) as f64,
            groups: GroupAccuracy { many, medium, few },
            per_class_accuracy: per_class,
            train_seconds,
            eval_seconds: t0.elapsed().as_secs_f64(),
            invariance: None,
        }
    }

    /// eKLD per class: the quick live estimate, or the full one at the end.
    fn invariance(&self, epoch: usize, full: bool) -> InvarianceReport {
        self.emit(Event::Phase(Phase::Invariance));
        let t0 = Instant::now();
        let e = &self.config.eval;
        let (images, samples) = if full {
            (e.ekld_images_per_class, e.ekld_samples)
        } else {
            (e.live_images_per_class, e.live_samples)
        };
        // The same held-out images every time, so live estimates are comparable across epochs.
        let mut pick_rng = ChaCha8Rng::seed_from_u64(derive_seed(self.config.seed, "ekld-images"));
        let chosen = metrics::pick_per_class(
            &self.data.test_labels,
            self.info.num_classes,
            images,
            &mut pick_rng,
        );
        let mut rng =
            ChaCha8Rng::seed_from_u64(derive_seed(self.config.seed, &format!("ekld-{epoch}")));
        let kind = self.config.ekld_transform();
        let logits_of = |x: &Tensor| self.logits(x);
        let inv = metrics::invariance(
            &logits_of,
            &self.data.test_raw,
            &chosen,
            samples,
            kind,
            &mut rng,
        );
        let sizes: Vec<f64> = self.info.train_sizes.iter().map(|&n| n as f64).collect();
        InvarianceReport {
            epoch: epoch + 1,
            transform: crate::config::serde_plain_name(&kind),
            images_per_class: images,
            samples,
            spearman_size_ekld: metrics::spearman(&sizes, &inv.ekld),
            ekld: inv.ekld,
            consistency: inv.consistency,
            ekld_stderr: inv.ekld_stderr,
            seconds: t0.elapsed().as_secs_f64(),
        }
    }
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
