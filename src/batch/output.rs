//! Batch mode's stdout: run directories and `--stream` lines, for scripts to read. A reader that
//! goes away (`| head`, a closed pipe) is not an error: the first failed write says so once on
//! stderr, later writes are dropped, and the runs go on to their end with their results in their
//! directories. (Rust ignores SIGPIPE, so `println!` would panic on EPIPE instead, and a panic
//! beside running libtorch threads ended the process with a segfault.)

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one line to stdout, unless stdout is gone.
pub(crate) fn line(text: &str) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        CLOSED.store(true, Ordering::Relaxed);
        eprintln!(
            "invlab: stdout is closed ({e}); runs continue, their results stay in their directories"
        );
    }
}
