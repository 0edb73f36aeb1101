//! Following run directories that other processes write (`invlab watch`, the lab's run list):
//! a poll that lists the watched folders and looks at each run's few small files' sizes and
//! modification times, and reads back (through `RunDir::load`) only the runs whose files
//! changed. No inotify, so it works the same on NFS and Lustre; its cost per poll is one
//! directory listing per watched folder and a handful of `stat` calls per run (measured with
//! 1,000 runs in `BENCHMARKS.md`).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::heartbeat::{self, Writer};
use crate::rundir::{RunDir, RunRecord};

/// The files whose change means a run moved on.
const WATCHED_FILES: [&str; 6] = [
    "config.toml",
    "run.json",
    "state.json",
    "metrics.jsonl",
    "summary.json",
    heartbeat::FILE,
];

/// Size and modification time of each watched file (absent: `None`).
type Stamp = [Option<(u64, SystemTime)>; WATCHED_FILES.len()];

/// What changed since the last poll.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Runs that are new or whose files changed, read back.
    pub changed: Vec<RunRecord>,
    /// Run directories that disappeared (moved to the trash, deleted).
    pub gone: Vec<PathBuf>,
}

/// Polls folders of run directories.
#[derive(Debug)]
pub struct RunWatcher {
    roots: Vec<PathBuf>,
    seen: HashMap<PathBuf, Stamp>,
    /// Unfinished runs with a live writer, and the verdict last reported: a writer that dies
    /// (killed, out of memory) changes no file, so these are judged again at every poll.
    writing: HashMap<PathBuf, Writer>,
}

impl RunWatcher {
    pub fn new(roots: Vec<PathBuf>) -> RunWatcher {
        RunWatcher {
            roots,
            seen: HashMap::new(),
            writing: HashMap::new(),
        }
    }

    /// Lists the watched folders and reads back every run that is new or changed (the first
    /// poll reads them all). Folders that are not run directories are remembered and skipped
    /// until one of their files changes.
    pub fn poll(&mut self) -> Changes {
        let mut changes = Changes::default();
        let mut present: Vec<PathBuf> = Vec::new();
        for root in &self.roots {
            let Ok(entries) = fs::read_dir(root) else {
                continue;
            };
            for entry in entries.flatten() {
                // Hidden entries are locks and temporary files, never runs.
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let dir = entry.path();
                let stamp = stamp(&dir);
                present.push(dir.clone());
                if self.seen.get(&dir) == Some(&stamp) && !self.writer_changed(&dir) {
                    continue;
                }
                self.seen.insert(dir.clone(), stamp);
                if let Ok(record) = (RunDir { path: dir.clone() }).load() {
                    match record.writer() {
                        Some(w @ (Writer::Here { .. } | Writer::Elsewhere)) => {
                            self.writing.insert(dir, w);
                        }
                        _ => {
                            self.writing.remove(&dir);
                        }
                    }
                    changes.changed.push(record);
                }
            }
        }
        let before = self.seen.len();
        if before != present.len() {
            let present: std::collections::HashSet<&PathBuf> = present.iter().collect();
            let gone: Vec<PathBuf> = self
                .seen
                .keys()
                .filter(|d| !present.contains(d))
                .cloned()
                .collect();
            for d in &gone {
                self.seen.remove(d);
                self.writing.remove(d);
            }
            changes.gone = gone;
        }
        changes.changed.sort_by_key(|r| r.updated);
        changes
    }

    /// True when a run last seen with a live writer now has another verdict (its pid died,
    /// its host went silent). Reads only the small heartbeat file.
    fn writer_changed(&self, dir: &Path) -> bool {
        let Some(before) = self.writing.get(dir) else {
            return false;
        };
        let now = (RunDir {
            path: dir.to_path_buf(),
        })
        .read_heartbeat()
        .map(|b| {
            b.writer(
                heartbeat::now_seconds(),
                &heartbeat::this_host(),
                heartbeat::pid_alive,
            )
        });
        now != Some(*before)
    }
}

fn stamp(dir: &Path) -> Stamp {
    WATCHED_FILES.map(|name| {
        fs::metadata(dir.join(name))
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rundir::{RunState, Status};

    fn names(records: &[RunRecord]) -> Vec<String> {
        let mut n: Vec<String> = records.iter().map(|r| r.name.clone()).collect();
        n.sort();
        n
    }

    #[test]
    fn new_and_changed_runs_are_read_unchanged_ones_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        let config = crate::config::RunConfig::default();
        RunDir { path: a.clone() }.write_config(&config).unwrap();
        RunDir { path: b.clone() }.write_config(&config).unwrap();
        // Not run directories: a folder of notes, a lock file.
        fs::create_dir_all(tmp.path().join("notes")).unwrap();
        fs::write(tmp.path().join(".a.lock"), "pid 1").unwrap();

        let mut w = RunWatcher::new(vec![tmp.path().to_path_buf()]);
        let first = w.poll();
        assert_eq!(names(&first.changed), ["a", "b"]);
        assert!(first.gone.is_empty());
        assert!(w.poll().changed.is_empty(), "nothing changed");

        // b moves on: only b is read again.
        let dir = RunDir { path: b.clone() };
        dir.write_state(&RunState {
            status: Status::Running,
            checkpoint_epoch: 1,
            epochs_done: 1,
            generator_iteration: None,
            total_epochs: 3,
            message: String::new(),
            updated: 5,
            seconds: 0.0,
        })
        .unwrap();
        let second = w.poll();
        assert_eq!(names(&second.changed), ["b"]);
        assert_eq!(second.changed[0].state.as_ref().unwrap().epochs_done, 1);

        // A new run appears; a run disappears.
        let c = tmp.path().join("c");
        fs::create_dir_all(&c).unwrap();
        RunDir { path: c }.write_config(&config).unwrap();
        fs::remove_dir_all(&a).unwrap();
        let third = w.poll();
        assert_eq!(names(&third.changed), ["c"]);
        assert_eq!(third.gone, vec![a]);
    }

    /// A writer that dies changes no file; the next poll still reports its run, now lost.
    #[test]
    fn a_run_whose_writer_dies_is_reported_again() {
        use crate::heartbeat::Heartbeat;
        use crate::records::Phase;
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir {
            path: tmp.path().join("r"),
        };
        fs::create_dir_all(&dir.path).unwrap();
        dir.write_config(&crate::config::RunConfig::default())
            .unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        dir.write_heartbeat(&Heartbeat {
            pid: child.id(),
            host: heartbeat::this_host(),
            phase: Phase::Training,
            epoch: 1,
            total_epochs: 2,
            batch: 1,
            batches: 4,
            loss: None,
            paused: false,
            updated: heartbeat::now_seconds(),
        })
        .unwrap();
        let mut w = RunWatcher::new(vec![tmp.path().to_path_buf()]);
        let first = w.poll();
        assert!(matches!(
            first.changed[0].writer(),
            Some(Writer::Here { .. })
        ));
        assert!(w.poll().changed.is_empty());
        child.kill().unwrap();
        child.wait().unwrap();
        let after = w.poll();
        assert_eq!(after.changed.len(), 1, "the death is news");
        assert_eq!(after.changed[0].writer(), Some(Writer::Lost));
        assert!(w.poll().changed.is_empty(), "and only once");
    }
}
