//! Embeds libtorch's directory as an rpath so binaries and tests start without LD_LIBRARY_PATH,
//! and records the libtorch version and the source's git commit for run directories.
use std::process::Command;

fn main() {
    // torch-sys declares `links = "tch"` and exports its lib dir as DEP_TCH_LIBTORCH_LIB.
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").unwrap_or_default();
    if !lib.is_empty() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rustc-env=INVLAB_LIBTORCH_LIB={lib}");
    // The wheel's torch/version.py holds `__version__ = '2.13.0+cu130'`.
    let version = std::path::Path::new(&lib)
        .parent()
        .map(|torch| torch.join("version.py"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("__version__"))
                .and_then(|l| l.split(['\'', '"']).nth(1).map(str::to_string))
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=INVLAB_LIBTORCH_VERSION={version}");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    record_commit();
}

/// `INVLAB_COMMIT`: the commit the binary was built from (12 hex digits, `+dirty` when tracked
/// files differed from it at build time), or `unknown` outside a git checkout. Runs record it,
/// so results from different builds of the same version can be told apart.
fn record_commit() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(hash) if !hash.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|status| !status.is_empty());
            if dirty {
                format!("{hash}+dirty")
            } else {
                hash
            }
        }
        _ => "unknown".into(),
    };
    println!("cargo:rustc-env=INVLAB_COMMIT={commit}");
    // Rebuild the record when HEAD moves or the index changes (a commit, a checkout, an add).
    // `--git-path` resolves each file in a worktree too; a path that does not exist would make
    // cargo rerun this script on every build, so only existing ones are named.
    let mut files = vec!["HEAD".to_string(), "index".into(), "packed-refs".into()];
    files.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for file in files {
        if let Some(path) = git(&["rev-parse", "--git-path", &file]) {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}
