//! Generative Invariance Transfer (Zhou et al., ICLR 2022), the paper's method: learn the
//! dataset's class-agnostic nuisance transformations with a MUNIT image-to-image model trained
//! on the whole long-tailed training set, then feed the classifier generated variants so the
//! tail classes see the variation the head classes see.
//!
//! The generator's sizes (presets) are plain data in `invlab_core::generator`; here `munit` the networks, `adam` a checkpointable
//! optimizer, `training` the MUNIT training loop, `cache` trained generators on disk, `augment`
//! mixing generated images into batches, `samples` the sample grid.

pub mod adam;
pub mod augment;
pub mod cache;
pub mod coverage;
pub mod munit;
pub mod samples;
pub mod training;

/// A saved generator training state that cannot be restored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    /// `what` (the optimizer's state, the generator checkpoint) has no entry `name`.
    #[error("{what} lacks {name}")]
    Missing { what: &'static str, name: String },
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
