//! Helpers the family readers share: both splits on two threads, images decoded on every core,
//! and file and folder reads whose errors name the path.

use std::path::{Path, PathBuf};

use crate::data::{DataError, ImageSet};
use invlab_formats;

/// Owned class names from a constant list.
pub(super) fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub(super) fn join_paths(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the two splits' loads on two threads (they are independent and mostly CPU-bound:
/// gzip/deflate and image decoding).
pub(super) fn both<A: Send, B: Send>(
    root: &Path,
    a: impl FnOnce() -> Result<A, DataError> + Send,
    b: impl FnOnce() -> Result<B, DataError> + Send,
) -> Result<(A, B), DataError> {
    std::thread::scope(|s| {
        let ha = s.spawn(a);
        let rb = b();
        let ra = ha
            .join()
            .unwrap_or_else(|_| Err(DataError::new(root, "a loader thread failed")));
        Ok((ra?, rb?))
    })
}

pub(super) fn check_same_shape(
    train: &ImageSet,
    test: &ImageSet,
    test_path: &Path,
) -> Result<(), DataError> {
    if (train.channels, train.height, train.width) != (test.channels, test.height, test.width) {
        return Err(DataError::new(
            test_path,
            format!(
                "test images are {}x{}x{} but training images are {}x{}x{}",
                test.channels, test.height, test.width, train.channels, train.height, train.width
            ),
        ));
    }
    Ok(())
}

/// Decodes one image file into its slot of the output buffer.
pub(super) type DecodeInto = dyn Fn(&Path, &mut [u8]) -> Result<(), DataError> + Sync;

/// Decodes `jobs` (file, label) into one N x `item_len` buffer, using every core; each decoder
/// writes its image straight into its slot. The first error in job order is returned.
fn par_decode(
    jobs: &[(PathBuf, i64)],
    item_len: usize,
    decode: &DecodeInto,
) -> Result<(Vec<u8>, Vec<i64>), DataError> {
    let n = jobs.len();
    let mut out = vec![0u8; n * item_len];
    if n > 0 {
        let threads = std::thread::available_parallelism()
            .map(|t| t.get())
            .unwrap_or(1)
            .clamp(1, 16)
            .min(n);
        let per = n.div_ceil(threads);
        let results: Vec<Result<(), DataError>> = std::thread::scope(|s| {
            let handles: Vec<_> = out
                .chunks_mut(per * item_len)
                .zip(jobs.chunks(per))
                .map(|(buf, js)| {
                    s.spawn(move || {
                        for (slot, (p, _)) in buf.chunks_mut(item_len).zip(js) {
                            decode(p, slot)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(DataError::new(&jobs[0].0, "an image decoder thread failed"))
                    })
                })
                .collect()
        });
        for r in results {
            r?;
        }
    }
    Ok((out, jobs.iter().map(|(_, y)| *y).collect()))
}

/// A text file, read leniently (invalid UTF-8 replaced).
pub(super) fn read_text(path: &Path) -> Result<String, DataError> {
    let bytes = invlab_formats::read_file(path)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The entries of a folder, sorted by path.
pub(super) fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        DataError::new(
            dir,
            match e.kind() {
                std::io::ErrorKind::NotFound => "folder not found".to_string(),
                _ => format!("cannot list the folder: {e}"),
            },
        )
    })?;
    let mut out: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    out.sort();
    Ok(out)
}

/// Decodes (file, label) jobs into a set of `side` x `side` RGB images.
pub(super) fn set_from_jobs(
    jobs: &[(PathBuf, i64)],
    side: usize,
    decode: &DecodeInto,
) -> Result<ImageSet, DataError> {
    let (images, labels) = par_decode(jobs, 3 * side * side, decode)?;
    Ok(ImageSet {
        images,
        labels,
        channels: 3,
        height: side,
        width: side,
    })
}

/// `path` when it is a file, else an error saying what was expected there.
pub(super) fn required(path: PathBuf, what: &str) -> Result<PathBuf, DataError> {
    if path.is_file() {
        Ok(path)
    } else {
        let msg = format!("missing file: expected {what} here");
        Err(DataError::new(path, msg))
    }
}

/// `root/sub` when that folder exists (the layout as released), else `root` itself.
pub(super) fn sub_or_root(root: &Path, sub: &str) -> PathBuf {
    let d = root.join(sub);
    if d.is_dir() {
        d
    } else {
        root.to_path_buf()
    }
}
