//! Where invlab keeps things on the user's machine (XDG-style, via `directories`).

use std::path::PathBuf;

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("org", "invlab", "invlab")
}

/// `$INVLAB_DATA_DIR`, else the platform data dir (e.g. `~/.local/share/invlab`).
pub fn data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("INVLAB_DATA_DIR") {
        return Some(PathBuf::from(dir));
    }
    project_dirs().map(|d| d.data_dir().to_path_buf())
}

/// Default parent folder of run directories.
pub fn runs_dir() -> Option<PathBuf> {
    data_dir().map(|d| d.join("runs"))
}

/// `$INVLAB_CONFIG_DIR`, else the platform config dir (e.g. `~/.config/invlab`).
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("INVLAB_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    project_dirs().map(|d| d.config_dir().to_path_buf())
}

/// The `*.toml` files directly in `dir`, sorted; none when it cannot be read.
pub fn toml_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
}
