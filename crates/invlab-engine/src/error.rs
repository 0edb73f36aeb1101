//! Why a run failed. The worker reports a failure to its front end as `Event::Failed` with this
//! error's text; the variants keep the cause typed inside the engine.

use std::path::{Path, PathBuf};

use crate::data::DataError;
use invlab_core::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum EngineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    /// A run-directory or cache file could not be read or written.
    #[error("{action} {}: {message}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("{0}")]
    Device(String),
    #[error("cannot resume: {0}")]
    Resume(String),
    #[error("the loss diverged (became {value}) at epoch {epoch}, batch {batch}; try a smaller train.lr")]
    Diverged {
        epoch: usize,
        batch: usize,
        value: f64,
    },
    /// The data or config cannot be trained on as given (e.g. an empty training set).
    #[error("{0}")]
    Unusable(String),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// The config needs more memory than the machine has (checked before allocating).
    #[error(transparent)]
    TooBig(#[from] invlab_core::memory::TooBig),
}

impl EngineError {
    pub(crate) fn writing(path: &Path, err: impl std::fmt::Display) -> EngineError {
        EngineError::File {
            action: "writing",
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }

    pub(crate) fn reading(path: &Path, err: impl std::fmt::Display) -> EngineError {
        EngineError::File {
            action: "reading",
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }
}

pub(crate) type EngineResult<T> = Result<T, EngineError>;
