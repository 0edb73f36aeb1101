#![no_main]
//! IDX images and labels, raw and through the gzip layer (with a small output cap).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| invlab_formats::fuzz_idx(data));
