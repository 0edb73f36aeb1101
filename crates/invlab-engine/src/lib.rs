//! invlab's science on libtorch, and the engine that runs it: datasets, transforms, models,
//! methods, metrics, GIT's generator, and the run worker. One run = one worker thread that owns
//! every tensor; front ends (batch, TUI) talk to it only through plain-data `Event`s (out) and
//! `Control`s (in), and never name libtorch.

pub mod allocator;
pub mod build_info;
pub mod data;
pub mod data_preview;
pub mod determinism;
pub mod device;
pub mod error;
pub mod evaluation;
pub mod events;
pub mod generative;
pub mod method;
pub mod metrics;
pub mod models;
pub mod resources;
pub mod torch_seed;
pub mod transforms;
mod worker;

use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

pub use events::{Control, Event, Phase};
use invlab_core::config::RunConfig;
pub use invlab_core::lock::RunLock;
pub use invlab_core::records::{
    EpochMetrics, GeneratorProgress, GeneratorRecord, InvarianceReport, RunInfo, Stage,
};
pub use invlab_core::schedule::Slot;
pub use invlab_core::summary::Summary;

/// Where the worker reports. Called on the worker thread; must not block for long.
pub type EventSink = Box<dyn Fn(Event) + Send + 'static>;

/// What to run. Sent once per run, so the size of `New` is no concern.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum RunRequest {
    /// A new run whose directory is created under `runs_dir`.
    New {
        config: RunConfig,
        runs_dir: PathBuf,
    },
    /// Continue a killed or stopped run from its directory's last checkpoint.
    Resume { dir: PathBuf },
}

/// A running worker: send controls, or wait for it.
pub struct RunHandle {
    control: Sender<Control>,
    thread: Option<JoinHandle<()>>,
}

impl RunHandle {
    pub fn send(&self, control: Control) {
        // A finished worker has dropped its receiver; nothing to control then.
        let _ = self.control.send(control);
    }

    pub fn pause(&self) {
        self.send(Control::Pause)
    }

    pub fn resume(&self) {
        self.send(Control::Resume)
    }

    pub fn stop(&self) {
        self.send(Control::Stop)
    }

    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the worker to end (after its terminal event).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a run on its own thread. The sink receives `Started` first and exactly one terminal
/// event (`Finished`, `Stopped` or `Failed`) last, even if the worker panics.
pub fn spawn(request: RunRequest, sink: EventSink) -> RunHandle {
    spawn_on(request, None, None, sink)
}

/// `spawn` on a scheduler's slot: the slot's device instead of the config's, and its thread
/// count for this run's worker thread (recorded as `cpu_threads` in `run.json`). `lock` is the
/// run's lock when the front end took it already (to decide what to do with the directory);
/// otherwise the worker takes it. Either way the worker holds it for as long as it writes.
pub fn spawn_on(
    request: RunRequest,
    slot: Option<Slot>,
    lock: Option<RunLock>,
    sink: EventSink,
) -> RunHandle {
    let (control, controls) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("invlab-worker".into())
        .spawn(move || worker::run(request, slot, lock, sink, controls))
        .expect("spawning a thread");
    RunHandle {
        control,
        thread: Some(thread),
    }
}
