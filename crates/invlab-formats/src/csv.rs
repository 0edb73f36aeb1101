//! GTSRB annotation files: `;`-separated, a header line naming the columns
//! (`Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId`), one image per line.

use std::path::Path;

use crate::DataError;

/// One annotated image: its file name (relative to the CSV's folder) and class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtRow {
    pub filename: String,
    pub class_id: usize,
    /// 1-based line number in the CSV, for error messages about this image.
    pub line: usize,
}

/// Parses a GTSRB annotation CSV; class ids must be below `num_classes`.
pub fn parse_gt_csv(text: &str, path: &Path, num_classes: usize) -> Result<Vec<GtRow>, DataError> {
    let mut lines = text.lines().enumerate();
    let header = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((i, l)) => break (i, l.trim_start_matches('\u{feff}')),
            None => {
                return Err(DataError::new(
                    path,
                    "the CSV file is empty; expected a header line Filename;...;ClassId",
                ))
            }
        }
    };
    let cols: Vec<&str> = header.1.split(';').map(str::trim).collect();
    let find = |name: &str| cols.iter().position(|c| c.eq_ignore_ascii_case(name));
    let missing = |name: &str| {
        DataError::new(
            path,
            format!(
                "the header has no {name} column (columns: {}); expected Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId",
                cols.join(";")
            ),
        )
        .at(format!("line {}", header.0 + 1))
    };
    let fcol = find("Filename").ok_or_else(|| missing("Filename"))?;
    let ccol = find("ClassId").ok_or_else(|| {
        let mut e = missing("ClassId");
        e.message.push_str(
            " (the test images' own GT-final_test.test.csv has no labels; use GT-final_test.csv from the GTSRB test ground-truth archive)",
        );
        e
    })?;
    let mut rows = Vec::new();
    for (i, l) in lines {
        let line = i + 1;
        if l.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = l.split(';').map(str::trim).collect();
        let need = fcol.max(ccol) + 1;
        if fields.len() < need {
            return Err(DataError::new(
                path,
                format!(
                    "row has {} column(s), expected at least {need} (the header has {})",
                    fields.len(),
                    cols.len()
                ),
            )
            .at(format!("line {line}")));
        }
        let filename = fields[fcol];
        if filename.is_empty() || filename.contains("..") || filename.starts_with('/') {
            return Err(DataError::new(
                path,
                format!("bad file name {filename:?}: expected a plain file name such as 00000_00000.ppm"),
            )
            .at(format!("line {line}")));
        }
        let raw = fields[ccol];
        let class_id: usize = raw.parse().map_err(|_| {
            DataError::new(
                path,
                format!("ClassId {raw:?} is not a non-negative integer"),
            )
            .at(format!("line {line}"))
        })?;
        if class_id >= num_classes {
            return Err(DataError::new(
                path,
                format!(
                    "ClassId {class_id} is out of range: GTSRB has classes 0..={}",
                    num_classes.saturating_sub(1)
                ),
            )
            .at(format!("line {line}")));
        }
        rows.push(GtRow {
            filename: filename.to_string(),
            class_id,
            line,
        });
    }
    Ok(rows)
}
