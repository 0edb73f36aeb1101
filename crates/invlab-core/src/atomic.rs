//! Atomic file writes: a fresh temp file in the same folder, fsync, rename. A killed process
//! leaves either the old or the new version of a file, never half of one.
//!
//! Only what is ours is replaced: the target must be absent or a writable regular file (a
//! device node, FIFO, folder, symlink or read-only file at the path is refused, naming what it
//! is). The temp file gets an unpredictable name and is created exclusively (`O_EXCL`, which
//! also refuses a symlink planted at that name), and it is removed whenever the write or the
//! rename fails, so a full disk is not kept full by a half-written file. Savers that cannot
//! fail cleanly on a full disk (libtorch's archive writer aborts the process from a destructor)
//! are only called when the file system has room for what they will write (`ensure_space`).
#![allow(unsafe_code)] // statvfs(3) through libc on a path we own; the block says why it is sound.

use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::text_file::file_kind;

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    check_target(path)?;
    let (tmp, mut file) = create_temp(path)?;
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            fs::rename(&tmp, path)
        });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `path` atomically through `save`, which writes whatever file it is given (libtorch's
/// savers): a fresh temp file beside `path`, renamed over it when `save` succeeds, removed
/// when anything fails.
pub fn save_atomic<E: std::fmt::Display>(
    path: &Path,
    save: impl FnOnce(&Path) -> Result<(), E>,
) -> io::Result<()> {
    check_target(path)?;
    let (tmp, file) = create_temp(path)?;
    drop(file);
    let result = save(&tmp)
        .map_err(|e| io::Error::other(e.to_string()))
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `save_atomic`, called only when the file system holding `path` has room for `needed` bytes
/// (with a margin for the archive's own headers); otherwise an error naming the disk.
pub fn save_atomic_with_room<E: std::fmt::Display>(
    path: &Path,
    needed: u64,
    save: impl FnOnce(&Path) -> Result<(), E>,
) -> io::Result<()> {
    ensure_space(path, needed + needed / 10 + (64 << 10))?;
    save_atomic(path, save)
}

/// Free bytes on the file system holding `path`'s folder, for an unprivileged writer.
pub fn free_space(path: &Path) -> io::Result<u64> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let c_dir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: statvfs fills a struct we own from a valid NUL-terminated path.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_dir.as_ptr(), &mut s) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(s.f_bavail as u64 * s.f_frsize as u64)
}

/// Err (`StorageFull`, naming the folder and both sizes) when fewer than `needed` bytes are
/// free where `path` goes.
pub fn ensure_space(path: &Path, needed: u64) -> io::Result<()> {
    let free = free_space(path)?;
    if free < needed {
        let mb = |b: u64| b as f64 / 1e6;
        return Err(io::Error::new(
            io::ErrorKind::StorageFull,
            format!(
                "the disk holding {} is full: {:.1} MB free, {} needs about {:.1} MB; free some space, then continue the run with --resume (its last checkpoint is intact)",
                path.parent().unwrap_or(path).display(),
                mb(free),
                path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                mb(needed)
            ),
        ));
    }
    Ok(())
}

/// Ok when `path` is absent or a writable regular file; otherwise an error saying what is
/// there. Symlinks are not followed: a link at the path is refused, not its target replaced.
pub fn check_target(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(meta) => meta,
    };
    if !meta.file_type().is_file() {
        let kind = file_kind(&meta);
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {kind}, not a regular file; invlab does not replace it",
                path.display()
            ),
        ));
    }
    if meta.permissions().readonly() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is read-only; invlab does not replace it",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// A temp name beside `path` that keeps its extension (tch picks the format by extension),
/// unpredictable: the pid, a per-process counter and random bits.
pub fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    path.with_file_name(format!(
        ".tmp-{}-{:016x}-{name}",
        std::process::id(),
        h.finish()
    ))
}

/// Creates a fresh temp file beside `path`, exclusively.
fn create_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    loop {
        let tmp = temp_path(path);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tmp-"))
            .collect()
    }

    #[test]
    fn writes_replace_regular_files_and_refuse_anything_else() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a.json");
        write_atomic(&file, b"1").unwrap();
        write_atomic(&file, b"2").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"2");

        // A symlink to a victim: refused, the victim untouched.
        let victim = tmp.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let link = tmp.path().join("link.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = write_atomic(&link, b"x").unwrap_err().to_string();
        assert!(e.contains("is a symbolic link, not a regular file"), "{e}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());

        // A folder, a FIFO, a device node.
        let e = write_atomic(tmp.path(), b"x").unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let fifo = tmp.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let e = write_atomic(&fifo, b"x").unwrap_err().to_string();
        assert!(e.contains("is a FIFO"), "{e}");
        let e = write_atomic(Path::new("/dev/null"), b"x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/dev/null is a character device"), "{e}");

        // A read-only file (root could replace it; invlab does not).
        let ro = tmp.path().join("ro.txt");
        fs::write(&ro, "mine").unwrap();
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o444)).unwrap();
        let e = write_atomic(&ro, b"x").unwrap_err().to_string();
        assert!(e.contains("is read-only"), "{e}");
        assert_eq!(fs::read_to_string(&ro).unwrap(), "mine");
        assert!(
            leftovers(tmp.path()).is_empty(),
            "{:?}",
            leftovers(tmp.path())
        );
    }

    #[test]
    fn temp_names_are_unpredictable_and_a_failed_save_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("checkpoint.ot");
        let (a, b) = (temp_path(&target), temp_path(&target));
        assert_ne!(a, b);
        assert!(a.to_string_lossy().ends_with("-checkpoint.ot"));
        // The saver fails midway (a full disk): no temp file stays, the old file stays.
        fs::write(&target, "old").unwrap();
        let e = save_atomic(&target, |p: &Path| {
            fs::write(p, "half").unwrap();
            Err("No space left on device")
        })
        .unwrap_err();
        assert!(e.to_string().contains("No space left"));
        assert_eq!(fs::read_to_string(&target).unwrap(), "old");
        assert!(leftovers(tmp.path()).is_empty());
        save_atomic(&target, |p: &Path| fs::write(p, "new")).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert!(leftovers(tmp.path()).is_empty());
    }
}
