//! The `invlab` binary as scripts use it: batch runs, exit codes, error messages.
#![allow(unsafe_code)] // kill(2) through libc, to signal the child processes under test.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn invlab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_invlab"));
    c.env_remove("INVLAB_INDEX");
    c
}

#[test]
fn batch_run_of_a_tiny_config_writes_its_directory_and_prints_it() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::write_config(tmp.path(), &common::tiny_config("cli"));
    let out = invlab()
        .args(["--batch"])
        .arg(&config)
        .arg("--out")
        .arg(tmp.path().join("runs"))
        .args(["--set", "train.epochs=1", "--stream"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("epoch 1/1"), "{stderr}");
    assert!(stderr.contains("finished"), "{stderr}");
    // What the run cost, timed from the process's start by the binary.
    assert!(stderr.contains("first batch after "), "{stderr}");
    assert!(stderr.contains(" MiB"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let metrics: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(metrics["epoch"], 1);
    let dir = std::path::PathBuf::from(lines.next().unwrap());
    assert!(dir.join("summary.json").is_file());
    assert!(std::fs::read_to_string(dir.join("config.toml"))
        .unwrap()
        .contains("epochs = 1"));
    for figure in ["ekld_vs_size", "curves"] {
        for ext in ["svg", "png"] {
            assert!(
                dir.join(format!("{figure}.{ext}")).is_file(),
                "{figure}.{ext}"
            );
        }
    }

    // `report --out DIR` writes into DIR (created), PNGs included.
    let cmp = tmp.path().join("cmp");
    let out = invlab()
        .arg("report")
        .arg(&dir)
        .arg(&dir)
        .arg("--out")
        .arg(&cmp)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("| cli | "));
    for name in [
        "report.md",
        "comparison.csv",
        "ekld_vs_size.svg",
        "ekld_vs_size.png",
        "curves.svg",
        "curves.png",
    ] {
        assert!(cmp.join(name).is_file(), "{name}");
    }
    let png = std::fs::read(cmp.join("ekld_vs_size.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let csv = std::fs::read_to_string(cmp.join("comparison.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.starts_with("run,dir,balanced_accuracy,accuracy,"),
        "{csv}"
    );
    // What produced each run, so scripts read the report, not run directories.
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",seed,transform,ekld_sampling,invlab_commit"),
        "{header}"
    );
    let row = csv.lines().nth(1).unwrap();
    let commit = run_json(&dir)["invlab_commit"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(row.ends_with(&format!(",3,rot,adaptive,{commit}")), "{row}");
    let md = std::fs::read_to_string(cmp.join("report.md")).unwrap();
    assert!(
        md.contains("![eKLD against class size](ekld_vs_size.png)"),
        "{md}"
    );
    assert!(!tmp.path().join("cmp.md").exists());
    // One seed given twice: nothing to aggregate over seeds, so no series statistics in the
    // report and nothing to pair; series.csv still carries the series' figures (scripts read
    // it for one-seed rows too), with the sd and interval columns empty.
    assert!(!md.contains("## Over seeds"), "{md}");
    assert!(!cmp.join("paired.csv").exists());
    let series = std::fs::read_to_string(cmp.join("series.csv")).unwrap();
    let balanced = series
        .lines()
        .find(|l| l.contains(",balanced_accuracy,"))
        .unwrap_or_else(|| panic!("{series}"));
    assert!(
        balanced.starts_with("\"cli (2 runs, 1 seed)\",1,balanced_accuracy,")
            && balanced.ends_with(",,,"),
        "{series}"
    );
    // A baseline that is none of the series: exit 2, naming it and the series there are.
    let out = invlab()
        .arg("report")
        .arg(&dir)
        .args(["--baseline", "nope"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--baseline \"nope\"") && stderr.contains("cli"),
        "{stderr}"
    );
}

/// A Python that can import TensorBoard's reader: `$INVLAB_TEST_PYTHON`, the project's venv
/// (where `.ci/run` installs `tensorboard`), or `python3`.
fn python_with_tensorboard() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let candidates = [
        std::env::var_os("INVLAB_TEST_PYTHON").map(PathBuf::from),
        Some(venv),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|python| {
        Command::new(python)
            .args([
                "-c",
                "import tensorboard.backend.event_processing.event_accumulator",
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// What TensorBoard's own reader (`EventAccumulator`, the PyPI `tensorboard` package) finds in
/// a run directory, as JSON.
const READ_EVENTS: &str = r#"
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0})
acc.Reload()
tags = acc.Tags()
content = acc.PluginTagToContent("hparams")
start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"])
def value(v):
    kind = v.WhichOneof("kind")
    return getattr(v, kind) if kind else None
print(json.dumps({
    "scalars": sorted(tags["scalars"]),
    "images": sorted(tags["images"]),
    "balanced": [[e.step, e.value] for e in acc.Scalars("accuracy/balanced")],
    "ekld_few": [[e.step, e.value] for e in acc.Scalars("ekld/few")],
    "hparams": {k: value(v) for k, v in start.session_start_info.hparams.items()},
    "end_status": end.session_end_info.status,
    "figure": [[i.width, i.height] for i in acc.Images("figures/ekld_vs_size")],
}))
"#;

/// A finished batch run opens in TensorBoard: its scalars (headline and per class), the
/// resolved config as hparams, a finished session, and the figures as images, read back by
/// TensorBoard's reader and checked against the run's own files.
#[test]
fn tensorboard_reads_a_finished_runs_event_file() {
    let Some(python) = python_with_tensorboard() else {
        invlab_core::fixtures::skip(
            "tensorboard_reads_a_finished_runs_event_file",
            "no Python with the tensorboard package (.ci/run installs it into .venv)",
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = common::write_config(tmp.path(), &common::tiny_config("tb"));
    let out = invlab()
        .arg("--batch")
        .arg(&config)
        .arg("--out")
        .arg(tmp.path().join("runs"))
        .args(["--set", "train.epochs=2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(dir.join(invlab_core::tensorboard::FILE).is_file());
    let read = Command::new(&python)
        .args(["-c", READ_EVENTS])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();

    let record = invlab_core::rundir::RunDir::open(&dir)
        .unwrap()
        .load()
        .unwrap();
    let info = record.info.as_ref().unwrap();
    // Every epoch's balanced accuracy, as metrics.jsonl has it (f32 in the event file).
    let balanced = got["balanced"].as_array().unwrap();
    assert_eq!(balanced.len(), record.epochs.len());
    for (point, epoch) in balanced.iter().zip(&record.epochs) {
        assert_eq!(point[0].as_u64().unwrap() as usize, epoch.epoch);
        assert!((point[1].as_f64().unwrap() - epoch.balanced_accuracy).abs() < 1e-6);
    }
    // The final eKLD's few-shot group mean, as the summary has it.
    let summary = record.summary.as_ref().unwrap();
    let few = got["ekld_few"].as_array().unwrap().last().unwrap()[1]
        .as_f64()
        .unwrap();
    assert!((few - summary.ekld_by_group.few.unwrap()).abs() < 1e-5 * few.max(1.0));
    // Per class: one accuracy and one eKLD tag per class.
    let scalars: Vec<&str> = got["scalars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for kind in ["per_class/accuracy/", "per_class/ekld/"] {
        let n = scalars.iter().filter(|t| t.starts_with(kind)).count();
        assert_eq!(n, info.num_classes, "{kind}: {scalars:?}");
    }
    for tag in [
        "loss/train",
        "accuracy/test",
        "accuracy/few",
        "lr",
        "ekld/spearman_size_ekld",
    ] {
        assert!(scalars.contains(&tag), "{tag}: {scalars:?}");
    }
    // The resolved config as hparams, and a finished session.
    assert_eq!(got["hparams"]["data.dataset"], "glyphs");
    assert_eq!(got["hparams"]["train.epochs"], 2.0);
    assert_eq!(got["hparams"]["seed"], record.config.seed as f64);
    assert_eq!(got["end_status"], 1);
    // The figure as an image of the PNG's size.
    let png = std::fs::read(dir.join("ekld_vs_size.png")).unwrap();
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as u64;
    assert_eq!(got["figure"][0][0].as_u64(), Some(size(16)));
    assert_eq!(got["figure"][0][1].as_u64(), Some(size(20)));
}

#[test]
fn config_errors_name_the_file_and_field_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("[data]\nimbalanse = 10\n", vec![], "imbalanse"),
        ("[data]\ntransform = \"spin\"\n", vec![], "spin"),
        ("[data]\nimbalance = -3\n", vec![], "data.imbalance"),
        ("", vec!["--set", "train.epochs=0"], "train.epochs"),
        ("", vec!["--set", "model.arch=resnet99"], "resnet99"),
        ("", vec!["--set", "nonsense"], "KEY=VALUE"),
    ];
    for (i, (text, extra, needle)) in cases.iter().enumerate() {
        let path = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = invlab()
            .arg("--batch")
            .arg(&path)
            .args(extra)
            .arg("--out")
            .arg(tmp.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {stderr}");
        assert!(stderr.contains(needle), "case {i}: {stderr}");
        if extra.is_empty() {
            assert!(
                stderr.contains(&format!("bad{i}.toml")),
                "case {i} names the file: {stderr}"
            );
        }
    }
    let out = invlab()
        .args(["--batch", "/no/such/config.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/config.toml"));
}

#[test]
fn sweeps_list_and_select_by_index() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::write_config(tmp.path(), &common::tiny_config("sw"));
    let out = invlab()
        .arg("--batch")
        .arg(&config)
        .args([
            "--sweep",
            "seed=1,2",
            "--sweep",
            "method.rule=none,drs",
            "--list",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stdout
        .lines()
        .nth(3)
        .unwrap()
        .contains("name=\"sw-seed2-ruledrs\""));
    let out = invlab()
        .arg("--batch")
        .arg(&config)
        .args(["--sweep", "seed=1,2", "--index", "7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of range"));
}

#[test]
fn openmp_threads_wait_passively_unless_the_caller_chooses() {
    // libgomp reads OMP_WAIT_POLICY in its constructor, before main; the binary's default
    // (PASSIVE) must reach it. OMP_DISPLAY_ENV=VERBOSE makes libgomp print what it uses: the
    // spin count is 0 only under PASSIVE (libgomp displays an unset policy as PASSIVE too).
    let show = |policy: Option<&str>| {
        let mut cmd = invlab();
        cmd.arg("--version").env("OMP_DISPLAY_ENV", "VERBOSE");
        match policy {
            Some(p) => cmd.env("OMP_WAIT_POLICY", p),
            None => cmd.env_remove("OMP_WAIT_POLICY"),
        };
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let default = show(None);
    if !default.contains("GOMP_SPINCOUNT") {
        invlab_core::fixtures::skip(
            "openmp_threads_wait_passively_unless_the_caller_chooses",
            "the OpenMP runtime does not display its settings",
        );
        return;
    }
    assert!(default.contains("GOMP_SPINCOUNT = '0'"), "{default}");
    let chosen = show(Some("ACTIVE"));
    assert!(chosen.contains("OMP_WAIT_POLICY = 'ACTIVE'"), "{chosen}");
    assert!(!chosen.contains("GOMP_SPINCOUNT = '0'"), "{chosen}");
}

#[test]
fn version_names_the_build_commit() {
    let out = invlab().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // "invlab 0.1.0 (0123456789ab)", "(…+dirty)" or "(unknown)" outside a checkout.
    let inside = text.split(['(', ')']).nth(1).unwrap_or_default();
    let hash = inside.trim_end_matches("+dirty");
    assert!(
        text.starts_with(&format!("invlab {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(
        inside == "unknown" || (hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit())),
        "{text}"
    );
}

#[test]
fn help_documents_batch_mode() {
    let out = invlab().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--batch",
        "--set",
        "--sweep",
        "--index",
        "--resume",
        "summary.json",
        "metrics.jsonl",
        "EXIT STATUS",
        "SIGTERM",
        "75",
        "--continue",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}

/// Starts `invlab` with stdout and stderr going to files in `dir` (a pipe nobody reads could
/// fill and block the process).
fn spawn_logged(cmd: &mut Command, dir: &Path, tag: &str) -> std::process::Child {
    let out = std::fs::File::create(dir.join(format!("{tag}.out"))).unwrap();
    let err = std::fs::File::create(dir.join(format!("{tag}.err"))).unwrap();
    cmd.stdout(out).stderr(err).spawn().unwrap()
}

fn log(dir: &Path, tag: &str) -> String {
    let out = std::fs::read_to_string(dir.join(format!("{tag}.out"))).unwrap_or_default();
    let err = std::fs::read_to_string(dir.join(format!("{tag}.err"))).unwrap_or_default();
    format!("stdout:\n{out}\nstderr:\n{err}")
}

fn state(run: &Path) -> serde_json::Value {
    std::fs::read_to_string(run.join("state.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Waits until the run in `run` has checkpointed at least one epoch.
fn wait_for_checkpoint(child: &mut std::process::Child, run: &Path, logs: &Path, tag: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while state(run)["checkpoint_epoch"].as_u64().unwrap_or(0) < 1 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("exited ({status}) before a checkpoint; {}", log(logs, tag));
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint; {}",
            log(logs, tag)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn send(child: &std::process::Child, signal: i32) {
    // SAFETY: kill(2) on the pid of a child this test owns and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

/// Waits for the child to exit; returns its exit code and how long the exit took.
fn wait_exit(child: &mut std::process::Child, secs: u64) -> (Option<i32>, Duration) {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), t0.elapsed());
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("still running {secs} s after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal_config(tmp: &Path, name: &str) -> PathBuf {
    let mut config = common::tiny_config(name);
    config.train.epochs = 10;
    config.eval.ekld_every = 0;
    common::write_config(tmp, &config)
}

/// A plain `--batch` run of `signal_config(name)` into `<tmp>/runs`, logged under `tag`, once
/// it has checkpointed an epoch: the run directory and the running child.
fn batch_run_past_a_checkpoint(
    tmp: &Path,
    name: &str,
    tag: &str,
) -> (PathBuf, std::process::Child) {
    let config = signal_config(tmp, name);
    let runs = tmp.join("runs");
    let run = runs.join(name);
    let mut child = spawn_logged(
        invlab().arg("--batch").arg(&config).arg("--out").arg(&runs),
        tmp,
        tag,
    );
    wait_for_checkpoint(&mut child, &run, tmp, tag);
    (run, child)
}

#[test]
fn sigterm_stops_a_batch_run_resumably_and_resume_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, mut child) = batch_run_past_a_checkpoint(tmp.path(), "sig", "first");
    send(&child, libc::SIGTERM);
    let (code, took) = wait_exit(&mut child, 60);
    let first = log(tmp.path(), "first");
    assert_eq!(code, Some(75), "{first}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(first.contains("SIGTERM: stopping"), "{first}");
    let s = state(&run);
    assert_eq!(s["status"], "stopped", "{s}");
    let done = s["checkpoint_epoch"].as_u64().unwrap();
    assert!((1..10).contains(&done), "{s}");
    assert!(run.join("checkpoint.ot").is_file() && run.join("optimizer.ot").is_file());
    assert!(!run.join("summary.json").exists());

    let out = invlab()
        .arg("--batch")
        .arg("--resume")
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming after epoch {done}")),
        "{stderr}"
    );
    assert_eq!(state(&run)["status"], "finished");
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 10);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["classes"].as_array().unwrap().len(), 49);
    assert!(summary["balanced_accuracy"].is_number());
    // Timing over both attempts, not only the one that finished.
    let (last, all) = (
        summary["wall_seconds"].as_f64().unwrap(),
        summary["wall_seconds_all_attempts"].as_f64().unwrap(),
    );
    assert!(all > last && last > 0.0, "{summary}");
}

/// At a time limit Slurm sends the job step SIGTERM twice, 10-40 ms apart: one clean stop.
#[test]
fn slurms_double_sigterm_is_one_clean_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, mut child) = batch_run_past_a_checkpoint(tmp.path(), "twice", "twice");
    send(&child, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(25));
    send(&child, libc::SIGTERM);
    let (code, _) = wait_exit(&mut child, 60);
    let logged = log(tmp.path(), "twice");
    assert_eq!(code, Some(75), "{logged}");
    assert_eq!(state(&run)["status"], "stopped", "{logged}");
    assert!(logged.contains("stopped with"), "{logged}");
}

/// Metrics without their timings, for comparing runs.
fn metrics_without_timings(run: &Path) -> Vec<serde_json::Value> {
    fn strip(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => m
                .into_iter()
                .filter(|(k, _)| !k.contains("seconds"))
                .map(|(k, v)| (k, strip(v)))
                .collect(),
            serde_json::Value::Array(a) => a.into_iter().map(strip).collect(),
            other => other,
        }
    }
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| strip(serde_json::from_str(l).unwrap()))
        .collect()
}

fn run_json(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap()
}

/// `--jobs 2` runs two sweep points at once, one thread each, and each point's metrics equal
/// the same point run alone with one thread; a point that fails at run time ends alone.
#[test]
fn a_parallel_sweep_runs_together_and_matches_runs_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::write_config(tmp.path(), &common::tiny_config("par"));
    let together = tmp.path().join("together");
    let out = invlab()
        .env("INVLAB_DATA_DIR", tmp.path().join("data"))
        .arg("--batch")
        .arg(&config)
        .args(["--sweep", "seed=0,1", "--sweep", "data.dataset=k49,glyphs"])
        .args(["--jobs", "2", "--out"])
        .arg(&together)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The k49 points fail (no files here); the others finish.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("4 runs, 2 at a time (cpu, 1 thread; cpu, 1 thread)"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("no k49 files found").count(), 2, "{stderr}");
    assert_eq!(stderr.matches("finished in").count(), 2, "{stderr}");
    // Two at a time: the second glyphs run started before the first one finished.
    let started = stderr.find("[par-seed1-datasetglyphs] directory").unwrap();
    let first_done = stderr.find("[par-seed0-datasetglyphs] finished").unwrap();
    assert!(started < first_done, "{stderr}");
    for seed in [0, 1] {
        let name = format!("par-seed{seed}-datasetglyphs");
        let alone = tmp.path().join(format!("alone{seed}"));
        let out = invlab()
            .arg("--batch")
            .arg(&config)
            .args([
                "--set",
                &format!("seed={seed}"),
                "--set",
                &format!("name=\"{name}\""),
                "--threads",
                "1",
                "--out",
            ])
            .arg(&alone)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (a, b) = (alone.join(&name), together.join(&name));
        assert_eq!(run_json(&a)["cpu_threads"], 1);
        assert_eq!(run_json(&b)["cpu_threads"], 1);
        let (ma, mb) = (metrics_without_timings(&a), metrics_without_timings(&b));
        assert_eq!(ma.len(), 2);
        assert_eq!(ma, mb, "seed {seed}: alone and beside another run differ");
    }
}

/// Two processes given the same sweep with `--continue` share it: each point runs once, in
/// one directory, and both exit 0.
#[test]
fn two_processes_share_one_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::write_config(tmp.path(), &common::tiny_config("shared"));
    let runs = tmp.path().join("runs");
    let worker = |tag: &str| {
        spawn_logged(
            invlab()
                .arg("--batch")
                .arg(&config)
                .args([
                    "--sweep",
                    "seed=0,1,2,3",
                    "--continue",
                    "--threads",
                    "1",
                    "--out",
                ])
                .arg(&runs),
            tmp.path(),
            tag,
        )
    };
    let mut a = worker("a");
    let mut b = worker("b");
    let (code_a, _) = wait_exit(&mut a, 300);
    let (code_b, _) = wait_exit(&mut b, 300);
    let logs = format!("{}\n{}", log(tmp.path(), "a"), log(tmp.path(), "b"));
    assert_eq!((code_a, code_b), (Some(0), Some(0)), "{logs}");
    let mut dirs: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(
        dirs,
        [
            "shared-seed0",
            "shared-seed1",
            "shared-seed2",
            "shared-seed3"
        ],
        "{logs}"
    );
    for d in &dirs {
        assert_eq!(state(&runs.join(d))["status"], "finished", "{d}: {logs}");
        assert_eq!(metrics_without_timings(&runs.join(d)).len(), 2, "{d}");
    }
    // Every point was trained by exactly one of them.
    assert_eq!(logs.matches("] finished in").count(), 4, "{logs}");
}

#[test]
fn a_requeued_array_task_continues_its_own_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let config = signal_config(tmp.path(), "arr");
    let runs = tmp.path().join("runs");
    let run = runs.join("arr-seed4");
    let task = || {
        let mut c = invlab();
        c.arg("--batch")
            .arg(&config)
            .args(["--sweep", "seed=3,4", "--index", "1", "--out"])
            .arg(&runs);
        c
    };
    // Slurm's `--signal=USR1@...`: stopped, exit 75.
    let mut child = spawn_logged(&mut task(), tmp.path(), "first");
    wait_for_checkpoint(&mut child, &run, tmp.path(), "first");
    send(&child, libc::SIGUSR1);
    let (code, _) = wait_exit(&mut child, 60);
    assert_eq!(code, Some(75), "{}", log(tmp.path(), "first"));
    assert_eq!(state(&run)["status"], "stopped");

    // The requeued task resumes it; a second signal 2 s or more after the first, while it
    // stops, ends it at once (128 + SIGTERM), with the state "running" as after a kill, or
    // already "stopped" when the graceful stop got that far. The stop usually finishes (exit
    // 75) before the second signal arrives. Each leaves a directory the next task continues.
    let mut child = spawn_logged(&mut task(), tmp.path(), "second");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !log(tmp.path(), "second").contains("epoch") {
        assert!(Instant::now() < deadline, "{}", log(tmp.path(), "second"));
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = log(tmp.path(), "second");
    assert!(second.contains("continuing the unfinished run"), "{second}");
    send(&child, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(2100));
    if child.try_wait().unwrap().is_none() {
        send(&child, libc::SIGTERM);
    }
    let (code, _) = wait_exit(&mut child, 60);
    let status = state(&run)["status"].clone();
    match code {
        Some(c) if c == 128 + libc::SIGTERM => {
            assert!(status == "running" || status == "stopped", "{status}")
        }
        Some(75) => assert_eq!(status, "stopped"),
        other => panic!("exit {other:?}: {}", log(tmp.path(), "second")),
    }

    // The next try finishes it in the same directory; one more finds it done.
    let out = task().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        run.display().to_string()
    );
    assert_eq!(state(&run)["status"], "finished");
    let out = task().output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already finished"));
    let dirs: Vec<_> = std::fs::read_dir(&runs)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(dirs, vec!["arr-seed4"]);
}

#[test]
fn a_git_run_logs_its_generator_phase_then_reuses_the_cached_generator() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::write_config(tmp.path(), &common::tiny_config("gitcli"));
    let cache = format!("git.cache_dir=\"{}\"", tmp.path().join("gen").display());
    let run = || {
        let mut cmd = invlab();
        cmd.arg("--batch")
            .arg(&config)
            .arg("--out")
            .arg(tmp.path().join("runs"));
        // A tiny generator: six iterations, a checkpoint (and a progress line) every three;
        // two epochs with E1 = 0, so the generator's images enter the second epoch's batches.
        let run_sets = [
            "train.epochs=2",
            "train.decay_epochs=[0, 2]",
            "method.augment=git",
            "git.iterations=6",
            "git.sample_every=3",
            &cache,
        ];
        for s in common::TINY_GENERATOR_SETS.iter().chain(&run_sets) {
            cmd.args(["--set", s]);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    let first = run();
    for at in ["iteration 3/6  dis ", "iteration 6/6  dis "] {
        assert!(
            first.contains(&format!("[gitcli] GIT generator {at}")),
            "{first}"
        );
    }
    assert!(first.contains("ms/it"), "{first}");
    let second = run();
    assert!(
        second.contains("(6 iterations) reused from the cache"),
        "{second}"
    );
    assert!(!second.contains("iteration 3/6"), "{second}");
}

/// Every file of a directory, by name, with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// `--resume` of a finished run says so and changes nothing: the same `--continue` command
/// still finds it finished.
#[test]
fn resuming_a_finished_run_leaves_it_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = common::tiny_config("fin");
    config.train.epochs = 1;
    let config = common::write_config(tmp.path(), &config);
    let runs = tmp.path().join("runs");
    let run = runs.join("fin");
    let out = invlab()
        .arg("--batch")
        .arg(&config)
        .arg("--out")
        .arg(&runs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = snapshot(&run);
    for _ in 0..2 {
        let out = invlab()
            .args(["--batch", "--resume"])
            .arg(&run)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("already finished; nothing to resume"),
            "{stderr}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            run.display().to_string()
        );
    }
    assert!(snapshot(&run) == before, "the finished run's files changed");
    let out = invlab()
        .arg("--batch")
        .arg(&config)
        .args(["--continue", "--out"])
        .arg(&runs)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already finished in"));
}

/// `--resume DIR` exits 1 with `why` in its message and leaves every file of the run as it was.
fn resume_is_refused_untouched(run: &Path, why: &str) {
    let before = snapshot(run);
    let out = invlab()
        .args(["--batch", "--resume"])
        .arg(run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(why), "{stderr}");
    assert!(snapshot(run) == before, "a refused resume changed files");
}

/// A lost or torn `state.json` never throws checkpointed epochs away: the epoch comes from
/// `checkpoint.json`; without that either, the resume is refused and nothing is touched.
#[test]
fn a_torn_state_file_resumes_from_the_checkpoint_or_is_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, mut child) = batch_run_past_a_checkpoint(tmp.path(), "torn", "torn");
    send(&child, libc::SIGTERM);
    let (code, _) = wait_exit(&mut child, 60);
    assert_eq!(code, Some(75), "{}", log(tmp.path(), "torn"));
    let done = state(&run)["checkpoint_epoch"].as_u64().unwrap();
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoint.json")).unwrap())
            .unwrap();
    assert_eq!(recorded["epoch"].as_u64(), Some(done));

    // Without optimizer.ot the momentum is lost: refused, untouched.
    let momentum = std::fs::read(run.join("optimizer.ot")).unwrap();
    std::fs::remove_file(run.join("optimizer.ot")).unwrap();
    resume_is_refused_untouched(&run, "momentum is lost");
    std::fs::write(run.join("optimizer.ot"), momentum).unwrap();

    // Without checkpoint.json too: refused, every file as it was.
    let text = std::fs::read_to_string(run.join("state.json")).unwrap();
    std::fs::write(run.join("state.json"), &text[..text.len() / 2]).unwrap();
    let saved = std::fs::read(run.join("checkpoint.json")).unwrap();
    std::fs::remove_file(run.join("checkpoint.json")).unwrap();
    resume_is_refused_untouched(&run, "nothing records which epoch");

    // With it: the resume continues after the checkpointed epoch and finishes.
    std::fs::write(run.join("checkpoint.json"), saved).unwrap();
    let out = invlab()
        .args(["--batch", "--resume"])
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming after epoch {done}")),
        "{stderr}"
    );
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 10);
}

