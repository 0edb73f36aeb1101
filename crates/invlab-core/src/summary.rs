//! The end-of-run summary (`summary.json`, `per_class.csv`), built from plain metrics.

use serde::{Deserialize, Serialize};

use super::records::{EpochMetrics, InvarianceReport, RunInfo};
use super::rundir::Status;
use crate::config::EkldSampling;

/// One class's final figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassResult {
    pub class: usize,
    pub name: String,
    pub train_size: usize,
    pub test_size: usize,
    pub accuracy: f64,
    pub ekld: Option<f64>,
    pub ekld_stderr: Option<f64>,
    /// The skew-corrected 95 % interval of `ekld` (absent in older summaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ekld_ci95: Option<[f64; 2]>,
    pub consistency: Option<f64>,
    /// Held-out images and transform draws per image behind `ekld` (absent in format 1).
    #[serde(default)]
    pub ekld_images: Option<usize>,
    #[serde(default)]
    pub ekld_samples_per_image: Option<usize>,
}

/// Mean eKLD over the many / medium / few-shot classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GroupEkld {
    pub many: Option<f64>,
    pub medium: Option<f64>,
    pub few: Option<f64>,
}

impl GroupEkld {
    pub fn is_empty(&self) -> bool {
        self.many.is_none() && self.medium.is_none() && self.few.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub run_id: String,
    pub name: String,
    /// `finished` or `stopped`.
    pub status: Status,
    pub epochs: usize,
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub many_shot_accuracy: Option<f64>,
    pub medium_shot_accuracy: Option<f64>,
    pub few_shot_accuracy: Option<f64>,
    pub mean_ekld: Option<f64>,
    pub ekld_by_group: GroupEkld,
    /// Standard error of each group's mean eKLD, from the classes' own SEs (classes are
    /// measured independently: sqrt(sum of SE^2) / classes). Absent in older summaries.
    #[serde(default, skip_serializing_if = "GroupEkld::is_empty")]
    pub ekld_stderr_by_group: GroupEkld,
    pub mean_consistency: Option<f64>,
    /// Spearman rank correlation of training class size with eKLD (negative: small classes
    /// are less invariant, the paper's finding).
    pub spearman_size_ekld: Option<f64>,
    /// The configured fixed design (images per class, draws per image); under adaptive
    /// sampling the caps were used instead, see `ekld_design_used`.
    pub ekld_images_per_class: Option<usize>,
    pub ekld_samples: Option<usize>,
    /// The design the final eKLD used across classes: held-out images and draws per image
    /// (min, median, max). Absent in older summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ekld_design_used: Option<crate::records::DesignUsed>,
    /// `fixed` or `adaptive` (absent in format 1).
    #[serde(default)]
    pub ekld_sampling: Option<EkldSampling>,
    pub classes: Vec<ClassResult>,
    pub device: String,
    pub invlab_version: String,
    /// The commit of the binary that finished the run (absent in format 1).
    #[serde(default)]
    pub invlab_commit: Option<String>,
    pub libtorch_version: String,
    pub seed: u64,
    /// Wall seconds of the attempt that finished the run.
    pub wall_seconds: f64,
    /// Wall seconds over every attempt (stopped, killed at a checkpoint, requeued, resumed);
    /// absent before this field existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_seconds_all_attempts: Option<f64>,
    /// Seconds from the process's start (else the run's) to its first training batch in this
    /// process (absent in format 1).
    #[serde(default)]
    pub first_batch_seconds: Option<f64>,
    /// Peak resident memory of the process that finished the run, MiB (for a sweep: of every
    /// run the process ran so far).
    #[serde(default)]
    pub peak_rss_mib: Option<f64>,
}

/// The classes that have images (`by_class[c]` non-empty), largest training set first, ties by
/// class index: the order the generator's sample grid and its coverage diagnostic pick from.
pub fn classes_largest_first(by_class: &[Vec<usize>], sizes: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sizes.len().min(by_class.len()))
        .filter(|&c| !by_class[c].is_empty())
        .collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    order
}

/// Class-size groups as used throughout the long-tail literature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeGroup {
    Many,
    Medium,
    Few,
}

impl SizeGroup {
    pub const ALL: [SizeGroup; 3] = [SizeGroup::Many, SizeGroup::Medium, SizeGroup::Few];

    /// "many", "medium", "few".
    pub fn name(self) -> &'static str {
        match self {
            SizeGroup::Many => "many",
            SizeGroup::Medium => "medium",
            SizeGroup::Few => "few",
        }
    }

    /// Position in `ALL`.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn of(train_size: usize) -> SizeGroup {
        if train_size > 100 {
            SizeGroup::Many
        } else if train_size >= 20 {
            SizeGroup::Medium
        } else {
            SizeGroup::Few
        }
    }
}

