//! Reading the text files invlab owns (configs, run-directory records). Only regular files are
//! read: opening a FIFO or a character device named `config.toml` or `metrics.jsonl` would block
//! the reader (the lab's start-up, `invlab report`) or read without end.

use std::fs;
use std::io;
use std::path::Path;

pub use invlab_formats::file_kind;

/// The file's text, or an error when it is missing, unreadable or not a regular file (a symlink
/// to a regular file is followed).
pub fn read_text(path: &Path) -> io::Result<String> {
    regular_file(path)?;
    std::fs::read_to_string(path)
}

/// Opens `path` for reading when it is a regular file (through symlinks); an error naming what
/// it is otherwise, so a FIFO is never opened (which would block).
pub fn open_regular(path: &Path) -> io::Result<fs::File> {
    regular_file(path)?;
    fs::File::open(path)
}

/// The metadata of `path` (through symlinks) when it is a regular file; an error naming what
/// it is otherwise.
fn regular_file(path: &Path) -> io::Result<fs::Metadata> {
    let meta = std::fs::metadata(path)?;
    if !meta.file_type().is_file() {
        let what = file_kind(&meta);
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is {what}, not a regular file", path.display()),
        ));
    }
    Ok(meta)
}

/// The largest config file read (a config is a few kB; a 50 MB TOML took 3.8 GB and 13 s to
/// reach its first error).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// `read_text` for a file that must be at most `max` bytes: a bigger one is refused before it
/// is read, with its size; a file whose size field lies (a /proc file) is read no further.
pub fn read_text_at_most(path: &Path, max: u64) -> io::Result<String> {
    let too_big = |size: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is {size} bytes; a config is at most {max} bytes (is this the right file?)",
                path.display()
            ),
        )
    };
    let size = regular_file(path)?.len();
    if size > max {
        return Err(too_big(size.to_string()));
    }
    // The size said is not trusted (a /proc file says 0 and has more): read one byte past max.
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(too_big(format!("over {max}")));
    }
    Ok(text)
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
            crate::fixtures::skip(
                "a_fifo_or_a_folder_is_refused_without_blocking",
                "the FIFO case: mkfifo is not available",
            );
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
        let e = crate::config::RunConfig::load(&big, &[])
            .unwrap_err()
            .to_string();
        // The size in the message is the file's, from its metadata: nothing was read.
        assert!(
            e.contains("52428800 bytes; a config is at most 1048576 bytes"),
            "{e}"
        );
        // Deep nesting: the error is reported, and its message is capped.
        let deep = tmp.path().join("deep.toml");
        let text = format!("name = {}1{}\n", "[".repeat(5000), "]".repeat(5000));
        std::fs::write(&deep, text).unwrap();
        let e = crate::config::RunConfig::load(&deep, &[])
            .unwrap_err()
            .to_string();
        assert!(e.len() < 3000, "{} characters", e.len());
    }

    #[test]
    fn a_file_whose_size_field_lies_is_read_no_further_than_the_limit() {
        // /proc files say 0 bytes; this one holds the environment (more than 16 bytes here,
        // where PATH alone is longer).
        let path = Path::new("/proc/self/environ");
        if std::fs::metadata(path).map(|m| m.len()).ok() != Some(0) {
            crate::fixtures::skip(
                "a_file_whose_size_field_lies_is_read_no_further_than_the_limit",
                "/proc/self/environ is absent or reports a size",
            );
            return;
        }
        let e = read_text_at_most(path, 16).unwrap_err();
        assert!(
            e.to_string().contains("a config is at most 16 bytes"),
            "{e}"
        );
        // Within the limit, the whole text is read.
        let status = read_text_at_most(Path::new("/proc/self/status"), 1 << 20).unwrap();
        assert!(status.contains("VmHWM"), "{status}");
    }
}
