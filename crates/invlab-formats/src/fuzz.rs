//! One entry per fuzz target: what the target feeds an input through, with the invariants a
//! successful parse must keep. The fuzz crate (`fuzz/`) calls these, and the test suite runs the
//! committed seeds and crash regressions through the same functions, so the two cannot drift.
//! Sizes are capped well below the loaders' limits to keep every execution fast.

use std::path::Path;

use super::cifar::{self, CifarKind};
use super::{csv, gunzip, idx, is_gzip, npy, ppm, resize};

/// Output cap for gzip streams and zip entries under the fuzzer (1 MiB).
const FUZZ_LIMIT: u64 = 1 << 20;

/// A fuzz target's body: panics only on a bug.
pub type FuzzEntry = fn(&[u8]);

/// Every target by its name in `fuzz/Cargo.toml` and `fuzz/seeds/`.
pub const FUZZ_TARGETS: [(&str, FuzzEntry); 5] = [
    ("idx", fuzz_idx),
    ("npy", fuzz_npy),
    ("cifar", fuzz_cifar),
    ("ppm", fuzz_ppm),
    ("gt_csv", fuzz_gt_csv),
];

/// IDX images and labels, raw or through the gzip layer, and the label range check.
pub fn fuzz_idx(data: &[u8]) {
    let p = Path::new("fuzz.idx");
    let bytes = if is_gzip(data) {
        match gunzip(data, p, FUZZ_LIMIT) {
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
}

/// NPY headers and data, and NPZ (zip) archives holding them.
pub fn fuzz_npy(data: &[u8]) {
    let p = Path::new("fuzz.npz");
    if let Ok(a) = npy::parse_npy(data, p, "") {
        assert_eq!(a.data.len(), a.len() * a.dtype.size());
        let _ = a.to_i64();
    }
    if let Ok(a) = npy::parse_npz_limited(data, p, FUZZ_LIMIT) {
        assert_eq!(a.data.len(), a.len() * a.dtype.size());
    }
}

/// CIFAR-10 and CIFAR-100 binary records, and the class-name files.
pub fn fuzz_cifar(data: &[u8]) {
    let p = Path::new("fuzz.bin");
    for kind in [CifarKind::Cifar10, CifarKind::Cifar100] {
        if let Ok(set) = cifar::parse_cifar(data, kind, p) {
            assert_eq!(set.images.len(), set.labels.len() * cifar::PIXELS);
            assert!(set
                .labels
                .iter()
                .all(|&y| (y as usize) < kind.num_classes()));
        }
    }
    let _ = cifar::parse_names(&String::from_utf8_lossy(data), 10, p);
}

/// Binary PPM headers and pixels, then the 32x32 resize GTSRB uses.
pub fn fuzz_ppm(data: &[u8]) {
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
}

/// GTSRB annotation CSVs.
pub fn fuzz_gt_csv(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(rows) = csv::parse_gt_csv(&text, Path::new("GT-fuzz.csv"), 43) {
        assert!(rows
            .iter()
            .all(|r| r.class_id < 43 && !r.filename.is_empty()));
    }
}
