//! What a run records about GIT's generator, as plain data: the inputs its cache key hashes
//! (with its sizes and training settings, `config::generator_spec`), its losses and sample
//! grids. The networks and their training are the engine's (`invlab_engine::generative`).

use serde::{Deserialize, Serialize};

pub use crate::config::generator_spec::GeneratorSpec;
use crate::config::{ClassOrder, DatasetName, Pick, Profile, RunConfig, TransformKind};
use crate::picture::{grid, GridRow, GridStyle, Picture};

/// One iteration's losses (the generator's terms unweighted, as MUNIT logs them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Losses {
    pub iteration: usize,
    /// LSGAN discriminator loss.
    pub dis: f64,
    /// LSGAN generator term.
    pub gan: f64,
    /// L1 between images and their reconstructions.
    pub recon_x: f64,
    /// L1 between sampled styles and the styles re-encoded from translated images, summed
    /// over both domains (an encoder that always answers 0 scores 2 x E|N(0,1)| = 1.60).
    pub recon_s: f64,
    /// L1 between content codes and those re-encoded from translated images.
    pub recon_c: f64,
    /// `recon_s` of each domain alone (do-nothing baseline 0.80 each); absent in losses
    /// written before it was logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recon_s_a: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recon_s_b: Option<f64>,
}

/// Losses from a JSON Lines file (the cache's `losses.jsonl`, a run's `generator-losses.jsonl`);
/// unreadable lines (a cut-short last line) are skipped, a missing file gives none.
pub fn read_losses(path: &std::path::Path) -> Vec<Losses> {
    crate::text_file::read_text(path)
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Bumped whenever the generator's architecture or training changes meaning.
const FORMAT: u32 = 1;

/// Everything a trained generator depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInputs {
    pub format: u32,
    pub dataset: DatasetName,
    pub transform: TransformKind,
    pub profile: Profile,
    pub imbalance: f64,
    pub zipf_a: f64,
    pub max_per_class: usize,
    pub min_per_class: usize,
    pub class_order: ClassOrder,
    pub pick: Pick,
    pub seed: u64,
    /// FNV-1a of the untransformed training images and labels as drawn (covers the files the
    /// dataset was read from).
    pub data_digest: String,
    pub channels: i64,
    pub size: i64,
    pub spec: GeneratorSpec,
}

impl KeyInputs {
    pub fn new(
        config: &RunConfig,
        spec: &GeneratorSpec,
        data_digest: u64,
        channels: i64,
        size: i64,
    ) -> KeyInputs {
        let d = &config.data;
        KeyInputs {
            format: FORMAT,
            dataset: d.dataset,
            transform: d.transform,
            profile: d.profile,
            imbalance: d.imbalance,
            zipf_a: d.zipf_a,
            max_per_class: d.max_per_class,
            min_per_class: d.min_per_class,
            class_order: d.class_order,
            pick: d.pick,
            seed: config.seed,
            data_digest: format!("{data_digest:016x}"),
            channels,
            size,
            spec: spec.clone(),
        }
    }

    /// The cache key: a hash of the canonical JSON of the inputs.
    pub fn key(&self) -> String {
        let text = serde_json::to_string(self).expect("key inputs serialize");
        format!("{:016x}", fnv1a(text.as_bytes(), FNV_OFFSET))
    }
}

const FNV_OFFSET: u64 = 0xcbf29ce484222325;

/// 64-bit FNV-1a, continuing from `state`.
pub fn fnv1a(bytes: &[u8], mut state: u64) -> u64 {
    for &b in bytes {
        state ^= b as u64;
        state = state.wrapping_mul(0x100000001b3);
    }
    state
}

/// Digest of a training set as drawn: image bytes, then labels.
pub fn data_digest(images: &[u8], labels: &[i64]) -> u64 {
    let mut h = fnv1a(images, FNV_OFFSET);
    for y in labels {
        h = fnv1a(&y.to_le_bytes(), h);
    }
    h
}

/// Plain data: no tensors, so it crosses threads in events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleGrid {
    pub channels: usize,
    pub size: usize,
    pub rows: Vec<SampleRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    /// e.g. `g07 (4800 images)`.
    pub label: String,
    /// C x H x W bytes each: the real image first, then the generated variants.
    pub images: Vec<Vec<u8>>,
}

