//! Real datasets read from files the user already has. Every problem is a `DataError` naming the
//! file; nothing here panics.
//!
//! One module per family reads its official layout: `idx` (MNIST, Fashion-MNIST, KMNIST), `k49`
//! (Kuzushiji-49 and the `.npz` releases), `cifar` (CIFAR-10/100), `gtsrb`, `tinyimagenet`.
//! This file is the registry: what each dataset is (`facts`), where to look for it
//! (`candidate_roots`, `looks_present`), and `load` / `load_auto`. `survey` checks them all for
//! `invlab data`.

pub mod cifar;
mod common;
pub mod gtsrb;
pub mod idx;
pub mod k49;
mod survey;
pub mod tinyimagenet;

use std::path::{Path, PathBuf};

pub use survey::{check, render_survey, survey};

use super::{DataError, SourceData};
use common::join_paths;
use invlab_core::config::{serde_plain_name, DatasetName};

/// Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// What is known about a dataset before any file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    pub classes: usize,
    /// The files its loader reads, in one line.
    pub layout: &'static str,
    /// One line for someone choosing a dataset.
    pub about: &'static str,
}

/// The registry: every dataset's facts.
pub(crate) fn facts(name: DatasetName) -> Facts {
    let (classes, layout, about) = match name {
        DatasetName::Glyphs => (
            crate::data::glyphs::NUM_CLASSES,
            "nothing (generated in memory)",
            "built-in generated 28x28 glyphs, 49 classes, no download",
        ),
        DatasetName::Mnist => (10, idx::LAYOUT, "MNIST digits (IDX files)"),
        DatasetName::FashionMnist => (10, idx::LAYOUT, "Fashion-MNIST (IDX files)"),
        DatasetName::Kmnist => (10, idx::LAYOUT, "Kuzushiji-MNIST, 10 classes (IDX files)"),
        DatasetName::K49 => (
            k49::K49_CLASSES.len(),
            k49::LAYOUT,
            "Kuzushiji-49, the paper's base set (.npz files)",
        ),
        DatasetName::Cifar10 => (
            10,
            cifar::CIFAR10_LAYOUT,
            "CIFAR-10, 32x32 colour (binary version)",
        ),
        DatasetName::Cifar100 => (
            100,
            cifar::CIFAR100_LAYOUT,
            "CIFAR-100, 32x32 colour (binary version)",
        ),
        DatasetName::Gtsrb => (
            gtsrb::GTSRB_CLASSES.len(),
            gtsrb::LAYOUT,
            "German traffic signs, 43 classes (PPM + CSV)",
        ),
        DatasetName::Tinyimagenet => (200, tinyimagenet::LAYOUT, "TinyImageNet-200 (JPEG)"),
    };
    Facts {
        classes,
        layout,
        about,
    }
}

/// One line describing the files a dataset needs.
pub(crate) fn layout_hint(name: DatasetName) -> &'static str {
    facts(name).layout
}

fn kebab(name: DatasetName) -> String {
    serde_plain_name(&name)
}

/// Folders that may hold a dataset, in the order they are tried: the configured root, then
/// `<data dir>/datasets/<name>`, then (Fashion-MNIST) the Debian package's folder.
pub fn candidate_roots(name: DatasetName, configured: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut push = |p: PathBuf| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    if let Some(c) = configured {
        if !c.as_os_str().is_empty() {
            push(c.to_path_buf());
        }
    }
    if let Some(d) = invlab_core::paths::data_dir() {
        push(d.join("datasets").join(kebab(name)));
    }
    if name == DatasetName::FashionMnist {
        push(PathBuf::from(DEBIAN_FASHION_MNIST));
    }
    out
}

/// Whether `root` holds (some of) the dataset's files: a cheap look at marker names only.
pub fn looks_present(name: DatasetName, root: &Path) -> bool {
    match name {
        DatasetName::Glyphs => false,
        DatasetName::Mnist | DatasetName::FashionMnist => idx::looks_present(root),
        DatasetName::Kmnist => idx::looks_present(root) || k49::looks_present(root, "kmnist"),
        DatasetName::K49 => k49::looks_present(root, "k49"),
        DatasetName::Cifar10 => cifar::cifar10_present(root),
        DatasetName::Cifar100 => cifar::cifar100_present(root),
        DatasetName::Gtsrb => gtsrb::looks_present(root),
        DatasetName::Tinyimagenet => tinyimagenet::looks_present(root),
    }
}

/// The first candidate root that looks like it holds the dataset.
pub(crate) fn resolve_root(name: DatasetName, configured: Option<&Path>) -> Option<PathBuf> {
    candidate_roots(name, configured)
        .into_iter()
        .find(|r| looks_present(name, r))
}

/// Loads from the first candidate root that holds the dataset; when none does, the error names
/// every folder tried.
pub fn load_auto(name: DatasetName, configured: Option<&Path>) -> Result<SourceData, DataError> {
    match resolve_root(name, configured) {
        Some(root) => load(name, &root),
        None => {
            let tried = candidate_roots(name, configured);
            let first = tried.first().cloned().unwrap_or_default();
            Err(DataError::new(
                first,
                format!(
                    "no {} files found; looked in {}. Expected: {}",
                    kebab(name),
                    join_paths(&tried),
                    layout_hint(name)
                ),
            ))
        }
    }
}

/// Loads a real dataset from `root` (the folder holding its files).
pub fn load(name: DatasetName, root: &Path) -> Result<SourceData, DataError> {
    if name == DatasetName::Glyphs {
        return Err(DataError::new(
            root,
            "glyphs is the built-in generated dataset; it has no files to load",
        ));
    }
    if !root.is_dir() {
        let what = if root.exists() {
            "is not a folder"
        } else {
            "folder not found"
        };
        return Err(DataError::new(
            root,
            format!(
                "{what}; the {} root should hold {}",
                kebab(name),
                layout_hint(name)
            ),
        ));
    }
    match name {
        DatasetName::Glyphs => Err(DataError::new(root, "glyphs has no files to load")),
        DatasetName::Mnist => idx::load(root, &idx::MNIST_CLASSES),
        DatasetName::FashionMnist => idx::load(root, &idx::FASHION_MNIST_CLASSES),
        DatasetName::Kmnist => idx::load_kmnist(root),
        DatasetName::K49 => k49::load(root),
        DatasetName::Cifar10 => cifar::load_cifar10(root),
        DatasetName::Cifar100 => cifar::load_cifar100(root),
        DatasetName::Gtsrb => gtsrb::load(root),
        DatasetName::Tinyimagenet => tinyimagenet::load(root),
    }
}
