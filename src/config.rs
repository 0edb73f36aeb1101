//! Session configs: the TOML schema, validation with errors that name the field, and `--set`
//! overrides. A `RunConfig` is plain data; everything a run does follows from it and its seed.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Built-in and real datasets. Real ones are read from local files only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    Glyphs,
    Mnist,
    FashionMnist,
    Kmnist,
    K49,
    Cifar10,
    Cifar100,
    Gtsrb,
    Tinyimagenet,
}

impl DatasetName {
    pub const ALL: [DatasetName; 9] = [
        DatasetName::Glyphs,
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Kmnist,
        DatasetName::K49,
        DatasetName::Cifar10,
        DatasetName::Cifar100,
        DatasetName::Gtsrb,
        DatasetName::Tinyimagenet,
    ];
}

/// The class-agnostic nuisance transform applied once to every training (and test) image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransformKind {
    None,
    Rot,
    Bg,
    Dil,
}

impl TransformKind {
    pub const ALL: [TransformKind; 4] = [
        TransformKind::None,
        TransformKind::Rot,
        TransformKind::Bg,
        TransformKind::Dil,
    ];
}

/// Shape of the long tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Keep every class at `max_per_class` (a balanced subset).
    Balanced,
    /// Cao et al.: n_c = floor(n_max * rho^(-c/(C-1))).
    Exp,
    /// n_c = max(floor(n_max / (c+1)^a), n_floor).
    Zipf,
    /// Half the classes n_max, half n_max / rho.
    Step,
}

/// Which class gets which rank of the long tail (rank 0 = the largest class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClassOrder {
    /// A permutation drawn from the run's seed.
    Seeded,
    /// Class label c gets rank c (Cao et al.'s CIFAR-LT and the paper: class 0 is the largest).
    Identity,
}

/// Which of a class's source images the long-tailed training set keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pick {
    /// A choice drawn from the run's seed.
    Seeded,
    /// The first n_c images of the class in file order (Cao et al.'s CIFAR-LT).
    First,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    SmallCnn,
    Resnet20,
    Resnet32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    Ce,
    Focal,
    Ldam,
}

