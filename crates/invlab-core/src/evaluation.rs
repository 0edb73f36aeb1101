//! `invlab eval`: what re-evaluating a run's checkpoint reports, and the arithmetic on its test
//! logits, on plain numbers (the engine computes the logits): accuracy, top-k, the confusion
//! matrix, calibration (ECE and its reliability bins), and the post-hoc logit adjustment
//! (Menon et al. 2021), whose prior is the *training* set's class frequencies.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::config::EvalConfig;
use crate::records::{GroupAccuracy, InvarianceReport};
use crate::summary::{csv_field, group_means};

/// Equal-width confidence bins of the reliability diagram and the ECE (Guo et al. 2017 use 15).
pub const CALIBRATION_BINS: usize = 15;
/// The k of top-k accuracy (fewer when a dataset has fewer classes).
pub const TOP_K: usize = 5;
/// The taus the logit adjustment is reported at when none are asked for: tau = 1 is the
/// Bayes-optimal correction for a balanced test set; the others show how sensitive it is.
pub const DEFAULT_TAUS: [f64; 4] = [0.5, 1.0, 1.5, 2.0];
/// tau-normalisation's exponents reported by default (Kang et al. 2020 pick tau on a
/// validation set; 1 is full normalisation).
pub const DEFAULT_NORM_TAUS: [f64; 3] = [0.5, 1.0, 1.5];
/// The eval folder's record, written last: its presence means the folder is complete.
pub const RECORD_FILE: &str = "eval.json";

/// Test logits, one row of `classes` values per image.
#[derive(Debug, Clone, Copy)]
pub struct Logits<'a> {
    pub values: &'a [f32],
    pub classes: usize,
}

impl Logits<'_> {
    pub fn rows(&self) -> usize {
        self.values.len() / self.classes.max(1)
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.classes..(i + 1) * self.classes]
    }
}

/// ln of each class's share of the training set. A class with no training image counts as
/// half an image, so its log prior stays finite.
pub fn log_prior(train_sizes: &[usize]) -> Vec<f64> {
    let total: f64 = train_sizes.iter().map(|&n| (n as f64).max(0.5)).sum();
    train_sizes
        .iter()
        .map(|&n| ((n as f64).max(0.5) / total).ln())
        .collect()
}

/// Post-hoc logit adjustment: `logit_c - tau * ln prior_c`, which for tau = 1 turns a
/// classifier of the training distribution into one of the balanced distribution.
pub fn logit_adjusted(logits: Logits<'_>, log_prior: &[f64], tau: f64) -> Vec<f32> {
    logits
        .values
        .chunks(logits.classes.max(1))
        .flat_map(|row| {
            row.iter()
                .zip(log_prior)
                .map(|(&l, &p)| (l as f64 - tau * p) as f32)
        })
        .collect()
}

/// One confidence bin of the reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// The bin is (lo, hi]; the first includes 0.
    pub lo: f64,
    pub hi: f64,
    pub images: usize,
    /// Mean top-1 probability of its images (0 when empty).
    pub confidence: f64,
    /// Their accuracy (0 when empty).
    pub accuracy: f64,
}

/// What one set of logits scores on the test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub accuracy: f64,
    /// Mean of the per-class accuracies over the classes the test set holds.
    pub balanced_accuracy: f64,
    pub groups: GroupAccuracy,
    /// Top-k accuracy with k = `top_k` (5, or the number of classes if fewer).
    pub top_k: usize,
    pub top_k_accuracy: f64,
    /// Expected calibration error of the top-1 probability, `CALIBRATION_BINS` equal bins.
    pub ece: f64,
    /// Mean negative log-likelihood of the true class (nats).
    pub nll: f64,
    pub per_class_accuracy: Vec<f64>,
    pub reliability: Vec<ReliabilityBin>,
}

/// Test images of true class `row` predicted as `col`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Confusion {
    pub classes: usize,
    pub counts: Vec<u64>,
}

impl Confusion {
    pub fn get(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.classes + predicted]
    }

    /// One CSV row per true class, one column per predicted class, in class-index order.
    pub fn to_csv(&self, class_names: &[String]) -> String {
        let name = |c: usize| {
            class_names
                .get(c)
                .map(|n| csv_field(n))
                .unwrap_or_else(|| c.to_string())
        };
        let mut out = String::from("true\\predicted");
        for c in 0..self.classes {
            out.push(',');
            out.push_str(&name(c));
        }
        out.push('\n');
        for t in 0..self.classes {
            out.push_str(&name(t));
            for p in 0..self.classes {
                out.push_str(&format!(",{}", self.get(t, p)));
            }
            out.push('\n');
        }
        out
    }
}