impl SampleGrid {
    /// The grid as a picture: a header, then one labelled row per real image.
    pub fn to_picture(&self) -> Picture {
        let columns = self.rows.first().map(|r| r.images.len()).unwrap_or(0);
        let mut headers = vec!["real".to_string()];
        headers.extend((1..columns).map(|k| format!("G{k}")));
        let rows: Vec<GridRow> = self
            .rows
            .iter()
            .map(|r| GridRow {
                label: r.label.clone(),
                cells: r
                    .images
                    .iter()
                    .map(|img| Picture::from_chw(self.channels, self.size, self.size, img))
                    .collect(),
            })
            .collect();
        grid(
            Some("GIT generator: real image, then generated variants (random styles)"),
            &headers,
            &rows,
            &GridStyle::default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GeneratorPreset;

    #[test]
    fn the_key_changes_with_every_input() {
        let config = RunConfig::default();
        let spec = GeneratorSpec::preset(GeneratorPreset::Small);
        let base = KeyInputs::new(&config, &spec, 7, 1, 28);
        let key = base.key();
        assert_eq!(
            key,
            KeyInputs::new(&config, &spec, 7, 1, 28).key(),
            "stable"
        );
        let mut variants: Vec<KeyInputs> = Vec::new();
        let mut with = |f: &dyn Fn(&mut KeyInputs)| {
            let mut k = base.clone();
            f(&mut k);
            variants.push(k);
        };
        with(&|k| k.dataset = DatasetName::Mnist);
        with(&|k| k.transform = TransformKind::Dil);
        with(&|k| k.profile = Profile::Exp);
        with(&|k| k.imbalance = 50.0);
        with(&|k| k.zipf_a = 1.5);
        with(&|k| k.max_per_class = 4000);
        with(&|k| k.min_per_class = 6);
        with(&|k| k.class_order = ClassOrder::Identity);
        with(&|k| k.pick = Pick::First);
        with(&|k| k.seed = 1);
        with(&|k| k.data_digest = "0".into());
        with(&|k| k.channels = 3);
        with(&|k| k.size = 32);
        with(&|k| k.spec.dim = 32);
        with(&|k| k.spec.iterations += 1);
        with(&|k| k.spec.lr *= 2.0);
        with(&|k| k.spec.flip = false);
        with(&|k| k.spec.recon_s_weight = 4.0);
        with(&|k| k.spec.preset = GeneratorPreset::Paper);
        let mut keys: Vec<String> = variants.iter().map(KeyInputs::key).collect();
        assert!(
            keys.iter().all(|k| *k != key),
            "every input changes the key"
        );
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), variants.len());
        // And the config feeds the inputs it names.
        let mut other = config.clone();
        other.data.imbalance = 10.0;
        assert_ne!(KeyInputs::new(&other, &spec, 7, 1, 28).key(), key);
        other = config.clone();
        other.seed = 9;
        assert_ne!(KeyInputs::new(&other, &spec, 7, 1, 28).key(), key);
        // A loss weight from the config reaches the spec, so the key.
        other = config.clone();
        other.git.recon_s_weight = Some(4.0);
        let weighted = GeneratorSpec::resolve(&other.git);
        assert_eq!(weighted.recon_s_weight, 4.0);
        assert_eq!(weighted.recon_x_weight, spec.recon_x_weight);
        assert_ne!(KeyInputs::new(&other, &weighted, 7, 1, 28).key(), key);
        // A negative or non-finite weight is refused, naming the field.
        for bad in ["git.recon_s_weight=-1", "git.gan_weight=nan"] {
            let err = RunConfig::from_toml_str("", "t.toml", &[bad.to_string()]).unwrap_err();
            let field = bad.split('=').next().unwrap_or_default();
            assert!(err.to_string().contains(field), "{err}");
        }
        assert_ne!(data_digest(&[1, 2], &[0]), data_digest(&[1, 2], &[1]));
        assert_ne!(data_digest(&[1, 2], &[0]), data_digest(&[2, 1], &[0]));
    }
}
