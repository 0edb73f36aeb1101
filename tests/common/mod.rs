//! Shared fixtures: tiny configs that train in seconds on a CPU.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use invlab_core::config::RunConfig;
use invlab_engine::{self as engine, Event, RunHandle, RunRequest};

/// Glyphs-ROT, a Zipf tail with n_max 120, two epochs of a small CNN, a cheap eKLD.
pub fn tiny_config(name: &str) -> RunConfig {
    let text = format!(
        r#"
name = "{name}"
seed = 3
device = "cpu"
[data]
dataset = "glyphs"
transform = "rot"
profile = "zipf"
zipf_a = 1.0
max_per_class = 120
min_per_class = 4
test_per_class = 6
[model]
arch = "small-cnn"
[train]
epochs = 2
batch_size = 64
lr = 0.05
warmup_epochs = 1
decay_epochs = [1, 2]
[eval]
ekld_every = 1
ekld_images_per_class = 3
ekld_samples = 4
live_images_per_class = 2
live_samples = 2
"#
    );
    RunConfig::from_toml_str(&text, "tiny", &[]).expect("tiny config is valid")
}

/// `--set` overrides for a tiny GIT generator (seconds to train); add `git.iterations`.
pub const TINY_GENERATOR_SETS: [&str; 7] = [
    "git.dim=4",
    "git.res_blocks=1",
    "git.mlp_dim=8",
    "git.style_downsamples=2",
    "git.dis_dim=4",
    "git.dis_layers=2",
    "git.batch_size=4",
];

pub fn write_config(dir: &Path, config: &RunConfig) -> PathBuf {
    let path = dir.join(format!("{}.toml", config.name));
    std::fs::write(&path, config.to_toml().unwrap()).unwrap();
    path
}

pub fn spawn(request: RunRequest) -> (RunHandle, Receiver<Event>) {
    let (tx, rx) = mpsc::channel();
    let handle = engine::spawn(
        request,
        Box::new(move |e| {
            let _ = tx.send(e);
        }),
    );
    (handle, rx)
}

/// Waits for the next event matching `pred`, failing the test after `secs`.
pub fn wait_for(rx: &Receiver<Event>, secs: u64, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let e = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no matching event within {secs} s"));
        if let Event::Failed { message } = &e {
            panic!("run failed: {message}");
        }
        if pred(&e) {
            return e;
        }
    }
}

/// Collects events until the terminal one.
pub fn drain(rx: &Receiver<Event>, secs: u64) -> Vec<Event> {
    let mut all = Vec::new();
    loop {
        let e = wait_for(rx, secs, |_| true);
        let done = e.is_terminal();
        all.push(e);
        if done {
            return all;
        }
    }
}

/// The last eKLD report among a run's events (the final estimate of a finished run).
pub fn last_invariance(events: &[Event]) -> Option<invlab_core::records::InvarianceReport> {
    events.iter().rev().find_map(|e| match e {
        Event::Invariance(r) => Some((**r).clone()),
        _ => None,
    })
}
