//! Datasets as plain data: the built-in generated set, real loaders, long-tailed subsets.
//! Images stay `u8` in host memory here; the engine moves them to the run's device once.

pub mod formats;
pub mod glyphs;
pub mod longtail;
pub mod prepare;
pub mod real;
mod types;

pub use types::{DataError, ImageSet};

/// A dataset's full train and test splits as read from disk (or generated).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceData {
    pub train: ImageSet,
    pub test: ImageSet,
    pub num_classes: usize,
    pub class_names: Vec<String>,
}
