//! TinyImageNet-200: `wnids.txt`, `words.txt`, `train/<wnid>/images/*.JPEG`, and
//! `val/val_annotations.txt` + `val/images/*.JPEG` (the test split); 64x64 RGB, grayscale JPEGs
//! replicated to three channels, decoded on every core.

use std::path::{Path, PathBuf};

use super::common::{list_dir, read_text, set_from_jobs, sub_or_root};
use crate::data::{DataError, SourceData};
use invlab_formats::{jpeg, resize};

pub(crate) const LAYOUT: &str = "tiny-imagenet-200/wnids.txt, words.txt, train/<wnid>/images/*.JPEG, val/val_annotations.txt, val/images/*.JPEG";

/// TinyImageNet images are 64x64 (any other size is resized to it).
pub(crate) const TINY_SIDE: usize = 64;

/// The folder holding `wnids.txt`.
pub fn base(root: &Path) -> PathBuf {
    sub_or_root(root, "tiny-imagenet-200")
}

/// Class ids from `wnids.txt` and their names from `words.txt` (first synonym; the id itself
/// when words.txt is absent or lacks it).
pub fn classes(base: &Path) -> Result<(Vec<String>, Vec<String>), DataError> {
    let wp = base.join("wnids.txt");
    let wnids: Vec<String> = read_text(&wp)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if wnids.is_empty() {
        return Err(DataError::new(
            &wp,
            "no class ids (expected one wnid per line)",
        ));
    }
    for (i, w) in wnids.iter().enumerate() {
        if w.contains(['/', '\\']) || w == ".." || w == "." {
            return Err(
                DataError::new(&wp, format!("bad class id {w:?}")).at(format!("line {}", i + 1))
            );
        }
        if wnids[..i].contains(w) {
            return Err(DataError::new(&wp, format!("class id {w} is listed twice"))
                .at(format!("line {}", i + 1)));
        }
    }
    let words = base.join("words.txt");
    let mut names: Vec<String> = wnids.clone();
    if words.is_file() {
        let text = read_text(&words)?;
        let index: std::collections::HashMap<&str, usize> = wnids
            .iter()
            .enumerate()
            .map(|(i, w)| (w.as_str(), i))
            .collect();
        for line in text.lines() {
            if let Some((id, syn)) = line.split_once('\t') {
                if let Some(&i) = index.get(id.trim()) {
                    let first = syn.split(',').next().unwrap_or("").trim();
                    if !first.is_empty() {
                        names[i] = first.to_string();
                    }
                }
            }
        }
    }
    Ok((wnids, names))
}

fn is_jpeg_name(p: &Path) -> bool {
    p.extension()
        .map(|e| e.eq_ignore_ascii_case("jpeg") || e.eq_ignore_ascii_case("jpg"))
        .unwrap_or(false)
}

/// Training images: every JPEG in `train/<wnid>/images/`, classes in wnids.txt order.
pub(crate) fn train_jobs(base: &Path, wnids: &[String]) -> Result<Vec<(PathBuf, i64)>, DataError> {
    let mut jobs = Vec::new();
    for (c, w) in wnids.iter().enumerate() {
        let dir = base.join("train").join(w).join("images");
        let files: Vec<PathBuf> = list_dir(&dir)?
            .into_iter()
            .filter(|p| is_jpeg_name(p))
            .collect();
        if files.is_empty() {
            return Err(DataError::new(&dir, "no JPEG images in this class folder"));
        }
        jobs.extend(files.into_iter().map(|p| (p, c as i64)));
    }
    Ok(jobs)
}

/// Validation images (the test split) from `val/val_annotations.txt`.
pub(crate) fn val_jobs(base: &Path, wnids: &[String]) -> Result<Vec<(PathBuf, i64)>, DataError> {
    let ap = base.join("val").join("val_annotations.txt");
    let text = read_text(&ap)?;
    let index: std::collections::HashMap<&str, usize> = wnids
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i))
        .collect();
    let images = base.join("val").join("images");
    let mut jobs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {}", i + 1);
        let mut f = line.split('\t');
        let (Some(file), Some(wnid)) = (f.next().map(str::trim), f.next().map(str::trim)) else {
            return Err(DataError::new(
                &ap,
                "expected tab-separated columns: file name, wnid, x0, y0, x1, y1",
            )
            .at(at()));
        };
        if file.is_empty() || file.contains(['/', '\\']) || file.contains("..") {
            return Err(DataError::new(&ap, format!("bad file name {file:?}")).at(at()));
        }
        let Some(&c) = index.get(wnid) else {
            return Err(
                DataError::new(&ap, format!("class id {wnid:?} is not in wnids.txt")).at(at()),
            );
        };
        jobs.push((images.join(file), c as i64));
    }
    if jobs.is_empty() {
        return Err(DataError::new(&ap, "no validation images listed"));
    }
    Ok(jobs)
}

/// Decodes a JPEG (grayscale replicated to RGB) to `TINY_SIDE` square planar RGB in `slot`.
pub(crate) fn decode_into(path: &Path, slot: &mut [u8]) -> Result<(), DataError> {
    let bytes = invlab_formats::read_file(path)?;
    let img = jpeg::decode_jpeg_rgb(&bytes, path)?;
    let mut out = Vec::with_capacity(slot.len());
    resize::resize_to_planar(
        &img.pixels,
        img.width,
        img.height,
        3,
        TINY_SIDE,
        TINY_SIDE,
        &mut out,
    );
    slot.copy_from_slice(&out);
    Ok(())
}

/// Loads TinyImageNet-200 from `root`: the training images and the validation set as the
/// test split.
pub fn load(root: &Path) -> Result<SourceData, DataError> {
    let base = base(root);
    let (wnids, class_names) = classes(&base)?;
    let train_jobs = train_jobs(&base, &wnids)?;
    let test_jobs = val_jobs(&base, &wnids)?;
    let train = set_from_jobs(&train_jobs, TINY_SIDE, &decode_into)?;
    let test = set_from_jobs(&test_jobs, TINY_SIDE, &decode_into)?;
    Ok(SourceData {
        train,
        test,
        num_classes: wnids.len(),
        class_names,
    })
}

/// Whether `root` holds the `tiny-imagenet-200` folder or its `wnids.txt`.
pub fn looks_present(root: &Path) -> bool {
    ["tiny-imagenet-200", "wnids.txt"]
        .iter()
        .any(|r| root.join(r).exists())
}
