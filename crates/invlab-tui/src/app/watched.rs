//! Runs this process does not write: the watcher's reports merged into the run list (new runs
//! appear, runs of other processes move on, removed directories go), and what the lab may do
//! with them.

use std::sync::Arc;

use invlab_core::watch::Changes;

use super::{App, RunEntry, RunStatus};

impl App {
    /// Merges the watcher's report. Runs this process writes (or wrote) are its own events'
    /// to show, so the watcher never overwrites them; every other run is replaced by what its
    /// directory now says, keeping its place, mark and selection.
    pub(super) fn on_watched(&mut self, changes: Arc<Changes>) {
        let changes = Arc::try_unwrap(changes).unwrap_or_else(|shared| (*shared).clone());
        let selected_slot = self.selected_run().map(|r| r.slot);
        for record in changes.changed {
            let at = self
                .runs
                .iter()
                .position(|r| r.dir.as_deref() == Some(record.dir.as_path()));
            match at {
                Some(i) if !self.runs[i].from_history => {}
                Some(i) => {
                    let mut entry = RunEntry::from_record(record);
                    entry.slot = self.runs[i].slot;
                    entry.marked = self.runs[i].marked;
                    self.runs[i] = entry;
                }
                None => {
                    let mut entry = RunEntry::from_record(record);
                    entry.slot = self.next_slot;
                    self.next_slot += 1;
                    self.runs.push(entry);
                }
            }
        }
        if !changes.gone.is_empty() {
            self.runs.retain(|r| {
                !(r.from_history && r.dir.as_ref().is_some_and(|d| changes.gone.contains(d)))
            });
        }
        self.selected = selected_slot
            .and_then(|slot| self.runs.iter().position(|r| r.slot == slot))
            .unwrap_or(self.selected)
            .min(self.runs.len().saturating_sub(1));
    }

    /// `J`: one more run at a time, back to one after the core count.
    pub(super) fn cycle_jobs(&mut self) -> Vec<super::Effect> {
        self.max_parallel = if self.max_parallel >= self.cores {
            1
        } else {
            self.max_parallel + 1
        };
        self.say(format!(
            "{} run{} at a time, {} thread{} each (new runs; running ones keep theirs)",
            self.max_parallel,
            if self.max_parallel == 1 { "" } else { "s" },
            self.threads_per_run(),
            if self.threads_per_run() == 1 { "" } else { "s" },
        ));
        self.advance_queue()
    }

    /// Each run's share of the cores.
    pub(crate) fn threads_per_run(&self) -> usize {
        (self.cores / self.max_parallel.max(1)).max(1)
    }

    /// True (with a message) when the selected run belongs to another process.
    pub(super) fn refuse_if_elsewhere(&mut self, what: &str) -> bool {
        match self.selected_run().map(|r| r.status.clone()) {
            Some(RunStatus::Elsewhere { pid, host }) => {
                self.warn(match pid {
                    Some(pid) => {
                        format!("{what}: this run belongs to process {pid}; x stops it (SIGTERM)")
                    }
                    None => format!("{what}: this run is written on {host}; it is view-only here"),
                });
                true
            }
            _ => false,
        }
    }
}
