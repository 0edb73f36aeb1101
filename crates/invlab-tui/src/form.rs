//! The set-up form: a `RunConfig` being edited, one field at a time, each field explaining
//! what its value means. Pure data; the App routes keys here.

use std::path::PathBuf;

use invlab_core::config::presets::{preset_of, PRESETS};
use invlab_core::config::{
    serde_plain_name, Arch, Augment, DatasetName, Profile, RunConfig, TransformKind,
};
use invlab_core::device::DeviceRequest;
use invlab_core::longtail::sizes_by_rank;
use invlab_core::summary::SizeGroup;

pub(crate) fn dataset_about(dataset: DatasetName) -> &'static str {
    match dataset {
        DatasetName::Glyphs => "built-in generated 28x28 glyphs, 49 classes, no download",
        DatasetName::Mnist => "MNIST digits (IDX files in the data dir)",
        DatasetName::FashionMnist => "Fashion-MNIST (IDX files in the data dir)",
        DatasetName::Kmnist => "Kuzushiji-MNIST, 10 classes (IDX files)",
        DatasetName::K49 => "Kuzushiji-49, the paper's base set (.npz files)",
        DatasetName::Cifar10 => "CIFAR-10, 32x32 colour (binary version)",
        DatasetName::Cifar100 => "CIFAR-100, 32x32 colour (binary version)",
        DatasetName::Gtsrb => "German traffic signs, 43 classes (PPM + CSV)",
        DatasetName::Tinyimagenet => "TinyImageNet-200 (JPEG)",
    }
}

pub(crate) fn transform_about(t: TransformKind) -> &'static str {
    match t {
        TransformKind::None => "no nuisance transform (eKLD then measured against ROT)",
        TransformKind::Rot => "ROT: rotation by U(-180,180) degrees, bicubic",
        TransformKind::Bg => "BG: background pixels 0 -> v ~ U{0..99}",
        TransformKind::Dil => "DIL: dilate k~U{2,3,4} (p 0.6) or erode k~U{1,2}",
    }
}

pub(crate) fn arch_about(a: Arch) -> &'static str {
    match a {
        Arch::SmallCnn => "small CNN: fast on a CPU",
        Arch::Resnet20 => "CIFAR-style ResNet-20 (the paper's model for 28x28 sets)",
        Arch::Resnet32 => "CIFAR-style ResNet-32 (the paper's model for CIFAR)",
    }
}

pub(crate) fn profile_about(p: Profile) -> &'static str {
    match p {
        Profile::Balanced => "every class keeps n_max images",
        Profile::Exp => "exponential: n_c = n_max * rho^(-c/(C-1)) (CIFAR-LT)",
        Profile::Zipf => "Zipf: n_c = max(n_max / (c+1)^a, floor) (the paper's K49-LT)",
        Profile::Step => "step: half the classes n_max, half n_max / rho",
    }
}

/// A one-line account of the class sizes a config gives.
pub(crate) fn size_preview(config: &RunConfig) -> String {
    let c = config.data.dataset.num_classes();
    let sizes = sizes_by_rank(&config.data, c);
    let total: usize = sizes.iter().sum();
    let max = sizes.iter().copied().max().unwrap_or(0);
    let min = sizes.iter().copied().min().unwrap_or(0);
    let mut groups = [0usize; 3];
    for &n in &sizes {
        groups[SizeGroup::of(n).index()] += 1;
    }
    format!(
        "{c} classes, n_max {max} .. n_min {min}, {total} images; many/medium/few = {}/{}/{}",
        groups[0], groups[1], groups[2]
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Config,
    Name,
    Dataset,
    Transform,
    Profile,
    Imbalance,
    ZipfA,
    MaxPerClass,
    Method,
    Model,
    Epochs,
    Seed,
    Device,
}

impl Field {
    pub(crate) const ALL: [Field; 13] = [
        Field::Config,
        Field::Name,
        Field::Dataset,
        Field::Transform,
        Field::Profile,
        Field::Imbalance,
        Field::ZipfA,
        Field::MaxPerClass,
        Field::Method,
        Field::Model,
        Field::Epochs,
        Field::Seed,
        Field::Device,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Field::Config => "Config",
            Field::Name => "Name",
            Field::Dataset => "Dataset",
            Field::Transform => "Transform",
            Field::Profile => "Profile",
            Field::Imbalance => "Imbalance rho",
            Field::ZipfA => "Zipf a",
            Field::MaxPerClass => "n_max",
            Field::Method => "Method",
            Field::Model => "Model",
            Field::Epochs => "Epochs",
            Field::Seed => "Seed",
            Field::Device => "Device",
        }
    }

    /// Fields typed in with `e` (the others cycle with left/right).
    pub(crate) fn is_text(self) -> bool {
        matches!(
            self,
            Field::Name
                | Field::Imbalance
                | Field::ZipfA
                | Field::MaxPerClass
                | Field::Epochs
                | Field::Seed
                | Field::Device
        )
    }
}