/// Sum of `values[c]` and the number of classes, per size group (many, medium, few).
fn group_sums(values: &[f64], train_sizes: &[usize]) -> [(f64, usize); 3] {
    let mut sums = [(0.0, 0usize); 3];
    for (v, &n) in values.iter().zip(train_sizes) {
        let g = SizeGroup::of(n).index();
        sums[g].0 += v;
        sums[g].1 += 1;
    }
    sums
}

/// Mean of `values[c]` over classes of each size group; `None` for an empty group.
pub fn group_means(values: &[f64], train_sizes: &[usize]) -> [Option<f64>; 3] {
    group_sums(values, train_sizes).map(|(s, k)| (k > 0).then(|| s / k as f64))
}

/// The standard error of each group's mean (many, medium, few) from its classes' standard
/// errors: sqrt(sum of SE^2) / classes, the classes' estimates being independent.
pub fn group_stderrs(stderrs: &[f64], train_sizes: &[usize]) -> [Option<f64>; 3] {
    let squares: Vec<f64> = stderrs.iter().map(|se| se * se).collect();
    group_sums(&squares, train_sizes).map(|(s, k)| (k > 0).then(|| s.sqrt() / k as f64))
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

impl Summary {
    pub fn build(
        info: &RunInfo,
        last: &EpochMetrics,
        invariance: Option<&InvarianceReport>,
        status: Status,
        wall_seconds: f64,
    ) -> Summary {
        let classes = (0..info.num_classes)
            .map(|c| ClassResult {
                class: c,
                name: info.class_names.get(c).cloned().unwrap_or_default(),
                train_size: info.train_sizes[c],
                test_size: info.test_sizes[c],
                accuracy: last.per_class_accuracy[c],
                ekld: invariance.map(|r| r.ekld[c]),
                ekld_stderr: invariance.map(|r| r.ekld_stderr[c]),
                ekld_ci95: invariance.and_then(|r| r.ekld_ci95.get(c).copied()),
                consistency: invariance.map(|r| r.consistency[c]),
                ekld_images: invariance.and_then(|r| r.sampling.images.get(c).copied()),
                ekld_samples_per_image: invariance
                    .and_then(|r| r.sampling.samples_per_image.get(c).copied()),
            })
            .collect();
        let [many, medium, few] = invariance
            .map(|r| group_means(&r.ekld, &info.train_sizes))
            .unwrap_or([None, None, None]);
        Summary {
            run_id: info.run_id.clone(),
            name: info.config.name.clone(),
            status,
            epochs: last.epoch,
            accuracy: last.test_accuracy,
            balanced_accuracy: last.balanced_accuracy,
            many_shot_accuracy: last.groups.many,
            medium_shot_accuracy: last.groups.medium,
            few_shot_accuracy: last.groups.few,
            mean_ekld: invariance.and_then(|r| mean(&r.ekld)),
            ekld_by_group: GroupEkld { many, medium, few },
            ekld_stderr_by_group: invariance
                .map(|r| {
                    let [many, medium, few] = group_stderrs(&r.ekld_stderr, &info.train_sizes);
                    GroupEkld { many, medium, few }
                })
                .unwrap_or_default(),
            mean_consistency: invariance.and_then(|r| mean(&r.consistency)),
            spearman_size_ekld: invariance.and_then(|r| r.spearman_size_ekld),
            ekld_images_per_class: invariance.map(|r| r.images_per_class),
            ekld_samples: invariance.map(|r| r.samples),
            ekld_design_used: invariance.and_then(|r| r.sampling.design()),
            ekld_sampling: invariance.and_then(|r| r.sampling.mode),
            classes,
            device: info.device.clone(),
            invlab_version: info.invlab_version.clone(),
            invlab_commit: info.invlab_commit.clone(),
            libtorch_version: info.libtorch_version.clone(),
            seed: info.config.seed,
            wall_seconds,
            wall_seconds_all_attempts: None,
            first_batch_seconds: None,
            peak_rss_mib: None,
        }
    }

    /// `per_class.csv`: one row per class, ordered by training size (largest first).
    pub fn per_class_csv(&self) -> String {
        let mut rows: Vec<&ClassResult> = self.classes.iter().collect();
        rows.sort_by(|a, b| b.train_size.cmp(&a.train_size).then(a.class.cmp(&b.class)));
        let mut out = String::from(
            "class,name,train_size,test_size,group,accuracy,ekld,ekld_stderr,ekld_ci95_low,ekld_ci95_high,consistency,ekld_images,ekld_samples_per_image\n",
        );
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
        let count = |v: Option<usize>| v.map(|x| x.to_string()).unwrap_or_default();
        for r in rows {
            let group = SizeGroup::of(r.train_size).name();
            out.push_str(&format!(
                "{},{},{},{},{},{:.6},{},{},{},{},{},{},{}\n",
                r.class,
                csv_field(&r.name),
                r.train_size,
                r.test_size,
                group,
                r.accuracy,
                opt(r.ekld),
                opt(r.ekld_stderr),
                opt(r.ekld_ci95.map(|i| i[0])),
                opt(r.ekld_ci95.map(|i| i[1])),
                opt(r.consistency),
                count(r.ekld_images),
                count(r.ekld_samples_per_image)
            ));
        }
        out
    }
}

/// A CSV field: quoted (inner quotes doubled) when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;
    use crate::fixtures;

    #[test]
    fn the_sampling_word_is_typed_and_old_summaries_load() {
        let config = RunConfig::default();
        let info = fixtures::run_info(&config, "r", "/tmp/r".into());
        let mut inv = fixtures::invariance(&info, 2, 1.0);
        inv.sampling.mode = Some(EkldSampling::Adaptive);
        let last = fixtures::epoch(&info, 2, 1.0);
        let s = Summary::build(&info, &last, Some(&inv), Status::Finished, 1.0);
        assert_eq!(s.ekld_sampling, Some(EkldSampling::Adaptive));
        let mut json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["ekld_sampling"], "adaptive");
        json["ekld_sampling"] = "fixed".into();
        let back: Summary = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.ekld_sampling, Some(EkldSampling::Fixed));
        // Format 1 had no such key.
        json.as_object_mut().unwrap().remove("ekld_sampling");
        let back: Summary = serde_json::from_value(json).unwrap();
        assert_eq!(back.ekld_sampling, None);
        // A report with no word (an old record) gives no word.
        inv.sampling.mode = None;
        let s = Summary::build(&info, &last, Some(&inv), Status::Finished, 1.0);
        assert_eq!(
            serde_json::to_value(&s).unwrap()["ekld_sampling"],
            serde_json::Value::Null
        );
    }

    /// The paper's groups at their edges (many > 100, medium 20-100, few < 20), and group means
    /// over exactly their classes.
    #[test]
    fn size_groups_have_the_papers_edges_and_means_use_only_their_classes() {
        for (n, g) in [
            (0, SizeGroup::Few),
            (19, SizeGroup::Few),
            (20, SizeGroup::Medium),
            (100, SizeGroup::Medium),
            (101, SizeGroup::Many),
            (4800, SizeGroup::Many),
        ] {
            assert_eq!(SizeGroup::of(n), g, "{n} images");
        }
        let values = [0.9, 0.7, 0.5, 0.3, 0.1];
        let sizes = [4800, 101, 100, 20, 19];
        let [many, medium, few] = group_means(&values, &sizes);
        assert!((many.unwrap() - 0.8).abs() < 1e-12);
        assert!((medium.unwrap() - 0.4).abs() < 1e-12);
        assert!((few.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(group_means(&[0.5], &[50]), [None, Some(0.5), None]);
    }

    /// A group mean's SE by hand: many = classes of 4800 and 101 with SEs 0.3 and 0.4, so
    /// sqrt(0.09 + 0.16) / 2 = 0.25; medium one class (SE 0.2); no few-shot class. And the
    /// summary carries it from the final eKLD's per-class SEs.
    #[test]
    fn group_standard_errors_combine_their_classes() {
        let [many, medium, few] = group_stderrs(&[0.3, 0.4, 0.2], &[4800, 101, 50]);
        assert!((many.unwrap() - 0.25).abs() < 1e-12);
        assert!((medium.unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(few, None);

        let config = RunConfig::default();
        let info = fixtures::run_info(&config, "se", std::path::PathBuf::from("se"));
        let last = fixtures::epoch(&info, 2, 0.5);
        let mut inv = fixtures::invariance(&info, 2, 0.5);
        inv.ekld_stderr = (0..info.num_classes)
            .map(|c| 0.01 * (c + 1) as f64)
            .collect();
        let s = Summary::build(&info, &last, Some(&inv), Status::Finished, 1.0);
        let few_classes: Vec<usize> = (0..info.num_classes)
            .filter(|&c| info.train_sizes[c] < 20)
            .collect();
        let want = few_classes
            .iter()
            .map(|&c| inv.ekld_stderr[c].powi(2))
            .sum::<f64>()
            .sqrt()
            / few_classes.len() as f64;
        assert!((s.ekld_stderr_by_group.few.unwrap() - want).abs() < 1e-12);
        // Written only when measured; older summaries read without it.
        let no_ekld = Summary::build(&info, &last, None, Status::Finished, 1.0);
        let json = serde_json::to_value(&no_ekld).unwrap();
        assert!(json.get("ekld_stderr_by_group").is_none());
    }
}
