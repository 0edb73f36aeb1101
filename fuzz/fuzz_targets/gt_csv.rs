#![no_main]
//! GTSRB annotation CSVs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| invlab_formats::fuzz_gt_csv(data));