/// A saved session config the form can load.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFile {
    pub name: String,
    pub path: PathBuf,
}

/// Lists `*.toml` under each folder, in order, without duplicates.
pub(crate) fn list_configs(dirs: &[PathBuf]) -> Vec<ConfigFile> {
    let mut out: Vec<ConfigFile> = Vec::new();
    for dir in dirs {
        let paths = invlab_core::paths::toml_files(dir);
        for path in paths {
            if out.iter().all(|c| c.path != path) {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push(ConfigFile { name, path });
            }
        }
    }
    out
}

/// The default config: `configs/default.toml` if it loads, else the built-in defaults.
pub use invlab_core::config::default_config;

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub config: RunConfig,
    pub field: usize,
    /// `Some(buffer)` while a text field is being typed.
    pub editing: Option<String>,
    pub configs: Vec<ConfigFile>,
    /// Index into `configs` of the last loaded file; `None` = defaults.
    pub loaded: Option<usize>,
}

const RHOS: [f64; 7] = [1.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0];
const ZIPF_AS: [f64; 4] = [1.02, 1.5, 2.0, 2.5];
const N_MAX: [usize; 8] = [100, 250, 500, 1000, 2000, 4800, 5000, 6000];
const DEVICES: [DeviceRequest; 3] = [
    DeviceRequest::Auto,
    DeviceRequest::Cpu,
    DeviceRequest::Cuda(None),
];

fn cycle<T: PartialEq + Copy>(all: &[T], current: T, delta: i32) -> T {
    let i = all.iter().position(|x| *x == current).unwrap_or(0) as i32;
    let n = all.len() as i32;
    all[((i + delta).rem_euclid(n)) as usize]
}

/// Next value in a sorted ladder above (delta>0) or below the current value.
fn step_f64(ladder: &[f64], current: f64, delta: i32) -> f64 {
    if delta > 0 {
        ladder
            .iter()
            .copied()
            .find(|&x| x > current + 1e-9)
            .unwrap_or(ladder[0])
    } else {
        ladder
            .iter()
            .rev()
            .copied()
            .find(|&x| x < current - 1e-9)
            .unwrap_or(ladder[ladder.len() - 1])
    }
}

impl Form {
    pub fn new(config: RunConfig, configs: Vec<ConfigFile>) -> Form {
        Form {
            config,
            field: 0,
            editing: None,
            configs,
            loaded: None,
        }
    }

    pub(crate) fn current(&self) -> Field {
        Field::ALL[self.field]
    }

    pub(crate) fn move_field(&mut self, delta: i32) {
        let n = Field::ALL.len() as i32;
        self.field = (self.field as i32 + delta).rem_euclid(n) as usize;
    }

    /// The value shown for a field.
    pub(crate) fn value(&self, field: Field) -> String {
        let c = &self.config;
        match field {
            Field::Config => match self.loaded {
                Some(i) => self.configs[i].name.clone(),
                None => "(defaults)".into(),
            },
            Field::Name => c.name.clone(),
            Field::Dataset => serde_plain_name(&c.data.dataset),
            Field::Transform => serde_plain_name(&c.data.transform),
            Field::Profile => serde_plain_name(&c.data.profile),
            Field::Imbalance => format!("{}", c.data.imbalance),
            Field::ZipfA => format!("{}", c.data.zipf_a),
            Field::MaxPerClass => c.data.max_per_class.to_string(),
            Field::Method => match preset_of(&c.method) {
                Some(i) => PRESETS[i].name.to_string(),
                None => format!(
                    "custom ({}/{}/{})",
                    serde_plain_name(&c.method.loss),
                    serde_plain_name(&c.method.rule),
                    serde_plain_name(&c.method.augment)
                ),
            },
            Field::Model => serde_plain_name(&c.model.arch),
            Field::Epochs => c.train.epochs.to_string(),
            Field::Seed => c.seed.to_string(),
            Field::Device => c.device.to_string(),
        }
    }

