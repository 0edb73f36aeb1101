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
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
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
    /// libtorch's messages carry a C++ backtrace of 20 frames; the message shows its first
    /// lines (the log keeps the whole text, see `worker::run`).
    #[error("libtorch: {}", torch_message(.0))]
    Torch(#[from] tch::TchError),
    /// The config needs more memory than the machine has (checked before allocating).
    #[error(transparent)]
    TooBig(#[from] invlab_core::memory::TooBig),
}

/// A libtorch error's message without its C++ backtrace ("Exception raised from ...",
/// "frame #N: ...").
pub(crate) fn torch_message(e: &tch::TchError) -> String {
    short_torch_text(&e.to_string())
}

pub(crate) fn short_torch_text(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| {
            let l = l.trim_start();
            !l.starts_with("Exception raised from") && !l.starts_with("frame #")
        })
        .filter(|l| !l.trim().is_empty())
        .collect();
    match lines.is_empty() {
        true => text.lines().next().unwrap_or("").to_string(),
        false => lines.join(" "),
    }
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

#[cfg(test)]
mod tests {
    use super::short_torch_text;

    #[test]
    fn a_libtorch_message_loses_its_backtrace() {
        let text = "Torch(\"shape '[2, 3]' is invalid for input of size 5\nException raised from infer_size_impl at aten/src/ATen/InferSize.h:72 (most recent call first):\nframe #0: c10::Error::Error(c10::SourceLocation, std::string) + 0x96 (0x7f in libc10.so)\nframe #1: ...\")";
        assert_eq!(
            short_torch_text(text),
            "Torch(\"shape '[2, 3]' is invalid for input of size 5"
        );
        assert_eq!(short_torch_text("one line"), "one line");
    }
}
