//! Embeds libtorch's directory as an rpath so binaries and tests start without LD_LIBRARY_PATH,
//! and records the libtorch version for run directories.
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
}
