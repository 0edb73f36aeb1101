//! The `invlab` binary as scripts use it: batch runs, exit codes, error messages.

mod common;

use std::process::Command;

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
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let metrics: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(metrics["epoch"], 1);
    let dir = std::path::PathBuf::from(lines.next().unwrap());
    assert!(dir.join("summary.json").is_file());
    assert!(std::fs::read_to_string(dir.join("config.toml"))
        .unwrap()
        .contains("epochs = 1"));
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
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}
