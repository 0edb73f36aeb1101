//! A run's directory. Every file is written atomically (temp file in the same folder, fsync,
//! rename), so a killed run leaves either the old or the new version of each file, never half.
//!
//! Layout: `config.toml` (resolved config), `run.json` (RunInfo, with the directory's
//! `format_version`), `state.json` (status and the last checkpointed epoch), `metrics.jsonl`
//! (one EpochMetrics per line), `checkpoint.ot` and `optimizer.ot` (model and momentum
//! buffers), `summary.json`, `per_class.csv`; GIT runs add `generator.json`,
//! `generator-losses.jsonl` and `generator-samples.json`.
//!
//! This module owns the format: the engine writes through `RunDir`, and every reader (the lab,
//! `invlab report`, batch mode's resume checks) goes through `RunDir::load` and its `RunRecord`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::records::{EpochMetrics, GeneratorRecord, RunInfo};
use super::summary::Summary;
use crate::config::RunConfig;
use crate::generator::{read_losses, Losses, SampleGrid};
use crate::heartbeat::{self, Heartbeat, Writer};
use crate::nuisance_coverage::NuisanceCoverage;

/// The run-directory format this build writes, recorded in `run.json`. Version 1 is every
/// directory written before the field existed. What version 1 lacks reads as `None` (each such
/// field is marked "absent in format 1") and every reader shows it as unknown; no field changed
/// meaning, so nothing is converted. A future change of meaning bumps this and converts in
/// `RunDir::load`, the one reader.
pub const FORMAT_VERSION: u32 = 2;

use crate::atomic::write_atomic;
use crate::text_file::read_text;

/// A run's status word in `state.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Running,
    Paused,
    /// Stopped on request (a key, a signal): resumable from the last checkpoint.
    Stopped,
    // Early builds wrote `done`.
    #[serde(alias = "done")]
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

/// `checkpoint.json`: the epoch `checkpoint.ot` holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct CheckpointRecord {
    epoch: usize,
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
    /// Wall seconds the run has taken so far, over every attempt (a stopped or requeued run
    /// resumes several times; `summary.json`'s `wall_seconds` counts the last attempt only).
    #[serde(default)]
    pub seconds: f64,
}

