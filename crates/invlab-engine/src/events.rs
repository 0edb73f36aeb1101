//! The plain-data vocabulary between the engine's worker thread and its front ends.
//! Nothing here holds a tensor: events cross threads and are serialized to run directories.

use invlab_core::nuisance_coverage::NuisanceCoverage;
pub use invlab_core::records::Phase;
use invlab_core::records::{EpochMetrics, GeneratorProgress, InvarianceReport, RunInfo};
use invlab_core::summary::Summary;

/// Commands a front end sends to a running worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    /// Stop after the current batch; the run directory stays valid and resumable.
    Stop,
}

/// The worker's reports. A run emits `Started` first and exactly one of
/// `Finished`, `Stopped` or `Failed` last.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started(Box<RunInfo>),
    Phase(Phase),
    /// Training progress inside an epoch (throttled to a few per second).
    Batch {
        epoch: usize,
        batch: usize,
        batches: usize,
        loss: f64,
    },
    /// The generator phase's progress (throttled; a sample grid now and then).
    Generator(Box<GeneratorProgress>),
    /// The generator's coverage of the true nuisance (BG, DIL), once it is ready.
    GeneratorCoverage(Box<NuisanceCoverage>),
    Epoch(Box<EpochMetrics>),
    Invariance(Box<InvarianceReport>),
    Paused,
    Resumed,
    Finished(Box<Summary>),
    /// Stopped on request; `epochs_done` epochs are checkpointed.
    Stopped {
        epochs_done: usize,
    },
    Failed {
        message: String,
    },
}

impl Event {
    /// True for the last event a run sends.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Event::Finished(_) | Event::Stopped { .. } | Event::Failed { .. }
        )
    }
}
