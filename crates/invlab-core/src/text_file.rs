//! Reading the text files invlab owns (configs, run-directory records). Only regular files are
//! read: opening a FIFO or a character device named `config.toml` or `metrics.jsonl` would block
//! the reader (the lab's start-up, `invlab report`) or read without end.

use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// The file's text, or an error when it is missing, unreadable or not a regular file (a symlink
/// to a regular file is followed).
pub fn read_text(path: &Path) -> io::Result<String> {
    let kind = std::fs::metadata(path)?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is {what}, not a regular file", path.display()),
        ));
    }
    std::fs::read_to_string(path)
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
}
