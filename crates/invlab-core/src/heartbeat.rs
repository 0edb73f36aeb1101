//! A run's heartbeat, `progress.json`: where the run's writer is (phase, epoch, batch) and who
//! it is (pid, host), rewritten atomically at most once a second while it trains. It lets a
//! process that did not start a run (the lab's watch view) show its batch-level progress, stop
//! it when it runs on this host, and tell a run whose writer died from one still at work.
//!
//! Liveness works on network filesystems without inotify: on this host the writer's pid is
//! checked; for another host only the heartbeat's age can tell, so a run goes quiet for
//! `LOST_AFTER` before it is called lost (long evaluations write nothing in between).

use serde::{Deserialize, Serialize};

use crate::records::Phase;

/// The heartbeat's file name in a run directory.
pub const FILE: &str = "progress.json";

/// How long a heartbeat from another host may be silent before its run counts as lost.
pub const LOST_AFTER_SECONDS: f64 = 600.0;

/// What a run's writer last said about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub pid: u32,
    pub host: String,
    pub phase: Phase,
    /// The epoch under way (1-based; 0 before the first).
    pub epoch: usize,
    pub total_epochs: usize,
    pub batch: usize,
    pub batches: usize,
    #[serde(default)]
    pub loss: Option<f64>,
    #[serde(default)]
    pub paused: bool,
    /// Seconds since the Unix epoch.
    pub updated: f64,
}

/// Who is writing a run that has no final word yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// A live process on this host (it can be sent SIGTERM).
    Here { pid: u32 },
    /// Another host, heard from within `LOST_AFTER_SECONDS`: view only.
    Elsewhere,
    /// The writer died (its pid is gone here, or its host went silent).
    Lost,
}

impl Heartbeat {
    /// Who wrote this heartbeat, judged at `now` on `host` with `alive` telling whether a pid
    /// of this host is a live process.
    pub fn writer(&self, now: f64, host: &str, alive: impl Fn(u32) -> bool) -> Writer {
        if self.host == host {
            if alive(self.pid) {
                Writer::Here { pid: self.pid }
            } else {
                Writer::Lost
            }
        } else if now - self.updated <= LOST_AFTER_SECONDS {
            Writer::Elsewhere
        } else {
            Writer::Lost
        }
    }
}

/// This machine's host name (as the heartbeat records it).
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// True when `pid` is a live process on this host (Linux: `/proc/<pid>/stat` exists and its
/// state is not zombie or dead, since a killed process lingers as a zombie until reaped);
/// elsewhere assumed alive, so a run of this host is never called lost.
pub fn pid_alive(pid: u32) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last ')' (comm may hold spaces and parens).
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next());
    !matches!(state, Some('Z' | 'X' | 'x') | None)
}

/// Seconds since the Unix epoch, with a fraction.
pub fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(host: &str, updated: f64) -> Heartbeat {
        Heartbeat {
            pid: 42,
            host: host.into(),
            phase: Phase::Training,
            epoch: 3,
            total_epochs: 10,
            batch: 5,
            batches: 20,
            loss: Some(1.5),
            paused: false,
            updated,
        }
    }

    #[test]
    fn the_writer_is_judged_by_pid_here_and_by_age_elsewhere() {
        let b = beat("node1", 1000.0);
        // Same host: the pid decides, however old the heartbeat (a paused run writes nothing).
        assert_eq!(
            b.writer(99_999.0, "node1", |p| p == 42),
            Writer::Here { pid: 42 }
        );
        assert_eq!(b.writer(1000.5, "node1", |_| false), Writer::Lost);
        // Another host: its age.
        assert_eq!(
            b.writer(1000.0 + LOST_AFTER_SECONDS, "login", |_| false),
            Writer::Elsewhere
        );
        assert_eq!(
            b.writer(1001.0 + LOST_AFTER_SECONDS, "login", |_| true),
            Writer::Lost
        );
    }

    #[test]
    fn this_process_is_alive_and_a_zombie_or_reaped_child_is_not() {
        assert!(pid_alive(std::process::id()));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(pid_alive(pid));
        child.kill().unwrap();
        // Killed, not yet reaped: a zombie.
        std::thread::sleep(std::time::Duration::from_millis(200));
        if cfg!(target_os = "linux") {
            assert!(!pid_alive(pid), "a zombie is not alive");
        }
        child.wait().unwrap();
        if cfg!(target_os = "linux") {
            assert!(!pid_alive(pid));
        }
        assert!(!this_host().is_empty());
    }

    #[test]
    fn the_file_format_round_trips_and_tolerates_missing_optional_fields() {
        let b = beat("h", 1.5);
        let text = serde_json::to_string(&b).unwrap();
        assert!(text.contains("\"phase\":\"training\""), "{text}");
        assert_eq!(serde_json::from_str::<Heartbeat>(&text).unwrap(), b);
        let old = r#"{"pid":1,"host":"h","phase":"evaluating","epoch":1,"total_epochs":2,"batch":0,"batches":0,"updated":3.0}"#;
        let read: Heartbeat = serde_json::from_str(old).unwrap();
        assert_eq!((read.loss, read.paused), (None, false));
    }
}