/// `--stream | head -c1`: the reader goes away after one byte; the sweep still runs every point
/// to its end, says once that stdout is closed, and exits 0.
#[test]
fn a_closed_stdout_pipe_does_not_stop_the_runs() {
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = common::tiny_config("pipe");
    config.train.epochs = 2;
    let config = common::write_config(tmp.path(), &config);
    let runs = tmp.path().join("runs");
    let mut child = invlab()
        .arg("--batch")
        .arg(&config)
        .args(["--sweep", "seed=0,1", "--stream", "--out"])
        .arg(&runs)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    stdout.read_exact(&mut byte).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("stdout is closed").count(), 1, "{stderr}");
    for seed in [0, 1] {
        assert_eq!(
            state(&runs.join(format!("pipe-seed{seed}")))["status"],
            "finished",
            "{stderr}"
        );
    }
}

/// A size that would need more memory than the machine has fails as a run, at once, with the
/// estimate and the field to change, and leaves no run directory; it never aborts the process.
#[test]
fn a_config_too_big_for_memory_is_refused_before_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::write_config(tmp.path(), &common::tiny_config("huge"));
    let runs = tmp.path().join("runs");
    let started = Instant::now();
    let out = invlab()
        .arg("--batch")
        .arg(&config)
        .args([
            "--set",
            "data.profile=\"balanced\"",
            "--set",
            "data.max_per_class=1000000",
            "--set",
            "data.min_per_class=1",
            "--out",
        ])
        .arg(&runs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("this config needs at least 192.1 GB"),
        "{stderr}"
    );
    assert!(stderr.contains("lower data.max_per_class"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let dirs = std::fs::read_dir(&runs)
        .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
        .unwrap_or(0);
    assert_eq!(dirs, 0, "no run directory for a refused config");
}

/// Unmounts a test's tmpfs however the test ends.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// A tmpfs of `size` (e.g. "4600k") at `dir`, when this process may mount one (root);
    /// `None` otherwise (the test is then skipped).
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?
            .status
            .success();
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A disk that fills up mid-run: the run fails with a message naming the disk, no temp file
/// keeps it full, the previous checkpoint stays valid, and after freeing space `--resume`
/// finishes exactly as an unbroken run.
#[test]
fn a_full_disk_fails_the_run_cleanly_and_it_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = common::tiny_config("full");
    config.train.epochs = 3;
    config.train.checkpoint_every = 1;
    config.eval.ekld_every = 0;
    let config = common::write_config(tmp.path(), &config);
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "4600k") else {
        invlab_core::fixtures::skip(
            "a_full_disk_fails_the_run_cleanly_and_it_resumes_exactly",
            "cannot mount a tmpfs here (needs root)",
        );
        return;
    };
    let runs = disk.0.join("runs");
    let out = invlab()
        .arg("--batch")
        .arg(&config)
        .arg("--out")
        .arg(&runs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is full"), "{stderr}");
    assert!(!stderr.contains("terminate called"), "{stderr}");
    let run = runs.join("full");
    let leftovers: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoint.json")).unwrap())
            .unwrap();
    let kept = kept["epoch"].as_u64().unwrap();
    assert!((1..3).contains(&kept), "checkpoint at epoch {kept}");

    disk.resize("40m");
    let out = invlab()
        .args(["--batch", "--resume"])
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming after epoch {kept}")),
        "{stderr}"
    );

    let unbroken = tmp.path().join("unbroken");
    let out = invlab()
        .arg("--batch")
        .arg(&config)
        .arg("--out")
        .arg(&unbroken)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        metrics_without_timings(&run),
        metrics_without_timings(&unbroken.join("full")),
        "the resumed run differs from the unbroken one"
    );
}

