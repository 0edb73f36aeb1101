//! Named method presets and config layering: `[method] preset = "ce-drs-git"` (or
//! `--set method.preset=ce-drs-git`, `--set method=ce-drs-git`) fills the method's loss, rule and
//! augmentation from [`PRESETS`], and a top-level `base = "k49-bg-lt.toml"` starts a config from
//! another file (resolved next to the file that names it). Layers, lowest first: the base file,
//! the preset, the file's own keys; then each `--set` in order (a preset given by `--set` replaces
//! the method's loss, rule and augmentation, and later `--set`s override it). Neither key reaches
//! the resolved `RunConfig`: a run directory's `config.toml` holds the values they stood for.

use std::path::{Path, PathBuf};

use super::{
    apply_override, field_error, serde_plain_name, Augment, ConfigError, Loss, MethodConfig, Rule,
    RunConfig,
};

/// A named loss/rule/augment combination, as in the long-tail literature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    pub loss: Loss,
    pub rule: Rule,
    pub augment: Augment,
    pub about: &'static str,
}

pub const PRESETS: [Preset; 15] = [
    Preset {
        name: "ERM",
        loss: Loss::Ce,
        rule: Rule::None,
        augment: Augment::None,
        about: "plain cross-entropy on the long-tailed set",
    },
    Preset {
        name: "CE-Resample",
        loss: Loss::Ce,
        rule: Rule::Resample,
        augment: Augment::None,
        about: "class-balanced sampling (prob. 1/n_c) throughout",
    },
    Preset {
        name: "CE-Resample-EN",
        loss: Loss::Ce,
        rule: Rule::ResampleEffective,
        augment: Augment::None,
        about: "sampling by effective number (beta 0.9999) throughout",
    },
    Preset {
        name: "CE-DRS",
        loss: Loss::Ce,
        rule: Rule::Drs,
        augment: Augment::None,
        about: "cross-entropy; class-balanced re-sampling from E1 on",
    },
    Preset {
        name: "CE-Reweight",
        loss: Loss::Ce,
        rule: Rule::Reweight,
        augment: Augment::None,
        about: "loss weights by effective number (beta 0.9999) throughout",
    },
    Preset {
        name: "CE-DRW",
        loss: Loss::Ce,
        rule: Rule::Drw,
        augment: Augment::None,
        about: "cross-entropy; class-balanced loss weights from E1 on",
    },
    Preset {
        name: "Focal",
        loss: Loss::Focal,
        rule: Rule::None,
        augment: Augment::None,
        about: "focal loss (gamma 1)",
    },
    Preset {
        name: "LDAM-DRW",
        loss: Loss::Ldam,
        rule: Rule::Drw,
        augment: Augment::None,
        about: "LDAM margins ~ n_c^-1/4 (max 0.5, s 30), re-weighting from E1",
    },
    Preset {
        name: "Balanced-Softmax",
        loss: Loss::BalancedSoftmax,
        rule: Rule::None,
        augment: Augment::None,
        about: "softmax over logits + log of the training prior (Ren et al. 2020)",
    },
    Preset {
        name: "LA",
        loss: Loss::LogitAdjusted,
        rule: Rule::None,
        augment: Augment::None,
        about: "logit-adjusted loss: logits + tau log prior (tau 1; Menon et al. 2021)",
    },
    Preset {
        name: "cRT",
        loss: Loss::Ce,
        rule: Rule::Crt,
        augment: Augment::None,
        about: "ERM, then classifier re-training on a frozen backbone, balanced",
    },
    Preset {
        name: "Oracle",
        loss: Loss::Ce,
        rule: Rule::None,
        augment: Augment::Oracle,
        about: "augments with the true nuisance transform (upper bound)",
    },
    Preset {
        name: "CE-DRS-GIT",
        loss: Loss::Ce,
        rule: Rule::Drs,
        augment: Augment::Git,
        about: "CE-DRS; from E1 on, half of each batch comes from the trained generator (GIT)",
    },
    Preset {
        name: "CE-DRS-GIT-Oracle",
        loss: Loss::Ce,
        rule: Rule::Drs,
        augment: Augment::GitOracle,
        about:
            "GIT's control: CE-DRS-GIT's mixing with the true transform in the generator's place",
    },
    Preset {
        name: "LDAM-DRW-GIT",
        loss: Loss::Ldam,
        rule: Rule::Drw,
        augment: Augment::Git,
        about: "LDAM-DRW; from E1 on, half of each batch comes from the trained generator (GIT)",
    },
];

impl Preset {
    /// The name configs use: the display name in lower case (`ce-drs-git`, `erm`, `crt`).
    pub fn key(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    /// The `[method]` keys this preset sets, as a TOML table.
    fn method_table(&self) -> toml::Table {
        let mut t = toml::Table::new();
        t.insert("loss".into(), serde_plain_name(&self.loss).into());
        t.insert("rule".into(), serde_plain_name(&self.rule).into());
        t.insert("augment".into(), serde_plain_name(&self.augment).into());
        t
    }
}

/// The preset a method matches, if any.
pub fn preset_of(method: &MethodConfig) -> Option<usize> {
    PRESETS
        .iter()
        .position(|p| p.loss == method.loss && p.rule == method.rule && p.augment == method.augment)
}

/// The preset named `name` (case-insensitive: `ce-drs-git` or `CE-DRS-GIT`).
pub fn find_preset(name: &str) -> Option<&'static Preset> {
    PRESETS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
}

