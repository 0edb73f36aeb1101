//! Parsers for the on-disk formats of the real datasets.
//!
//! Every parser is a pure function over bytes (or text) that returns a `DataError` naming the
//! file and the place in it on any problem; nothing here panics on input-derived data, and no
//! buffer is sized from a header count before that count has been checked against the bytes
//! actually present. The file-reading wrappers (`read_file`, `read_sized`) sit on top.
#![cfg_attr(test, allow(clippy::unwrap_used))] // a failed unwrap is a failed test

mod types;

pub use types::{DataError, ImageSet};

pub mod cifar;
pub mod csv;
mod fuzz;
pub mod idx;
pub mod jpeg;
pub mod npy;
pub mod ppm;
pub mod resize;

pub use fuzz::{fuzz_cifar, fuzz_gt_csv, fuzz_idx, fuzz_npy, fuzz_ppm, FuzzEntry, FUZZ_TARGETS};

use std::io::Read;
use std::path::Path;

/// Largest decompressed gzip stream or zip entry accepted (4 GiB): far above any dataset here,
/// low enough that a corrupt size field cannot exhaust memory on its own.
pub const MAX_DECOMPRESSED: u64 = 4 << 30;

/// An I/O error on `path` as a `DataError` that names the file.
fn io_error(path: &Path, e: &std::io::Error) -> DataError {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_string(),
        _ => format!("cannot read the file: {e}"),
    };
    DataError::new(path, what)
}

/// Opens `path` for reading after checking that it is a regular file (through symlinks), so
/// a FIFO never blocks the loader and a folder or device is named as what it is.
pub fn open_regular(path: &Path) -> Result<std::fs::File, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if !meta.is_file() {
        return Err(DataError::new(
            path,
            format!("is {}, not a regular file", file_kind(&meta)),
        ));
    }
    std::fs::File::open(path).map_err(|e| io_error(path, &e))
}

/// What a file-system entry is, in words for messages (`symlink_metadata` tells a link as
/// such; `metadata` its target). The one wording for dataset files and invlab's own files
/// (`invlab_core::text_file` re-exports it).
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
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

/// Reads a whole regular file, turning I/O errors into a `DataError` that names it.
pub fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    let mut file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| io_error(path, &e))?;
    Ok(bytes)
}

/// True when the bytes start with the gzip magic 1f 8b.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Decompresses a gzip stream, refusing output past `limit` bytes.
pub fn gunzip(bytes: &[u8], path: &Path, limit: u64) -> Result<Vec<u8>, DataError> {
    // The trailer's ISIZE (size mod 2^32) is a good capacity hint; it is only a hint, capped.
    let hint = if bytes.len() >= 18 {
        let t = &bytes[bytes.len() - 4..];
        u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as u64
    } else {
        0
    };
    // Deflate expands at most ~1032:1, so a corrupt trailer cannot cause a large allocation.
    let cap = hint
        .min(limit)
        .min((bytes.len() as u64).saturating_mul(1032))
        .min(1 << 30) as usize;
    let mut out = Vec::with_capacity(cap);
    let decoder = flate2::read::GzDecoder::new(bytes);
    let mut limited = decoder.take(limit + 1);
    limited.read_to_end(&mut out).map_err(|e| {
        DataError::new(
            path,
            format!(
                "the gzip stream is truncated or corrupt ({e}); {} bytes decompressed before the error",
                out.len()
            ),
        )
    })?;
    if out.len() as u64 > limit {
        return Err(DataError::new(
            path,
            format!("the gzip stream decompresses to more than {limit} bytes; refusing it"),
        ));
    }
    Ok(out)
}

/// Reads a file whose first `head_len` (decompressed) bytes tell its whole size, through
/// `implied` (which also checks the magic). Only the head is read before that check, so a
/// wrong or huge file costs a few bytes; a raw file longer than its header implies is refused
/// from its size; a gzip stream is decompressed no further than the header implies (a gzip
/// bomb stops there). Decompresses whatever the name when the file starts with the gzip magic.
pub fn read_sized(
    path: &Path,
    head_len: usize,
    implied: impl FnOnce(&[u8]) -> Result<u64, DataError>,
) -> Result<Vec<u8>, DataError> {
    use std::io::BufRead;
    let io_error = |e: std::io::Error| io_error(path, &e);
    let file = open_regular(path)?;
    let file_len = file.metadata().map_err(io_error)?.len();
    let mut reader = std::io::BufReader::new(file);
    let compressed = is_gzip(reader.fill_buf().map_err(io_error)?);
    let mut source: Box<dyn Read> = if compressed {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let corrupt = |e: std::io::Error, got: usize| {
        if compressed {
            DataError::new(
                path,
                format!("the gzip stream is truncated or corrupt ({e}); {got} bytes decompressed before the error"),
            )
        } else {
            io_error(e)
        }
    };
    let mut out = Vec::new();
    (&mut source)
        .take(head_len as u64)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(e, 0))?;
    let total = implied(&out)?;
    if !compressed && file_len > total {
        return Err(DataError::new(
            path,
            format!(
                "file has {}, but its header implies {} (longer than its header says); refusing to read it",
                bytes_str(file_len as usize),
                bytes_str(total as usize)
            ),
        ));
    }
    let limit = total.min(MAX_DECOMPRESSED);
    out.reserve(limit.saturating_sub(out.len() as u64).min(1 << 30) as usize);
    (&mut source)
        .take((limit + 1).saturating_sub(out.len() as u64))
        .read_to_end(&mut out)
        .map_err(|e| corrupt(e, out.len()))?;
    if out.len() as u64 > limit {
        return Err(DataError::new(
            path,
            format!(
                "the gzip stream decompresses past the {} its header implies; refusing it",
                bytes_str(limit as usize)
            ),
        ));
    }
    Ok(out)
}

/// Runs a third-party decoder, turning a panic inside it into a `DataError` (belt and braces:
/// the decoders used are fuzzed upstream, but a corrupt file must never take the lab down).
pub fn guard<T>(
    path: &Path,
    what: &str,
    f: impl FnOnce() -> Result<T, DataError>,
) -> Result<T, DataError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(DataError::new(
            path,
            format!("the {what} decoder failed on this file (corrupt data)"),
        )),
    }
}

/// Human size of a byte count for messages, e.g. "47040016 bytes".
pub fn bytes_str(n: usize) -> String {
    if n == 1 {
        "1 byte".into()
    } else {
        format!("{n} bytes")
    }
}
