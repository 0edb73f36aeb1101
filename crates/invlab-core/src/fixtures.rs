//! Synthetic run records shaped like a real long-tailed run, for tests, snapshots and demos
//! (the `fixtures` feature).
//! Accuracy rises and eKLD falls with class size, as the paper finds.

use std::path::PathBuf;

use crate::config::RunConfig;
use crate::longtail::sizes_by_class;
use crate::records::GroupAccuracy;
use crate::records::{EpochMetrics, InvarianceReport, RunInfo};
use crate::summary::group_means;
use crate::summary::Summary;

pub fn run_info(config: &RunConfig, run_id: &str, dir: PathBuf) -> RunInfo {
    let c = config.data.dataset.num_classes();
    RunInfo {
        format_version: crate::rundir::FORMAT_VERSION,
        run_id: run_id.into(),
        dir,
        config: config.clone(),
        device: "cpu".into(),
        cpu_threads: None,
        deterministic: None,
        num_classes: c,
        class_names: (0..c).map(|i| format!("g{i:02}")).collect(),
        train_sizes: sizes_by_class(&config.data, c, config.seed),
        test_sizes: vec![config.data.test_per_class; c],
        total_epochs: config.train.epochs,
        resumed_at: None,
        invlab_version: env!("CARGO_PKG_VERSION").into(),
        invlab_commit: Some("0123456789ab".into()),
        libtorch_version: "test".into(),
        generator_key: None,
    }
}

/// Deterministic pseudo-noise in [-1, 1].
pub fn wobble(i: usize, salt: usize) -> f64 {
    let x = ((i * 7919 + salt * 104_729) % 1000) as f64 / 500.0;
    x - 1.0
}

pub fn invariance(info: &RunInfo, epoch: usize, strength: f64) -> InvarianceReport {
    let ekld: Vec<f64> = info
        .train_sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let l = (n as f64).log10();
            ((2.6 - 0.7 * l) * strength + 0.08 * wobble(i, 3)).max(0.01)
        })
        .collect();
    let consistency = ekld
        .iter()
        .map(|e| (1.0 - e / 3.0).clamp(0.0, 1.0))
        .collect();
    InvarianceReport {
        epoch,
        transform: Some(crate::config::EkldTransform::Rot),
        images_per_class: 20,
        samples: 20,
        ekld_stderr: vec![0.02; ekld.len()],
        ekld_ci95: ekld.iter().map(|&e| [e - 0.04, e + 0.04]).collect(),
        consistency,
        spearman_size_ekld: Some(-0.8),
        ekld,
        seconds: 1.5,
        transform_seconds: None,
        sampling: Default::default(),
    }
}

/// Metrics of epoch `epoch` (1-based) of a run that learns at `rate`.
pub fn epoch(info: &RunInfo, epoch: usize, rate: f64) -> EpochMetrics {
    let t = epoch as f64 / info.total_epochs as f64;
    let per_class: Vec<f64> = info
        .train_sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let l = (n as f64).log10() / 3.7;
            ((0.2 + 0.75 * l) * (1.0 - (-rate * 4.0 * t).exp()) + 0.04 * wobble(i, epoch))
                .clamp(0.0, 1.0)
        })
        .collect();
    let balanced = per_class.iter().sum::<f64>() / per_class.len() as f64;
    let [many, medium, few] = group_means(&per_class, &info.train_sizes);
    let total: usize = info.train_sizes.iter().sum();
    let test_acc = per_class
        .iter()
        .zip(&info.train_sizes)
        .map(|(a, &n)| a * n as f64)
        .sum::<f64>()
        / total as f64;
    EpochMetrics {
        epoch,
        total_epochs: info.total_epochs,
        stage: crate::records::Stage::Train,
        lr: 0.1,
        train_loss: 2.5 * (-rate * 3.0 * t).exp() + 0.1,
        train_accuracy: test_acc.min(1.0),
        test_accuracy: balanced,
        balanced_accuracy: balanced,
        groups: GroupAccuracy { many, medium, few },
        per_class_accuracy: per_class,
        train_seconds: 12.0,
        eval_seconds: 3.0,
        invariance: None,
        generated_images: None,
        drawn_per_class: Vec::new(),
    }
}

pub fn summary(info: &RunInfo, last: &EpochMetrics, inv: &InvarianceReport) -> Summary {
    Summary::build(
        info,
        last,
        Some(inv),
        crate::rundir::Status::Finished,
        300.0,
    )
}

/// The environment variable naming a file where skipped tests add a line each (`.ci/run`
/// sets it and prints how many skipped and why).
pub const SKIPS_FILE_VAR: &str = "INVLAB_TEST_SKIPS";

/// A test that cannot run here says why, in one line on stderr (shown with `--nocapture`) and
/// in the skips file when one is set. `test` names the test.
pub fn skip(test: &str, reason: &str) {
    let line = format!("skipped {test}: {reason}");
    eprintln!("{line}");
    if let Some(path) = std::env::var_os(SKIPS_FILE_VAR) {
        use std::io::Write;
        // One short append per line: lines from parallel tests do not interleave.
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }
}
