//! The research scripts' wording of `invlab report`'s statistics: `reproduction_table.py`'s
//! GIT-with-oracle-control section reads `git-oracle-ROW/{paired,gaps,coverage}.csv` and must
//! word each verdict from its printed interval, and pick the right series for each role.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

const PAIRED_HEADER: &str = "candidate,baseline,measure,contrast,seeds,mean,ci95_low,ci95_high,above,below,sign_test_p,seed_list,per_seed";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

/// The section's text for a results folder, or `None` without python3.
fn git_section(results: &Path) -> Option<String> {
    table_eval(&format!(
        "'\\n'.join(t.git_oracle_section(__import__('pathlib').Path({:?})))",
        results.display().to_string()
    ))
}

#[test]
fn the_git_oracle_section_words_each_verdict_from_its_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let bg = tmp.path().join("git-oracle-bg");
    // GIT's interval crosses 1 (no verdict); the control's lies below 1. The oracle control's
    // series name also ends in "-git" before "-oracle": it must not be taken for GIT's.
    write(
        &bg,
        "paired.csv",
        &format!(
            "{PAIRED_HEADER}\n\
             s-git-oracle (4 seeds),s-drs (4 seeds),ekld_few,ratio,4,0.70,0.60,0.82,0,4,0.125,0;1;2;3,0.7;0.6;0.8;0.7\n\
             s-git (4 seeds),s-drs (4 seeds),ekld_few,ratio,4,0.93,0.81,1.07,1,3,0.625,0;1;2;3,0.9;1.1;0.8;0.9\n\
             s-git (4 seeds),s-drs (4 seeds),balanced_accuracy,difference,4,0.004,-0.001,0.009,3,1,0.625,0;1;2;3,0;0;0;0\n"
        ),
    );
    write(
        &bg,
        "gaps.csv",
        "candidate,baseline,reference,measure,seeds,mean,ci95_low,ci95_high,seed_list,per_seed\n\
         s-git (4 seeds),s-drs (4 seeds),s-git-oracle (4 seeds),ekld_few,4,0.21,-0.3,0.72,0;1;2;3,0;0;0;0\n",
    );
    write(
        &bg,
        "coverage.csv",
        "run,seed,transform,measure,end,images,styles,generated_q05,generated_q50,generated_q95,true_q05,true_q50,true_q95,range_covered,within_image_spread,wasserstein1\n\
         s-git-seed0,0,bg,background level,tail,16,64,1,2,3,1,2,3,0.81,0.9,1\n\
         s-git-seed1,1,bg,background level,tail,16,64,1,2,3,1,2,3,0.95,1.02,1\n",
    );
    let Some(text) = git_section(tmp.path()) else {
        invlab_core::fixtures::skip(module_path!(), "no python3");
        return;
    };
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?} in\n{text}"))
            .to_string()
    };
    let git = line("| CE-DRS-GIT |");
    assert!(git.contains("0.93x [0.81x, 1.07x]"), "{git}");
    assert!(git.contains("not established"), "{git}");
    assert!(git.contains("+0.4 [-0.1, +0.9]"), "{git}");
    let control = line("| oracle control |");
    assert!(control.contains("0.70x [0.60x, 0.82x]"), "{control}");
    assert!(control.contains("lower on the interval"), "{control}");
    assert!(control.contains("p = 0.12"), "{control}");
    assert!(line("- GIT closes").contains("21 % [-30, 72]"));
    let tail = line("- Generator coverage, tail images");
    assert!(
        tail.contains("2 runs") && tail.contains("81-95 %"),
        "{tail}"
    );
    assert!(tail.contains("0.90-1.02x"), "{tail}");
    // Rows without a folder are left out; without a ROT folder the head says why ROT has none.
    assert!(!text.contains("DIL") && !text.contains("Fashion"), "{text}");
    assert!(text.contains("ROT has no row"), "{text}");
}

#[test]
fn rots_git_row_is_measured_and_labelled_outside_the_paper_never_judged() {
    let tmp = tempfile::tempdir().unwrap();
    let rot = tmp.path().join("git-oracle-rot");
    // GIT's interval lies wholly below 1 and the control's too: only the control gets a verdict.
    write(
        &rot,
        "paired.csv",
        &format!(
            "{PAIRED_HEADER}\n\
             r-git-oracle (4 seeds),r-drs (4 seeds),ekld_few,ratio,4,0.80,0.70,0.90,0,4,0.125,0;1;2;3,0.8;0.7;0.9;0.8\n\
             r-git (4 seeds),r-drs (4 seeds),ekld_few,ratio,4,0.90,0.85,0.95,0,4,0.125,0;1;2;3,0.9;0.9;0.9;0.9\n"
        ),
    );
    let Some(text) = git_section(tmp.path()) else {
        invlab_core::fixtures::skip(module_path!(), "no python3");
        return;
    };
    let git = text
        .lines()
        .find(|l| l.starts_with("| CE-DRS-GIT |"))
        .unwrap_or_else(|| panic!("no GIT line in\n{text}"));
    assert!(git.contains("0.90x [0.85x, 0.95x]"), "{git}");
    assert!(git.contains("outside the paper"), "{git}");
    assert!(
        git.contains("measured: lower on the interval"),
        "what the interval says stays visible: {git}"
    );
    let control = text
        .lines()
        .find(|l| l.starts_with("| oracle control |"))
        .unwrap();
    assert!(
        control.contains("lower on the interval") && !control.contains("outside"),
        "{control}"
    );
    assert!(text.contains("ROT (GIT outside the paper)"), "{text}");
    assert!(
        text.contains("ROT's row is outside the paper's GIT claim"),
        "{text}"
    );
    assert!(!text.contains("ROT has no row"), "{text}");
}

