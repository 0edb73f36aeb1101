//! CIFAR-10 / CIFAR-100 binary versions.
//! CIFAR-10: records of 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue,
//! each 32x32 row-major), 10000 per batch file. CIFAR-100: coarse label byte, fine label byte,
//! then the same 3072 pixel bytes.

use std::path::Path;

use super::bytes_str;
use crate::{DataError, ImageSet};

pub const PIXELS: usize = 3 * 32 * 32;

/// Which CIFAR binary layout a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarKind {
    /// 1 label byte per record, 10 classes.
    Cifar10,
    /// Coarse (20 classes) and fine (100 classes) label bytes per record; the fine label is used.
    Cifar100,
}

impl CifarKind {
    pub fn record_len(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1 + PIXELS,
            CifarKind::Cifar100 => 2 + PIXELS,
        }
    }

    pub fn num_classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100 => 100,
        }
    }
}

/// Parses one CIFAR binary file into 3x32x32 images (already channel-planar) and labels,
/// appending to `out` (so several batch files fill one set without re-copying).
pub fn parse_cifar_into(
    bytes: &[u8],
    kind: CifarKind,
    path: &Path,
    out: &mut ImageSet,
) -> Result<usize, DataError> {
    let rec = kind.record_len();
    if bytes.is_empty() || !bytes.len().is_multiple_of(rec) {
        return Err(DataError::new(
            path,
            format!(
                "file has {}, not a whole number of {rec}-byte records (a full batch of 10000 records is {} bytes){}",
                bytes_str(bytes.len()),
                10000 * rec,
                if bytes.len() > rec { "; it is truncated or not a CIFAR binary file" } else { "" }
            ),
        )
        .at(format!("byte {}", bytes.len() - bytes.len() % rec)));
    }
    let n = bytes.len() / rec;
    let classes = kind.num_classes();
    // Validate every label before copying anything.
    for (i, r) in bytes.chunks_exact(rec).enumerate() {
        match kind {
            CifarKind::Cifar10 => {
                if r[0] as usize >= classes {
                    return Err(DataError::new(
                        path,
                        format!(
                            "label {} in record {i} is out of range: CIFAR-10 has classes 0..=9",
                            r[0]
                        ),
                    )
                    .at(format!("byte {}", i * rec)));
                }
            }
            CifarKind::Cifar100 => {
                if r[0] >= 20 {
                    return Err(DataError::new(
                        path,
                        format!(
                            "coarse label {} in record {i} is out of range: CIFAR-100 has coarse classes 0..=19 (is this a CIFAR-10 file?)",
                            r[0]
                        ),
                    )
                    .at(format!("byte {}", i * rec)));
                }
                if r[1] as usize >= classes {
                    return Err(DataError::new(
                        path,
                        format!("fine label {} in record {i} is out of range: CIFAR-100 has classes 0..=99", r[1]),
                    )
                    .at(format!("byte {}", i * rec + 1)));
                }
            }
        }
    }
    let skip = rec - PIXELS;
    out.images.reserve(n * PIXELS);
    out.labels.reserve(n);
    for r in bytes.chunks_exact(rec) {
        out.labels.push(r[skip - 1] as i64);
        out.images.extend_from_slice(&r[skip..]);
    }
    Ok(n)
}

/// Parses one CIFAR binary file into a new 3x32x32 `ImageSet`.
pub fn parse_cifar(bytes: &[u8], kind: CifarKind, path: &Path) -> Result<ImageSet, DataError> {
    let mut out = ImageSet::new(3, 32, 32);
    parse_cifar_into(bytes, kind, path, &mut out)?;
    Ok(out)
}

/// Class names from `batches.meta.txt` / `fine_label_names.txt`: one per line, blank lines
/// ignored; exactly `expected` names required.
pub fn parse_names(text: &str, expected: usize, path: &Path) -> Result<Vec<String>, DataError> {
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() != expected {
        return Err(DataError::new(
            path,
            format!(
                "expected {expected} class names (one per line), found {}",
                names.len()
            ),
        ));
    }
    Ok(names)
}
