//! The training worker: owns the device, the data tensors, the model and the optimizer for one
//! run, and reports through the event sink. Every random draw comes from a sub-seed of the run's
//! seed named for its purpose and epoch, so a resumed run continues exactly as an unbroken one.
//!
//! `mod.rs` holds the run's life cycle; `data` the device-resident images, `optim` the optimizer
//! and schedules, `checkpoint` saving and restoring, `train` one epoch of SGD, `evaluate` test
//! accuracy and eKLD.

mod checkpoint;
pub(crate) mod data;
pub(crate) mod evaluate;
pub(crate) mod generator;
mod heartbeat;
mod optim;
mod train;

use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use tch::nn::VarStore;

use super::error::{EngineError, EngineResult};
use super::events::{Control, Event, Phase};
use super::{EventSink, RunRequest};
use crate::data::prepare::prepare;
use crate::device;
use crate::method::LossFn;
use crate::models::{Classifier, HeadKind};
use crate::torch_seed::with_torch_seed;
use data::DeviceData;
use invlab_core::config::{Loss, Rule, RunConfig};
use invlab_core::device::DeviceRequest;
use invlab_core::lock::RunLock;
use invlab_core::records::{EpochMetrics, InvarianceReport, RunInfo};
use invlab_core::rundir::{now_secs, RunDir, RunState, Status};
use invlab_core::schedule::Slot;
use invlab_core::seed::{self, SeedPurpose};
use invlab_core::summary::Summary;

/// How a run ended, short of failing.
enum Outcome {
    Finished(Box<Summary>),
    Stopped { epochs_done: usize },
}

/// Runs the request to its end and always emits exactly one terminal event. With a `slot`,
/// the run goes to the slot's device and uses its thread count (libtorch's intra-op setting is
/// per OS thread, so it holds for this worker alone).
pub fn run(
    request: RunRequest,
    slot: Option<Slot>,
    lock: Option<RunLock>,
    sink: EventSink,
    controls: Receiver<Control>,
) {
    if let Some(slot) = slot {
        tch::set_num_threads(slot.threads.max(1) as i32);
    }
    let sink = heartbeat::beating(sink);
    let mut dir_for_state: Option<RunDir> = None;
    // The run's lock, held until every file is written (a failure's state.json too), and
    // released before the terminal event, so a resume started on that event finds it free.
    let mut lock = lock;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        execute(
            request,
            slot,
            &mut lock,
            &sink,
            &controls,
            &mut dir_for_state,
        )
    }));
    // A resume refused before it changed anything (a finished run, a missing checkpoint)
    // leaves the directory as it was: its state.json is not rewritten as failed.
    let refused = matches!(&result, Ok(Err(EngineError::Resume(_))));
    let event = match result {
        Ok(Ok(Outcome::Finished(summary))) => Event::Finished(summary),
        Ok(Ok(Outcome::Stopped { epochs_done })) => Event::Stopped { epochs_done },
        Ok(Err(error)) => {
            // The whole error (a libtorch backtrace too) goes to the log; the event carries
            // its short form.
            tracing::error!(?error, "run failed");
            Event::Failed {
                message: error.to_string(),
            }
        }
        Err(panic) => Event::Failed {
            message: format!("internal error: {}", panic_text(&panic)),
        },
    };
    if let (Event::Failed { message }, Some(dir), false) = (&event, &dir_for_state, refused) {
        let mut state = dir
            .read_state()
            .unwrap_or_else(|| RunState::at_start(Status::Failed, ""));
        state.status = Status::Failed;
        state.message = message.clone();
        state.updated = now_secs();
        let _ = dir.write_state(&state);
    }
    drop(lock);
    sink(event);
}

/// Refuses, before anything is allocated, a config whose big buffers exceed the memory the
/// system has available (a failed allocation aborts the whole process, every run with it).
pub(crate) fn fits_in_memory(config: &RunConfig) -> EngineResult<()> {
    if let Some(available) = invlab_core::memory::available() {
        invlab_core::memory::MemoryEstimate::of(config).check(available)?;
    }
    Ok(())
}

/// The same for what a GPU run keeps on its device, against the device's free memory (other
/// processes' and this process's other runs' allocations already subtracted).
pub(crate) fn fits_on_gpu(config: &RunConfig, device: tch::Device) -> EngineResult<()> {
    if let tch::Device::Cuda(ordinal) = device {
        if let Some(free) = device::gpu_free_bytes(ordinal) {
            invlab_core::memory::MemoryEstimate::of(config).check_gpu(ordinal, free)?;
        }
    }
    Ok(())
}

