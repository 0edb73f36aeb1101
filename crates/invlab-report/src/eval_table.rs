//! `invlab eval`'s text on stdout: the raw model beside each post-hoc correction, and eKLD.

use std::fmt::Write;
use std::path::Path;

use invlab_core::config::serde_plain_name;
use invlab_core::evaluation::{EvalRecord, Scores};
use invlab_core::summary::group_means;

fn cell(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())
}

fn row(out: &mut String, label: &str, s: &Scores) {
    let _ = writeln!(
        out,
        "| {label} | {:.4} | {:.4} | {} | {} | {} | {:.4} | {:.4} | {:.4} |",
        s.accuracy,
        s.balanced_accuracy,
        cell(s.groups.many),
        cell(s.groups.medium),
        cell(s.groups.few),
        s.top_k_accuracy,
        s.ece,
        s.nll
    );
}

/// A Markdown table of the raw model and each correction, the eKLD by class-size group, and
/// where the files are.
pub fn eval_table(record: &EvalRecord, dir: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: checkpoint after epoch {} of {}, {} test images, {}\n",
        record.run_id,
        record.checkpoint_epoch,
        record.total_epochs,
        record.test_images,
        record.device
    );
    let _ = writeln!(
        out,
        "| model | accuracy | balanced | many | medium | few | top-{} | ECE | NLL |",
        record.raw.top_k
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    row(&mut out, "raw", &record.raw);
    for c in &record.logit_adjusted {
        row(&mut out, &format!("logit-adjusted τ={}", c.tau), &c.scores);
    }
    for c in &record.tau_normalized {
        row(&mut out, &format!("τ-normalised τ={}", c.tau), &c.scores);
    }
    if let Some(note) = &record.posthoc_note {
        let _ = writeln!(out, "\nlogit adjustment: {note}");
    }
    if let Some(note) = &record.tau_normalized_note {
        let _ = writeln!(out, "\nτ-normalisation: {note}");
    }
    if record.matches_run == Some(false) {
        let _ = writeln!(
            out,
            "\nnote: the raw per-class accuracy differs from what the run logged after epoch {} \
             (another device or thread count, or a changed checkpoint, config or dataset)",
            record.checkpoint_epoch
        );
    }
    out.push('\n');
    match &record.invariance {
        Some(inv) => {
            let [many, medium, few] = group_means(&inv.ekld, &record.train_sizes);
            let transform = inv
                .transform
                .map(|t| serde_plain_name(&t))
                .unwrap_or_else(|| "?".into());
            let sampling = inv
                .sampling
                .mode
                .map(|m| serde_plain_name(&m))
                .unwrap_or_else(|| "?".into());
            let _ = writeln!(
                out,
                "eKLD under {transform} ({sampling} sampling): many {} · medium {} · few {}; Spearman(size, eKLD) {}",
                cell(many),
                cell(medium),
                cell(few),
                cell(inv.spearman_size_ekld)
            );
        }
        None => out.push_str("eKLD: not measured (--no-ekld)\n"),
    }
    if let Some(note) = &record.generator_coverage_note {
        let _ = writeln!(out, "\nGIT generator {note}");
    }
    if let Some(c) = &record.generator_coverage {
        let _ = writeln!(
            out,
            "\nGIT generator coverage of the {} over {} styles per image (generator-coverage.svg/.png):",
            c.measure.label(),
            c.styles
        );
        for g in &c.groups {
            let _ = writeln!(
                out,
                "  {}",
                invlab_core::nuisance_coverage::summary_line(c, g)
            );
        }
    }
    let _ = writeln!(
        out,
        "\nwritten: {} (eval.json, per_class.csv, confusion.csv, confusion.svg/.png, reliability.svg/.png{})",
        dir.display(),
        if record.generator_coverage.is_some() {
            ", generator-coverage.svg/.png"
        } else {
            ""
        }
    );
    out
}

/// One line for the lab's message bar: balanced accuracy raw and logit-adjusted (tau nearest
/// 1), the ECE, the tail's eKLD, and where the folder is.
pub fn eval_line(record: &EvalRecord, dir: &Path) -> String {
    let mut line = format!(
        "{} epoch {}/{}: balanced acc {:.3}",
        record.run_id, record.checkpoint_epoch, record.total_epochs, record.raw.balanced_accuracy
    );
    if let Some(la) = crate::eval_figures::closest_to_one(&record.logit_adjusted) {
        let _ = write!(
            line,
            " ({:.3} logit-adjusted τ={})",
            la.scores.balanced_accuracy, la.tau
        );
    }
    let _ = write!(line, ", ECE {:.3}", record.raw.ece);
    if let Some(inv) = &record.invariance {
        let [_, _, few] = group_means(&inv.ekld, &record.train_sizes);
        if let Some(few) = few {
            let _ = write!(line, ", few-shot eKLD {few:.3}");
        }
    }
    let _ = write!(line, " → {}", dir.display());
    line
}
