//! A run's directory. Every file is written atomically (temp file in the same folder, fsync,
//! rename), so a killed run leaves either the old or the new version of each file, never half.
//!
//! Layout: `config.toml` (resolved config), `run.json` (RunInfo), `state.json` (status and the
//! last checkpointed epoch), `metrics.jsonl` (one EpochMetrics per line), `checkpoint.ot` and
//! `optimizer.ot` (model and momentum buffers), `summary.json`, `per_class.csv`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::records::{EpochMetrics, RunInfo};
use super::summary::Summary;
use crate::config::RunConfig;

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// A temp name beside `path` that keeps its extension (tch picks the format by extension).
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".tmp-{}-{name}", std::process::id()))
}

/// A run's status word in `state.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Running,
    Paused,
    /// Stopped on request (a key, a signal): resumable from the last checkpoint.
    Stopped,
    Finished,
    Failed,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
            Status::Finished => "finished",
            Status::Failed => "failed",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// Where a run stands, as `state.json` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub status: Status,
    /// Epochs whose weights are in `checkpoint.ot` (a resume starts after them).
    pub checkpoint_epoch: usize,
    /// Epochs whose metrics are in `metrics.jsonl`.
    pub epochs_done: usize,
    /// GIT generator iterations checkpointed in `generator-training.ot` (generator phase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_iteration: Option<usize>,
    pub total_epochs: usize,
    #[serde(default)]
    pub message: String,
    /// Seconds since the Unix epoch.
    pub updated: u64,
}

#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `<runs_dir>/<name>`, or `<name>-2`, `<name>-3`, ... if taken.
    pub fn create(runs_dir: &Path, name: &str) -> io::Result<RunDir> {
        fs::create_dir_all(runs_dir)?;
        for k in 1.. {
            let dir_name = if k == 1 {
                name.to_string()
            } else {
                format!("{name}-{k}")
            };
            let path = runs_dir.join(dir_name);
            match fs::create_dir(&path) {
                Ok(()) => return Ok(RunDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        unreachable!("an unbounded loop returns")
    }

    pub fn open(path: &Path) -> io::Result<RunDir> {
        if !path.join("config.toml").is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} is not a run directory (no config.toml)", path.display()),
            ));
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    pub fn id(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn write_config(&self, config: &RunConfig) -> io::Result<()> {
        write_atomic(&self.file("config.toml"), config.to_toml().as_bytes())
    }

    pub(crate) fn read_config(&self) -> Result<RunConfig, String> {
        RunConfig::load(&self.file("config.toml"), &[]).map_err(|e| e.to_string())
    }

    pub(crate) fn write_info(&self, info: &RunInfo) -> io::Result<()> {
        write_json(&self.file("run.json"), info)
    }

    pub(crate) fn write_state(&self, state: &RunState) -> io::Result<()> {
        write_json(&self.file("state.json"), state)
    }

    pub fn read_state(&self) -> Option<RunState> {
        read_json(&self.file("state.json"))
    }

    /// Rewrites `metrics.jsonl` with all epochs so far.
    pub(crate) fn write_metrics(&self, epochs: &[EpochMetrics]) -> io::Result<()> {
        let mut text = String::new();
        for m in epochs {
            text.push_str(&serde_json::to_string(m).map_err(io::Error::other)?);
            text.push('\n');
        }
        write_atomic(&self.file("metrics.jsonl"), text.as_bytes())
    }

    /// Reads `metrics.jsonl`, skipping a torn last line.
    pub fn read_metrics(&self) -> Vec<EpochMetrics> {
        read_metrics(&self.file("metrics.jsonl"))
    }

    pub(crate) fn write_summary(&self, summary: &Summary) -> io::Result<()> {
        write_json(&self.file("summary.json"), summary)?;
        write_atomic(
            &self.file("per_class.csv"),
            summary.per_class_csv().as_bytes(),
        )
    }
}

pub fn read_metrics(path: &Path) -> Vec<EpochMetrics> {
    fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    write_atomic(path, format!("{text}\n").as_bytes())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_writes_leave_no_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let a = RunDir::create(tmp.path(), "exp").unwrap();
        let b = RunDir::create(tmp.path(), "exp").unwrap();
        assert_eq!(a.id(), "exp");
        assert_eq!(b.id(), "exp-2");
        write_atomic(&a.file("x.txt"), b"hello").unwrap();
        write_atomic(&a.file("x.txt"), b"world").unwrap();
        assert_eq!(fs::read_to_string(a.file("x.txt")).unwrap(), "world");
        let names: Vec<_> = fs::read_dir(&a.path)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
