//! The plain-data records a run produces: facts fixed at its start, one epoch's metrics, and an
//! invariance report. They cross threads in events and are serialized to run directories.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{EkldSampling, EkldTransform, RunConfig};

/// Facts fixed at the start of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run directory's format (`rundir::FORMAT_VERSION`); 1 when absent (older runs).
    #[serde(default = "format_1")]
    pub format_version: u32,
    pub run_id: String,
    pub dir: PathBuf,
    pub config: RunConfig,
    /// The device actually used, e.g. `cpu` or `cuda:0`.
    pub device: String,
    /// libtorch intra-op threads the run's worker used (absent before format 2's scheduler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_threads: Option<usize>,
    /// Whether libtorch's deterministic algorithms (and cuDNN's deterministic mode, without
    /// benchmark search) were on when the run started (`train.deterministic`, or another run
    /// of the same process that asked for them). Absent in older runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deterministic: Option<bool>,
    pub num_classes: usize,
    pub class_names: Vec<String>,
    /// Training images per class, indexed by class label.
    pub train_sizes: Vec<usize>,
    pub test_sizes: Vec<usize>,
    /// Total epochs including any classifier re-training stage.
    pub total_epochs: usize,
    /// Set when the run continues from a checkpoint: epochs already done.
    pub resumed_at: Option<usize>,
    pub invlab_version: String,
    /// The commit the binary was built from (`device::invlab_commit`; absent in format 1).
    #[serde(default)]
    pub invlab_commit: Option<String>,
    pub libtorch_version: String,
    /// Cache key of the GIT generator the run uses, when it uses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_key: Option<String>,
}

fn format_1() -> u32 {
    1
}

/// What a run's worker is doing right now (for status lines, honest ETAs and the heartbeat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    LoadingData,
    /// Training (or loading) GIT's generator, before the classifier's epochs.
    Generator,
    Training,
    Evaluating,
    Invariance,
    Writing,
}

/// Accuracy split by class size: many (>100 training images), medium (20-100), few (<20).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GroupAccuracy {
    pub many: Option<f64>,
    pub medium: Option<f64>,
    pub few: Option<f64>,
}

/// Which training stage an epoch belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The main stage: the whole network.
    Train,
    /// cRT's classifier re-training on the frozen backbone.
    Crt,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Train => "train",
            Stage::Crt => "crt",
        })
    }
}

/// One epoch's metrics; one line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    pub total_epochs: usize,
    pub stage: Stage,
    pub lr: f64,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    /// Mean of per-class accuracies on the balanced test set.
    pub balanced_accuracy: f64,
    pub groups: GroupAccuracy,
    /// Indexed by class label.
    pub per_class_accuracy: Vec<f64>,
    pub train_seconds: f64,
    pub eval_seconds: f64,
    /// Present on epochs where eKLD was measured.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub invariance: Option<InvarianceReport>,
    /// GIT runs: how many generated images the epoch's batches carried (0 up to E1). Absent
    /// for runs without a generator in their batches.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub generated_images: Option<usize>,
    /// Training images the epoch's batches drew from each class (indexed by label; before
    /// GIT's mixing): the class sizes under plain shuffling, near-equal counts under
    /// class-balanced sampling (DRS after E1, cRT's stage). Empty in older records.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub drawn_per_class: Vec<usize>,
}

/// eKLD and consistency per class, measured on held-out untransformed images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvarianceReport {
    pub epoch: usize,
    /// What eKLD measured invariance to (resolved: `rot`, `bg`, `dil` or `generator`); `None`
    /// when unknown (a report rebuilt from a summary), written as `""`.
    #[serde(with = "word_or_empty")]
    pub transform: Option<EkldTransform>,
    pub images_per_class: usize,
    pub samples: usize,
    /// Mean KL(p(x) || p(x')) in nats, indexed by class label.
    pub ekld: Vec<f64>,
    /// Share of (x, x') pairs whose argmax agrees, indexed by class label.
    pub consistency: Vec<f64>,
    /// Standard error of each class's eKLD over its images.
    pub ekld_stderr: Vec<f64>,
    /// A 95 % interval of each class's eKLD, corrected for the skew of per-image KL (Hall's
    /// transformation of t; mean +- 2 SE of a skewed mean misses high); empty in older records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ekld_ci95: Vec<[f64; 2]>,
    /// Spearman rank correlation between training class size and eKLD.
    pub spearman_size_ekld: Option<f64>,
    pub seconds: f64,
    /// Of `seconds`, the time spent in the transform itself (drawing the transformed copies),
    /// measured around each transform call on a CPU run; `None` on a GPU (its kernels run
    /// asynchronously, so the call returns before the work is done) and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform_seconds: Option<f64>,
    /// How the draws were allocated (absent in run directories from before adaptive eKLD).
    #[serde(default)]
    pub sampling: SamplingUsage,
}

/// Images and transform draws per image each class actually used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SamplingUsage {
    /// `fixed` or `adaptive`; `None` (written `""`) for old records, which were fixed.
    #[serde(with = "word_or_empty")]
    pub mode: Option<EkldSampling>,
    /// Indexed by class label; empty for old records.
    pub images: Vec<usize>,
    pub samples_per_image: Vec<usize>,
}

/// The smallest, median and largest of a per-class count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spread {
    pub min: usize,
    pub median: usize,
    pub max: usize,
}

impl Spread {
    /// `None` for an empty list; the median of an even count is the lower middle.
    pub fn of(values: &[usize]) -> Option<Spread> {
        let mut v: Vec<usize> = values.to_vec();
        v.sort_unstable();
        Some(Spread {
            min: *v.first()?,
            median: v[(v.len() - 1) / 2],
            max: *v.last()?,
        })
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{} (median {})", self.min, self.max, self.median)
        }
    }
}