#[test]
fn without_git_oracle_folders_the_section_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(text) = git_section(tmp.path()) else {
        invlab_core::fixtures::skip(module_path!(), "no python3");
        return;
    };
    assert_eq!(text.trim(), "");
}

/// `reproduction_table.py`'s value of a Python expression over its module `t`, or `None`
/// without python3.
fn table_eval(expr: &str) -> Option<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/research");
    let code = format!(
        "import sys; sys.path.insert(0, {:?}); import reproduction_table as t; print({expr})",
        script.display().to_string()
    );
    let out = Command::new("python3").args(["-c", &code]).output().ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string(),
    )
}

#[test]
fn a_bound_that_rounds_onto_no_change_is_printed_with_the_digit_that_decides() {
    let ratio = "{'mean': '0.9', 'ci95_low': '0.8', 'ci95_high': '0.996', 'contrast': 'ratio'}";
    let Some(text) = table_eval(&format!("t.interval({ratio}), t.verdict({ratio})")) else {
        invlab_core::fixtures::skip(module_path!(), "no python3");
        return;
    };
    // "[0.80x, 1.00x]" beside "lower on the interval" would contradict itself.
    assert_eq!(text, "0.900x [0.800x, 0.996x] lower on the interval");
    let plain = "{'mean': '0.87', 'ci95_low': '0.80', 'ci95_high': '0.95', 'contrast': 'ratio'}";
    assert_eq!(
        table_eval(&format!("t.interval({plain})")).unwrap(),
        "0.87x [0.80x, 0.95x]"
    );
    // A series given twice is labelled "(4 runs, 3 seeds)"; its name is the same.
    assert_eq!(
        table_eval("t.series_name('s-git (4 runs, 3 seeds)'), t.series_name('s-git (10 seeds)')")
            .unwrap(),
        "s-git s-git"
    );
}

/// A row run on one seed (DIL, Fashion-MNIST-ROT by default): `invlab report` writes its
/// series.csv (each one-run series labelled by its run's name) and no paired.csv; the table
/// still names each method and says what one seed gives (a point ratio, no verdict).
#[test]
fn a_one_seed_row_is_tabled_with_point_comparisons_and_no_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let row = tmp.path().join("reproduction-glyphs-dil");
    let mut series = String::from("series,seeds,measure,mean,sd,ci95_low,ci95_high\n");
    for (method, balanced, few) in [("erm", 0.90, 0.25), ("oracle", 0.95, 0.125)] {
        series.push_str(&format!(
            "glyphs-dil-{method}-s0,1,balanced_accuracy,{balanced},,,\n\
             glyphs-dil-{method}-s0,1,ekld_few,{few},,,\n\
             glyphs-dil-{method}-s0,1,spearman_size_ekld,-0.7,,,\n"
        ));
    }
    write(&row, "series.csv", &series);
    write(
        &row,
        "comparison.csv",
        "run,transform,ekld_sampling,invlab_commit\nglyphs-dil-erm-s0,dil,adaptive,abc\n",
    );
    let expr = format!(
        "'\\n'.join(t.findings(t.series(__import__('pathlib').Path({:?}), 'glyphs-dil'), {{}}, {{}}, 'dil')) \
         + '\\nMETHODS ' + ','.join(sorted(t.series(__import__('pathlib').Path({:?}), 'glyphs-dil')))",
        tmp.path().display().to_string(),
        tmp.path().display().to_string()
    );
    let Some(text) = table_eval(&expr) else {
        invlab_core::fixtures::skip(module_path!(), "no python3");
        return;
    };
    assert!(text.contains("METHODS erm,oracle"), "{text}");
    let oracle = text
        .lines()
        .find(|l| l.starts_with("Oracle against ERM"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(oracle.contains("0.50x"), "{oracle}");
    assert!(
        oracle.contains("one seed") && oracle.contains("no verdict"),
        "{oracle}"
    );
    assert!(!oracle.contains("["), "no interval from one seed: {oracle}");
    assert!(
        text.contains("ERM: Spearman(size, eKLD) -0.70 (one seed: no interval)."),
        "{text}"
    );
}
