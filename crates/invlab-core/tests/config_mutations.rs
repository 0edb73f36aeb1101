//! Hostile configs, generated: 20,000 seeded mutations of real config files (bytes deleted,
//! duplicated, swapped, replaced by TOML's punctuation, numbers blown up, lines repeated) go
//! through the same parse, layering and validation as `invlab --batch`. None may panic, and every
//! refusal must name its source and stay short. (The format parsers are fuzzed with cargo-fuzz,
//! FUZZING.md; this runs in the test suite on every build.)
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use invlab_core::config::RunConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PIECES: [&str; 16] = [
    "[",
    "]",
    "=",
    "\"",
    "\n",
    ".",
    ",",
    "{",
    "}",
    "#",
    "-1",
    "1e309",
    "99999999999999999999",
    "[train]\n",
    "preset = ",
    "base = \"x.toml\"\n",
];

fn mutate(text: &str, rng: &mut ChaCha8Rng) -> String {
    let mut bytes: Vec<u8> = text.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..6) {
        let at = rng.random_range(0..=bytes.len());
        match rng.random_range(0..5) {
            0 if !bytes.is_empty() => {
                let end = (at + rng.random_range(1..20)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => {
                let piece = PIECES[rng.random_range(0..PIECES.len())];
                bytes.splice(at..at, piece.bytes());
            }
            2 if bytes.len() > 2 => {
                let (a, b) = (
                    rng.random_range(0..bytes.len()),
                    rng.random_range(0..bytes.len()),
                );
                bytes.swap(a, b);
            }
            3 => {
                let end = (at + rng.random_range(1..40)).min(bytes.len());
                let copy: Vec<u8> = bytes[at.min(end)..end].to_vec();
                bytes.splice(at..at, copy);
            }
            _ => {
                let digits: String = (0..rng.random_range(1..25))
                    .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                    .collect();
                bytes.splice(at..at, digits.bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn mutated_configs_are_refused_or_accepted_never_a_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut seeds: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            if !text.lines().any(|l| l.trim_start().starts_with("base")) {
                return Some(text);
            }
            // A thin `base = ...` file as a standalone one: its comments, then the config it
            // resolves to (a mutant of the thin text would mostly test that a string without
            // a folder cannot name a base).
            let comments: String = text
                .lines()
                .filter(|l| l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            Some(comments + &RunConfig::load(&p, &[]).ok()?.to_toml().ok()?)
        })
        .collect();
    seeds.sort();
    assert!(seeds.len() > 10, "the published configs are the seeds");
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..20_000 {
        let text = mutate(&seeds[i % seeds.len()], &mut rng);
        let result = std::panic::catch_unwind(|| {
            RunConfig::from_toml_str(&text, "mutant.toml", &["train.epochs=3".to_string()])
        });
        match result {
            Err(_) => panic!("parsing panicked on:\n{text}"),
            Ok(Ok(config)) => {
                // An accepted config is valid, and writes and reads back as itself.
                config.validate("mutant.toml").unwrap();
                let again = RunConfig::from_toml_str(&config.to_toml().unwrap(), "again", &[]);
                assert_eq!(again.as_ref().ok(), Some(&config), "{text}");
                accepted += 1;
            }
            Ok(Err(e)) => {
                let message = e.to_string();
                assert!(message.starts_with("mutant.toml"), "{message}");
                assert!(message.len() < 3_000, "{} characters", message.len());
                refused += 1;
            }
        }
    }
    // Both sides are exercised.
    assert!(
        accepted > 500 && refused > 500,
        "{accepted} accepted, {refused} refused"
    );
}
