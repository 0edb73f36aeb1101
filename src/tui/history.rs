//! Run history: the run directories the engine wrote, read back at start-up. Every file may be
//! missing or cut short (a killed run has no summary, its last metrics line may be partial).

use std::path::{Path, PathBuf};

use crate::config::RunConfig;
use crate::engine::rundir::RunState;
use crate::engine::{
    EpochMetrics, GeneratorProgress, GeneratorRecord, InvarianceReport, RunInfo, Summary,
};

use super::app::{RunEntry, RunStatus};

/// A JSON file of the run directory, `None` when missing or unreadable.
fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Option<T> {
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Reads one run directory; `None` when it holds nothing invlab wrote.
pub fn load_run(dir: &Path) -> Option<RunEntry> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let info: Option<RunInfo> = read_json(dir, "run.json");
    let config: Option<RunConfig> = read("config.toml")
        .and_then(|t| toml::from_str(&t).ok())
        .or_else(|| info.as_ref().map(|i| i.config.clone()));
    let config = config?;
    let epochs: Vec<EpochMetrics> = read("metrics.jsonl")
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str::<EpochMetrics>(l).ok())
                .collect()
        })
        .unwrap_or_default();
    let summary: Option<Summary> = read_json(dir, "summary.json");
    // `state.json` (the engine's), else a plain `status` file.
    let state: Option<RunState> = read_json(dir, "state.json");
    let status_text = state
        .as_ref()
        .map(|s| {
            if s.message.is_empty() {
                s.status.to_string()
            } else {
                format!("{}: {}", s.status, s.message)
            }
        })
        .or_else(|| read("status").map(|s| s.trim().to_string()));
    let invariance: Option<InvarianceReport> = epochs
        .iter()
        .rev()
        .find_map(|e| e.invariance.clone())
        .or_else(|| summary.as_ref().and_then(invariance_from_summary));
    let done = epochs.last().map(|e| e.epoch).unwrap_or(0);
    let status = classify(status_text.as_deref(), summary.as_ref(), done);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| config.name.clone());
    let mut entry = RunEntry::new(0, name, config);
    entry.dir = Some(dir.to_path_buf());
    entry.info = info.map(Box::new);
    entry.epochs = epochs;
    entry.invariance = invariance.map(Box::new);
    entry.summary = summary.map(Box::new);
    entry.status = status;
    entry.from_history = true;
    load_generator(dir, &mut entry);
    entry.updated = state.map(|s| s.updated).unwrap_or_else(|| modified(dir));
    Some(entry)
}

/// GIT runs: which generator the run used, its loss curves and its sample grid, as the live
/// generator view shows them.
fn load_generator(dir: &Path, entry: &mut RunEntry) {
    let Some(record) = read_json::<GeneratorRecord>(dir, "generator.json") else {
        return;
    };
    let losses = crate::git::training::read_losses(&dir.join("generator-losses.jsonl"));
    let samples = read_json(dir, "generator-samples.json");
    entry.generator = Some(Box::new(GeneratorProgress {
        key: record.key,
        iteration: record.iterations,
        iterations: record.iterations,
        losses: losses.last().copied(),
        seconds: record.seconds,
        started_at: 0,
        from_cache: !record.trained_here,
        samples: None,
    }));
    entry.generator_losses = losses;
    entry.generator_samples = samples.map(Box::new);
}

fn modified(dir: &Path) -> u64 {
    std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn classify(status: Option<&str>, summary: Option<&Summary>, epochs_done: usize) -> RunStatus {
    let word = status
        .map(|s| {
            s.split([':', ' ', '\n'])
                .next()
                .unwrap_or("")
                .to_lowercase()
        })
        .unwrap_or_default();
    match word.as_str() {
        "finished" | "done" => return RunStatus::Done,
        "stopped" => return RunStatus::Stopped { epochs_done },
        "failed" => {
            let reason = status
                .and_then(|s| s.split_once([':', '\n']).map(|x| x.1.trim().to_string()))
                .unwrap_or_default();
            return RunStatus::Failed(reason);
        }
        _ => {}
    }
    match summary.map(|s| s.status.as_str()) {
        Some("stopped") => RunStatus::Stopped { epochs_done },
        Some(_) => RunStatus::Done,
        // No summary and no final word: the process died mid-run.
        None => RunStatus::Killed { epochs_done },
    }
}

fn invariance_from_summary(s: &Summary) -> Option<InvarianceReport> {
    let ekld: Option<Vec<f64>> = s.classes.iter().map(|c| c.ekld).collect();
    let ekld = ekld?;
    Some(InvarianceReport {
        epoch: s.epochs,
        transform: String::new(),
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

/// Every run under `runs_dir`, least recently updated first.
pub fn load_history(runs_dir: &Path) -> Vec<RunEntry> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut runs: Vec<RunEntry> = dirs.iter().filter_map(|d| load_run(d)).collect();
    runs.sort_by_key(|r| r.updated);
    runs
}
