//! Stand-ins for `invlab::data::{DataError, ImageSet}` (same fields and constructors), and the
//! real format parsers from the invlab sources.

use std::fmt;
use std::path::PathBuf;

#[path = "../../src/data/formats/mod.rs"]
pub mod formats;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageSet {
    pub images: Vec<u8>,
    pub labels: Vec<i64>,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl ImageSet {
    pub fn new(channels: usize, height: usize, width: usize) -> ImageSet {
        ImageSet {
            images: Vec::new(),
            labels: Vec::new(),
            channels,
            height,
            width,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    pub path: PathBuf,
    pub location: String,
    pub message: String,
}

impl DataError {
    pub fn new(path: impl Into<PathBuf>, message: impl Into<String>) -> DataError {
        DataError {
            path: path.into(),
            location: String::new(),
            message: message.into(),
        }
    }

    pub fn at(mut self, location: impl Into<String>) -> DataError {
        self.location = location.into();
        self
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.path.display(), self.location, self.message)
    }
}