impl RunState {
    /// A state with nothing checkpointed yet (epoch 0), stamped now.
    pub fn at_start(status: Status, message: impl Into<String>) -> RunState {
        RunState {
            status,
            checkpoint_epoch: 0,
            epochs_done: 0,
            generator_iteration: None,
            total_epochs: 0,
            message: message.into(),
            updated: now_secs(),
            seconds: 0.0,
        }
    }
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
        let text = config.to_toml().map_err(io::Error::other)?;
        write_atomic(&self.file("config.toml"), text.as_bytes())
    }

    pub fn read_config(&self) -> Result<RunConfig, crate::config::ConfigError> {
        RunConfig::load(&self.file("config.toml"), &[])
    }

    pub fn write_info(&self, info: &RunInfo) -> io::Result<()> {
        write_json(&self.file("run.json"), info)
    }

    pub fn write_state(&self, state: &RunState) -> io::Result<()> {
        write_json(&self.file("state.json"), state)
    }

    pub fn read_state(&self) -> Option<RunState> {
        read_json(&self.file("state.json"))
    }

    /// Records which epoch `checkpoint.ot` holds, beside it (`checkpoint.json`), after the
    /// checkpoint itself was renamed into place: the resume can trust it even when
    /// `state.json` is lost.
    pub fn write_checkpoint_epoch(&self, epoch: usize) -> io::Result<()> {
        write_json(&self.file("checkpoint.json"), &CheckpointRecord { epoch })
    }

    pub fn read_checkpoint_epoch(&self) -> Option<usize> {
        read_json::<CheckpointRecord>(&self.file("checkpoint.json")).map(|c| c.epoch)
    }

    /// `state.json`, or when it is missing or unreadable, a state rebuilt from what the
    /// checkpoint says (`checkpoint.json`): checkpointed epochs are never thrown away. `None`
    /// with no checkpoint at all (killed before its first: a resume starts at epoch 0). An
    /// error, leaving every file as it is, when a checkpoint exists whose epoch nothing records.
    pub fn state_or_recovered(&self) -> Result<Option<RunState>, UnrecordedCheckpoint> {
        if let Some(state) = self.read_state() {
            return Ok(Some(state));
        }
        let checkpoint = self.file("checkpoint.ot");
        match (self.read_checkpoint_epoch(), checkpoint.exists()) {
            (Some(epoch), true) => Ok(Some(RunState {
                checkpoint_epoch: epoch,
                epochs_done: epoch,
                ..RunState::at_start(
                    Status::Stopped,
                    format!(
                        "state.json was missing or unreadable; rebuilt from checkpoint.json (epoch {epoch})"
                    ),
                )
            })),
            (_, false) => Ok(None),
            (None, true) => Err(UnrecordedCheckpoint {
                state: self.file("state.json"),
                checkpoint,
            }),
        }
    }

    /// Rewrites `metrics.jsonl` with all epochs so far.
    pub fn write_metrics(&self, epochs: &[EpochMetrics]) -> io::Result<()> {
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

    /// Everything the directory holds, typed. Every file but the config may be missing or cut
    /// short (a killed run has no summary, its last metrics line may be partial); the config
    /// comes from `config.toml`, else from `run.json`. Errs only when neither is readable,
    /// i.e. the folder is not a run directory.
    pub fn load(&self) -> Result<RunRecord, LoadError> {
        let info: Option<RunInfo> = read_json(&self.file("run.json"));
        let config = match RunConfig::load(&self.file("config.toml"), &[]) {
            Ok(config) => config,
            Err(e) => match &info {
                Some(info) => info.config.clone(),
                None => {
                    return Err(LoadError {
                        dir: self.path.clone(),
                        reason: format!("no readable config.toml or run.json ({e})"),
                    })
                }
            },
        };
        let state: Option<RunState> = read_json(&self.file("state.json"));
        let epochs = self.read_metrics();
        let summary: Option<Summary> = read_json(&self.file("summary.json"));
        let generator: Option<GeneratorRecord> = read_json(&self.file("generator.json"));
        let generator_losses = if generator.is_some() {
            read_losses(&self.file("generator-losses.jsonl"))
        } else {
            Vec::new()
        };
        let generator_samples = generator
            .as_ref()
            .and_then(|_| read_json(&self.file("generator-samples.json")));
        let generator_coverage = generator
            .as_ref()
            .and_then(|_| read_json(&self.file(crate::nuisance_coverage::FILE)));
        let updated = state
            .as_ref()
            .map(|s| s.updated)
            .unwrap_or_else(|| modified(&self.path));
        Ok(RunRecord {
            dir: self.path.clone(),
            name: self.id(),
            format_version: info.as_ref().map_or(1, |i| i.format_version),
            config,
            info,
            state,
            epochs,
            summary,
            generator,
            generator_losses,
            generator_samples,
            generator_coverage,
            heartbeat: self.read_heartbeat(),
            updated,
        })
    }

    /// Rewrites the heartbeat (`progress.json`), atomically.
    pub fn write_heartbeat(&self, beat: &Heartbeat) -> io::Result<()> {
        let text = serde_json::to_string(beat).map_err(io::Error::other)?;
        write_atomic(&self.file(heartbeat::FILE), format!("{text}\n").as_bytes())
    }

    /// The heartbeat, when it is a small regular file: the watcher reads it every poll, so
    /// a huge file planted under its name is ignored rather than read.
    pub fn read_heartbeat(&self) -> Option<Heartbeat> {
        let text =
            crate::text_file::read_text_at_most(&self.file(heartbeat::FILE), 64 << 10).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the generator's coverage diagnostic (`generator-coverage.json`), atomically.
    pub fn write_generator_coverage(&self, coverage: &NuisanceCoverage) -> io::Result<()> {
        write_json(&self.file(crate::nuisance_coverage::FILE), coverage)
    }

    pub fn write_summary(&self, summary: &Summary) -> io::Result<()> {
        write_json(&self.file("summary.json"), summary)?;
        write_atomic(
            &self.file("per_class.csv"),
            summary.per_class_csv().as_bytes(),
        )
    }
}

/// A checkpoint whose epoch nothing records (`state.json` and `checkpoint.json` both lost):
/// resuming would have to guess, so nothing is touched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} is missing or unreadable and nothing records which epoch {} holds; every file is left as it is (restore state.json, or move the directory away to start over)", state.display(), checkpoint.display())]
pub struct UnrecordedCheckpoint {
    pub state: PathBuf,
    pub checkpoint: PathBuf,
}

/// Why a folder could not be read as a run directory.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: not a run directory: {reason}", dir.display())]
pub struct LoadError {
    pub dir: PathBuf,
    pub reason: String,
}

/// A run directory as read back: what the lab's run list, `invlab report` and the resume checks
/// see. Plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub dir: PathBuf,
    /// The directory's name (the run id).
    pub name: String,
    /// `run.json`'s `format_version`; 1 when the directory predates it or has no `run.json`.
    pub format_version: u32,
    pub config: RunConfig,
    pub info: Option<RunInfo>,
    pub state: Option<RunState>,
    /// Complete lines of `metrics.jsonl`, in order.
    pub epochs: Vec<EpochMetrics>,
    pub summary: Option<Summary>,
    /// GIT runs: the generator the run used, its loss curves and newest sample grid.
    pub generator: Option<GeneratorRecord>,
    pub generator_losses: Vec<Losses>,
    pub generator_samples: Option<SampleGrid>,
    /// The generator's coverage of the true nuisance (`generator-coverage.json`, BG and DIL).
    pub generator_coverage: Option<NuisanceCoverage>,
    /// The writer's last heartbeat (`progress.json`), if it wrote one.
    pub heartbeat: Option<Heartbeat>,
    /// Seconds since the Unix epoch of the last state change (the folder's mtime without one).
    pub updated: u64,
}