/// The preset named `name`, or an error naming `method.preset` and every known preset.
pub fn lookup_preset(name: &str, source: &str) -> Result<&'static Preset, ConfigError> {
    find_preset(name).ok_or_else(|| {
        let known: Vec<String> = PRESETS.iter().map(Preset::key).collect();
        field_error(
            source,
            "method.preset",
            format!(
                "unknown preset {name:?}; known presets: {}",
                known.join(", ")
            ),
        )
    })
}

/// Overlays `upper` on `lower`: tables merge key by key, any other value replaces.
fn merge(lower: &mut toml::Table, upper: toml::Table) {
    for (key, value) in upper {
        match (lower.get_mut(&key), value) {
            (Some(toml::Value::Table(l)), toml::Value::Table(u)) => merge(l, u),
            (_, value) => {
                lower.insert(key, value);
            }
        }
    }
}

/// Bases may name bases, up to this depth (a circle ends here with an error).
const MAX_BASE_DEPTH: usize = 8;

/// Resolves a config file's `base` and `method.preset` keys into one plain table (neither key
/// left in it). `dir` is the folder `base` paths are relative to (the file's own folder; the
/// working directory for text that is not a file).
pub(super) fn resolve_layers(
    table: toml::Table,
    source: &str,
    dir: Option<&Path>,
) -> Result<toml::Table, ConfigError> {
    resolve_at_depth(table, source, dir, 0)
}

fn resolve_at_depth(
    mut table: toml::Table,
    source: &str,
    dir: Option<&Path>,
    depth: usize,
) -> Result<toml::Table, ConfigError> {
    let mut resolved = match table.remove("base") {
        None => toml::Table::new(),
        Some(toml::Value::String(base)) => load_base(&base, source, dir, depth)?,
        Some(other) => {
            return Err(field_error(
                source,
                "base",
                format!(
                    "must be the path of a config file (a string), got {}",
                    other.type_str()
                ),
            ))
        }
    };
    let preset = match table.get_mut("method") {
        Some(toml::Value::Table(method)) => method.remove("preset"),
        _ => None,
    };
    match preset {
        None => {}
        Some(toml::Value::String(name)) => {
            let p = lookup_preset(&name, source)?;
            merge(&mut resolved, method_layer(p));
        }
        Some(other) => {
            return Err(field_error(
                source,
                "method.preset",
                format!(
                    "must be a preset's name (a string), got {}",
                    other.type_str()
                ),
            ))
        }
    }
    merge(&mut resolved, table);
    Ok(resolved)
}

fn method_layer(p: &Preset) -> toml::Table {
    let mut layer = toml::Table::new();
    layer.insert("method".into(), toml::Value::Table(p.method_table()));
    layer
}

/// Reads, resolves and checks the base file `base` names; its errors name the base file.
fn load_base(
    base: &str,
    source: &str,
    dir: Option<&Path>,
    depth: usize,
) -> Result<toml::Table, ConfigError> {
    if depth >= MAX_BASE_DEPTH {
        return Err(field_error(
            source,
            "base",
            format!("bases nest more than {MAX_BASE_DEPTH} deep (a file that is its own base?)"),
        ));
    }
    let path: PathBuf = match dir {
        Some(d) => d.join(base),
        None => PathBuf::from(base),
    };
    let base_source = path.display().to_string();
    let text = crate::text_file::read_text_at_most(&path, crate::text_file::MAX_CONFIG_BYTES)
        .map_err(|e| field_error(source, "base", format!("cannot read {base_source}: {e}")))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        source: base_source.clone(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let resolved = resolve_at_depth(table, &base_source, path.parent(), depth + 1)?;
    // The base alone must be a valid config, so that its mistakes are blamed on it.
    let config = RunConfig::from_table(resolved.clone(), &base_source)?;
    config.validate(&base_source)?;
    Ok(resolved)
}

/// Applies one `--set KEY=VALUE`: `method.preset=NAME` (or `method=NAME`) overlays the preset's
/// loss, rule and augmentation; `base` cannot be set; anything else is `apply_override`.
pub(super) fn apply_set(table: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let source = format!("--set {item}");
    if let Some((key, value)) = item.split_once('=') {
        let key = key.trim();
        let value = value.trim().trim_matches('"');
        if key == "method.preset" || (key == "method" && !value.starts_with('{')) {
            let p = lookup_preset(value, &source)?;
            merge(table, method_layer(p));
            return Ok(());
        }
        if key == "base" {
            return Err(field_error(
                &source,
                "base",
                "a base is chosen in the config file, not with --set",
            ));
        }
    }
    apply_override(table, item)
}
