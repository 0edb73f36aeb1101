//! Continuing runs that already have a directory (`--continue`, implied by `--index`). A job
//! array task that was stopped before its time limit and requeued runs the same command again;
//! it must pick up its own run directory rather than start a fresh `name-2`:
//!
//! - no directory `<runs>/<name>` yet: start the run there;
//! - finished: skip it (the task's work is done);
//! - stopped, paused or killed (`state.json` says running): resume it from its last checkpoint;
//! - killed before its first checkpoint or state: resume from epoch 0;
//! - failed, or holding a different config: an error naming the directory, never an overwrite.
//!
//! The run's lock (`invlab_core::lock`) is taken before the decision and handed to the run's
//! worker, so two processes given the same sweep point cannot train into one directory.

use std::path::{Path, PathBuf};

use invlab_core::config::RunConfig;
use invlab_core::lock::{LockError, RunLock};
use invlab_core::rundir::{RunDir, RunState, Status};

/// What to do for one sweep point.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    Start,
    Resume(PathBuf),
    AlreadyFinished(PathBuf),
}

/// A claimed run: the plan, and the lock, handed to the run's worker (which holds it for as
/// long as it writes).
#[derive(Debug)]
pub(crate) struct Claim {
    pub plan: Plan,
    pub lock: Option<RunLock>,
}