/// How the sampler and the loss weights treat class sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    None,
    /// Class-balanced sampling, probability of an image of class c proportional to 1/n_c.
    Resample,
    /// Sampling by effective number: weight (1-beta)/(1-beta^n_c).
    ResampleEffective,
    /// Deferred re-sampling: plain until E1, class-balanced after.
    Drs,
    /// Class-balanced loss weights by effective number.
    Reweight,
    /// Deferred re-weighting: weights from E1 on.
    Drw,
    /// Classifier re-training on a frozen backbone with class-balanced sampling.
    Crt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Augment {
    None,
    /// Re-apply the dataset's true nuisance transform to every training batch.
    Oracle,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    pub name: String,
    pub seed: u64,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    pub data: DataConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub method: MethodConfig,
    pub eval: EvalConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    pub dataset: DatasetName,
    /// Folder holding the dataset's files; empty means `<data dir>/datasets/<name>`.
    pub root: String,
    pub transform: TransformKind,
    pub profile: Profile,
    /// rho = n_max / n_min for `exp` and `step`.
    pub imbalance: f64,
    /// Zipf exponent a for `zipf`.
    pub zipf_a: f64,
    /// n_max: images kept for the largest class.
    pub max_per_class: usize,
    /// Floor on a class's size (the paper's n_floor for Zipf; at least 1 everywhere).
    pub min_per_class: usize,
    /// Test images per class for the built-in generated set (balanced). Real datasets keep
    /// their official test split, as the paper does; some are imbalanced (GTSRB, K49), which
    /// is why balanced accuracy is the headline metric.
    pub test_per_class: usize,
    /// Which class is largest: `seeded` (a permutation from the seed) or `identity` (label order).
    pub class_order: ClassOrder,
    /// Which images a class keeps: `seeded` or `first` (file order, as Cao et al.).
    pub pick: Pick,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    pub arch: Arch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub warmup_epochs: usize,
    /// [E1, E2]: lr x0.01 after E1 epochs, x0.0001 after E2.
    pub decay_epochs: [usize; 2],
    /// CIFAR-style random crop (pad 4) + horizontal flip on every batch.
    pub crop_flip: bool,
    /// Save a checkpoint every this many epochs (and always at the end); 0 = only at the end.
    pub checkpoint_every: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MethodConfig {
    pub loss: Loss,
    pub rule: Rule,
    pub augment: Augment,
    pub focal_gamma: f64,
    pub ldam_max_margin: f64,
    pub ldam_scale: f64,
    /// Effective-number beta for `reweight`, `drw` and `resample-effective`.
    pub beta: f64,
    /// Epochs of classifier re-training for `crt`.
    pub crt_epochs: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// A quick eKLD estimate every this many epochs (0 = only the final one).
    pub ekld_every: usize,
    /// Final eKLD: held-out untransformed images per class and transforms per image.
    pub ekld_images_per_class: usize,
    pub ekld_samples: usize,
    /// The periodic live estimate uses fewer draws (20 x 20 ranks classes like 40 x 100).
    pub live_images_per_class: usize,
    pub live_samples: usize,
    /// Transform eKLD measures invariance to; `none` = the dataset's own (rot if it has none).
    pub ekld_transform: TransformKind,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            name: "default".into(),
            seed: 0,
            device: "auto".into(),
            data: DataConfig::default(),
            model: ModelConfig::default(),
            train: TrainConfig::default(),
            method: MethodConfig::default(),
            eval: EvalConfig::default(),
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dataset: DatasetName::Glyphs,
            root: String::new(),
            transform: TransformKind::Rot,
            profile: Profile::Zipf,
            imbalance: 100.0,
            zipf_a: 2.0,
            max_per_class: 4800,
            min_per_class: 5,
            test_per_class: 100,
            class_order: ClassOrder::Seeded,
            pick: Pick::Seeded,
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            arch: Arch::SmallCnn,
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 50,
            batch_size: 128,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 2e-4,
            warmup_epochs: 5,
            decay_epochs: [30, 40],
            crop_flip: false,
            checkpoint_every: 1,
        }
    }
}

impl Default for MethodConfig {
    fn default() -> Self {
        MethodConfig {
            loss: Loss::Ce,
            rule: Rule::None,
            augment: Augment::None,
            focal_gamma: 1.0,
            ldam_max_margin: 0.5,
            ldam_scale: 30.0,
            beta: 0.9999,
            crt_epochs: 10,
        }
    }
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            ekld_every: 5,
            ekld_images_per_class: 40,
            ekld_samples: 100,
            live_images_per_class: 20,
            live_samples: 20,
            ekld_transform: TransformKind::None,
        }
    }
}

/// A config problem, always naming where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file (or `--set`) the problem came from.
    pub source: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn field_error(source: &str, field: &str, message: impl fmt::Display) -> ConfigError {
    ConfigError {
        source: source.to_string(),
        message: format!("field `{field}`: {message}"),
    }
}

