//! `scripts/gpu-check/summarize.py`, the GPU check's summary, on fixture run folders: the epoch
//! ratio is taken from the right epochs of the right runs, and the determinism and resume
//! verdicts follow the metrics (ignoring only timings).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A run folder: `run.json`, `summary.json` and one metrics line per epoch time.
fn run(work: &Path, name: &str, epoch_seconds: &[f64], accuracy: f64) {
    let dir = work.join("runs").join(name);
    write(
        &dir.join("run.json"),
        &json!({"device": "cpu", "libtorch_version": "2.11.0", "train_sizes": [600, 200], "resumed_at": null})
            .to_string(),
    );
    write(
        &dir.join("summary.json"),
        &json!({"wall_seconds": 9.0, "first_batch_seconds": 0.5, "balanced_accuracy": accuracy})
            .to_string(),
    );
    let lines: String = epoch_seconds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"epoch": i + 1, "train_seconds": s, "eval_seconds": 0.1 * s, "test_accuracy": accuracy + i as f64})
                .to_string()
                + "\n"
        })
        .collect();
    write(&dir.join("metrics.jsonl"), &lines);
}

fn summarize(work: &Path, out: &Path) -> Option<Value> {
    std::fs::create_dir_all(out).unwrap();
    let build = work.join("BUILD.json");
    write(
        &build,
        r#"{"invlab_commit": "abc", "torch": "2.11.0", "tch": "0.24.0"}"#,
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gpu-check/summarize.py");
    let status = Command::new("python3")
        .arg(script)
        .args([
            work,
            out,
            Path::new("cpu"),
            Path::new("cpu"),
            &build,
            Path::new("12"),
        ])
        .status()
        .ok()?;
    assert!(status.success());
    Some(serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap())
}

#[test]
fn the_summary_takes_its_ratios_and_verdicts_from_the_right_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    // invlab's epochs after the first: 2.0 and 4.0 (median 3.0); the first (9.0) is start-up.
    run(&work, "default", &[9.0, 2.0, 4.0], 0.5);
    // A decoy with other times: the summary must read the run named "default".
    run(&work, "auto", &[1.0, 1.0, 1.0], 0.1);
    write(
        &work.join("steps/ref-default-tensor.json"),
        r#"{"epoch_seconds": [20.0, 6.0, 6.0, 9.0], "torch": "2.11.0", "loader": "tensor", "arch": "small-cnn-invlab-layout"}"#,
    );
    // Deterministic twice: equal except timings; the resumed run equal too.
    run(&work, "det-a", &[3.0, 2.0], 0.25);
    run(&work, "det-b", &[5.0, 1.0], 0.25);
    run(&work, "det-stopped", &[4.0, 4.0], 0.25);
    write(&work.join("steps/det-stopped-exit.txt"), "75\n");
    let Some(s) = summarize(&work, &tmp.path().join("out")) else {
        invlab_core::fixtures::skip(module_path!(), "no python3");
        return;
    };
    let inv = &s["default"]["invlab"];
    assert_eq!(inv["epoch_seconds"], 3.0);
    assert_eq!(inv["images"], 800);
    let tensor = &s["default"]["references"]["tensor"];
    assert_eq!(
        tensor["epoch_seconds"], 6.0,
        "the median after the first epoch"
    );
    assert_eq!(tensor["ratio_reference_over_invlab"], 2.0);
    assert_eq!(
        s["default"]["references"]["dataloader"]["status"],
        "skipped"
    );
    let det = &s["resnet32"]["determinism"];
    assert_eq!(det["two_deterministic_runs_identical"], true);
    assert_eq!(det["resumed_run_equals_unbroken_run"], true);
    assert_eq!(det["stop_exit_code"], "75");
    assert_eq!(det["status"], "ok");
    let md = std::fs::read_to_string(tmp.path().join("out/summary.md")).unwrap();
    assert!(md.contains("**2.00x**"), "{md}");

    // One metric differs in the second deterministic run: not identical, the check fails.
    run(&work, "det-b", &[5.0, 1.0], 0.2500001);
    let s = summarize(&work, &tmp.path().join("out2")).unwrap();
    let det = &s["resnet32"]["determinism"];
    assert_eq!(det["two_deterministic_runs_identical"], false);
    assert_eq!(det["status"], "failed");
    // A resumed run that lost an epoch is not equal to the unbroken one.
    run(&work, "det-b", &[5.0, 1.0], 0.25);
    run(&work, "det-stopped", &[4.0], 0.25);
    let s = summarize(&work, &tmp.path().join("out3")).unwrap();
    let det = &s["resnet32"]["determinism"];
    assert_eq!(det["two_deterministic_runs_identical"], true);
    assert_eq!(det["resumed_run_equals_unbroken_run"], false);
    assert_eq!(det["status"], "failed");
}
