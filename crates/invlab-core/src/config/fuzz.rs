//! The config fuzz target's body (`fuzz/fuzz_targets/config.rs`): TOML text and `--set`
//! overrides through the whole loader (bases, presets, overrides, validation). The test suite
//! replays the committed seeds (`fuzz/seeds/config/`) through the same function.

use std::path::Path;

use super::{ConfigError, RunConfig, MAX_MESSAGE_CHARS};

/// Where `base = "…"` in a fuzzed config is looked up: the published configs, so that bases
/// and presets are reached.
fn configs_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

/// Feeds one input: the bytes before the first NUL are the config's text, the lines after it
/// (at most four) are `--set` items. Panics only on a bug: a panic in the loader, an accepted
/// config that fails validation or does not read back as itself, or a refusal that names no
/// source or runs past the message cap.
pub fn fuzz_config(data: &[u8]) {
    let (text, sets) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let overrides: Vec<String> = String::from_utf8_lossy(sets)
        .lines()
        .take(4)
        .map(str::to_string)
        .collect();
    let dir = configs_dir();
    match RunConfig::from_toml_str_in(text, "fuzz.toml", Some(&dir), &overrides) {
        Ok(config) => {
            if let Err(e) = config.validate("fuzz.toml") {
                panic!("an accepted config fails validation: {e}");
            }
            let written = config.to_toml().expect("an accepted config writes as TOML");
            match RunConfig::from_toml_str(&written, "written.toml", &[]) {
                Ok(again) => assert_eq!(again, config, "written as:\n{written}"),
                Err(e) => panic!("an accepted config does not read back: {e}\n{written}"),
            }
        }
        Err(e) => check_refusal(&e),
    }
}

/// A refusal names where the problem is (the text, an override, or a base file that exists)
/// and its message is capped.
fn check_refusal(e: &ConfigError) {
    let s = &e.source;
    assert!(
        s == "fuzz.toml"
            || s.starts_with("fuzz.toml (with --set ")
            || s.starts_with("--set ")
            || Path::new(s).exists(),
        "a refusal names no source: {s:?}"
    );
    let shown = e.to_string();
    let cap = s.len() + MAX_MESSAGE_CHARS * 4 + 64; // chars of up to 4 bytes, plus the tail
    assert!(shown.len() <= cap, "{} bytes: {shown:.200}", shown.len());
    assert!(!e.message.trim().is_empty(), "an empty message from {s}");
}
