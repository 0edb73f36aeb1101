#![no_main]
//! CIFAR-10 and CIFAR-100 binary records, and the class-name files.
use std::path::Path;

use invlab_fuzz::data::formats::cifar::{self, CifarKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.bin");
    for kind in [CifarKind::Cifar10, CifarKind::Cifar100] {
        if let Ok(set) = cifar::parse_cifar(data, kind, p) {
            assert_eq!(set.images.len(), set.labels.len() * cifar::PIXELS);
            assert!(set.labels.iter().all(|&y| (y as usize) < kind.num_classes()));
        }
    }
    let _ = cifar::parse_names(&String::from_utf8_lossy(data), 10, p);
});
