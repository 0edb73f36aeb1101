//! The run lock: `<runs>/.<name>.lock`, an exclusive `flock` held by the one process writing
//! the run directory `<runs>/<name>`, for as long as it writes. The kernel drops the lock when
//! its process dies, so a killed writer's run is taken over at once; the file's text (`pid N on
//! HOST`) names a live holder in messages. Opened with `O_NOFOLLOW`: a symlink planted at the
//! lock's name is refused, never followed to truncate its target. On a file system without
//! locks the run goes on unlocked.
#![allow(unsafe_code)] // flock(2) through libc on a file this module opened.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// A held run lock; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

/// Why a run lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds it.
    #[error("another invlab process is running {name} in {} ({holder}; lock {})", .runs_dir.display(), .lock.display())]
    Held {
        name: String,
        runs_dir: PathBuf,
        /// `pid N on HOST`, as the holder wrote it.
        holder: String,
        lock: PathBuf,
    },
    #[error("cannot {action} {}: {error}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
}

impl RunLock {
    /// Takes `<runs_dir>/.<name>.lock` for this process; `None` where the file system has no
    /// locks.
    pub fn acquire(runs_dir: &Path, name: &str) -> Result<Option<RunLock>, LockError> {
        let path = runs_dir.join(format!(".{name}.lock"));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|error| LockError::Io {
                action: "open the lock file",
                path: path.clone(),
                error,
            })?;
        // SAFETY: flock on a file descriptor this function owns; no memory is shared.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EWOULDBLOCK) => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    Err(LockError::Held {
                        name: name.to_string(),
                        runs_dir: runs_dir.to_path_buf(),
                        holder: holder.trim().to_string(),
                        lock: path,
                    })
                }
                Some(libc::ENOLCK) | Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(None),
                _ => Err(LockError::Io {
                    action: "lock",
                    path,
                    error: err,
                }),
            };
        }
        let _ = file.set_len(0);
        let _ = write!(
            file,
            "pid {} on {}",
            std::process::id(),
            crate::heartbeat::this_host()
        );
        Ok(Some(RunLock { _file: file, path }))
    }

    /// The lock of the run directory `dir` (existing or not).
    pub fn for_dir(dir: &Path) -> Result<Option<RunLock>, LockError> {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        RunLock::acquire(parent, &name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_symlinks_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(tmp.path(), "exp").unwrap().unwrap();
        // flock locks belong to the open file, so a second open in this process conflicts too.
        let e = RunLock::for_dir(&tmp.path().join("exp")).unwrap_err();
        assert!(matches!(e, LockError::Held { .. }), "{e}");
        assert!(e
            .to_string()
            .contains(&format!("pid {}", std::process::id())));
        drop(first);
        // Free again once closed. A child process another test forks at that moment shares
        // the descriptor until its exec closes it (close-on-exec), so the lock may stay held
        // for that instant: retry briefly rather than fail on the race.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let again = loop {
            match RunLock::acquire(tmp.path(), "exp") {
                Err(LockError::Held { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                other => break other,
            }
        };
        assert!(again.unwrap().is_some());

        let victim = tmp.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join(".other.lock")).unwrap();
        let e = RunLock::acquire(tmp.path(), "other")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot open the lock file"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
