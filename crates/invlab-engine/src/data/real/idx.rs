//! MNIST, Fashion-MNIST and KMNIST: the IDX release (`{train,t10k}-{images-idx3,labels-idx1}-ubyte`,
//! raw or `.gz`, also in a `raw/` subfolder as torchvision keeps them); KMNIST also as its
//! `.npz` release (`kmnist-{train,test}-{imgs,labels}.npz`, read by `k49`).

use std::path::{Path, PathBuf};

use super::common::{both, check_same_shape, names};
use super::k49;
use crate::data::{DataError, ImageSet, SourceData};
use invlab_formats::idx as idx_format;

pub(crate) const LAYOUT: &str = "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]";

pub(crate) const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

pub(crate) const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

pub(crate) const KMNIST_CLASSES: [&str; 10] =
    ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"];

/// Finds `<split>-<kind>-idx{1,3}-ubyte`, with or without `.gz` (also the `.idx3-ubyte` spelling
/// some downloads use).
pub(crate) fn find_file(dir: &Path, split: &str, kind: &str) -> Option<PathBuf> {
    let d = if kind == "images" { 3 } else { 1 };
    let base = [
        format!("{split}-{kind}-idx{d}-ubyte"),
        format!("{split}-{kind}.idx{d}-ubyte"),
    ];
    base.iter()
        .flat_map(|b| [format!("{b}.gz"), b.clone()])
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

fn required_file(dir: &Path, split: &str, kind: &str) -> Result<PathBuf, DataError> {
    find_file(dir, split, kind).ok_or_else(|| {
        let d = if kind == "images" { 3 } else { 1 };
        let name = format!("{split}-{kind}-idx{d}-ubyte");
        DataError::new(
            dir.join(format!("{name}.gz")),
            format!(
                "missing file: expected {name}.gz or {name} in {}",
                dir.display()
            ),
        )
    })
}

/// The folder holding the IDX files: `root`, or `root/raw` when only that has them.
pub fn folder(root: &Path) -> PathBuf {
    let has = |d: &Path| {
        ["train", "t10k"]
            .iter()
            .any(|s| find_file(d, s, "images").is_some())
    };
    let raw = root.join("raw");
    if !has(root) && has(&raw) {
        raw
    } else {
        root.to_path_buf()
    }
}

/// Loads one IDX split (`split` = "train" or "t10k") from `dir`: images (1 channel) and labels,
/// with counts matched and labels checked against `num_classes`.
pub fn load_split(dir: &Path, split: &str, num_classes: usize) -> Result<ImageSet, DataError> {
    let ip = required_file(dir, split, "images")?;
    let lp = required_file(dir, split, "labels")?;
    let (images, labels) = both(
        dir,
        || {
            let bytes = invlab_formats::read_sized(&ip, 16, |head| {
                idx_format::implied_size(head, &ip, idx_format::IMAGES_MAGIC)
            })?;
            idx_format::parse_idx_images(&bytes, &ip)
        },
        || {
            let bytes = invlab_formats::read_sized(&lp, 8, |head| {
                idx_format::implied_size(head, &lp, idx_format::LABELS_MAGIC)
            })?;
            idx_format::parse_idx_labels(&bytes, &lp)
        },
    )?;
    split_from_parts(images, &ip, labels, &lp, num_classes)
}

/// Combines parsed IDX images and labels into a set, checking they agree.
pub(crate) fn split_from_parts(
    images: idx_format::IdxImages,
    images_path: &Path,
    labels: Vec<u8>,
    labels_path: &Path,
    num_classes: usize,
) -> Result<ImageSet, DataError> {
    if images.count != labels.len() {
        return Err(DataError::new(
            labels_path,
            format!(
                "holds {} labels but {} holds {} images; the two files must have the same count",
                labels.len(),
                images_path.display(),
                images.count
            ),
        ));
    }
    idx_format::check_labels(&labels, num_classes, labels_path, 8)?;
    Ok(ImageSet {
        images: images.pixels,
        labels: labels.into_iter().map(i64::from).collect(),
        channels: 1,
        height: images.rows,
        width: images.cols,
    })
}

/// Loads both splits of an IDX release (MNIST, Fashion-MNIST, KMNIST) with these class names.
pub fn load(root: &Path, classes: &[&str]) -> Result<SourceData, DataError> {
    let dir = folder(root);
    // Report a missing file before spending time decoding the other split.
    for s in ["train", "t10k"] {
        for k in ["images", "labels"] {
            required_file(&dir, s, k)?;
        }
    }
    let n = classes.len();
    let (train, test) = both(
        root,
        || load_split(&dir, "train", n),
        || load_split(&dir, "t10k", n),
    )?;
    let tp = required_file(&dir, "t10k", "images")?;
    check_same_shape(&train, &test, &tp)?;
    Ok(SourceData {
        train,
        test,
        num_classes: n,
        class_names: names(classes),
    })
}

/// KMNIST: the IDX release, or the `.npz` release (`kmnist-{train,test}-{imgs,labels}.npz`)
/// when the folder has no IDX files but has those.
pub(crate) fn load_kmnist(root: &Path) -> Result<SourceData, DataError> {
    let dir = folder(root);
    let has_idx = ["train", "t10k"]
        .iter()
        .any(|s| find_file(&dir, s, "images").is_some());
    if !has_idx && root.join("kmnist-train-imgs.npz").is_file() {
        k49::load_npz_release(root, "kmnist", &KMNIST_CLASSES)
    } else {
        load(root, &KMNIST_CLASSES)
    }
}

/// Whether `root` (or its `raw/`) holds any IDX file.
pub fn looks_present(root: &Path) -> bool {
    [root.to_path_buf(), root.join("raw")].iter().any(|d| {
        ["train", "t10k"].iter().any(|s| {
            ["images", "labels"]
                .iter()
                .any(|k| find_file(d, s, k).is_some())
        })
    })
}
