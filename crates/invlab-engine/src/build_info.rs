//! What this binary was built from, recorded in every run directory (`build.rs` sets both).

/// The git commit this binary was built from (`build.rs`), `+dirty` when the tree had changes,
/// `unknown` when built outside a checkout.
pub fn invlab_commit() -> &'static str {
    env!("INVLAB_COMMIT")
}

/// The libtorch version this binary was built against (read from the wheel at build time).
pub fn libtorch_version() -> &'static str {
    env!("INVLAB_LIBTORCH_VERSION")
}

/// `--version`'s text: the crate version and the commit, e.g. `0.1.0 (0123456789ab)`.
pub const VERSION_LINE: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("INVLAB_COMMIT"), ")");
