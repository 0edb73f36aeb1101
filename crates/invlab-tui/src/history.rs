//! Run history: run directories read back (through `invlab_core::rundir`, the format's one
//! reader) into the run list's entries.

use std::path::Path;

use invlab_core::rundir::{self, RunDir, RunRecord};

use super::app::RunEntry;

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

/// A run record as a run-list entry (see `RunEntry::from_record`).
pub fn entry_of(record: RunRecord) -> RunEntry {
    RunEntry::from_record(record)
}
