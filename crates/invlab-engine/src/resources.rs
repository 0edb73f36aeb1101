//! What a run cost the machine, for its summary: how long until its first training batch and
//! the process's peak resident memory.
#![allow(unsafe_code)] // sysconf / getrusage through libc: each block says why it is sound.

use std::sync::OnceLock;
use std::time::Instant;

static PROCESS_START: OnceLock<Instant> = OnceLock::new();

/// Marks the start of the process (the binary calls this first thing in `main`), so a run's
/// time to its first batch includes loading libtorch, preparing the data and building the model.
/// On Linux the mark is moved back to when the process was created (the kernel's record, 10 ms
/// resolution), so what ran before `main` counts too: libtorch's static initialisation and any
/// re-execution.
pub fn mark_process_start() {
    PROCESS_START.get_or_init(|| {
        let now = Instant::now();
        process_age()
            .and_then(|age| now.checked_sub(std::time::Duration::from_secs_f64(age)))
            .unwrap_or(now)
    });
}

/// Seconds since the kernel created this process: uptime minus the start time in
/// `/proc/self/stat` (field 22, clock ticks after boot).
#[cfg(target_os = "linux")]
fn process_age() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let start_ticks: f64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // SAFETY: sysconf with a valid name has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks_per_second > 0).then(|| (uptime - start_ticks / ticks_per_second as f64).max(0.0))
}

#[cfg(not(target_os = "linux"))]
fn process_age() -> Option<f64> {
    None
}

/// Seconds since [`mark_process_start`], `None` when it was never called (library use, tests).
pub(crate) fn since_process_start() -> Option<f64> {
    PROCESS_START.get().map(|t| t.elapsed().as_secs_f64())
}

/// Peak resident set size of this process so far, in MiB (Linux reports it in KiB).
pub fn peak_rss_mib() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage fills the struct we own; RUSAGE_SELF is always valid.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            return Some(usage.ru_maxrss as f64 / 1024.0);
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn peak_rss_grows_with_a_touched_allocation() {
        let before = peak_rss_mib().unwrap();
        assert!(
            before > 1.0,
            "a running test binary uses more than 1 MiB: {before}"
        );
        // 64 MiB written page by page must show in the peak (it never shrinks).
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let after = peak_rss_mib().unwrap();
        assert!(
            after >= before.max(64.0),
            "peak {after} MiB after 64 MiB (was {before})"
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_age_counts_from_its_creation() {
        // This test binary has been running at least as long as this thread; not for hours.
        let age = process_age().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let later = process_age().unwrap();
        assert!((0.0..3600.0).contains(&age), "{age}");
        assert!(later >= age + 0.02, "{age} then {later}");
    }

    #[test]
    fn time_since_start_counts_from_the_mark() {
        mark_process_start();
        let a = since_process_start().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(since_process_start().unwrap() >= a + 0.015);
    }
}
