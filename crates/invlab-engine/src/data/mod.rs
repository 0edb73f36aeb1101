//! Datasets as plain data: the built-in generated set and the real loaders (their byte parsers
//! are `invlab_formats`, the long-tailed class sizes `invlab_core::longtail`).
//! Images stay `u8` in host memory here; the engine moves them to the run's device once.

pub mod glyphs;
pub mod prepare;
pub mod real;

pub use invlab_formats::{DataError, ImageSet};

/// A dataset's full train and test splits as read from disk (or generated).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceData {
    pub train: ImageSet,
    pub test: ImageSet,
    pub num_classes: usize,
    pub class_names: Vec<String>,
}
