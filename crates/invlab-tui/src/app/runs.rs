//! One run in the list (queued, live, or read back from its directory) and its status.

use std::path::PathBuf;

use invlab_core::config::RunConfig;
use invlab_core::heartbeat::Writer;
use invlab_core::rundir::{Outcome, RunRecord};
use invlab_engine::{EpochMetrics, GeneratorProgress, InvarianceReport, Phase, RunInfo, Summary};

#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    Queued,
    /// Spawned, `Started` not yet seen.
    Starting,
    Running,
    Paused,
    /// Stop sent, terminal event not yet seen.
    Stopping,
    Done,
    Stopped {
        epochs_done: usize,
    },
    Failed(String),
    /// Found in history with no final word: the process died mid-run.
    Killed {
        epochs_done: usize,
    },
    /// Written by another process (a batch run, an array task, another lab), still alive:
    /// view only, but one on this host (`pid`) can be stopped with SIGTERM.
    Elsewhere {
        pid: Option<u32>,
        host: String,
    },
}

impl RunStatus {
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            RunStatus::Starting | RunStatus::Running | RunStatus::Paused | RunStatus::Stopping
        )
    }

    pub fn label(&self) -> String {
        match self {
            RunStatus::Queued => "queued".into(),
            RunStatus::Starting => "starting".into(),
            RunStatus::Running => "running".into(),
            RunStatus::Paused => "paused".into(),
            RunStatus::Stopping => "stopping".into(),
            RunStatus::Done => "done".into(),
            RunStatus::Stopped { .. } => "stopped".into(),
            RunStatus::Failed(reason) if reason.is_empty() => "failed".into(),
            RunStatus::Failed(reason) => format!("failed: {reason}"),
            RunStatus::Killed { .. } => "killed".into(),
            // Short: the run table's status column is narrow; the detail line says more.
            RunStatus::Elsewhere { pid: Some(pid), .. } => format!("pid {pid}"),
            RunStatus::Elsewhere { host, .. } => format!("on {host}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: f64,
}

/// One run in the list: queued, live, or read back from its directory.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    /// Stable id; engine events carry it.
    pub slot: usize,
    pub name: String,
    pub config: RunConfig,
    pub status: RunStatus,
    pub dir: Option<PathBuf>,
    pub info: Option<Box<RunInfo>>,
    pub phase: Option<Phase>,
    pub batch: Option<BatchProgress>,
    /// (fractional epoch, loss) of the live batch reports.
    pub batch_losses: Vec<(f64, f64)>,
    pub epochs: Vec<EpochMetrics>,
    pub invariance: Option<Box<InvarianceReport>>,
    /// GIT's generator phase: the latest progress and the newest sample grid.
    pub generator: Option<Box<GeneratorProgress>>,
    pub generator_samples: Option<Box<invlab_core::generator::SampleGrid>>,
    /// The generator's coverage of the true nuisance, once measured (BG, DIL).
    pub generator_coverage: Option<Box<invlab_core::nuisance_coverage::NuisanceCoverage>>,
    /// Generator losses seen so far (for the loss curves).
    pub generator_losses: Vec<invlab_core::generator::Losses>,
    pub summary: Option<Box<Summary>>,
    pub marked: bool,
    pub pause_requested: bool,
    /// Queued to continue from its directory's checkpoint rather than start afresh.
    pub resume: bool,
    /// The device the lab placed the run on (`--devices`); `None`: the config's own.
    pub placed_on: Option<invlab_core::device::DeviceRequest>,
    pub from_history: bool,
    /// Last update, seconds since the Unix epoch (history order).
    pub updated: u64,
    /// The config's fields flattened (`method.rule -> drs`), made once on first use (filters).
    flat: std::sync::OnceLock<std::collections::BTreeMap<String, String>>,
}

impl RunEntry {
    /// A run record as a run-list entry, for a run this process is not writing. A run with no
    /// final word is running elsewhere when its heartbeat's writer is alive (a live pid here, a
    /// recent heartbeat from another host), else killed.
    pub fn from_record(record: RunRecord) -> RunEntry {
        let status = match record.outcome() {
            Outcome::Finished => RunStatus::Done,
            Outcome::Stopped { epochs_done } => RunStatus::Stopped { epochs_done },
            Outcome::Failed { message } => RunStatus::Failed(message),
            Outcome::Unfinished { epochs_done } => match (record.writer(), &record.heartbeat) {
                (Some(Writer::Here { pid }), Some(beat)) => RunStatus::Elsewhere {
                    pid: Some(pid),
                    host: beat.host.clone(),
                },
                (Some(Writer::Elsewhere), Some(beat)) => RunStatus::Elsewhere {
                    pid: None,
                    host: beat.host.clone(),
                },
                _ => RunStatus::Killed { epochs_done },
            },
        };
        let (phase, batch) = match (&status, &record.heartbeat) {
            (RunStatus::Elsewhere { .. }, Some(beat)) => (
                Some(beat.phase),
                Some(BatchProgress {
                    epoch: beat.epoch,
                    batch: beat.batch,
                    batches: beat.batches,
                    loss: beat.loss.unwrap_or(f64::NAN),
                }),
            ),
            _ => (None, None),
        };
        let invariance = record
            .epochs
            .iter()
            .rev()
            .find_map(|e| e.invariance.clone())
            .or_else(|| record.summary.as_ref().and_then(invariance_from_summary));
        let mut entry = RunEntry::new(0, record.name, record.config);
        entry.dir = Some(record.dir);
        entry.info = record.info.map(Box::new);
        entry.epochs = record.epochs;
        entry.invariance = invariance.map(Box::new);
        entry.summary = record.summary.map(Box::new);
        entry.status = status;
        entry.phase = phase;
        entry.batch = batch;
        entry.from_history = true;
        entry.updated = record.updated;
        // GIT runs: which generator the run used, its loss curves and its sample grid, as the live
        // generator view shows them.
        if let Some(g) = record.generator {
            entry.generator = Some(Box::new(GeneratorProgress {
                key: g.key,
                iteration: g.iterations,
                iterations: g.iterations,
                losses: record.generator_losses.last().copied(),
                seconds: g.seconds,
                started_at: 0,
                from_cache: !g.trained_here,
                samples: None,
            }));
            entry.generator_losses = record.generator_losses;
            entry.generator_samples = record.generator_samples.map(Box::new);
            entry.generator_coverage = record.generator_coverage.map(Box::new);
        }
        entry
    }

    pub fn new(slot: usize, name: String, config: RunConfig) -> RunEntry {
        RunEntry {
            slot,
            name,
            config,
            status: RunStatus::Queued,
            dir: None,
            info: None,
            phase: None,
            batch: None,
            batch_losses: Vec::new(),
            epochs: Vec::new(),
            invariance: None,
            generator: None,
            generator_samples: None,
            generator_coverage: None,
            generator_losses: Vec::new(),
            summary: None,
            marked: false,
            pause_requested: false,
            resume: false,
            placed_on: None,
            from_history: false,
            updated: 0,
            flat: std::sync::OnceLock::new(),
        }
    }

    /// The config as `dotted.key -> value`, for filters.
    pub(crate) fn flat_config(&self) -> &std::collections::BTreeMap<String, String> {
        self.flat.get_or_init(|| self.config.flat())
    }

    /// The line the run list shows under its table for this run: why it failed (true: an
    /// error), else its directory.
    pub(crate) fn detail(&self) -> Option<(String, bool)> {
        match &self.status {
            RunStatus::Failed(reason) if !reason.is_empty() => {
                Some((format!(" {}: {reason}", self.short_name().0), true))
            }
            RunStatus::Elsewhere {
                pid: Some(pid),
                host,
            } => Some((
                format!(" running in process {pid} on {host} (this host): view only; x stops it"),
                false,
            )),
            RunStatus::Elsewhere { host, .. } => Some((
                format!(" running on {host}: view only (heartbeat within 10 min)"),
                false,
            )),
            _ => self
                .dir
                .as_ref()
                .map(|d| (format!(" {}", d.display()), false)),
        }
    }

    /// The name without a leading `YYYYMMDD-HHMMSS-` stamp, and the stamp as `MM-DD HH:MM`.
    pub(crate) fn short_name(&self) -> (&str, Option<String>) {
        let n = &self.name;
        let b = n.as_bytes();
        let stamped = b.len() > 16
            && b[..8].iter().all(u8::is_ascii_digit)
            && b[8] == b'-'
            && b[9..15].iter().all(u8::is_ascii_digit)
            && b[15] == b'-';
        if stamped {
            let when = format!("{}-{} {}:{}", &n[4..6], &n[6..8], &n[9..11], &n[11..13]);
            (&n[16..], Some(when))
        } else {
            (n, None)
        }
    }

    /// Keeps a generator progress report: losses for the curves, the newest sample grid.
    pub(crate) fn record_generator(&mut self, mut progress: GeneratorProgress) {
        if let Some(l) = progress.losses {
            if self.generator_losses.last().map(|p| p.iteration) < Some(l.iteration) {
                self.generator_losses.push(l);
            }
        }
        if let Some(grid) = progress.samples.take() {
            self.generator_samples = Some(Box::new(grid));
        }
        self.generator = Some(Box::new(progress));
    }

    pub(crate) fn total_epochs(&self) -> usize {
        self.info
            .as_ref()
            .map(|i| i.total_epochs)
            .or_else(|| self.epochs.last().map(|e| e.total_epochs))
            .unwrap_or(self.config.train.epochs)
    }

    pub fn epochs_done(&self) -> usize {
        self.epochs.last().map(|e| e.epoch).unwrap_or(0)
    }

    /// Training images per class label, when known.
    pub fn train_sizes(&self) -> Option<Vec<usize>> {
        if let Some(info) = &self.info {
            return Some(info.train_sizes.clone());
        }
        self.summary
            .as_ref()
            .map(|s| s.classes.iter().map(|c| c.train_size).collect())
    }

    pub fn class_names(&self) -> Vec<String> {
        if let Some(info) = &self.info {
            return info.class_names.clone();
        }
        self.summary
            .as_ref()
            .map(|s| s.classes.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Per-class accuracy of the latest epoch (or the summary).
    pub(crate) fn per_class_accuracy(&self) -> Option<Vec<f64>> {
        if let Some(e) = self.epochs.last() {
            return Some(e.per_class_accuracy.clone());
        }
        self.summary
            .as_ref()
            .map(|s| s.classes.iter().map(|c| c.accuracy).collect())
    }

    /// Seconds left, from the mean wall time of the epochs done so far.
    pub(crate) fn eta_seconds(&self) -> Option<f64> {
        if !self.status.is_active() || self.epochs.is_empty() {
            return None;
        }
        let per_epoch = self
            .epochs
            .iter()
            .map(|e| e.train_seconds + e.eval_seconds)
            .sum::<f64>()
            / self.epochs.len() as f64;
        let left = self.total_epochs().saturating_sub(self.epochs_done()) as f64;
        let in_epoch = self
            .batch
            .filter(|b| b.epoch > self.epochs_done() && b.batches > 0)
            .map(|b| b.batch as f64 / b.batches as f64)
            .unwrap_or(0.0);
        Some(((left - in_epoch).max(0.0)) * per_epoch)
    }
}

fn invariance_from_summary(s: &Summary) -> Option<InvarianceReport> {
    let ekld: Option<Vec<f64>> = s.classes.iter().map(|c| c.ekld).collect();
    let ekld = ekld?;
    Some(InvarianceReport {
        epoch: s.epochs,
        transform: None,
        images_per_class: s.ekld_images_per_class.unwrap_or(0),
        samples: s.ekld_samples.unwrap_or(0),
        consistency: s
            .classes
            .iter()
            .map(|c| c.consistency.unwrap_or(f64::NAN))
            .collect(),
        ekld_stderr: s
            .classes
            .iter()
            .map(|c| c.ekld_stderr.unwrap_or(0.0))
            .collect(),
        // Every class's interval, or none (older summaries have none).
        ekld_ci95: s
            .classes
            .iter()
            .map(|c| c.ekld_ci95)
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default(),
        ekld,
        spearman_size_ekld: s.spearman_size_ekld,
        seconds: 0.0,
        transform_seconds: None,
        // The design each class used, as the summary recorded it (empty for format 1).
        sampling: invlab_core::records::SamplingUsage {
            mode: s.ekld_sampling,
            images: s.classes.iter().filter_map(|c| c.ekld_images).collect(),
            samples_per_image: s
                .classes
                .iter()
                .filter_map(|c| c.ekld_samples_per_image)
                .collect(),
        },
    })
}