impl RunConfig {
    /// Reads a config file, applies `--set` overrides in order, and validates the result.
    pub fn load(path: &Path, overrides: &[String]) -> Result<RunConfig, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source: source.clone(),
            message: format!("cannot read the file: {e}"),
        })?;
        Self::from_toml_str(&text, &source, overrides)
    }

    /// Parses TOML text (named `source` in errors), applies overrides, validates.
    pub fn from_toml_str(
        text: &str,
        source: &str,
        overrides: &[String],
    ) -> Result<RunConfig, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            source: source.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        // Check the file alone first, so an error in it is not blamed on an override.
        Self::from_table(table.clone(), source)?;
        for item in overrides {
            apply_override(&mut table, item)?;
        }
        let origin = if overrides.is_empty() {
            source.to_string()
        } else {
            format!("{source} (with --set {})", overrides.join(" "))
        };
        let config = Self::from_table(table, &origin)?;
        config.validate(&origin)?;
        Ok(config)
    }

    fn from_table(table: toml::Table, source: &str) -> Result<RunConfig, ConfigError> {
        RunConfig::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError {
            source: source.to_string(),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// Range and consistency checks that serde cannot express.
    pub fn validate(&self, source: &str) -> Result<(), ConfigError> {
        let err = |field: &str, msg: String| Err(field_error(source, field, msg));
        if !valid_run_name(&self.name) {
            return err(
                "name",
                format!(
                    "{:?} must be non-empty and use only letters, digits, '-', '_', '.', '+' (it names the run directory)",
                    self.name
                ),
            );
        }
        crate::device::parse_device(&self.device).map_err(|m| field_error(source, "device", m))?;
        let d = &self.data;
        if !(d.imbalance.is_finite() && d.imbalance >= 1.0) {
            return err(
                "data.imbalance",
                format!(
                    "must be a number >= 1 (rho = n_max / n_min), got {}",
                    d.imbalance
                ),
            );
        }
        if !(d.zipf_a.is_finite() && d.zipf_a > 0.0) {
            return err("data.zipf_a", format!("must be > 0, got {}", d.zipf_a));
        }
        if d.max_per_class == 0 {
            return err("data.max_per_class", "must be at least 1".into());
        }
        if d.min_per_class == 0 || d.min_per_class > d.max_per_class {
            return err(
                "data.min_per_class",
                format!(
                    "must be between 1 and data.max_per_class ({}), got {}",
                    d.max_per_class, d.min_per_class
                ),
            );
        }
        if d.test_per_class == 0 {
            return err("data.test_per_class", "must be at least 1".into());
        }
        let t = &self.train;
        if t.epochs == 0 {
            return err("train.epochs", "must be at least 1".into());
        }
        if t.batch_size == 0 {
            return err("train.batch_size", "must be at least 1".into());
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return err("train.lr", format!("must be > 0, got {}", t.lr));
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return err(
                "train.momentum",
                format!("must be in [0, 1), got {}", t.momentum),
            );
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return err(
                "train.weight_decay",
                format!("must be >= 0, got {}", t.weight_decay),
            );
        }
        if t.decay_epochs[0] > t.decay_epochs[1] {
            return err(
                "train.decay_epochs",
                format!(
                    "E1 must not come after E2, got [{}, {}]",
                    t.decay_epochs[0], t.decay_epochs[1]
                ),
            );
        }
        let m = &self.method;
        if !(m.focal_gamma.is_finite() && m.focal_gamma >= 0.0) {
            return err(
                "method.focal_gamma",
                format!("must be >= 0, got {}", m.focal_gamma),
            );
        }
        if !(m.ldam_max_margin.is_finite() && m.ldam_max_margin >= 0.0) {
            return err(
                "method.ldam_max_margin",
                format!("must be >= 0, got {}", m.ldam_max_margin),
            );
        }
        if !(m.ldam_scale.is_finite() && m.ldam_scale > 0.0) {
            return err(
                "method.ldam_scale",
                format!("must be > 0, got {}", m.ldam_scale),
            );
        }
        if !(m.beta > 0.0 && m.beta < 1.0) {
            return err("method.beta", format!("must be in (0, 1), got {}", m.beta));
        }
        if m.rule == Rule::Crt && m.crt_epochs == 0 {
            return err(
                "method.crt_epochs",
                "must be at least 1 when method.rule = \"crt\"".into(),
            );
        }
        if m.augment == Augment::Oracle && d.transform == TransformKind::None {
            return err(
                "method.augment",
                "\"oracle\" re-applies the dataset's nuisance transform, but data.transform is \"none\"".into(),
            );
        }
        let e = &self.eval;
        if e.ekld_images_per_class == 0 || e.ekld_samples == 0 {
            return err(
                "eval.ekld_images_per_class",
                "eKLD needs at least 1 image per class and 1 sample (ekld_samples)".into(),
            );
        }
        if e.live_images_per_class == 0 || e.live_samples == 0 {
            return err(
                "eval.live_images_per_class",
                "the live eKLD estimate needs at least 1 image and 1 sample (live_samples)".into(),
            );
        }
        Ok(())
    }

    /// The transform eKLD measures invariance against.
    pub fn ekld_transform(&self) -> TransformKind {
        match (self.eval.ekld_transform, self.data.transform) {
            (TransformKind::None, TransformKind::None) => TransformKind::Rot,
            (TransformKind::None, t) => t,
            (t, _) => t,
        }
    }

    /// Resolved TOML text, as written into a run directory.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a RunConfig always serializes")
    }
}