pub(crate) fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
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
    /// Wall seconds of the run's earlier attempts (a resumed run), from `state.json`.
    earlier_seconds: f64,
    /// When the first training batch of this process started (see `resources`).
    first_batch_seconds: Option<f64>,
    /// What GIT's generator depends on, when the run needs one.
    generator_inputs: Option<invlab_core::generator::KeyInputs>,
    generator: Option<generator::LoadedGenerator>,
    git: Option<crate::generative::augment::GitAugmenter>,
    /// Generator iterations in the run directory's training checkpoint (for `state.json`).
    generator_iteration: std::cell::Cell<Option<usize>>,
}

/// What a control check asks the loop to do.
enum Flow {
    Continue,
    Stop,
}

/// Creates (or reopens) the run directory and builds the trainer.
fn execute(
    request: RunRequest,
    slot: Option<Slot>,
    lock: &mut Option<RunLock>,
    sink: &EventSink,
    controls: &Receiver<Control>,
    dir_slot: &mut Option<RunDir>,
) -> EngineResult<Outcome> {
    let started = Instant::now();
    let (config, dir, resume) = match request {
        RunRequest::New { config, runs_dir } => {
            config.validate("config")?;
            fits_in_memory(&config)?;
            let dir = RunDir::create(&runs_dir, &config.name).map_err(|e| EngineError::File {
                action: "creating a run directory under",
                path: runs_dir.clone(),
                message: e.to_string(),
            })?;
            if lock.is_none() {
                *lock = RunLock::for_dir(&dir.path).map_err(|e| EngineError::File {
                    action: "locking",
                    path: dir.path.clone(),
                    message: e.to_string(),
                })?;
            }
            dir.write_config(&config)
                .map_err(|e| EngineError::writing(&dir.file("config.toml"), e))?;
            (config, dir, false)
        }
        RunRequest::Resume { dir } => {
            // Another process writing this run refuses the resume before anything is touched.
            if lock.is_none() {
                *lock = RunLock::for_dir(&dir).map_err(|e| EngineError::Resume(e.to_string()))?;
            }
            let dir = RunDir::open(&dir).map_err(|e| EngineError::Resume(e.to_string()))?;
            let config = dir
                .read_config()
                .map_err(|e| EngineError::Resume(e.to_string()))?;
            fits_in_memory(&config)?;
            (config, dir, true)
        }
    };
    *dir_slot = Some(dir.clone());
    // Before anything runs on the device: the deterministic algorithms, if asked for.
    let _deterministic = crate::determinism::Deterministic::for_run(config.train.deterministic);
    // A slot's `auto` defers to the config (the lab's slots give threads only).
    let asked = match slot.map(|s| s.device) {
        Some(d) if d != DeviceRequest::Auto => d,
        _ => config.device,
    };
    let device = device::resolve(asked)?;
    fits_on_gpu(&config, device)?;
    sink(Event::Phase(Phase::LoadingData));
    let prepared = prepare(&config)?;
    let data = data::upload(&prepared, &config, device)?;
    let generator_inputs = config.needs_generator().then(|| {
        let digest =
            invlab_core::generator::data_digest(&prepared.train.images, &prepared.train.labels);
        generator::key_inputs(&config, digest, data.channels, data.size)
    });

    // Held to the end of the run: the ResNets' large activations reuse heap pages.
    let _heap = crate::allocator::reuse_heap_for(config.model.arch);
    let vs = VarStore::new(device);
    let model = with_torch_seed(seed::derive(config.seed, SeedPurpose::Init), || {
        Classifier::new(
            &vs.root(),
            config.model.arch,
            data.channels,
            data.size,
            prepared.num_classes as i64,
            head_kind(&config),
        )
    });
    let loss = LossFn::new(&config.method, &prepared.train_sizes, device);
    let total_epochs = config.train.epochs
        + if config.method.rule == Rule::Crt {
            config.method.crt_epochs
        } else {
            0
        };
    let info = RunInfo {
        format_version: invlab_core::rundir::FORMAT_VERSION,
        run_id: dir.id(),
        dir: dir.path.clone(),
        config: config.clone(),
        device: device::describe(device),
        cpu_threads: Some(tch::get_num_threads().max(1) as usize),
        deterministic: Some(crate::determinism::deterministic_now()),
        num_classes: prepared.num_classes,
        class_names: prepared.class_names.clone(),
        train_sizes: prepared.train_sizes.clone(),
        test_sizes: prepared.test_sizes.clone(),
        total_epochs,
        resumed_at: None,
        invlab_version: env!("CARGO_PKG_VERSION").to_string(),
        invlab_commit: Some(crate::build_info::invlab_commit().to_string()),
        libtorch_version: crate::build_info::libtorch_version().to_string(),
        generator_key: generator_inputs.as_ref().map(|k| k.key()),
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
        earlier_seconds: 0.0,
        first_batch_seconds: None,
        generator_inputs,
        generator: None,
        git: None,
        generator_iteration: std::cell::Cell::new(None),
    };
    if resume {
        trainer.restore()?;
    }
    trainer.run()
}

