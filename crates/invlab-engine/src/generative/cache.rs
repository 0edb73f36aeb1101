//! Trained generators are cached under the data dir, keyed by a hash of everything they depend
//! on (the training data as drawn and transformed, the seed, the generator's spec), so sweeps
//! and later runs reuse one. An entry is a folder `<cache>/<key>/` holding `generator.ot` (the
//! generator used at sampling time), `key.json` (what the key hashes), `losses.jsonl` and
//! `samples.png`; it appears whole or not at all (written to a temp folder, then renamed).

use std::path::{Path, PathBuf};

use invlab_core::config::RunConfig;
pub use invlab_core::generator::{data_digest, fnv1a, KeyInputs};

/// The cache folder: `git.cache_dir`, else `<data dir>/generators`.
pub(crate) fn cache_root(config: &RunConfig) -> Option<PathBuf> {
    if let Some(dir) = &config.git.cache_dir {
        return Some(dir.clone());
    }
    invlab_core::paths::data_dir().map(|d| d.join("generators"))
}

/// The entry for `key`, if a complete one exists.
pub(crate) fn lookup(root: &Path, key: &str) -> Option<PathBuf> {
    let dir = root.join(key);
    dir.join("generator.ot").is_file().then_some(dir)
}

/// Stores a complete entry: `write` fills a fresh temp folder, which is then renamed into
/// place. If another run stored the same key meanwhile, theirs is kept (same inputs, same
/// generator up to the order of floating-point work).
pub(crate) fn store(
    root: &Path,
    key: &str,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let tmp = root.join(format!(".tmp-{}-{key}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let dir = root.join(key);
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        Err(_) if lookup(root, key).is_some() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(format!("storing {}: {e}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use invlab_core::config::GeneratorPreset;
    use invlab_core::config::{ClassOrder, DatasetName, Pick, Profile, TransformKind};
    use invlab_core::generator::GeneratorSpec;

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
        assert_ne!(data_digest(&[1, 2], &[0]), data_digest(&[1, 2], &[1]));
        assert_ne!(data_digest(&[1, 2], &[0]), data_digest(&[2, 1], &[0]));
    }

    #[test]
    fn entries_appear_whole() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(lookup(tmp.path(), "k").is_none());
        let failed = store(tmp.path(), "k", |_| Err("disk full".into()));
        assert!(failed.is_err());
        assert!(lookup(tmp.path(), "k").is_none());
        let dir = store(tmp.path(), "k", |d| {
            std::fs::write(d.join("generator.ot"), b"x").map_err(|e| e.to_string())
        })
        .unwrap();
        assert_eq!(lookup(tmp.path(), "k"), Some(dir));
    }
}