/// `train.deterministic = true` is recorded in run.json; on the CPU it changes no number.
#[test]
fn deterministic_mode_is_recorded_and_changes_nothing_on_the_cpu() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = common::tiny_config("det");
    config.train.epochs = 1;
    let config = common::write_config(tmp.path(), &config);
    let run = |name: &str, extra: &[&str]| {
        let out = invlab()
            .arg("--batch")
            .arg(&config)
            .args(["--set", &format!("name=\"{name}\"")])
            .args(extra)
            .arg("--out")
            .arg(tmp.path().join("runs"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmp.path().join("runs").join(name)
    };
    let plain = run("plain", &[]);
    let det = run("det", &["--set", "train.deterministic=true"]);
    assert_eq!(run_json(&det)["deterministic"], true);
    assert_eq!(run_json(&plain)["deterministic"], false);
    assert!(std::fs::read_to_string(det.join("config.toml"))
        .unwrap()
        .contains("deterministic = true"));
    assert_eq!(
        metrics_without_timings(&plain),
        metrics_without_timings(&det)
    );
}

/// Every writer holds the run's lock: a plain `--batch` run too, so `--resume` of its directory
/// while it trains is refused (exit 1) and the directory's state is left as the writer keeps it.
#[test]
fn resuming_a_run_another_process_is_writing_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, mut child) = batch_run_past_a_checkpoint(tmp.path(), "busy", "busy");
    let out = invlab()
        .args(["--batch", "--resume"])
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another invlab process is running busy"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("pid {}", child.id())), "{stderr}");
    assert_ne!(state(&run)["status"], "failed");
    send(&child, libc::SIGTERM);
    let (code, _) = wait_exit(&mut child, 60);
    assert_eq!(code, Some(75), "{}", log(tmp.path(), "busy"));
    // Its writer gone, the same resume goes through.
    let out = invlab()
        .args(["--batch", "--resume"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A point whose process was killed (SIGKILL: no clean stop) is taken over by the next
/// `--continue`: the kernel released the dead holder's lock, so the point is resumed from its
/// last checkpoint, not skipped as "locked".
#[test]
fn a_killed_holders_point_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let config = signal_config(tmp.path(), "taken");
    let runs = tmp.path().join("runs");
    let run = runs.join("taken");
    let task = || {
        let mut c = invlab();
        c.arg("--batch")
            .arg(&config)
            .args(["--continue", "--out"])
            .arg(&runs);
        c
    };
    let mut child = spawn_logged(&mut task(), tmp.path(), "killed");
    wait_for_checkpoint(&mut child, &run, tmp.path(), "killed");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(state(&run)["status"], "running", "killed mid-run");
    let out = task().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("skipped"), "{stderr}");
    assert!(stderr.contains("continuing the unfinished run"), "{stderr}");
    assert_eq!(state(&run)["status"], "finished");
}