/// The top-1 prediction of a row (the first of equal maxima, as libtorch's argmax).
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Scores `logits` against `labels`; groups (many / medium / few) by `train_sizes`.
pub fn score(logits: Logits<'_>, labels: &[i64], train_sizes: &[usize]) -> (Scores, Confusion) {
    let classes = logits.classes;
    let rows = logits.rows().min(labels.len());
    let k = TOP_K.min(classes);
    let mut confusion = Confusion {
        classes,
        counts: vec![0; classes * classes],
    };
    let mut top_k_hits = 0usize;
    let mut nll = 0.0;
    // (images, confidence sum, correct) per bin.
    let mut bins = vec![(0usize, 0.0f64, 0usize); CALIBRATION_BINS];
    let mut probs = vec![0.0f64; classes];
    for (i, &label) in labels.iter().enumerate().take(rows) {
        let row = logits.row(i);
        // A label outside the classes is no test image of this model (loaders refuse them).
        let Ok(truth) = usize::try_from(label) else {
            continue;
        };
        if truth >= classes {
            continue;
        }
        let predicted = argmax(row);
        confusion.counts[truth * classes + predicted] += 1;
        // Softmax in f64, shifted by the maximum.
        let max = row[predicted] as f64;
        let mut sum = 0.0;
        for (p, &l) in probs.iter_mut().zip(row) {
            *p = (l as f64 - max).exp();
            sum += *p;
        }
        // -ln softmax_truth = ln(sum) - (l_truth - max): finite however far below the
        // maximum the truth's logit is.
        nll += sum.ln() - (row[truth] as f64 - max);
        let confidence = probs[predicted] / sum;
        // In the top k: fewer than k classes score above the truth (ties go to the lower
        // index, as with the argmax).
        let above = row
            .iter()
            .enumerate()
            .filter(|&(c, &v)| v > row[truth] || (v == row[truth] && c < truth))
            .count();
        if above < k {
            top_k_hits += 1;
        }
        let b =
            ((confidence * CALIBRATION_BINS as f64).ceil() as usize).clamp(1, CALIBRATION_BINS) - 1;
        bins[b].0 += 1;
        bins[b].1 += confidence;
        bins[b].2 += usize::from(predicted == truth);
    }
    let n = (confusion.counts.iter().sum::<u64>()).max(1) as f64;
    let correct: u64 = (0..classes).map(|c| confusion.get(c, c)).sum();
    let per_class: Vec<f64> = (0..classes)
        .map(|c| {
            let total: u64 = (0..classes).map(|p| confusion.get(c, p)).sum();
            if total == 0 {
                0.0
            } else {
                confusion.get(c, c) as f64 / total as f64
            }
        })
        .collect();
    let present: Vec<f64> = (0..classes)
        .filter(|&c| (0..classes).any(|p| confusion.get(c, p) > 0))
        .map(|c| per_class[c])
        .collect();
    let [many, medium, few] = group_means(&per_class, train_sizes);
    let reliability: Vec<ReliabilityBin> = bins
        .iter()
        .enumerate()
        .map(|(b, &(images, conf, right))| ReliabilityBin {
            lo: b as f64 / CALIBRATION_BINS as f64,
            hi: (b + 1) as f64 / CALIBRATION_BINS as f64,
            images,
            confidence: if images == 0 {
                0.0
            } else {
                conf / images as f64
            },
            accuracy: if images == 0 {
                0.0
            } else {
                right as f64 / images as f64
            },
        })
        .collect();
    let ece = reliability
        .iter()
        .map(|b| b.images as f64 / n * (b.accuracy - b.confidence).abs())
        .sum();
    let scores = Scores {
        accuracy: correct as f64 / n,
        balanced_accuracy: present.iter().sum::<f64>() / present.len().max(1) as f64,
        groups: GroupAccuracy { many, medium, few },
        top_k: k,
        top_k_accuracy: top_k_hits as f64 / n,
        ece,
        nll: nll / n,
        per_class_accuracy: per_class,
        reliability,
    };
    (scores, confusion)
}

