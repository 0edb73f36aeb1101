//! Run history: run directories read back (through `invlab_core::rundir`, the format's one
//! reader) into the run list's entries.

use std::path::Path;

use invlab_core::rundir::{self, Outcome, RunDir, RunRecord};
use invlab_engine::{GeneratorProgress, InvarianceReport, Summary};

use super::app::{RunEntry, RunStatus};

/// Reads one run directory; `None` when it holds nothing invlab wrote.
pub fn load_run(dir: &Path) -> Option<RunEntry> {
    RunDir {
        path: dir.to_path_buf(),
    }
    .load()
    .ok()
    .map(entry_of)
}

/// Every run under `runs_dir`, least recently updated first.
pub fn load_history(runs_dir: &Path) -> Vec<RunEntry> {
    rundir::load_all(runs_dir)
        .into_iter()
        .map(entry_of)
        .collect()
}

/// A run record as a run-list entry. At start-up nothing of this process writes any run, so a
/// run with no final word shows as killed.
pub fn entry_of(record: RunRecord) -> RunEntry {
    let status = match record.outcome() {
        Outcome::Finished => RunStatus::Done,
        Outcome::Stopped { epochs_done } => RunStatus::Stopped { epochs_done },
        Outcome::Failed { message } => RunStatus::Failed(message),
        Outcome::Unfinished { epochs_done } => RunStatus::Killed { epochs_done },
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
    }
    entry
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
        ekld,
        spearman_size_ekld: s.spearman_size_ekld,
        seconds: 0.0,
        sampling: Default::default(),
    })
}
