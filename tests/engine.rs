//! The engine on small CPU runs: events, run files, control, resume and reproducibility.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::*;
use invlab_core::config::Rule;
use invlab_core::rundir::{RunDir, Status};
use invlab_engine::{Event, RunRequest, Summary};

#[test]
fn a_run_reports_in_order_and_writes_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tiny_config("files");
    let (handle, rx) = spawn(RunRequest::New {
        config: config.clone(),
        runs_dir: tmp.path().to_path_buf(),
    });
    let events = drain(&rx, 300);
    handle.join();
    assert!(
        matches!(events.first(), Some(Event::Phase(_)))
            || matches!(events.first(), Some(Event::Started(_)))
    );
    let started = events
        .iter()
        .position(|e| matches!(e, Event::Started(_)))
        .unwrap();
    let epochs: Vec<_> = events
        .iter()
        .filter_map(|e| {
            if let Event::Epoch(m) = e {
                Some(m.clone())
            } else {
                None
            }
        })
        .collect();
    assert!(
        epochs.len() == 2
            && events
                .iter()
                .position(|e| matches!(e, Event::Epoch(_)))
                .unwrap()
                > started
    );
    let Some(Event::Finished(summary)) = events.last() else {
        panic!("last event {:?}", events.last())
    };
    // Each epoch had a live eKLD; the last one is the full estimate.
    assert_eq!(epochs[0].invariance.as_ref().unwrap().samples, 2);
    assert_eq!(epochs[1].invariance.as_ref().unwrap().samples, 4);

    let dir = tmp.path().join("files");
    for f in [
        "config.toml",
        "run.json",
        "state.json",
        "metrics.jsonl",
        "summary.json",
        "per_class.csv",
        "checkpoint.ot",
        "optimizer.ot",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    for key in [
        "accuracy",
        "balanced_accuracy",
        "many_shot_accuracy",
        "medium_shot_accuracy",
        "few_shot_accuracy",
        "classes",
        "invlab_version",
        "invlab_commit",
        "libtorch_version",
        "device",
    ] {
        assert!(json.get(key).is_some(), "summary.json lacks {key}");
    }
    let classes = json["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 49);
    for key in ["class", "train_size", "accuracy", "ekld", "consistency"] {
        assert!(classes[0].get(key).is_some(), "class entry lacks {key}");
    }
    assert!(json["libtorch_version"].as_str().unwrap().starts_with("2."));
    // The build's commit: 12 hex digits (+dirty), or "unknown" outside a git checkout.
    let commit = json["invlab_commit"].as_str().unwrap();
    let hash = commit.trim_end_matches("+dirty");
    assert!(
        commit == "unknown" || (hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    assert_eq!(json["device"], "cpu");
    // What the run cost: time to its first batch (from the run's start here: no binary marked
    // the process start) within the run's wall time, and a plausible peak memory.
    let first = json["first_batch_seconds"].as_f64().unwrap();
    assert!(first > 0.0 && first < json["wall_seconds"].as_f64().unwrap());
    let rss = json["peak_rss_mib"].as_f64().unwrap();
    assert!((50.0..16384.0).contains(&rss), "peak RSS {rss} MiB");
    let parsed: Summary = serde_json::from_value(json).unwrap();
    assert_eq!(&parsed, summary.as_ref());
    // Zipf a=1, n_max 120, floor 4: sizes 120, 60, 40, 30, 24, 20, ... as class sizes.
    let mut sizes: Vec<usize> = parsed.classes.iter().map(|c| c.train_size).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(&sizes[..6], &[120, 60, 40, 30, 24, 20]);
    check_headline_numbers(&dir, &epochs[1], &parsed);
    let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2);
    let csv = std::fs::read_to_string(dir.join("per_class.csv")).unwrap();
    assert_eq!(csv.lines().count(), 50);
    assert!(csv.starts_with("class,name,train_size"));
    let state = RunDir::open(&dir).unwrap().read_state().unwrap();
    assert_eq!(
        (state.status.word(), state.checkpoint_epoch),
        ("finished", 2)
    );
}

#[test]
fn the_worker_obeys_pause_resume_and_stop_and_a_stopped_run_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = tiny_config("control");
    config.train.epochs = 4;
    config.train.batch_size = 16;
    let (handle, rx) = spawn(RunRequest::New {
        config,
        runs_dir: tmp.path().to_path_buf(),
    });
    wait_for(&rx, 120, |e| matches!(e, Event::Batch { .. }));
    handle.pause();
    wait_for(&rx, 60, |e| matches!(e, Event::Paused));
    // While paused nothing advances.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let during: Vec<Event> = rx.try_iter().collect();
    assert!(
        during
            .iter()
            .all(|e| !matches!(e, Event::Batch { .. } | Event::Epoch(_))),
        "{during:?}"
    );
    let dir = tmp.path().join("control");
    assert_eq!(
        RunDir::open(&dir).unwrap().read_state().unwrap().status,
        Status::Paused
    );
    handle.resume();
    wait_for(&rx, 60, |e| matches!(e, Event::Resumed));
    wait_for(&rx, 120, |e| matches!(e, Event::Epoch(m) if m.epoch == 1));
    handle.stop();
    let stopped = wait_for(&rx, 120, |e| e.is_terminal());
    let Event::Stopped { epochs_done } = stopped else {
        panic!("{stopped:?}")
    };
    assert!(epochs_done >= 1);
    handle.join();
    assert_eq!(
        RunDir::open(&dir).unwrap().read_state().unwrap().status,
        Status::Stopped
    );

    let (handle, rx) = spawn(RunRequest::Resume { dir: dir.clone() });
    let events = drain(&rx, 300);
    handle.join();
    let Some(Event::Started(info)) = events.iter().find(|e| matches!(e, Event::Started(_))) else {
        panic!()
    };
    assert_eq!(info.resumed_at, Some(epochs_done));
    assert!(
        matches!(events.last(), Some(Event::Finished(_))),
        "{:?}",
        events.last()
    );
    let metrics = RunDir::open(&dir).unwrap().read_metrics();
    assert_eq!(
        metrics.iter().map(|m| m.epoch).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
}

fn final_summary(runs: &std::path::Path, config: invlab_core::config::RunConfig) -> Summary {
    let (handle, rx) = spawn(RunRequest::New {
        config,
        runs_dir: runs.to_path_buf(),
    });
    let events = drain(&rx, 300);
    handle.join();
    match events.last() {
        Some(Event::Finished(s)) => (**s).clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn same_seed_same_run_and_resume_equals_an_unbroken_run() {
    let tmp = tempfile::tempdir().unwrap();
    let a = final_summary(tmp.path(), tiny_config("a"));
    let b = final_summary(tmp.path(), tiny_config("b"));
    let key = |s: &Summary| {
        s.classes
            .iter()
            .map(|c| (c.train_size, c.accuracy, c.ekld))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        key(&a),
        key(&b),
        "same seed, same config: identical results"
    );

    // Stopped after epoch 1 and resumed: the same result as the unbroken run `a`.
    let (handle, rx) = spawn(RunRequest::New {
        config: tiny_config("c"),
        runs_dir: tmp.path().to_path_buf(),
    });
    wait_for(&rx, 120, |e| matches!(e, Event::Epoch(m) if m.epoch == 1));
    handle.stop();
    let end = wait_for(&rx, 120, |e| e.is_terminal());
    handle.join();
    let dir = tmp.path().join("c");
    let resumed = if let Event::Stopped { .. } = end {
        let (handle, rx) = spawn(RunRequest::Resume { dir });
        let events = drain(&rx, 300);
        handle.join();
        match events.last() {
            Some(Event::Finished(s)) => (**s).clone(),
            other => panic!("{other:?}"),
        }
    } else if let Event::Finished(s) = end {
        // The stop arrived after the last batch: nothing left to resume.
        *s
    } else {
        panic!("{end:?}")
    };
    assert_eq!(key(&a), key(&resumed));

    let mut other = tiny_config("d");
    other.seed = 4;
    let d = final_summary(tmp.path(), other);
    assert_ne!(key(&a), key(&d), "another seed draws another long tail");
}

#[test]
fn a_bad_run_fails_with_a_message_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = tiny_config("bad");
    config.data.dataset = invlab_core::config::DatasetName::Mnist;
    config.data.root = Some(tmp.path().join("nowhere"));
    let (handle, rx) = spawn(RunRequest::New {
        config,
        runs_dir: tmp.path().to_path_buf(),
    });
    let last = loop {
        let e = rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
        if e.is_terminal() {
            break e;
        }
    };
    handle.join();
    let Event::Failed { message } = last else {
        panic!("{last:?}")
    };
    assert!(message.contains("nowhere"), "{message}");
    let state = RunDir::open(&tmp.path().join("bad")).unwrap().read_state();
    assert_eq!(state.map(|s| s.status), Some(Status::Failed));
    let _ = Rule::None;
}

#[test]
fn a_short_real_fashion_mnist_rot_lt_run() {
    let root = std::path::Path::new("/usr/share/datasets/fashion-mnist");
    if !root.is_dir() {
        invlab_core::fixtures::skip(
            "a_short_real_fashion_mnist_rot_lt_run",
            "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)",
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut config = tiny_config("fmnist");
    config.data.dataset = invlab_core::config::DatasetName::FashionMnist;
    config.data.profile = invlab_core::config::Profile::Exp;
    config.data.imbalance = 10.0;
    config.data.max_per_class = 300;
    config.train.epochs = 3;
    let (handle, rx) = spawn(RunRequest::New {
        config,
        runs_dir: tmp.path().to_path_buf(),
    });
    let events = drain(&rx, 600);
    handle.join();
    let Some(Event::Finished(s)) = events.last() else {
        panic!("{:?}", events.last())
    };
    assert_eq!(s.classes.len(), 10);
    // The real test split: 1,000 images of each class, under the dataset's own class names.
    assert!(
        s.classes.iter().all(|c| c.test_size == 1_000),
        "{:?}",
        s.classes
    );
    assert_eq!(s.classes[0].name, "T-shirt/top");
    assert_eq!(s.classes[9].name, "Ankle boot");
    // Cao et al.'s exponential profile at rho 10 over 300 images, floored (computed by hand:
    // 300 x 10^(-c/9)).
    let mut sizes: Vec<usize> = s.classes.iter().map(|c| c.train_size).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [30, 38, 50, 64, 83, 107, 139, 179, 232, 300]);
    // The long tail shows on real images after three epochs: the three largest classes are
    // learned far better than the three smallest (0.81 against 0.00 seen at seed 3).
    let mut by_size: Vec<(usize, f64)> = s
        .classes
        .iter()
        .map(|c| (c.train_size, c.accuracy))
        .collect();
    by_size.sort_by_key(|p| p.0);
    let mean = |p: &[(usize, f64)]| p.iter().map(|x| x.1).sum::<f64>() / p.len() as f64;
    let (tail, head) = (mean(&by_size[..3]), mean(&by_size[7..]));
    assert!(head > tail + 0.3, "head {head:.3}, tail {tail:.3}");
    assert!(s.classes.iter().all(|c| c.ekld.is_some_and(f64::is_finite)));
    // Ten classes, rotated: twice chance (10 %) or better after three short epochs (26 % seen).
    assert!(
        s.balanced_accuracy > 0.2,
        "balanced accuracy {}",
        s.balanced_accuracy
    );
}

#[test]
fn a_stop_during_the_final_ekld_ends_the_run_within_seconds_and_keeps_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = tiny_config("stop-in-ekld");
    config.train.epochs = 2;
    // The final estimate is made large on purpose, with the fixed design (the adaptive default
    // ignores these two settings): 49 x 6 x 20,000 transformed images, minutes of work.
    config.eval.ekld_sampling = invlab_core::config::EkldSampling::Fixed;
    config.eval.ekld_images_per_class = 6;
    config.eval.ekld_samples = 20_000;
    let (handle, rx) = spawn(RunRequest::New {
        config,
        runs_dir: tmp.path().to_path_buf(),
    });
    wait_for(&rx, 120, |e| matches!(e, Event::Epoch(m) if m.epoch == 1));
    wait_for(&rx, 120, |e| {
        matches!(e, Event::Phase(invlab_engine::Phase::Invariance))
    });
    // Training is over: whenever the stop lands from here on, it lands in the evaluation.
    let asked = std::time::Instant::now();
    handle.stop();
    let end = wait_for(&rx, 60, |e| e.is_terminal());
    let waited = asked.elapsed().as_secs_f64();
    handle.join();
    assert_eq!(end, Event::Stopped { epochs_done: 1 });
    // Unstopped, the evaluation runs for minutes on a 2-core machine; a stop checked between
    // forward batches ends it in about a second. The bound is wide for a busy machine and
    // still far below a whole evaluation.
    assert!(waited < 60.0, "the stop took {waited:.1} s");
    let state = RunDir::open(&tmp.path().join("stop-in-ekld"))
        .unwrap()
        .read_state()
        .unwrap();
    assert_eq!((state.status, state.checkpoint_epoch), (Status::Stopped, 1));
    assert!(tmp.path().join("stop-in-ekld/checkpoint.ot").is_file());
}

/// The fixed eKLD design end to end: every class's estimate uses exactly the configured
/// images and draws, and the summary says so (the adaptive default would vary them).
#[test]
fn the_fixed_ekld_design_uses_exactly_the_configured_images_and_draws() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = tiny_config("fixed-design");
    config.train.epochs = 1;
    config.train.decay_epochs = [1, 1];
    config.eval.ekld_sampling = invlab_core::config::EkldSampling::Fixed;
    config.eval.ekld_images_per_class = 3;
    config.eval.ekld_samples = 5;
    let (handle, rx) = spawn(RunRequest::New {
        config,
        runs_dir: tmp.path().to_path_buf(),
    });
    let events = drain(&rx, 300);
    handle.join();
    let Some(Event::Finished(summary)) = events.last() else {
        panic!("{:?}", events.last())
    };
    assert_eq!(
        summary.ekld_sampling,
        Some(invlab_core::config::EkldSampling::Fixed)
    );
    let used = summary
        .ekld_design_used
        .expect("the design used is reported");
    let exactly = |n| invlab_core::records::Spread {
        min: n,
        median: n,
        max: n,
    };
    assert_eq!(used.images, exactly(3));
    assert_eq!(used.samples_per_image, exactly(5));
    let report = last_invariance(&events).expect("a final eKLD report");
    assert_eq!(report.sampling.images, vec![3; 49]);
    assert_eq!(report.sampling.samples_per_image, vec![5; 49]);
    assert!(report.ekld.iter().all(|e| e.is_finite() && *e >= 0.0));
    // A CPU run times its transforms in the run: a positive part of the whole.
    let transform = report
        .transform_seconds
        .expect("a CPU run times its transforms");
    assert!(
        transform > 0.0 && transform < report.seconds,
        "transform {transform} s of {} s",
        report.seconds
    );
}

/// The headline numbers against what they are computed from, with the boundaries written out
/// here rather than taken from the code: each class's accuracy is a whole count of its own
/// test images; overall accuracy weighs classes by test size and balanced accuracy weighs them
/// equally; the groups split classes by *training* size (many > 100, medium 20-100, few < 20);
/// the summary's few/many eKLD ratio divides the group means of the final per-class eKLD.
fn check_headline_numbers(
    dir: &std::path::Path,
    last: &invlab_core::records::EpochMetrics,
    summary: &Summary,
) {
    let info = RunDir::open(dir).unwrap().load().unwrap().info.unwrap();
    let (train, test) = (&info.train_sizes, &info.test_sizes);
    let acc = &last.per_class_accuracy;
    assert_eq!((acc.len(), train.len(), test.len()), (49, 49, 49));
    let mut correct = 0.0;
    for c in 0..49 {
        let hits = acc[c] * test[c] as f64;
        assert!((hits - hits.round()).abs() < 1e-6, "class {c}: {hits} hits");
        correct += hits.round();
    }
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let total: usize = test.iter().sum();
    assert!(close(last.test_accuracy, correct / total as f64));
    assert!(close(
        last.balanced_accuracy,
        acc.iter().sum::<f64>() / 49.0
    ));
    assert!(close(summary.balanced_accuracy, last.balanced_accuracy));
    let mean_where = |values: &[f64], keep: &dyn Fn(usize) -> bool| {
        let chosen: Vec<f64> = (0..49)
            .filter(|&c| keep(train[c]))
            .map(|c| values[c])
            .collect();
        (!chosen.is_empty()).then(|| chosen.iter().sum::<f64>() / chosen.len() as f64)
    };
    let many = |n: usize| n > 100;
    let medium = |n: usize| (20..=100).contains(&n);
    let few = |n: usize| n < 20;
    let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => close(a, b),
        (a, b) => a.is_none() && b.is_none(),
    };
    // This tiny run has all three groups (sizes 120, 60 ... 20, then under 20).
    for (group, keep) in [
        (last.groups.many, &many as &dyn Fn(usize) -> bool),
        (last.groups.medium, &medium),
        (last.groups.few, &few),
    ] {
        assert!(group.is_some());
        assert!(same(group, mean_where(acc, keep)));
    }
    assert!(same(summary.few_shot_accuracy, last.groups.few));
    let ekld: Vec<f64> = summary.classes.iter().map(|c| c.ekld.unwrap()).collect();
    let order: Vec<usize> = summary.classes.iter().map(|c| c.train_size).collect();
    assert_eq!(&order, train, "classes in label order");
    assert!(same(summary.ekld_by_group.many, mean_where(&ekld, &many)));
    assert!(same(summary.ekld_by_group.few, mean_where(&ekld, &few)));
    let ratio = mean_where(&ekld, &few).unwrap() / mean_where(&ekld, &many).unwrap();
    let table = invlab_report::few_many_ratio(summary);
    assert!(
        table.is_some_and(|r| (r - ratio).abs() < 1e-9 * ratio.abs().max(1.0)),
        "{table:?} vs {ratio}"
    );
}