/// How a run ended, as far as its directory tells.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Finished,
    /// Stopped on request; resumable after `epochs_done` epochs.
    Stopped {
        epochs_done: usize,
    },
    Failed {
        message: String,
    },
    /// No final word: its writer is still at work, or died (killed, out of memory, power).
    /// Only the writer's lock can tell which.
    Unfinished {
        epochs_done: usize,
    },
}

impl RunRecord {
    /// Who is writing a run with no final word yet: `None` once it finished, stopped or failed,
    /// and for a run without a heartbeat (written before heartbeats, or killed before its
    /// first one), where nothing can tell.
    pub fn writer(&self) -> Option<Writer> {
        match self.outcome() {
            Outcome::Unfinished { .. } => self.heartbeat.as_ref().map(|b| {
                b.writer(
                    heartbeat::now_seconds(),
                    &heartbeat::this_host(),
                    heartbeat::pid_alive,
                )
            }),
            _ => None,
        }
    }

    /// Epochs with metrics on disk.
    pub fn epochs_done(&self) -> usize {
        self.epochs.last().map_or(0, |e| e.epoch)
    }

    pub fn outcome(&self) -> Outcome {
        let epochs_done = self.epochs_done();
        match self.state.as_ref().map(|s| s.status) {
            Some(Status::Finished) => Outcome::Finished,
            Some(Status::Stopped) => Outcome::Stopped { epochs_done },
            Some(Status::Failed) => Outcome::Failed {
                message: self
                    .state
                    .as_ref()
                    .map(|s| s.message.clone())
                    .unwrap_or_default(),
            },
            Some(Status::Running | Status::Paused) | None => match self.summary.as_ref() {
                // A summary without a final state: the state write was lost, the summary was not.
                Some(s) if s.status == Status::Stopped => Outcome::Stopped { epochs_done },
                Some(_) => Outcome::Finished,
                None => Outcome::Unfinished { epochs_done },
            },
        }
    }
}

/// Every run directory directly under `runs_dir` (folders that are not run directories are
/// skipped), least recently updated first.
pub fn load_all(runs_dir: &Path) -> Vec<RunRecord> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(runs_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut runs: Vec<RunRecord> = dirs
        .iter()
        .filter_map(|d| RunDir { path: d.clone() }.load().ok())
        .collect();
    runs.sort_by_key(|r| r.updated);
    runs
}

