//! The GPU check kit's probe, on this (GPU-less) machine: what `scripts/gpu-check/run.sh` relies on.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use invlab_formats::cifar::{parse_cifar, parse_names, CifarKind};

fn probe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gpu_check"))
}

/// The probe exited 0; otherwise the failure shows its stderr.
fn assert_succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn make_cifar_writes_cifar10s_binary_layout_with_classes_that_differ() {
    let tmp = tempfile::tempdir().unwrap();
    let out = probe()
        .args(["make-cifar"])
        .arg(tmp.path())
        .args(["--train-per-class", "10", "--test-per-class", "4"])
        .output()
        .unwrap();
    assert_succeeded(&out);
    let folder = tmp.path().join("cifar-10-batches-bin");
    let read = |name: &str| {
        let path = folder.join(name);
        parse_cifar(&std::fs::read(&path).unwrap(), CifarKind::Cifar10, &path).unwrap()
    };
    let mut counts = [0usize; 10];
    let mut sums = vec![vec![0f64; 3 * 32 * 32]; 10];
    for b in 1..=5 {
        let set = read(&format!("data_batch_{b}.bin"));
        assert_eq!(
            set.labels.len(),
            20,
            "a fifth of 10 images of each of 10 classes"
        );
        for (i, &label) in set.labels.iter().enumerate() {
            counts[label as usize] += 1;
            let image = &set.images[i * 3072..(i + 1) * 3072];
            for (s, &p) in sums[label as usize].iter_mut().zip(image) {
                *s += f64::from(p);
            }
        }
        // Images of one class are not copies of each other.
        let same_class: Vec<usize> = (0..20).filter(|&i| set.labels[i] == 0).collect();
        let (a, b) = (same_class[0], same_class[1]);
        assert_ne!(
            set.images[a * 3072..(a + 1) * 3072],
            set.images[b * 3072..(b + 1) * 3072]
        );
    }
    assert_eq!(counts, [10; 10]);
    assert_eq!(read("test_batch.bin").labels.len(), 40);
    let names_path = folder.join("batches.meta.txt");
    let names = parse_names(
        &std::fs::read_to_string(&names_path).unwrap(),
        10,
        &names_path,
    )
    .unwrap();
    assert_eq!(names[0], "airplane");
    // Class means differ clearly (the classes are learnable): mean absolute difference of the
    // class-0 and class-1 mean images, in grey levels.
    let mean = |c: usize| sums[c].iter().map(|s| s / 10.0).collect::<Vec<_>>();
    let (m0, m1) = (mean(0), mean(1));
    let gap = m0.iter().zip(&m1).map(|(a, b)| (a - b).abs()).sum::<f64>() / m0.len() as f64;
    assert!(
        gap > 10.0,
        "class means differ by only {gap:.1} grey levels"
    );
}

#[test]
fn devices_reports_libtorch_and_nvml_and_auto_is_the_cpu_without_a_gpu() {
    let out = probe().arg("devices").output().unwrap();
    assert_succeeded(&out);
    let d = json(&out.stdout);
    let count = d["libtorch"]["device_count"].as_i64().unwrap();
    assert_eq!(
        d["libtorch"]["cuda_available"].as_bool().unwrap(),
        count > 0
    );
    assert!(d["libtorch"]["version"].as_str().unwrap().starts_with("2."));
    if count == 0 {
        assert_eq!(d["auto_device"], "cpu");
    } else {
        assert_eq!(d["auto_device"], "cuda:0");
    }
    assert!(d["nvml"]["devices"].is_array());
    assert!(d["host"]["cores"].as_u64().unwrap() >= 1);
}

#[test]
fn sample_runs_the_command_samples_while_it_runs_and_passes_its_exit_status_on() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.json");
    let status = probe()
        .arg("sample")
        .arg(&file)
        .args(["--", "sh", "-c", "sleep 1.5; exit 3"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    let s = json(&std::fs::read(&file).unwrap());
    assert_eq!(s["exit_code"], 3);
    assert!(s["wall_seconds"].as_f64().unwrap() >= 1.5);
    assert!(s["readings"].as_u64().unwrap() >= 2, "{s}");
    assert_eq!(
        s["series"].as_array().unwrap().len() as u64,
        s["readings"].as_u64().unwrap()
    );
    // A command that cannot start is an error naming it, not a hang.
    let out = probe()
        .arg("sample")
        .arg(&file)
        .args(["--", "/nonexistent/command"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/command"));
}

#[test]
fn lab_draw_saves_a_frame_of_the_lab_with_its_run_training() {
    let tmp = tempfile::tempdir().unwrap();
    let frame = tmp.path().join("lab.txt");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/default.toml");
    let out = probe()
        .arg("lab-draw")
        .arg(&config)
        .arg(&frame)
        .args([
            "--set",
            "device=cpu",
            "--set",
            "train.epochs=2",
            "--set",
            "train.decay_epochs=[1,2]",
        ])
        .args(["--seconds", "1", "--size", "120x40"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_succeeded(&out);
    let text = std::fs::read_to_string(&frame).unwrap();
    assert_eq!(text.lines().count(), 40);
    assert!(text.lines().all(|l| l.chars().count() <= 120));
    for expected in ["Set-up", "Runs", "default", "CPU"] {
        assert!(
            text.contains(expected),
            "no {expected:?} in the frame:\n{text}"
        );
    }
    assert!(
        text.contains("running") || text.contains("done"),
        "the run is not shown training:\n{text}"
    );
}

#[test]
fn out_of_range_sizes_are_refused_with_the_flag_named() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["make-cifar", "DIR", "--train-per-class", "0"],
            "--train-per-class 0",
        ),
        (
            vec!["make-cifar", "DIR", "--test-per-class", "99999999999"],
            "--test-per-class 99999999999",
        ),
        (
            vec!["lab-draw", "CONFIG", "OUT", "--size", "0x0"],
            "--size 0x0",
        ),
        (
            vec!["lab-draw", "CONFIG", "OUT", "--size", "100000x40"],
            "--size 100000x40",
        ),
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| match *a {
                "DIR" | "OUT" => tmp.path().join("x").display().to_string(),
                "CONFIG" => Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../configs/default.toml")
                    .display()
                    .to_string(),
                other => other.to_string(),
            })
            .collect();
        let out = probe().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!tmp.path().join("x").exists(), "nothing written");
}
