//! Every long-tail method preset trains end to end, and cRT's second stage touches only the head.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::*;
use invlab_core::config::presets::PRESETS;
use invlab_core::config::Rule;
use invlab_engine::{Event, RunRequest};

#[test]
fn every_preset_runs_in_batch_mode_and_writes_a_complete_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let base = write_config(tmp.path(), &tiny_config("preset"));
    for preset in PRESETS {
        let (name, loss, rule, augment) = (preset.name, preset.loss, preset.rule, preset.augment);
        let sets = [
            format!(
                "method.loss={}",
                invlab_core::config::serde_plain_name(&loss)
            ),
            format!(
                "method.rule={}",
                invlab_core::config::serde_plain_name(&rule)
            ),
            format!(
                "method.augment={}",
                invlab_core::config::serde_plain_name(&augment)
            ),
            "method.crt_epochs=1".to_string(),
            format!("name=\"{}\"", name.to_lowercase()),
        ];
        let mut sets = sets.to_vec();
        if augment == invlab_core::config::Augment::Git {
            // A tiny generator: the GIT presets' whole path (train, cache, mix) in seconds.
            sets.extend(TINY_GENERATOR_SETS.iter().map(|s| s.to_string()));
            sets.push("git.iterations=3".to_string());
            let cache = tmp.path().join("generators");
            sets.push(format!("git.cache_dir=\"{}\"", cache.display()));
        }
        if augment.mixes() {
            // E1 = 0: mixed rows (generated, or the oracle control's) enter epoch 2's batches.
            sets.push("train.decay_epochs=[0, 2]".to_string());
        }
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_invlab"));
        cmd.arg("--batch")
            .arg(&base)
            .arg("--out")
            .arg(tmp.path().join("runs"));
        for s in &sets {
            cmd.args(["--set", s]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        let expected_epochs = if rule == Rule::Crt { 3 } else { 2 };
        assert_eq!(summary["epochs"], expected_epochs, "{name}");
        if augment.mixes() {
            let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
            let last: serde_json::Value =
                serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
            assert!(
                last["generated_images"].as_u64().unwrap_or(0) > 0,
                "{name}: no generated image entered a batch: {last}"
            );
        }
        let classes = summary["classes"].as_array().unwrap();
        assert_eq!(classes.len(), 49, "{name}");
        assert!(
            classes
                .iter()
                .all(|c| c["ekld"].is_number() && c["accuracy"].is_number()),
            "{name}"
        );
        // The run was made with the preset's three choices...
        let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
        for (key, word) in [
            ("loss", invlab_core::config::serde_plain_name(&loss)),
            ("rule", invlab_core::config::serde_plain_name(&rule)),
            ("augment", invlab_core::config::serde_plain_name(&augment)),
        ] {
            assert!(
                config.contains(&format!("{key} = \"{word}\"")),
                "{name}: {key} {word}: {config}"
            );
        }
        // ...and the loss shaped the model: LDAM trains a cosine head (a features x classes
        // weight, no bias), the others a linear one.
        let checkpoint = load_checkpoint(&dir);
        let head_weight = &checkpoint
            .iter()
            .find(|(n, _)| n == "head.weight")
            .unwrap()
            .1;
        let has_bias = checkpoint.iter().any(|(n, _)| n == "head.bias");
        if loss == invlab_core::config::Loss::Ldam {
            assert!(!has_bias && head_weight.size()[1] == 49, "{name}");
        } else {
            assert!(has_bias && head_weight.size()[0] == 49, "{name}");
        }
    }
}

fn load_checkpoint(dir: &std::path::Path) -> Vec<(String, tch::Tensor)> {
    let mut v = tch::Tensor::load_multi(dir.join("checkpoint.ot")).unwrap();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn crt_retrains_only_the_classifier_on_a_frozen_backbone() {
    let tmp = tempfile::tempdir().unwrap();
    // Stage one of cRT is plain ERM with the same seed, so the ERM run's weights after its
    // epochs are cRT's weights when its classifier stage starts.
    let mut erm = tiny_config("erm");
    erm.train.epochs = 1;
    let mut crt = erm.clone();
    crt.name = "crt".into();
    crt.method.rule = Rule::Crt;
    crt.method.crt_epochs = 2;
    for config in [erm, crt] {
        let (handle, rx) = spawn(RunRequest::New {
            config,
            runs_dir: tmp.path().to_path_buf(),
        });
        let events = drain(&rx, 300);
        handle.join();
        assert!(
            matches!(events.last(), Some(Event::Finished(_))),
            "{:?}",
            events.last()
        );
    }
    let before = load_checkpoint(&tmp.path().join("erm"));
    let after = load_checkpoint(&tmp.path().join("crt"));
    assert_eq!(before.len(), after.len());
    let (mut backbone, mut head_changed) = (0, 0);
    for ((name, a), (name_b, b)) in before.iter().zip(&after) {
        assert_eq!(name, name_b);
        if name.starts_with("backbone") {
            assert!(a.equal(b), "{name} changed during classifier re-training");
            backbone += 1;
        } else if !a.equal(b) {
            head_changed += 1;
        }
    }
    assert!(backbone >= 6, "checked {backbone} backbone tensors");
    assert_eq!(head_changed, 2, "the head's weight and bias are re-trained");
    // The second stage samples class-balanced, and its metrics say which stage they are.
    let metrics = invlab_core::rundir::RunDir::open(&tmp.path().join("crt"))
        .unwrap()
        .read_metrics();
    let stages: Vec<String> = metrics.iter().map(|m| m.stage.to_string()).collect();
    assert_eq!(stages, vec!["train", "crt", "crt"]);
    // What the batches drew, from the run's records: the class sizes in the first stage
    // (a shuffle), class-balanced draws in the second.
    let record = invlab_core::rundir::RunDir::open(&tmp.path().join("crt"))
        .unwrap()
        .load()
        .unwrap();
    let sizes = record.info.unwrap().train_sizes;
    assert_eq!(metrics[0].drawn_per_class, sizes);
    for m in &metrics[1..] {
        assert_balanced(&m.drawn_per_class, &sizes);
    }
}

/// `drawn` is consistent with drawing each class with equal probability (chi-square, p > 0.001)
/// and far from proportional to `sizes` (the long tail's largest class is drawn less than half
/// as often as under shuffling).
fn assert_balanced(drawn: &[usize], sizes: &[usize]) {
    assert_eq!(drawn.len(), sizes.len());
    let total: usize = drawn.iter().sum();
    assert_eq!(
        total,
        sizes.iter().sum::<usize>(),
        "an epoch draws as many as it holds"
    );
    let expected = total as f64 / sizes.len() as f64;
    let chi2: f64 = drawn
        .iter()
        .map(|&d| (d as f64 - expected).powi(2) / expected)
        .sum();
    // 48 degrees of freedom: P(chi2 > 84.0) = 0.001.
    assert!(chi2 < 84.0, "{drawn:?}: chi2 {chi2}");
    let head = sizes.iter().enumerate().max_by_key(|p| p.1).unwrap().0;
    assert!(
        2 * drawn[head] < sizes[head],
        "{drawn:?} vs sizes {sizes:?}"
    );
}

/// DRS samples by shuffling up to E1 and class-balanced from E1 on, as its records show.
#[test]
fn drs_switches_to_class_balanced_draws_at_e1() {
    let tmp = tempfile::tempdir().unwrap();
    let mut drs = tiny_config("drs");
    drs.method.rule = Rule::Drs;
    let (handle, rx) = spawn(RunRequest::New {
        config: drs,
        runs_dir: tmp.path().to_path_buf(),
    });
    let events = drain(&rx, 300);
    handle.join();
    assert!(matches!(events.last(), Some(Event::Finished(_))));
    let record = invlab_core::rundir::RunDir::open(&tmp.path().join("drs"))
        .unwrap()
        .load()
        .unwrap();
    let sizes = record.info.unwrap().train_sizes;
    assert_eq!(sizes.len(), 49);
    // E1 = 1: the first epoch shuffles, the second is class-balanced.
    assert_eq!(record.epochs[0].drawn_per_class, sizes);
    assert_balanced(&record.epochs[1].drawn_per_class, &sizes);
}

/// Balanced Softmax and the logit-adjusted loss through the engine: LA at tau 0 trains exactly
/// as ERM, LA at tau 1 exactly as Balanced Softmax, and Balanced Softmax differently from ERM:
/// its prior is the long-tailed training set's (the balanced test set's prior would be a
/// constant shift, which changes no softmax, and the runs would be ERM's).
#[test]
fn prior_adjusted_losses_train_through_the_engine_on_the_training_prior() {
    use invlab_core::config::Loss;
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, loss: Loss, tau: f64| {
        let mut c = tiny_config(name);
        c.method.loss = loss;
        c.method.la_tau = tau;
        let (handle, rx) = spawn(RunRequest::New {
            config: c,
            runs_dir: tmp.path().to_path_buf(),
        });
        let events = drain(&rx, 300);
        handle.join();
        let Some(Event::Finished(_)) = events.last() else {
            panic!("{name}: {:?}", events.last())
        };
        invlab_core::rundir::RunDir::open(&tmp.path().join(name))
            .unwrap()
            .read_metrics()
            .iter()
            .map(|m| (m.train_loss, m.per_class_accuracy.clone()))
            .collect::<Vec<_>>()
    };
    let erm = run("erm", Loss::Ce, 1.0);
    let la0 = run("la0", Loss::LogitAdjusted, 0.0);
    let bs = run("bs", Loss::BalancedSoftmax, 1.0);
    let la1 = run("la1", Loss::LogitAdjusted, 1.0);
    assert_eq!(erm, la0);
    assert_eq!(bs, la1);
    assert_ne!(erm, bs);
}