fn modified(dir: &Path) -> u64 {
    fs::metadata(dir)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn read_metrics(path: &Path) -> Vec<EpochMetrics> {
    read_text(path)
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
    serde_json::from_str(&read_text(path).ok()?).ok()
}

pub fn now_secs() -> u64 {
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

    fn written_run(dir: &Path) -> RunDir {
        use crate::fixtures;
        let config = RunConfig::default();
        let run = RunDir::create(dir, "r").unwrap();
        run.write_config(&config).unwrap();
        let info = fixtures::run_info(&config, "r", run.path.clone());
        run.write_info(&info).unwrap();
        let epochs: Vec<EpochMetrics> = (1..=3).map(|e| fixtures::epoch(&info, e, 1.0)).collect();
        run.write_metrics(&epochs).unwrap();
        run
    }

    fn state(status: Status, message: &str) -> RunState {
        RunState {
            status,
            checkpoint_epoch: 3,
            epochs_done: 3,
            generator_iteration: None,
            total_epochs: 5,
            message: message.into(),
            updated: 1_700_000_000,
            seconds: 0.0,
        }
    }

    #[test]
    fn load_reads_every_file_typed_and_tolerates_a_torn_last_line() {
        let tmp = tempfile::tempdir().unwrap();
        let run = written_run(tmp.path());
        // A killed writer's partial last line is skipped, the complete lines kept.
        let mut text = fs::read_to_string(run.file("metrics.jsonl")).unwrap();
        text.push_str("{\"epoch\": 4, \"train_lo");
        fs::write(run.file("metrics.jsonl"), text).unwrap();
        let record = run.load().unwrap();
        assert_eq!(record.name, "r");
        assert_eq!(record.format_version, FORMAT_VERSION);
        assert_eq!(record.epochs.len(), 3);
        assert_eq!(record.epochs_done(), 3);
        assert!(record.summary.is_none() && record.state.is_none());
        // No final word and no summary: unfinished (the writer is at work or died).
        assert_eq!(record.outcome(), Outcome::Unfinished { epochs_done: 3 });

        run.write_state(&state(Status::Failed, "the loss diverged"))
            .unwrap();
        assert_eq!(
            run.load().unwrap().outcome(),
            Outcome::Failed {
                message: "the loss diverged".into()
            }
        );
        run.write_state(&state(Status::Stopped, "")).unwrap();
        assert_eq!(
            run.load().unwrap().outcome(),
            Outcome::Stopped { epochs_done: 3 }
        );
        run.write_state(&state(Status::Finished, "")).unwrap();
        let record = run.load().unwrap();
        assert_eq!(record.outcome(), Outcome::Finished);
        assert_eq!(record.updated, 1_700_000_000);
    }

    #[test]
    fn a_run_json_without_format_version_is_format_1_and_a_folder_without_config_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let run = written_run(tmp.path());
        let mut info: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(run.file("run.json")).unwrap()).unwrap();
        info.as_object_mut().unwrap().remove("format_version");
        fs::write(run.file("run.json"), info.to_string()).unwrap();
        assert_eq!(run.load().unwrap().format_version, 1);
        // The config comes from run.json when config.toml is gone.
        fs::remove_file(run.file("config.toml")).unwrap();
        assert_eq!(run.load().unwrap().config, RunConfig::default());
        fs::remove_file(run.file("run.json")).unwrap();
        let err = run.load().unwrap_err();
        assert!(err.to_string().contains("not a run directory"), "{err}");
        // An old summary's `done` reads as finished.
        let old: Status = serde_json::from_str("\"done\"").unwrap();
        assert_eq!(old, Status::Finished);
    }

    fn beat() -> Heartbeat {
        Heartbeat {
            pid: 1,
            host: "h".into(),
            phase: crate::records::Phase::Training,
            epoch: 1,
            total_epochs: 2,
            batch: 0,
            batches: 3,
            loss: None,
            paused: false,
            updated: 1.0,
        }
    }

    /// A huge file planted as `progress.json` is ignored, not read.
    #[test]
    fn an_oversized_heartbeat_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir {
            path: tmp.path().to_path_buf(),
        };
        dir.write_heartbeat(&beat()).unwrap();
        assert_eq!(dir.read_heartbeat(), Some(beat()));
        std::fs::File::create(dir.file(heartbeat::FILE))
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        assert_eq!(dir.read_heartbeat(), None);
    }
}
