//! The plain data the loaders and the format parsers share: an image set and the error that
//! names a file.

use std::fmt;
use std::path::PathBuf;

/// A set of images, `u8`, laid out N x C x H x W.
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

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes of one image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// Indices of the images of each class, in file order.
    pub fn indices_by_class(&self, num_classes: usize) -> Vec<Vec<usize>> {
        let mut by_class = vec![Vec::new(); num_classes];
        for (i, &y) in self.labels.iter().enumerate() {
            if let Some(v) = by_class.get_mut(y as usize) {
                v.push(i);
            }
        }
        by_class
    }

    /// A new set made of the given images, in the given order (repeats allowed).
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        let n = self.image_len();
        let mut out = ImageSet::new(self.channels, self.height, self.width);
        out.images.reserve(indices.len() * n);
        out.labels.reserve(indices.len());
        for &i in indices {
            out.images.extend_from_slice(self.image(i));
            out.labels.push(self.labels[i]);
        }
        out
    }
}

/// A dataset file problem, naming the file and where in it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    pub path: PathBuf,
    /// Byte offset, line, or entry: whatever locates the problem; empty when the whole file.
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
        if self.location.is_empty() {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(
                f,
                "{} ({}): {}",
                self.path.display(),
                self.location,
                self.message
            )
        }
    }
}

impl std::error::Error for DataError {}
