#![no_main]
//! Binary PPM headers and pixels, then the 32x32 resize GTSRB uses.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| invlab_formats::fuzz_ppm(data));