/// Shell completions load in bash and complete the subcommands; the man page is roff.
#[test]
fn completions_load_in_bash_and_the_man_page_renders() {
    let exe = env!("CARGO_BIN_EXE_invlab");
    let script = format!(
        "source <({exe} completions bash) && complete -p invlab && \
         COMP_WORDS=(invlab rep) COMP_CWORD=1 COMP_LINE='invlab rep' COMP_POINT=10 && \
         _invlab invlab rep invlab && printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("-F _invlab invlab"), "{text}");
    assert!(text.lines().any(|l| l == "report"), "{text}");
    for shell in ["zsh", "fish"] {
        let out = invlab().args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && out.stdout.len() > 500, "{shell}");
    }
    let man = invlab().arg("man").output().unwrap();
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(man.status.success());
    assert!(
        page.contains(".TH invlab 1") && page.contains("\\-\\-batch"),
        "{page:.300}"
    );
    // A closed pipe is no failure.
    let sh = format!("{exe} man | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}");
    let out = Command::new("bash").arg("-c").arg(&sh).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn as_f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn eval_rescores_a_checkpoint_as_the_run_scored_it_and_adds_corrections() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::write_config(tmp.path(), &common::tiny_config("ev"));
    let runs = tmp.path().join("runs");
    let out = invlab()
        .args(["--batch"])
        .arg(&config)
        .arg("--out")
        .arg(&runs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = runs.join("ev");
    let eval = |args: &[&str]| {
        let out = invlab().arg("eval").arg(&run).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = eval(&["--tau", "0", "--tau", "1", "--norm-tau", "0"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("| raw | "), "{stdout}");
    assert!(stdout.contains("logit-adjusted τ=1"), "{stdout}");
    let dir = run.join("eval-checkpoint");
    for file in [
        "eval.json",
        "per_class.csv",
        "confusion.csv",
        "confusion.svg",
        "confusion.png",
        "reliability.svg",
        "reliability.png",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let record = read_json(&dir.join("eval.json"));
    let summary = read_json(&run.join("summary.json"));
    let info = run_json(&run);
    // The same model on the same test set: the run's final accuracy, class by class.
    assert_eq!(record["checkpoint_epoch"], 2);
    let raw = &record["raw"];
    assert!(
        (raw["accuracy"].as_f64().unwrap() - summary["accuracy"].as_f64().unwrap()).abs() < 1e-9
    );
    let per_class_run: Vec<f64> = summary["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["accuracy"].as_f64().unwrap())
        .collect();
    assert_eq!(as_f64s(&raw["per_class_accuracy"]), per_class_run);
    // Every class has its skew-corrected interval, around its eKLD.
    for c in summary["classes"].as_array().unwrap() {
        let (e, ci) = (c["ekld"].as_f64().unwrap(), as_f64s(&c["ekld_ci95"]));
        assert!(ci[0] <= e && e <= ci[1] && ci[0] < ci[1], "{c}");
    }
    // eKLD with the run's own settings repeats the run's final estimate (same seeded draws).
    let ekld_eval = as_f64s(&record["invariance"]["ekld"]);
    let ekld_run: Vec<f64> = summary["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ekld"].as_f64().unwrap())
        .collect();
    assert_eq!(ekld_eval.len(), ekld_run.len());
    for (a, b) in ekld_eval.iter().zip(&ekld_run) {
        assert!((a - b).abs() <= 1e-4 * b.abs().max(1e-3), "{a} vs {b}");
    }
    // The prior is the training set's, not the (balanced) test set's.
    assert_eq!(record["train_sizes"], info["train_sizes"]);
    assert_ne!(record["train_sizes"], record["test_sizes"]);
    // tau = 0 is the raw model, for both corrections.
    let la = record["logit_adjusted"].as_array().unwrap();
    assert_eq!(la[0]["tau"], 0.0);
    assert_eq!(la[0]["scores"], *raw);
    // tau-normalisation at tau 0 is the head without its bias (Kang et al.'s classifier).
    let tn = &record["tau_normalized"][0];
    assert_eq!(tn["tau"], 0.0);
    assert!(tn["scores"]["accuracy"].as_f64().unwrap() > 0.0);
    // Same checkpoint, data and thread count: the run's logged accuracy, and said so.
    assert_eq!(record["matches_run"], true);
    // ERM trained on the long-tailed prior: no over-correction note.
    assert!(record["posthoc_note"].is_null());
    // The per-class table carries each correction's column.
    let csv = std::fs::read_to_string(dir.join("per_class.csv")).unwrap();
    assert!(csv.starts_with("class,name,train_size,test_size,accuracy,accuracy_la_tau0,accuracy_la_tau1,accuracy_taunorm0,ekld"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + ekld_run.len());

    // Another transform: eKLD under BG, in its own folder named after the override.
    let (code, _, stderr) = eval(&["--set", "eval.ekld_transform=bg", "--tau", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    let bg = read_json(&run.join("eval-ekld_transform-bg/eval.json"));
    assert_eq!(bg["invariance"]["transform"], "bg");
    assert_ne!(as_f64s(&bg["invariance"]["ekld"]), ekld_eval);
    assert_eq!(bg["raw"], *raw);

    // A quick evaluation never replaces one with eKLD.
    let (code, _, stderr) = eval(&["--no-ekld"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(run.join("eval-checkpoint-no-ekld/eval.json").is_file());
    assert!(read_json(&dir.join("eval.json"))["invariance"].is_object());
    // While another process writes a folder of that name, an evaluation waits its turn: it
    // refuses (exit 2, saying why) and leaves the folder as it is.
    let before = std::fs::read(run.join("eval-checkpoint-no-ekld/eval.json")).unwrap();
    let held = invlab_core::lock::RunLock::acquire(&run, "eval-checkpoint-no-ekld").unwrap();
    let (code, _, stderr) = eval(&["--no-ekld"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("another evaluation is writing it"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(run.join("eval-checkpoint-no-ekld/eval.json")).unwrap(),
        before
    );
    drop(held);
    let (code, _, stderr) = eval(&["--no-ekld"]);
    assert_eq!(code, Some(0), "{stderr}");
    // A tau that is not a finite number.
    let (code, _, stderr) = eval(&["--tau", "nan"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("finite"), "{stderr}");
    // config.toml edited after the run (outside eval): refused, naming the field.
    let config_path = run.join("config.toml");
    let original = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, original.replace("lr = 0.05", "lr = 0.01")).unwrap();
    let (code, _, stderr) = eval(&["--no-ekld"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("train.lr") && stderr.contains("run.json"),
        "{stderr}"
    );
    std::fs::write(&config_path, original).unwrap();
    // A corrupt checkpoint: exit 2, named, without libtorch's backtrace.
    let checkpoint = run.join("checkpoint.ot");
    let weights = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, &weights[..weights.len() / 2]).unwrap();
    let (code, _, stderr) = eval(&["--no-ekld"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("checkpoint.ot") && !stderr.contains("frame #"),
        "{stderr}"
    );
    std::fs::write(&checkpoint, &weights).unwrap();

    // A setting outside eval, an unknown eval key, a run without a checkpoint: exit 2, named.
    let (code, _, stderr) = eval(&["--set", "data.imbalance=10"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("data.imbalance=10") && stderr.contains("eval.*"),
        "{stderr}"
    );
    let (code, _, stderr) = eval(&["--set", "eval.nope=1", "--no-ekld"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
    std::fs::remove_file(run.join("checkpoint.ot")).unwrap();
    let (code, _, stderr) = eval(&["--no-ekld"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no checkpoint"), "{stderr}");
}
