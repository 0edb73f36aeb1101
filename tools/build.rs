//! Embeds libtorch's directory as an rpath, so the binary and its tests start without
//! LD_LIBRARY_PATH (torch-sys declares `links = "tch"` and exports DEP_TCH_LIBTORCH_LIB).
fn main() {
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").unwrap_or_default();
    if !lib.is_empty() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
}
