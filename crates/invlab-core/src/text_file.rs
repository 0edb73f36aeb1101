//! Reading the text files invlab owns (configs, run-directory records). Only regular files are
//! read: opening a FIFO or a character device named `config.toml` or `metrics.jsonl` would block
//! the reader (the lab's start-up, `invlab report`) or read without end.

use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// What a file-system entry is, in words for messages (`symlink_metadata` tells a link as
/// such; `metadata` its target).
pub fn file_kind(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "a regular file"
    }
}

/// The file's text, or an error when it is missing, unreadable or not a regular file (a symlink
/// to a regular file is followed).
pub fn read_text(path: &Path) -> io::Result<String> {
    let meta = std::fs::metadata(path)?;
    if !meta.file_type().is_file() {
        let what = file_kind(&meta);
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is {what}, not a regular file", path.display()),
        ));
    }
    std::fs::read_to_string(path)
}

/// The largest config file read (a config is a few kB; a 50 MB TOML took 3.8 GB and 13 s to
/// reach its first error).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// `read_text` for a file that must be at most `max` bytes: a bigger one is refused before it
/// is read, with its size.
pub fn read_text_at_most(path: &Path, max: u64) -> io::Result<String> {
    let size = std::fs::metadata(path)?.len();
    if size > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is {size} bytes; a config is at most {max} bytes (is this the right file?)",
                path.display()
            ),
        ));
    }
    read_text(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_or_a_folder_is_refused_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("metrics.jsonl");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let err = read_text(&fifo).unwrap_err();
            assert!(
                err.to_string().ends_with("is a FIFO, not a regular file"),
                "{err}"
            );
        } else {
            eprintln!("skipped the FIFO case: mkfifo is not available");
        }
        let err = read_text(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let file = tmp.path().join("a.txt");
        std::fs::write(&file, "hi").unwrap();
        assert_eq!(read_text(&file).unwrap(), "hi");
        assert_eq!(
            read_text(&tmp.path().join("none")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn an_oversized_config_is_refused_before_it_is_read_and_messages_stay_short() {
        let tmp = tempfile::tempdir().unwrap();
        let big = tmp.path().join("big.toml");
        // A sparse 50 MB file: refused by its size, never read.
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(50 << 20).unwrap();
        let t = std::time::Instant::now();
        let e = crate::config::RunConfig::load(&big, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("52428800 bytes; a config is at most 1048576 bytes"),
            "{e}"
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        // Deep nesting: the error is reported, and its message is capped.
        let deep = tmp.path().join("deep.toml");
        let text = format!("name = {}1{}\n", "[".repeat(5000), "]".repeat(5000));
        std::fs::write(&deep, text).unwrap();
        let e = crate::config::RunConfig::load(&deep, &[])
            .unwrap_err()
            .to_string();
        assert!(e.len() < 3000, "{} characters", e.len());
    }
}