/// One post-hoc correction at one tau, scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Corrected {
    pub tau: f64,
    pub scores: Scores,
}

/// Everything `invlab eval` reports, written as `eval.json` in `RUN/eval-<name>/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    pub name: String,
    pub run_id: String,
    /// The epoch the checkpoint was saved after, and the epochs the run trains in all.
    pub checkpoint_epoch: usize,
    pub total_epochs: usize,
    /// The `--set eval.…` overrides, and the eval settings they gave.
    pub overrides: Vec<String>,
    pub eval: EvalConfig,
    pub device: String,
    pub invlab_version: String,
    pub libtorch_version: String,
    pub created: u64,
    pub seconds: f64,
    pub test_images: usize,
    pub class_names: Vec<String>,
    /// The training set's class sizes, which the prior and the groups come from.
    pub train_sizes: Vec<usize>,
    pub test_sizes: Vec<usize>,
    pub raw: Scores,
    /// Post-hoc logit adjustment at each tau.
    pub logit_adjusted: Vec<Corrected>,
    /// tau-normalised classifier weights (Kang et al. 2020) at each tau; empty with a reason
    /// in `tau_normalized_note` when the head has no per-class weight norms to equalise.
    pub tau_normalized: Vec<Corrected>,
    pub tau_normalized_note: Option<String>,
    /// Why the logit adjustment may over-correct this model (it already trained toward a
    /// balanced prior), when it may.
    pub posthoc_note: Option<String>,
    /// Whether the raw per-class accuracy equals what the run logged after this epoch
    /// (`metrics.jsonl`): false means another device or thread count, or a checkpoint, config
    /// or dataset that changed. `None` when the run logged no such epoch.
    pub matches_run: Option<bool>,
    /// eKLD and consistency under the eval settings' transform and sampling (`None` when
    /// skipped).
    pub invariance: Option<InvarianceReport>,
    /// GIT runs (BG, DIL): the generator's coverage of the true nuisance, measured again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_coverage: Option<crate::nuisance_coverage::NuisanceCoverage>,
    /// Why a GIT run's coverage was not measured (its generator could not be loaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_coverage_note: Option<String>,
}

/// `RUN/eval-<name>`.
pub fn eval_dir(run_dir: &Path, name: &str) -> PathBuf {
    run_dir.join(format!("eval-{name}"))
}

/// The default name of an evaluation: `checkpoint` with no overrides, else the overrides'
/// values joined (`--set eval.ekld_transform=bg` -> `ekld_transform-bg`); `-no-ekld` when eKLD
/// is skipped, so a quick evaluation never replaces one with eKLD.
pub fn default_name(overrides: &[String], skip_invariance: bool) -> String {
    let suffix = if skip_invariance { "-no-ekld" } else { "" };
    if overrides.is_empty() {
        return format!("checkpoint{suffix}");
    }
    let joined: Vec<String> = overrides
        .iter()
        .map(|o| {
            let o = o.trim().strip_prefix("eval.").unwrap_or(o.trim());
            o.replace('=', "-")
        })
        .collect();
    let name = crate::config::sanitize_run_name(&joined.join("_"));
    // Within a file name's limit (255 bytes) with "eval-" and the suffix.
    let cut: String = name.chars().take(200).collect();
    format!("{cut}{suffix}")
}

/// One row per class: sizes, raw accuracy, each correction's, eKLD and consistency.
pub fn per_class_csv(record: &EvalRecord) -> String {
    let mut out = String::from("class,name,train_size,test_size,accuracy");
    for c in &record.logit_adjusted {
        out.push_str(&format!(",accuracy_la_tau{}", c.tau));
    }
    for c in &record.tau_normalized {
        out.push_str(&format!(",accuracy_taunorm{}", c.tau));
    }
    out.push_str(",ekld,ekld_stderr,consistency\n");
    let inv = record.invariance.as_ref();
    for c in 0..record.raw.per_class_accuracy.len() {
        let name = record
            .class_names
            .get(c)
            .map(|n| csv_field(n))
            .unwrap_or_default();
        out.push_str(&format!(
            "{c},{name},{},{},{:.6}",
            record.train_sizes.get(c).copied().unwrap_or(0),
            record.test_sizes.get(c).copied().unwrap_or(0),
            record.raw.per_class_accuracy[c]
        ));
        for corrected in record.logit_adjusted.iter().chain(&record.tau_normalized) {
            out.push_str(&format!(",{:.6}", corrected.scores.per_class_accuracy[c]));
        }
        let cell = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        out.push_str(&format!(
            ",{},{},{}\n",
            cell(inv.and_then(|i| i.ekld.get(c).copied())),
            cell(inv.and_then(|i| i.ekld_stderr.get(c).copied())),
            cell(inv.and_then(|i| i.consistency.get(c).copied())),
        ));
    }
    out
}

