//! IDX files (MNIST, Fashion-MNIST, KMNIST): a big-endian u32 header (magic, count, and for
//! images rows and cols) followed by one unsigned byte per pixel or label.
//! Magic 2051 (0x00000803) = u8 images, 3 dimensions; 2049 (0x00000801) = u8 labels, 1 dimension.

use std::path::Path;

use super::bytes_str;
use crate::DataError;

pub const IMAGES_MAGIC: u32 = 2051;
pub const LABELS_MAGIC: u32 = 2049;

/// Images of one IDX file: `count` images of `rows` x `cols` bytes, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn describe_magic(m: u32) -> String {
    match m {
        IMAGES_MAGIC => format!("{m} (IDX images)"),
        LABELS_MAGIC => format!("{m} (IDX labels)"),
        _ if m >> 16 == 0x8b1f || m >> 16 == 0x1f8b => {
            format!("{m} (0x{m:08x}: looks like gzip data that was not decompressed)")
        }
        _ => format!("{m} (0x{m:08x})"),
    }
}

fn header(bytes: &[u8], path: &Path, magic: u32, words: usize) -> Result<Vec<u32>, DataError> {
    let kind = if magic == IMAGES_MAGIC {
        "IDX images"
    } else {
        "IDX labels"
    };
    let need = 4 * words;
    let Some(found) = be_u32(bytes, 0) else {
        return Err(DataError::new(
            path,
            format!(
                "file has {}, too short for the {need}-byte {kind} header",
                bytes_str(bytes.len())
            ),
        )
        .at("byte 0"));
    };
    if found != magic {
        let hint = match (magic, found) {
            (IMAGES_MAGIC, LABELS_MAGIC) => " (this is a labels file; were the files swapped?)",
            (LABELS_MAGIC, IMAGES_MAGIC) => " (this is an images file; were the files swapped?)",
            _ => "",
        };
        return Err(DataError::new(
            path,
            format!(
                "expected magic {magic} ({kind}), found {} at byte 0{hint}",
                describe_magic(found)
            ),
        )
        .at("byte 0"));
    }
    if bytes.len() < need {
        return Err(DataError::new(
            path,
            format!(
                "file has {}, too short for the {need}-byte {kind} header",
                bytes_str(bytes.len())
            ),
        )
        .at(format!("byte {}", bytes.len())));
    }
    Ok((0..words).filter_map(|i| be_u32(bytes, 4 * i)).collect())
}

/// The whole (decompressed) size an IDX file's header implies, from its first 16 (images) or
/// 8 (labels) bytes; the header's own errors (wrong magic, too short) otherwise. Lets a reader
/// refuse a wrong file after a few bytes, and stop a decompression at the size it should have.
pub fn implied_size(head: &[u8], path: &Path, magic: u32) -> Result<u64, DataError> {
    let words = if magic == IMAGES_MAGIC { 4 } else { 2 };
    let h = header(head, path, magic, words)?;
    let body = h[1..]
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
        .ok_or_else(|| DataError::new(path, "header sizes overflow").at("byte 4"))?;
    Ok(4 * words as u64 + body)
}

/// Parses an IDX images file (already decompressed).
pub fn parse_idx_images(bytes: &[u8], path: &Path) -> Result<IdxImages, DataError> {
    let h = header(bytes, path, IMAGES_MAGIC, 4)?;
    let (count, rows, cols) = (h[1] as usize, h[2] as usize, h[3] as usize);
    if rows == 0 || cols == 0 {
        return Err(DataError::new(
            path,
            format!("header gives an image size of {rows}x{cols}; both must be at least 1"),
        )
        .at("byte 8"));
    }
    let body = bytes.len() - 16;
    let expected = count
        .checked_mul(rows)
        .and_then(|n| n.checked_mul(cols))
        .filter(|&n| n == body);
    match expected {
        Some(n) => Ok(IdxImages {
            count,
            rows,
            cols,
            pixels: bytes[16..16 + n].to_vec(),
        }),
        None => {
            let want = (count as u128) * (rows as u128) * (cols as u128);
            let what = if want > body as u128 {
                "truncated"
            } else {
                "longer than its header says"
            };
            Err(DataError::new(
                path,
                format!(
                    "header says {count} images of {rows}x{cols} = {want} bytes after the 16-byte header, file has {} ({what})",
                    body
                ),
            )
            .at(format!("byte {}", bytes.len())))
        }
    }
}

/// Parses an IDX labels file (already decompressed); labels are returned as raw bytes.
pub fn parse_idx_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    let h = header(bytes, path, LABELS_MAGIC, 2)?;
    let count = h[1] as usize;
    let body = bytes.len() - 8;
    if count != body {
        let what = if count > body {
            "truncated"
        } else {
            "longer than its header says"
        };
        return Err(DataError::new(
            path,
            format!(
                "header says {count} labels = {count} bytes after the 8-byte header, file has {body} ({what})"
            ),
        )
        .at(format!("byte {}", bytes.len())));
    }
    Ok(bytes[8..].to_vec())
}

/// Checks every label is below `num_classes`; the error names the index and byte offset.
pub fn check_labels(
    labels: &[u8],
    num_classes: usize,
    path: &Path,
    header_len: usize,
) -> Result<(), DataError> {
    if let Some((i, &y)) = labels
        .iter()
        .enumerate()
        .find(|(_, &y)| y as usize >= num_classes)
    {
        return Err(DataError::new(
            path,
            format!(
                "label {y} at index {i} is out of range: this dataset has classes 0..={}",
                num_classes.saturating_sub(1)
            ),
        )
        .at(format!("byte {}", header_len + i)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_data_given_as_idx_is_recognised() {
        let e = parse_idx_images(b"\x1f\x8b\x08\x00\x00\x00\x00\x00", Path::new("a")).unwrap_err();
        assert!(e.message.contains("gzip"), "{e}");
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut b = Vec::new();
        for v in [LABELS_MAGIC, 2] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&[1, 2, 3]);
        let e = parse_idx_labels(&b, Path::new("a")).unwrap_err();
        assert!(e.message.contains("longer than its header says"), "{e}");
    }
}
