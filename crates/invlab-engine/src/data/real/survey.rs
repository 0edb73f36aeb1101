//! The survey behind `invlab data`: for each real dataset, where it was looked for, whether it
//! was found, and whether its files are valid.

use std::path::{Path, PathBuf};

use super::common::join_paths;
use super::{candidate_roots, gtsrb, kebab, layout_hint, load, looks_present, tinyimagenet};
use crate::data::DataError;
use invlab_core::config::DatasetName;

/// Sizes found by a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSummary {
    pub train: usize,
    pub test: usize,
    pub classes: usize,
    /// Channels, height, width of one image.
    pub shape: (usize, usize, usize),
}

/// What `invlab data` reports for one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetStatus {
    pub name: DatasetName,
    /// Folders tried, in order.
    pub looked: Vec<PathBuf>,
    /// The first folder that holds the dataset's files, if any.
    pub found: Option<PathBuf>,
    /// The check of the found folder (None when nothing was found).
    pub check: Option<Result<DatasetSummary, DataError>>,
}

impl DatasetStatus {
    pub fn is_valid(&self) -> bool {
        matches!(self.check, Some(Ok(_)))
    }
}

/// Checks a dataset folder. Small formats (IDX, NPZ, CIFAR) are loaded in full; for GTSRB and
/// TinyImageNet the index files are read, every listed image's presence is checked, and the
/// first image of each split is decoded (a full decode takes tens of seconds).
pub fn check(name: DatasetName, root: &Path) -> Result<DatasetSummary, DataError> {
    let listed = |jobs: &[(PathBuf, i64)]| -> Result<(), DataError> {
        if let Some((p, _)) = jobs.iter().find(|(p, _)| !p.is_file()) {
            return Err(DataError::new(
                p,
                "file not found (listed in the annotations)",
            ));
        }
        Ok(())
    };
    match name {
        DatasetName::Gtsrb => {
            let base = gtsrb::base(root);
            let tr = gtsrb::train_jobs(&base)?;
            let te = gtsrb::test_jobs(root, &base)?;
            listed(&tr)?;
            listed(&te)?;
            let mut slot = vec![0u8; 3 * gtsrb::GTSRB_SIDE * gtsrb::GTSRB_SIDE];
            for jobs in [&tr, &te] {
                if let Some((p, _)) = jobs.first() {
                    gtsrb::decode_into(p, &mut slot)?;
                }
            }
            Ok(DatasetSummary {
                train: tr.len(),
                test: te.len(),
                classes: gtsrb::GTSRB_CLASSES.len(),
                shape: (3, gtsrb::GTSRB_SIDE, gtsrb::GTSRB_SIDE),
            })
        }
        DatasetName::Tinyimagenet => {
            let base = tinyimagenet::base(root);
            let (wnids, _) = tinyimagenet::classes(&base)?;
            let tr = tinyimagenet::train_jobs(&base, &wnids)?;
            let te = tinyimagenet::val_jobs(&base, &wnids)?;
            listed(&te)?;
            let mut slot = vec![0u8; 3 * tinyimagenet::TINY_SIDE * tinyimagenet::TINY_SIDE];
            for jobs in [&tr, &te] {
                if let Some((p, _)) = jobs.first() {
                    tinyimagenet::decode_into(p, &mut slot)?;
                }
            }
            Ok(DatasetSummary {
                train: tr.len(),
                test: te.len(),
                classes: wnids.len(),
                shape: (3, tinyimagenet::TINY_SIDE, tinyimagenet::TINY_SIDE),
            })
        }
        _ => {
            let d = load(name, root)?;
            Ok(DatasetSummary {
                train: d.train.len(),
                test: d.test.len(),
                classes: d.num_classes,
                shape: (d.train.channels, d.train.height, d.train.width),
            })
        }
    }
}

/// Surveys every real dataset. `config_root`, when given, is tried first for each dataset,
/// both as the dataset's own folder and as a parent of folders named like `fashion-mnist`.
pub fn survey(config_root: Option<&Path>) -> Vec<DatasetStatus> {
    DatasetName::ALL
        .iter()
        .copied()
        .filter(|&n| n != DatasetName::Glyphs)
        .map(|name| {
            let mut looked = Vec::new();
            if let Some(r) = config_root {
                looked.push(r.join(kebab(name)));
            }
            for p in candidate_roots(name, config_root) {
                if !looked.contains(&p) {
                    looked.push(p);
                }
            }
            let found = looked.iter().find(|r| looks_present(name, r)).cloned();
            let check = found.as_ref().map(|r| check(name, r));
            DatasetStatus {
                name,
                looked,
                found,
                check,
            }
        })
        .collect()
}

/// The survey as a plain-text table: one row per dataset, with the folder used (or those
/// tried) and, for an invalid dataset, the problem on the next line.
pub fn render_survey(statuses: &[DatasetStatus]) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "dataset".into(),
        "found".into(),
        "valid".into(),
        "train".into(),
        "test".into(),
        "classes".into(),
        "folder".into(),
    ]];
    let mut notes: Vec<Option<String>> = vec![None];
    rows.push([
        "glyphs".into(),
        "built-in".into(),
        "yes".into(),
        "-".into(),
        "-".into(),
        "-".into(),
        "generated in memory, no files needed".into(),
    ]);
    notes.push(None);
    for s in statuses {
        let name = kebab(s.name);
        let dash = || "-".to_string();
        match (&s.found, &s.check) {
            (Some(root), Some(Ok(sum))) => {
                rows.push([
                    name,
                    "yes".into(),
                    "yes".into(),
                    sum.train.to_string(),
                    sum.test.to_string(),
                    sum.classes.to_string(),
                    root.display().to_string(),
                ]);
                notes.push(None);
            }
            (Some(root), Some(Err(e))) => {
                rows.push([
                    name,
                    "yes".into(),
                    "NO".into(),
                    dash(),
                    dash(),
                    dash(),
                    root.display().to_string(),
                ]);
                notes.push(Some(format!("error: {e}")));
            }
            _ => {
                rows.push([
                    name,
                    "no".into(),
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                    format!("looked in: {}", join_paths(&s.looked)),
                ]);
                notes.push(Some(format!("expected: {}", layout_hint(s.name))));
            }
        }
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (r, note) in rows.iter().zip(notes) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            if i == 6 {
                line.push_str(c);
            } else if (3..6).contains(&i) {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
                line.push_str("  ");
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if let Some(n) = note {
            out.push_str(&" ".repeat(widths[0] + 2));
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}
