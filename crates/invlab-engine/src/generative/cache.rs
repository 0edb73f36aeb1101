//! Trained generators are cached under the data dir, keyed by a hash of everything they depend
//! on (the training data as drawn and transformed, the seed, the generator's spec), so sweeps
//! and later runs reuse one. An entry is a folder `<cache>/<key>/` holding `generator.ot` (the
//! generator used at sampling time), `key.json` (what the key hashes), `losses.jsonl` and
//! `samples.png`; it appears whole or not at all (written to a temp folder, then renamed).

use crate::error::{EngineError, EngineResult};
use std::path::{Path, PathBuf};

use invlab_core::config::RunConfig;

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
    write: impl FnOnce(&Path) -> EngineResult<()>,
) -> EngineResult<PathBuf> {
    let creating = |path: &Path, e: std::io::Error| EngineError::File {
        action: "creating",
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(root).map_err(|e| creating(root, e))?;
    let tmp = root.join(format!(".tmp-{}-{key}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| creating(&tmp, e))?;
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
        Err(e) => Err(EngineError::writing(&dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_appear_whole() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(lookup(tmp.path(), "k").is_none());
        let failed = store(tmp.path(), "k", |d| {
            Err(EngineError::writing(d, "disk full"))
        });
        assert!(failed.is_err());
        assert!(lookup(tmp.path(), "k").is_none());
        let dir = store(tmp.path(), "k", |d| {
            std::fs::write(d.join("generator.ot"), b"x").map_err(|e| EngineError::writing(d, e))
        })
        .unwrap();
        assert_eq!(lookup(tmp.path(), "k"), Some(dir));
    }
}
