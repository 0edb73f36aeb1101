#![no_main]
//! NPY headers and data, and NPZ (zip) archives holding them.
use std::path::Path;

use invlab_fuzz::data::formats::npy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.npz");
    if let Ok(a) = npy::parse_npy(data, p, "") {
        assert_eq!(a.data.len(), a.len() * a.dtype.size());
        let _ = a.to_i64();
    }
    if let Ok(a) = npy::parse_npz_limited(data, p, 1 << 20) {
        assert_eq!(a.data.len(), a.len() * a.dtype.size());
    }
});
