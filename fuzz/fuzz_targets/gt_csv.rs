#![no_main]
//! GTSRB annotation CSVs.
use std::path::Path;

use invlab_fuzz::data::formats::csv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(rows) = csv::parse_gt_csv(&text, Path::new("GT-fuzz.csv"), 43) {
        assert!(rows.iter().all(|r| r.class_id < 43 && !r.filename.is_empty()));
    }
});