    /// What the selected value means.
    pub fn about(&self, field: Field) -> String {
        let c = &self.config;
        match field {
            Field::Config => match self.loaded {
                Some(i) => format!("loaded {}", self.configs[i].path.display()),
                None => format!(
                    "the defaults; {} saved config(s) to pick with left/right",
                    self.configs.len()
                ),
            },
            Field::Name => "names the run directory (e to edit)".into(),
            Field::Dataset => dataset_about(c.data.dataset).into(),
            Field::Transform => transform_about(c.data.transform).into(),
            Field::Profile => profile_about(c.data.profile).into(),
            Field::Imbalance => match c.data.profile {
                Profile::Exp | Profile::Step => "rho = n_max / n_min".into(),
                _ => "rho: used by the exp and step profiles".into(),
            },
            Field::ZipfA => match c.data.profile {
                Profile::Zipf => "Zipf exponent a (paper: 2.0, also 1.02)".into(),
                _ => "a: used by the zipf profile".into(),
            },
            Field::MaxPerClass => "training images of the largest class".into(),
            Field::Method => {
                let about = match preset_of(&c.method) {
                    Some(i) => PRESETS[i].about,
                    None => "a loss/rule/augment mix from a config file",
                };
                // The paper trains generators for BG and DIL only: MUNIT's style enters
                // through AdaIN, a per-channel scale and shift, which cannot rotate.
                if c.method.augment == Augment::Git && c.data.transform == TransformKind::Rot {
                    format!(
                        "{about}. ROT: outside the paper, which defines GIT for BG and DIL only."
                    )
                } else {
                    about.into()
                }
            }
            Field::Model => arch_about(c.model.arch).into(),
            Field::Epochs => format!(
                "lr x0.01 after E1 = {}, x0.0001 after E2 = {}",
                c.train.decay_epochs[0], c.train.decay_epochs[1]
            ),
            Field::Seed => "class order, subsets and every random draw follow from it".into(),
            Field::Device => "auto, cpu, cuda or cuda:N".into(),
        }
    }

    /// Left/right on the selected field. Returns a message when a config was loaded or failed.
    pub(crate) fn cycle(&mut self, delta: i32) -> Option<Result<String, String>> {
        let field = self.current();
        let c = &mut self.config;
        match field {
            Field::Config => {
                if self.configs.is_empty() {
                    return Some(Err("no saved configs (w saves one)".into()));
                }
                let n = self.configs.len() as i32 + 1;
                let cur = self.loaded.map(|i| i as i32 + 1).unwrap_or(0);
                let next = (cur + delta).rem_euclid(n);
                if next == 0 {
                    self.loaded = None;
                    return None;
                }
                let file = &self.configs[next as usize - 1];
                return Some(match RunConfig::load(&file.path, &[]) {
                    Ok(config) => {
                        self.config = config;
                        self.loaded = Some(next as usize - 1);
                        Ok(format!("loaded {}", file.path.display()))
                    }
                    Err(e) => {
                        self.loaded = Some(next as usize - 1);
                        Err(e.to_string())
                    }
                });
            }
            Field::Name => {}
            Field::Dataset => {
                c.data.dataset = cycle(&DatasetName::ALL, c.data.dataset, delta);
                c.train.crop_flip = matches!(
                    c.data.dataset,
                    DatasetName::Cifar10 | DatasetName::Cifar100 | DatasetName::Tinyimagenet
                );
            }
            Field::Transform => {
                c.data.transform = cycle(&TransformKind::ALL, c.data.transform, delta)
            }
            Field::Profile => {
                let all = [
                    Profile::Exp,
                    Profile::Zipf,
                    Profile::Step,
                    Profile::Balanced,
                ];
                c.data.profile = cycle(&all, c.data.profile, delta);
            }
            Field::Imbalance => c.data.imbalance = step_f64(&RHOS, c.data.imbalance, delta),
            Field::ZipfA => c.data.zipf_a = step_f64(&ZIPF_AS, c.data.zipf_a, delta),
            Field::MaxPerClass => {
                let ladder: Vec<f64> = N_MAX.iter().map(|&n| n as f64).collect();
                c.data.max_per_class =
                    step_f64(&ladder, c.data.max_per_class as f64, delta) as usize;
                c.data.min_per_class = c.data.min_per_class.min(c.data.max_per_class);
            }
            Field::Method => {
                let i = match preset_of(&c.method) {
                    Some(i) => (i as i32 + delta).rem_euclid(PRESETS.len() as i32) as usize,
                    None => 0,
                };
                let p = PRESETS[i];
                c.method.loss = p.loss;
                c.method.rule = p.rule;
                c.method.augment = p.augment;
            }
            Field::Model => {
                let all = [Arch::SmallCnn, Arch::Resnet20, Arch::Resnet32];
                c.model.arch = cycle(&all, c.model.arch, delta);
            }
            Field::Epochs => {
                c.train.epochs = (c.train.epochs as i64 + delta as i64).max(1) as usize;
            }
            Field::Seed => c.seed = (c.seed as i64 + delta as i64).max(0) as u64,
            Field::Device => {
                c.device = cycle(&DEVICES, c.device, delta);
            }
        }
        None
    }

