#![no_main]
//! NPY headers and data, and NPZ (zip) archives holding them.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| invlab_formats::fuzz_npy(data));
