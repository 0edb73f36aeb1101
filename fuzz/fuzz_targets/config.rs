#![no_main]
//! Config TOML (bytes before a NUL) and `--set` items (lines after it) through the whole
//! loader to a validated `RunConfig`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| invlab_core::config::fuzz_config(data));