    /// Starts typing into a text field; false for a cycling field.
    pub(crate) fn begin_edit(&mut self) -> bool {
        if self.current().is_text() {
            self.editing = Some(self.value(self.current()));
            true
        } else {
            false
        }
    }

    /// Applies the typed text. Err names the problem and keeps the old value.
    pub(crate) fn commit_edit(&mut self) -> Result<(), String> {
        let Some(text) = self.editing.take() else {
            return Ok(());
        };
        let text = text.trim().to_string();
        let field = self.current();
        let c = &mut self.config;
        let bad = |what: &str| Err(format!("{:?} is not {what}", text));
        match field {
            Field::Name => {
                invlab_core::config::check_run_name(&text)
                    .map_err(|e| format!("{e} (it names the run directory)"))?;
                c.name = text
            }
            Field::Imbalance => match text.parse::<f64>() {
                Ok(v) if v >= 1.0 && v.is_finite() => c.data.imbalance = v,
                _ => return bad("a number >= 1"),
            },
            Field::ZipfA => match text.parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => c.data.zipf_a = v,
                _ => return bad("a number > 0"),
            },
            Field::MaxPerClass => match text.parse::<usize>() {
                Ok(v) if v >= 1 => {
                    c.data.max_per_class = v;
                    c.data.min_per_class = c.data.min_per_class.min(v);
                }
                _ => return bad("a whole number >= 1"),
            },
            Field::Epochs => match text.parse::<usize>() {
                Ok(v) if v >= 1 => {
                    c.train.epochs = v;
                    // Keep the lr schedule inside the run: E1/E2 at 60% / 80%, as K49's 30/40 of 50.
                    if c.train.decay_epochs[1] > v {
                        c.train.decay_epochs = [v * 3 / 5, v * 4 / 5];
                    }
                }
                _ => return bad("a whole number >= 1"),
            },
            Field::Seed => match text.parse::<u64>() {
                Ok(v) => c.seed = v,
                _ => return bad("a whole number"),
            },
            Field::Device => match DeviceRequest::parse(&text) {
                Ok(device) => c.device = device,
                Err(e) => return Err(e.to_string()),
            },
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip() {
        let mut form = Form::new(RunConfig::default(), vec![]);
        form.field = Field::ALL.iter().position(|f| *f == Field::Method).unwrap();
        assert_eq!(form.value(Field::Method), "ERM");
        for p in PRESETS.iter().skip(1) {
            form.cycle(1);
            assert_eq!(form.value(Field::Method), p.name);
        }
        form.cycle(1);
        assert_eq!(form.value(Field::Method), "ERM");
    }

    /// GIT with ROT is offered, but the form says it is outside the paper; with BG it is not.
    #[test]
    fn git_with_rot_is_labelled_outside_the_paper() {
        let mut config = RunConfig::default();
        config.method.augment = Augment::Git;
        for (transform, outside) in [
            (TransformKind::Rot, true),
            (TransformKind::Bg, false),
            (TransformKind::Dil, false),
        ] {
            config.data.transform = transform;
            let about = Form::new(config.clone(), vec![]).about(Field::Method);
            assert_eq!(
                about.contains("outside the paper"),
                outside,
                "{transform:?}: {about}"
            );
        }
        config.data.transform = TransformKind::Rot;
        config.method.augment = Augment::None;
        let about = Form::new(config, vec![]).about(Field::Method);
        assert!(!about.contains("outside the paper"), "{about}");
    }

    #[test]
    fn bad_run_names_are_refused_with_the_rule() {
        let mut form = Form::new(RunConfig::default(), vec![]);
        form.field = Field::ALL.iter().position(|f| *f == Field::Name).unwrap();
        assert!(form.begin_edit());
        form.editing = Some("my run/1".into());
        let e = form.commit_edit().unwrap_err();
        assert!(e.contains("letters, digits"), "{e}");
        assert_eq!(form.config.name, RunConfig::default().name);
    }

    #[test]
    fn preview_of_default_is_papers_k49() {
        let text = size_preview(&RunConfig::default());
        assert!(
            text.contains("49 classes, n_max 4800 .. n_min 5, 7822 images"),
            "{text}"
        );
    }

    #[test]
    fn editing_validates() {
        let mut form = Form::new(RunConfig::default(), vec![]);
        form.field = Field::ALL.iter().position(|f| *f == Field::Epochs).unwrap();
        assert!(form.begin_edit());
        form.editing = Some("abc".into());
        assert!(form.commit_edit().is_err());
        assert_eq!(form.config.train.epochs, 50);
        form.begin_edit();
        form.editing = Some("10".into());
        form.commit_edit().unwrap();
        assert_eq!(form.config.train.epochs, 10);
        assert_eq!(form.config.train.decay_epochs, [6, 8]);
    }
}
