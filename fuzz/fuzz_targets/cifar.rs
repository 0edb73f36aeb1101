#![no_main]
//! CIFAR-10 and CIFAR-100 binary records, and the class-name files.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| invlab_formats::fuzz_cifar(data));
