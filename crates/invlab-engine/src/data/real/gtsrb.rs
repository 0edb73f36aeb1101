//! GTSRB, the German traffic-sign benchmark: `GTSRB/Final_Training/Images/000CC/GT-000CC.csv` +
//! `.ppm`, and `GTSRB/Final_Test/Images/*.ppm` with `GT-final_test.csv`. Whole images (no ROI
//! crop) are resized to 32x32, as in the paper; decoding runs on every core.

use std::path::{Path, PathBuf};

use super::common::{join_paths, list_dir, names, read_text, set_from_jobs, sub_or_root};
use crate::data::{DataError, SourceData};
use invlab_formats::{csv, ppm, resize};

pub(crate) const LAYOUT: &str = "GTSRB/Final_Training/Images/000CC/GT-000CC.csv + .ppm, GTSRB/Final_Test/Images/*.ppm + GT-final_test.csv";

/// The 43 sign classes, in ClassId order.
pub(crate) const GTSRB_CLASSES: [&str; 43] = [
    "Speed limit (20km/h)",
    "Speed limit (30km/h)",
    "Speed limit (50km/h)",
    "Speed limit (60km/h)",
    "Speed limit (70km/h)",
    "Speed limit (80km/h)",
    "End of speed limit (80km/h)",
    "Speed limit (100km/h)",
    "Speed limit (120km/h)",
    "No passing",
    "No passing for vehicles over 3.5 metric tons",
    "Right-of-way at the next intersection",
    "Priority road",
    "Yield",
    "Stop",
    "No vehicles",
    "Vehicles over 3.5 metric tons prohibited",
    "No entry",
    "General caution",
    "Dangerous curve to the left",
    "Dangerous curve to the right",
    "Double curve",
    "Bumpy road",
    "Slippery road",
    "Road narrows on the right",
    "Road work",
    "Traffic signals",
    "Pedestrians",
    "Children crossing",
    "Bicycles crossing",
    "Beware of ice/snow",
    "Wild animals crossing",
    "End of all speed and passing limits",
    "Turn right ahead",
    "Turn left ahead",
    "Ahead only",
    "Go straight or right",
    "Go straight or left",
    "Keep right",
    "Keep left",
    "Roundabout mandatory",
    "End of no passing",
    "End of no passing by vehicles over 3.5 metric tons",
];

/// GTSRB images are resized (whole image, no ROI crop) to this side, as in the paper.
pub(crate) const GTSRB_SIDE: usize = 32;

/// The GTSRB folder holding `Final_Training` / `Final_Test`.
pub fn base(root: &Path) -> PathBuf {
    sub_or_root(root, "GTSRB")
}

/// The training images listed by the per-class CSVs: (ppm path, class).
pub(crate) fn train_jobs(base: &Path) -> Result<Vec<(PathBuf, i64)>, DataError> {
    let images = base.join("Final_Training").join("Images");
    let mut jobs = Vec::new();
    let class_dirs: Vec<PathBuf> = list_dir(&images)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if class_dirs.is_empty() {
        return Err(DataError::new(
            &images,
            "no class folders (00000 .. 00042) found",
        ));
    }
    for dir in class_dirs {
        let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let csv_path = dir.join(format!("GT-{name}.csv"));
        let csv_path = if csv_path.is_file() {
            csv_path
        } else {
            // Fall back to any GT-*.csv in the folder.
            list_dir(&dir)?
                .into_iter()
                .find(|p| {
                    p.file_name()
                        .map(|n| {
                            let n = n.to_string_lossy();
                            n.starts_with("GT-") && n.ends_with(".csv")
                        })
                        .unwrap_or(false)
                })
                .ok_or_else(|| {
                    DataError::new(
                        &csv_path,
                        "missing file: expected the class's annotation CSV",
                    )
                })?
        };
        let rows = csv::parse_gt_csv(&read_text(&csv_path)?, &csv_path, GTSRB_CLASSES.len())?;
        jobs.extend(
            rows.into_iter()
                .map(|r| (dir.join(r.filename), r.class_id as i64)),
        );
    }
    Ok(jobs)
}

/// The test images listed by `GT-final_test.csv`: (ppm path, class).
pub(crate) fn test_jobs(root: &Path, base: &Path) -> Result<Vec<(PathBuf, i64)>, DataError> {
    let images = base.join("Final_Test").join("Images");
    let spots = [
        root.to_path_buf(),
        base.to_path_buf(),
        base.join("Final_Test"),
        images.clone(),
    ];
    let csv_path = spots
        .iter()
        .map(|d| d.join("GT-final_test.csv"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            DataError::new(
                root.join("GT-final_test.csv"),
                format!(
                    "missing file: expected GT-final_test.csv (test labels) in one of {}",
                    join_paths(&spots)
                ),
            )
        })?;
    let rows = csv::parse_gt_csv(&read_text(&csv_path)?, &csv_path, GTSRB_CLASSES.len())?;
    Ok(rows
        .into_iter()
        .map(|r| (images.join(r.filename), r.class_id as i64))
        .collect())
}

/// Reads a PPM and resizes the whole image to `GTSRB_SIDE` square, planar RGB, into `slot`.
pub(crate) fn decode_into(path: &Path, slot: &mut [u8]) -> Result<(), DataError> {
    let bytes = invlab_formats::read_file(path)?;
    let img = ppm::parse_ppm(&bytes, path)?;
    let mut out = Vec::with_capacity(slot.len());
    resize::resize_to_planar(
        &img.pixels,
        img.width,
        img.height,
        3,
        GTSRB_SIDE,
        GTSRB_SIDE,
        &mut out,
    );
    slot.copy_from_slice(&out);
    Ok(())
}

/// Loads GTSRB from `root`, every image resized to `GTSRB_SIDE` square.
pub fn load(root: &Path) -> Result<SourceData, DataError> {
    let base = base(root);
    let train_jobs = train_jobs(&base)?;
    let test_jobs = test_jobs(root, &base)?;
    let train = set_from_jobs(&train_jobs, GTSRB_SIDE, &decode_into)?;
    let test = set_from_jobs(&test_jobs, GTSRB_SIDE, &decode_into)?;
    Ok(SourceData {
        train,
        test,
        num_classes: GTSRB_CLASSES.len(),
        class_names: names(&GTSRB_CLASSES),
    })
}

/// Whether `root` holds the GTSRB folder or its training or test folder.
pub fn looks_present(root: &Path) -> bool {
    ["GTSRB", "Final_Training", "Final_Test"]
        .iter()
        .any(|r| root.join(r).exists())
}