/// Whether a character may appear in a run name (which names the run directory).
fn run_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.+".contains(c)
}

/// A run name names a directory: non-empty, letters, digits, '-', '_', '.', '+' only, and not
/// `.` or `..`.
pub fn valid_run_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && name.chars().all(run_name_char)
}

/// `raw` with every character a run name may not hold replaced by '_'.
pub fn sanitize_run_name(raw: &str) -> String {
    raw.chars()
        .map(|c| if run_name_char(c) { c } else { '_' })
        .collect()
}

/// The kebab-case name serde uses for a unit enum variant.
pub fn serde_plain_name<T: Serialize>(value: &T) -> String {
    match toml::Value::try_from(value) {
        Ok(toml::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Applies one `KEY=VALUE` override (dotted key; VALUE parsed as TOML, else taken as a string).
pub fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let bad = |message: String| ConfigError {
        source: format!("--set {item}"),
        message,
    };
    let (key, raw) = item
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE, e.g. train.epochs=2".into()))?;
    let key = key.trim();
    let raw = raw.trim();
    if key.is_empty() {
        return Err(bad("the key is empty".into()));
    }
    let value = parse_value(raw);
    let parts: Vec<&str> = key.split('.').collect();
    let mut node = table;
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            node.insert(part.to_string(), value);
            return Ok(());
        }
        let entry = node
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry.as_table_mut().ok_or_else(|| {
            bad(format!(
                "`{}` is a value, not a section",
                parts[..=i].join(".")
            ))
        })?;
    }
    Ok(())
}

fn parse_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, overrides: &[&str]) -> Result<RunConfig, ConfigError> {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        RunConfig::from_toml_str(text, "test.toml", &o)
    }

    #[test]
    fn defaults_and_round_trip() {
        let c = parse("", &[]).unwrap();
        assert_eq!(c, RunConfig::default());
        let again = parse(&c.to_toml(), &[]).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn unknown_keys_bad_enums_and_ranges_name_the_field() {
        let e = parse("[data]\nimbalanse = 3\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("test.toml") && e.contains("imbalanse") && e.contains("imbalance"),
            "{e}"
        );
        let e = parse("[method]\nrule = \"magic\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("magic") && e.contains("drs"),
            "allowed values listed: {e}"
        );
        let e = parse("[data]\nimbalance = -1\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("data.imbalance") && e.contains("-1"), "{e}");
        let e = parse("device = \"tpu\"\n", &[]).unwrap_err().to_string();
        assert!(e.contains("device") && e.contains("cuda:N"), "{e}");
        let e = parse("[train]\ndecay_epochs = [40, 30]\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.decay_epochs"), "{e}");
        let e = parse(
            "[method]\naugment = \"oracle\"\n[data]\ntransform = \"none\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("method.augment"), "{e}");
    }

    #[test]
    fn overrides_apply_in_order_and_are_validated() {
        let c = parse(
            "",
            &[
                "train.epochs=3",
                "method.rule=drs",
                "data.imbalance=50",
                "train.epochs=4",
            ],
        )
        .unwrap();
        assert_eq!(
            (c.train.epochs, c.method.rule, c.data.imbalance),
            (4, Rule::Drs, 50.0)
        );
        let e = parse("", &["train.nope=1"]).unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("--set"), "{e}");
        let e = parse("", &["seed.x=1"]).unwrap_err().to_string();
        assert!(e.contains("seed"), "{e}");
        assert!(parse("", &["noequals"]).is_err());
    }

    #[test]
    fn ekld_transform_defaults_to_the_datasets_own() {
        let c = parse("[data]\ntransform = \"bg\"\n", &[]).unwrap();
        assert_eq!(c.ekld_transform(), TransformKind::Bg);
        let c = parse("[data]\ntransform = \"none\"\n", &[]).unwrap();
        assert_eq!(c.ekld_transform(), TransformKind::Rot);
    }
}