/// The files of an eval folder besides `eval.json`.
pub const OUTPUT_FILES: [&str; 6] = [
    "per_class.csv",
    "confusion.csv",
    "confusion.svg",
    "confusion.png",
    "reliability.svg",
    "reliability.png",
];

/// Makes `dir` (inside a run directory that exists) and clears what an earlier evaluation
/// of that name left, record first: until `finish`, the folder holds no `eval.json`, so a
/// failure halfway never leaves an old record beside new tables. Fails early on a run
/// directory that cannot be written.
pub fn begin(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    for name in std::iter::once(RECORD_FILE).chain(OUTPUT_FILES) {
        match std::fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Writes `per_class.csv` and `confusion.csv` into `dir`, each atomically.
pub fn write_tables(dir: &Path, record: &EvalRecord, confusion: &Confusion) -> io::Result<()> {
    write_atomic(&dir.join("per_class.csv"), per_class_csv(record).as_bytes())?;
    write_atomic(
        &dir.join("confusion.csv"),
        confusion.to_csv(&record.class_names).as_bytes(),
    )
}

/// Writes `eval.json`, last (after the figures): its presence marks a complete folder.
pub fn finish(dir: &Path, record: &EvalRecord) -> io::Result<()> {
    let json = serde_json::to_string_pretty(record).map_err(io::Error::other)?;
    write_atomic(&dir.join(RECORD_FILE), json.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits(rows: &[[f32; 3]]) -> Vec<f32> {
        rows.iter().flatten().copied().collect()
    }

    #[test]
    fn the_prior_is_the_training_sets_share_and_the_adjustment_subtracts_tau_times_its_log() {
        let prior = log_prior(&[80, 15, 5]);
        assert!((prior[0] - 0.8f64.ln()).abs() < 1e-12);
        assert!((prior[2] - 0.05f64.ln()).abs() < 1e-12);
        // A class with no image stays finite.
        assert!(log_prior(&[10, 0]).iter().all(|p| p.is_finite()));
        let raw = logits(&[[2.0, 1.0, 0.0]]);
        let l = Logits {
            values: &raw,
            classes: 3,
        };
        let adjusted = logit_adjusted(l, &prior, 1.0);
        for c in 0..3 {
            assert!((adjusted[c] as f64 - (raw[c] as f64 - prior[c])).abs() < 1e-5);
        }
        // tau = 0 changes nothing; a large tau favours the rare class.
        assert_eq!(logit_adjusted(l, &prior, 0.0), raw);
        let strong = logit_adjusted(l, &prior, 2.0);
        assert_eq!(argmax(&strong), 2);
    }

    #[test]
    fn scores_count_hits_top_k_and_confusion_by_hand() {
        // Four images of three classes; class 1 predicted as 0 once.
        let raw = logits(&[
            [3.0, 1.0, 0.0], // truth 0, right
            [2.0, 1.0, 0.0], // truth 1, predicted 0
            [0.0, 2.0, 1.0], // truth 1, right
            [0.0, 1.0, 3.0], // truth 2, right
        ]);
        let (s, conf) = score(
            Logits {
                values: &raw,
                classes: 3,
            },
            &[0, 1, 1, 2],
            &[200, 50, 10],
        );
        assert_eq!(conf.get(1, 0), 1);
        assert_eq!(conf.get(1, 1), 1);
        assert_eq!(conf.counts.iter().sum::<u64>(), 4);
        assert!((s.accuracy - 0.75).abs() < 1e-12);
        assert_eq!(s.per_class_accuracy, vec![1.0, 0.5, 1.0]);
        assert!((s.balanced_accuracy - 2.5 / 3.0).abs() < 1e-12);
        // Groups by the training sizes: many (>100), medium (20..=100), few (<20).
        assert_eq!(s.groups.many, Some(1.0));
        assert_eq!(s.groups.medium, Some(0.5));
        assert_eq!(s.groups.few, Some(1.0));
        // Three classes: top-3 holds every truth.
        assert_eq!(s.top_k, 3);
        assert_eq!(s.top_k_accuracy, 1.0);
        // NLL of the true class, by hand for the first image.
        let first = -(3.0f64.exp() / (3.0f64.exp() + 1.0f64.exp() + 1.0)).ln();
        assert!(s.nll > first / 4.0);
    }

    #[test]
    fn top_k_misses_a_truth_ranked_below_k() {
        // Seven classes; the truth (class 6) ranked last.
        let raw: Vec<f32> = vec![7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
        let (s, _) = score(
            Logits {
                values: &raw,
                classes: 7,
            },
            &[6],
            &[1; 7],
        );
        assert_eq!(s.top_k, 5);
        assert_eq!(s.top_k_accuracy, 0.0);
        let (s, _) = score(
            Logits {
                values: &raw,
                classes: 7,
            },
            &[4],
            &[1; 7],
        );
        assert_eq!(s.top_k_accuracy, 1.0);
    }

    #[test]
    fn ece_is_the_weighted_gap_between_confidence_and_accuracy() {
        // Two images at confidence ~0.9 (one right, one wrong): gap 0.4 in one bin; ECE 0.4.
        let l = (0.9f64 / 0.1 * 2.0).ln() as f32; // softmax([l, 0, 0]) top = 0.9
        let raw = vec![l, 0.0, 0.0, l, 0.0, 0.0];
        let (s, _) = score(
            Logits {
                values: &raw,
                classes: 3,
            },
            &[0, 1],
            &[1, 1, 1],
        );
        let bin = s.reliability.iter().find(|b| b.images > 0).expect("a bin");
        assert_eq!(bin.images, 2);
        assert!((bin.confidence - 0.9).abs() < 1e-6);
        assert_eq!(bin.accuracy, 0.5);
        assert!((s.ece - 0.4).abs() < 1e-6);
        assert_eq!(s.reliability.len(), CALIBRATION_BINS);
        // A perfectly calibrated pair: confidence 0.5, one right of two.
        let h = (0.5f64 / 0.25).ln() as f32; // softmax([h, 0, 0]) top = 0.5
        let raw = vec![h, 0.0, 0.0, h, 0.0, 0.0];
        let (s, _) = score(
            Logits {
                values: &raw,
                classes: 3,
            },
            &[0, 2],
            &[1, 1, 1],
        );
        assert!(s.ece < 1e-6, "{}", s.ece);
    }

    #[test]
    fn nll_stays_finite_far_below_the_maximum_and_stray_labels_are_skipped() {
        // The truth 2000 nats below the top: -ln softmax = 2000 + ln(1 + e^-2000 + ...) ~ 2000.
        let raw = vec![2000.0f32, 0.0, 0.0];
        let (s, c) = score(
            Logits {
                values: &raw,
                classes: 3,
            },
            &[1],
            &[1, 1, 1],
        );
        assert!((s.nll - 2000.0).abs() < 1e-6, "{}", s.nll);
        // Labels outside the classes count nowhere (and do not panic).
        let raw = vec![1.0f32, 0.0, 0.0, 1.0, 0.0, 0.0];
        let (s, c2) = score(
            Logits {
                values: &raw,
                classes: 3,
            },
            &[0, 7],
            &[1, 1, 1],
        );
        assert_eq!(c2.counts.iter().sum::<u64>(), 1);
        assert_eq!(s.accuracy, 1.0);
        assert_eq!(c.counts.iter().sum::<u64>(), 1);
    }

    #[test]
    fn names_and_tables() {
        assert_eq!(default_name(&[], false), "checkpoint");
        assert_eq!(default_name(&[], true), "checkpoint-no-ekld");
        assert_eq!(
            default_name(&["eval.ekld_transform=bg".into()], false),
            "ekld_transform-bg"
        );
        let c = Confusion {
            classes: 2,
            counts: vec![3, 1, 0, 2],
        };
        let csv = c.to_csv(&["a,b".into(), "c".into()]);
        assert_eq!(csv, "true\\predicted,\"a,b\",c\n\"a,b\",3,1\nc,0,2\n");
    }
}