/// The eKLD design a measurement actually used, per class: held-out images and transforms
/// (draws) per image. Under adaptive sampling it differs from class to class and from the
/// configured caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesignUsed {
    pub images: Spread,
    pub samples_per_image: Spread,
}

impl SamplingUsage {
    /// The design used, from the per-class counts; `None` for old records without them.
    pub fn design(&self) -> Option<DesignUsed> {
        Some(DesignUsed {
            images: Spread::of(&self.images)?,
            samples_per_image: Spread::of(&self.samples_per_image)?,
        })
    }
}

impl InvarianceReport {
    /// "images x draws" per class as measured: the used design when known, else the
    /// configured one (old records).
    pub fn design_text(&self) -> String {
        match self.sampling.design() {
            Some(d)
                if d.images.min == d.images.max
                    && d.samples_per_image.min == d.samples_per_image.max =>
            {
                format!("{}x{} draws", d.images.min, d.samples_per_image.min)
            }
            Some(d) => format!("{} images x {} draws", d.images, d.samples_per_image),
            None => format!("{}x{} draws", self.images_per_class, self.samples),
        }
    }
}

/// An optional enum written as its word, or `""` for `None` (the words older builds wrote).
mod word_or_empty {
    use serde::de::{DeserializeOwned, IntoDeserializer};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => value.serialize(serializer),
            None => serializer.serialize_str(""),
        }
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        let word = String::deserialize(deserializer)?;
        if word.is_empty() {
            return Ok(None);
        }
        T::deserialize(IntoDeserializer::<D::Error>::into_deserializer(
            word.as_str(),
        ))
        .map(Some)
    }
}

/// Where GIT's generator phase stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorProgress {
    /// The generator's cache key.
    pub key: String,
    pub iteration: usize,
    pub iterations: usize,
    /// The latest iteration's losses (none when the generator came from the cache).
    pub losses: Option<crate::generator::Losses>,
    /// Seconds of generator training in this process, for an ETA.
    pub seconds: f64,
    /// Iteration the training (re)started from in this process.
    pub started_at: usize,
    pub from_cache: bool,
    pub samples: Option<crate::generator::SampleGrid>,
}

/// What `generator.json` in a run directory records: which generator the run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorRecord {
    pub key: String,
    /// The cache entry holding `generator.ot`, `losses.jsonl` and `samples.png`.
    pub cache_dir: PathBuf,
    /// Trained by this run (else reused from the cache).
    pub trained_here: bool,
    pub iterations: usize,
    /// Wall seconds of generator training in this run (0 when reused).
    pub seconds: f64,
    pub inputs: crate::generator::KeyInputs,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An epoch line as older builds wrote it: the words stay the words.
    const OLD_LINE: &str = r#"{"epoch": 3, "transform": "rot", "images_per_class": 2, "samples": 4,
        "ekld": [0.5, 1.5], "consistency": [0.9, 0.7], "ekld_stderr": [0.01, 0.02],
        "spearman_size_ekld": -1.0, "seconds": 0.5,
        "sampling": {"mode": "adaptive", "images": [2, 2], "samples_per_image": [4, 4]}}"#;

    #[test]
    fn old_invariance_reports_load_and_write_the_same_words() {
        let r: InvarianceReport = serde_json::from_str(OLD_LINE).unwrap();
        assert_eq!(r.transform, Some(EkldTransform::Rot));
        assert_eq!(r.sampling.mode, Some(EkldSampling::Adaptive));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["transform"], "rot");
        assert_eq!(json["sampling"]["mode"], "adaptive");
        // Before adaptive eKLD there was no `sampling`; empty words are unknown.
        let mut old: serde_json::Value = serde_json::from_str(OLD_LINE).unwrap();
        old.as_object_mut().unwrap().remove("sampling");
        old["transform"] = "".into();
        let r: InvarianceReport = serde_json::from_value(old).unwrap();
        assert_eq!((r.transform, r.sampling.mode), (None, None));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            (&json["transform"], &json["sampling"]["mode"]),
            (&"".into(), &"".into())
        );
        for word in ["bg", "dil", "generator"] {
            let line = OLD_LINE.replace("\"rot\"", &format!("\"{word}\""));
            let r: InvarianceReport = serde_json::from_str(&line).unwrap();
            assert_eq!(serde_json::to_value(&r).unwrap()["transform"], word);
        }
        assert!(
            serde_json::from_str::<InvarianceReport>(&OLD_LINE.replace("\"rot\"", "\"spin\""))
                .is_err()
        );
    }

    #[test]
    fn the_design_used_is_reported_not_the_configured_one() {
        let mut r: InvarianceReport = serde_json::from_str(
            r#"{"epoch": 5, "transform": "rot", "images_per_class": 40, "samples": 100,
                "ekld": [0.1, 0.2, 0.3], "consistency": [1, 1, 1], "ekld_stderr": [0, 0, 0],
                "spearman_size_ekld": null, "seconds": 1.0,
                "sampling": {"mode": "adaptive", "images": [8, 40, 12], "samples_per_image": [4, 20, 100]}}"#,
        )
        .unwrap();
        assert_eq!(
            r.design_text(),
            "8-40 (median 12) images x 4-100 (median 20) draws"
        );
        let d = r.sampling.design().unwrap();
        assert_eq!((d.images.min, d.images.median, d.images.max), (8, 12, 40));
        r.sampling.images = vec![3, 3, 3];
        r.sampling.samples_per_image = vec![4, 4, 4];
        assert_eq!(r.design_text(), "3x4 draws");
        r.sampling.images.clear();
        assert_eq!(
            r.design_text(),
            "40x100 draws",
            "old records: the configured design"
        );
        assert_eq!(Spread::of(&[]), None);
    }
}
