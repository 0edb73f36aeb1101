//! The plain-data vocabulary between the engine's worker thread and its front ends.
//! Nothing here holds a tensor: events cross threads and are serialized to run directories.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::RunConfig;

/// Commands a front end sends to a running worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    /// Stop after the current batch; the run directory stays valid and resumable.
    Stop,
}

/// What the worker is doing right now (for status lines and honest ETAs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    LoadingData,
    Training,
    Evaluating,
    Invariance,
    Writing,
}

/// Facts fixed at the start of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub dir: PathBuf,
    pub config: RunConfig,
    /// The device actually used, e.g. `cpu` or `cuda:0`.
    pub device: String,
    pub num_classes: usize,
    pub class_names: Vec<String>,
    /// Training images per class, indexed by class label.
    pub train_sizes: Vec<usize>,
    pub test_sizes: Vec<usize>,
    /// Total epochs including any classifier re-training stage.
    pub total_epochs: usize,
    /// Set when the run continues from a checkpoint: epochs already done.
    pub resumed_at: Option<usize>,
    pub invlab_version: String,
    pub libtorch_version: String,
}

/// Accuracy split by class size: many (>100 training images), medium (20-100), few (<20).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GroupAccuracy {
    pub many: Option<f64>,
    pub medium: Option<f64>,
    pub few: Option<f64>,
}

/// One epoch's metrics; one line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    pub total_epochs: usize,
    /// `train` or `crt` (classifier re-training).
    pub stage: String,
    pub lr: f64,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    /// Mean of per-class accuracies on the balanced test set.
    pub balanced_accuracy: f64,
    pub groups: GroupAccuracy,
    /// Indexed by class label.
    pub per_class_accuracy: Vec<f64>,
    pub train_seconds: f64,
    pub eval_seconds: f64,
    /// Present on epochs where eKLD was measured.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub invariance: Option<InvarianceReport>,
}

/// eKLD and consistency per class, measured on held-out untransformed images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvarianceReport {
    pub epoch: usize,
    pub transform: String,
    pub images_per_class: usize,
    pub samples: usize,
    /// Mean KL(p(x) || p(x')) in nats, indexed by class label.
    pub ekld: Vec<f64>,
    /// Share of (x, x') pairs whose argmax agrees, indexed by class label.
    pub consistency: Vec<f64>,
    /// Standard error of each class's eKLD over its images.
    pub ekld_stderr: Vec<f64>,
    /// Spearman rank correlation between training class size and eKLD.
    pub spearman_size_ekld: Option<f64>,
    pub seconds: f64,
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
    Epoch(Box<EpochMetrics>),
    Invariance(Box<InvarianceReport>),
    Paused,
    Resumed,
    Finished(Box<crate::engine::summary::Summary>),
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
