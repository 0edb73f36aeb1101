#![no_main]
//! Binary PPM headers and pixels, then the 32x32 resize GTSRB uses.
use std::path::Path;

use invlab_fuzz::data::formats::{ppm, resize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.ppm");
    if let Ok(img) = ppm::parse_ppm(data, p) {
        assert_eq!(img.pixels.len(), img.width * img.height * 3);
        // Keep the resize cheap: only small images (the parser allows up to 32768 per side).
        if img.width * img.height <= 1 << 16 {
            let mut out = Vec::new();
            resize::resize_to_planar(&img.pixels, img.width, img.height, 3, 32, 32, &mut out);
            assert_eq!(out.len(), 3 * 32 * 32);
        }
    }
});