/// Why a run could not be claimed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClaimError {
    /// Another live process holds the run's lock (the kernel drops a dead holder's flock, so
    /// a lock left by a killed process never shows up here: it is simply taken over).
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot create {}: {error}", .path.display())]
    Create {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The directory exists and cannot be continued (another config, failed, not a run).
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// Why an existing directory is not continued; each says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{} exists but is not a run directory (no config.toml); move it away or choose another name with --set name=...", .0.display())]
    NotARun(PathBuf),
    #[error(transparent)]
    Config(#[from] invlab_core::config::ConfigError),
    #[error("{dir} holds a run of a different config ({difference}); resume it with --resume {dir}, or give this run another name with --set name=...", dir = .dir.display())]
    OtherConfig { dir: PathBuf, difference: String },
    #[error(transparent)]
    UnrecordedCheckpoint(#[from] invlab_core::rundir::UnrecordedCheckpoint),
    #[error("{dir} failed earlier ({message}); fix the cause and continue it with --resume {dir}, or move it away to start over", dir = .dir.display())]
    Failed { dir: PathBuf, message: String },
    #[error("{}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ClaimError {
    /// Another live process holds the run.
    pub(crate) fn is_held(&self) -> bool {
        matches!(self, ClaimError::Lock(LockError::Held { .. }))
    }
}

/// Locks the run's name and decides what to do with it.
pub(crate) fn claim(runs_dir: &Path, config: &RunConfig) -> Result<Claim, ClaimError> {
    std::fs::create_dir_all(runs_dir).map_err(|error| ClaimError::Create {
        path: runs_dir.to_path_buf(),
        error,
    })?;
    let lock = RunLock::acquire(runs_dir, &config.name)?;
    let plan = plan(&runs_dir.join(&config.name), config)?;
    Ok(Claim { plan, lock })
}

/// The decision for the directory `dir` that a run named like `config` would use.
pub fn plan(dir: &Path, config: &RunConfig) -> Result<Plan, Refusal> {
    if !dir.exists() {
        return Ok(Plan::Start);
    }
    // Created, then killed before anything was written into it: start over in it.
    if std::fs::remove_dir(dir).is_ok() {
        return Ok(Plan::Start);
    }
    let run = RunDir::open(dir).map_err(|_| Refusal::NotARun(dir.to_path_buf()))?;
    let theirs = run.read_config()?;
    if let Some(difference) = first_difference(&theirs, config) {
        return Err(Refusal::OtherConfig {
            dir: dir.to_path_buf(),
            difference,
        });
    }
    match run.state_or_recovered()? {
        Some(state) => match state.status {
            Status::Finished => Ok(Plan::AlreadyFinished(dir.to_path_buf())),
            Status::Failed => Err(Refusal::Failed {
                dir: dir.to_path_buf(),
                message: if state.message.is_empty() {
                    "no message".into()
                } else {
                    state.message
                },
            }),
            Status::Stopped | Status::Paused | Status::Running => {
                Ok(Plan::Resume(dir.to_path_buf()))
            }
        },
        None => {
            // Killed while loading data, before the first state was written: nothing is
            // checkpointed, so the resume starts at epoch 0.
            run.write_state(&RunState::at_start(
                Status::Stopped,
                "killed before its first epoch",
            ))
            .map_err(|source| Refusal::Write {
                path: run.file("state.json"),
                source,
            })?;
            Ok(Plan::Resume(dir.to_path_buf()))
        }
    }
}

/// The first setting where two configs differ, as `key: a there, b here`.
fn first_difference(there: &RunConfig, here: &RunConfig) -> Option<String> {
    let (a, b) = (there.flat(), here.flat());
    let unset = "unset".to_string();
    a.keys().chain(b.keys()).find_map(|k| {
        let (x, y) = (a.get(k).unwrap_or(&unset), b.get(k).unwrap_or(&unset));
        (x != y).then(|| format!("{k}: {x} there, {y} here"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> RunConfig {
        RunConfig::from_toml_str(text, "test", &[]).unwrap()
    }

    fn state(dir: &RunDir, status: Status) {
        dir.write_state(&RunState {
            status,
            checkpoint_epoch: 1,
            epochs_done: 1,
            generator_iteration: None,
            total_epochs: 2,
            message: "diverged".into(),
            updated: 0,
            seconds: 0.0,
        })
        .unwrap();
    }

    #[test]
    fn existing_directories_are_resumed_skipped_or_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let c = config("name = \"exp\"\n");
        assert_eq!(plan(&tmp.path().join("exp"), &c).unwrap(), Plan::Start);

        let dir = RunDir::create(tmp.path(), "exp").unwrap();
        // Empty (killed at creation): started over in place.
        assert_eq!(plan(&dir.path, &c).unwrap(), Plan::Start);
        std::fs::create_dir(&dir.path).unwrap();
        dir.write_config(&c).unwrap();
        // No state yet (killed while loading data): resumed from epoch 0.
        assert_eq!(plan(&dir.path, &c).unwrap(), Plan::Resume(dir.path.clone()));
        assert_eq!(dir.read_state().unwrap().checkpoint_epoch, 0);
        for status in [Status::Stopped, Status::Running, Status::Paused] {
            state(&dir, status);
            assert_eq!(plan(&dir.path, &c).unwrap(), Plan::Resume(dir.path.clone()));
        }
        state(&dir, Status::Finished);
        assert_eq!(
            plan(&dir.path, &c).unwrap(),
            Plan::AlreadyFinished(dir.path.clone())
        );
        state(&dir, Status::Failed);
        let e = plan(&dir.path, &c).unwrap_err();
        assert!(matches!(e, Refusal::Failed { .. }), "{e}");
        assert!(e.to_string().contains("failed earlier (diverged)"), "{e}");

        state(&dir, Status::Stopped);
        let other = config("name = \"exp\"\n[train]\nepochs = 7\n");
        let e = plan(&dir.path, &other).unwrap_err();
        assert!(
            e.to_string().contains("train.epochs: 50 there, 7 here"),
            "{e}"
        );

        let stray = tmp.path().join("notes");
        std::fs::create_dir(&stray).unwrap();
        std::fs::write(stray.join("a.txt"), "x").unwrap();
        assert!(plan(&stray, &c)
            .unwrap_err()
            .to_string()
            .contains("not a run directory"));
    }

    #[test]
    fn a_name_is_claimed_by_one_process_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let c = config("name = \"exp\"\n");
        let first = claim(tmp.path(), &c).unwrap();
        assert_eq!(first.plan, Plan::Start);
        // flock locks belong to the open file, so a second open in this process conflicts too.
        let e = claim(tmp.path(), &c).unwrap_err();
        assert!(e.is_held(), "{e}");
        let e = e.to_string();
        assert!(e.contains("another invlab process is running exp"), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(first);
        assert!(claim(tmp.path(), &c).is_ok());
    }

    /// A symlink planted at a lock's name is refused, and its target left as it was.
    #[test]
    fn a_symlinked_lock_file_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join(".exp.lock")).unwrap();
        let e = claim(tmp.path(), &config("name = \"exp\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot open the lock file"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