/// LDAM trains a cosine head; every other loss a linear one.
pub(crate) fn head_kind(config: &RunConfig) -> HeadKind {
    if config.method.loss == Loss::Ldam {
        HeadKind::Cosine {
            scale: config.method.ldam_scale,
        }
    } else {
        HeadKind::Linear
    }
}

impl Trainer<'_> {
    fn emit(&self, event: Event) {
        (self.sink)(event);
    }

    fn total_epochs(&self) -> usize {
        self.info.total_epochs
    }

    /// Handles pending controls; blocks while paused.
    fn check_controls(&self) -> EngineResult<Flow> {
        loop {
            match self.controls.try_recv() {
                Ok(Control::Stop) => return Ok(Flow::Stop),
                Ok(Control::Pause) => {
                    self.write_state(Status::Paused)?;
                    self.emit(Event::Paused);
                    loop {
                        match self.controls.recv() {
                            Ok(Control::Resume) => {
                                self.write_state(Status::Running)?;
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

    fn stopped(&self) -> EngineResult<Outcome> {
        self.write_state(Status::Stopped)?;
        Ok(Outcome::Stopped {
            epochs_done: self.checkpoint_epoch,
        })
    }

    /// The epochs from the checkpoint to the end, then the summary.
    fn run(mut self) -> EngineResult<Outcome> {
        self.dir
            .write_info(&self.info)
            .map_err(|e| EngineError::writing(&self.dir.file("run.json"), e))?;
        self.write_state(Status::Running)?;
        self.emit(Event::Started(Box::new(self.info.clone())));
        if self.prepare_generator()?.is_none() {
            return self.stopped();
        }
        let mut optimizer = self.optimizer_for(self.checkpoint_epoch)?;
        let mut last_invariance: Option<InvarianceReport> =
            self.history.iter().rev().find_map(|m| m.invariance.clone());
        for epoch in self.checkpoint_epoch..self.total_epochs() {
            if epoch == self.config.train.epochs && self.config.method.rule == Rule::Crt {
                self.reset_head();
                optimizer = self.optimizer_for(epoch)?;
            }
            let Some(trained) = self.train_epoch(epoch, &mut optimizer)? else {
                return self.stopped();
            };
            crate::allocator::release_free_memory();
            let Some(mut metrics) = self.evaluate(epoch, trained)? else {
                return self.stopped();
            };
            crate::allocator::release_free_memory();
            let last = epoch + 1 == self.total_epochs();
            let every = self.config.eval.ekld_every;
            if last || (every > 0 && (epoch + 1) % every == 0) {
                let Some(report) = self.invariance(epoch, last)? else {
                    return self.stopped();
                };
                crate::allocator::release_free_memory();
                self.emit(Event::Invariance(Box::new(report.clone())));
                metrics.invariance = Some(report.clone());
                last_invariance = Some(report);
            }
            self.history.push(metrics.clone());
            self.emit(Event::Phase(Phase::Writing));
            self.dir
                .write_metrics(&self.history)
                .map_err(|e| EngineError::writing(&self.dir.file("metrics.jsonl"), e))?;
            self.write_event_file()?;
            let every = self.config.train.checkpoint_every;
            if last || (every > 0 && (epoch + 1) % every == 0) {
                self.save_checkpoint(&optimizer, epoch + 1)?;
            }
            self.write_state(Status::Running)?;
            self.emit(Event::Epoch(Box::new(metrics)));
        }
        let last = self
            .history
            .last()
            .ok_or_else(|| EngineError::Unusable("no epoch ran".into()))?;
        let mut summary = Summary::build(
            &self.info,
            last,
            last_invariance.as_ref(),
            Status::Finished,
            self.started.elapsed().as_secs_f64(),
        );
        summary.first_batch_seconds = self.first_batch_seconds;
        summary.wall_seconds_all_attempts = Some(self.seconds_so_far());
        summary.peak_rss_mib = super::resources::peak_rss_mib();
        self.dir
            .write_summary(&summary)
            .map_err(|e| EngineError::writing(&self.dir.file("summary.json"), e))?;
        self.write_state(Status::Finished)?;
        self.write_event_file()?;
        Ok(Outcome::Finished(Box::new(summary)))
    }

    /// The TensorBoard event file, rebuilt from what the directory now holds.
    fn write_event_file(&self) -> EngineResult<()> {
        invlab_core::tensorboard::write(&self.dir)
            .map(|_| ())
            .map_err(|e| EngineError::writing(&self.dir.file(invlab_core::tensorboard::FILE), e))
    }

    fn in_crt_stage(&self, epoch: usize) -> bool {
        self.config.method.rule == Rule::Crt && epoch >= self.config.train.epochs
    }
}
