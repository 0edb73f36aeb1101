#![no_main]
//! IDX images and labels, raw and through the gzip layer (with a small output cap).
use std::path::Path;

use invlab_fuzz::data::formats::{gunzip, idx, is_gzip};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.idx");
    let bytes = if is_gzip(data) {
        match gunzip(data, p, 1 << 20) {
            Ok(b) => b,
            Err(_) => return,
        }
    } else {
        data.to_vec()
    };
    if let Ok(img) = idx::parse_idx_images(&bytes, p) {
        assert_eq!(img.pixels.len(), img.count * img.rows * img.cols);
    }
    if let Ok(labels) = idx::parse_idx_labels(&bytes, p) {
        let _ = idx::check_labels(&labels, 10, p, 8);
    }
});
