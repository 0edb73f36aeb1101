//! The engine: one run = one worker thread that owns every tensor. Front ends (batch, TUI) talk
//! to it only through plain-data `Event`s (out) and `Control`s (in).

pub mod error;
pub mod events;
pub mod records;
pub mod resources;
pub mod rundir;
pub mod summary;
mod worker;

use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

use crate::config::RunConfig;
pub(crate) use events::Control;
pub use events::{Event, Phase};
pub(crate) use records::{EpochMetrics, GeneratorProgress, InvarianceReport, RunInfo};
pub use records::{GeneratorRecord, Stage};
pub use summary::Summary;

/// Where the worker reports. Called on the worker thread; must not block for long.
pub(crate) type EventSink = Box<dyn Fn(Event) + Send + 'static>;

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

    pub(crate) fn is_finished(&self) -> bool {
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
    let (control, controls) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("invlab-worker".into())
        .spawn(move || worker::run(request, sink, controls))
        .expect("spawning a thread");
    RunHandle {
        control,
        thread: Some(thread),
    }
}
