//! What the lab's background jobs report when they fail, typed up to the App, which shows it
//! as a message. The sources sit behind `Arc` because events are cloned (`AppEvent: Clone`)
//! and I/O errors are not.

use std::sync::Arc;

use invlab_engine::data_preview::PreviewError;
use invlab_engine::evaluation::EvalError;
use invlab_report::ReportError;

use std::path::PathBuf;

#[derive(Debug, Clone, thiserror::Error)]
pub enum LabError {
    /// Saving a config, or moving a run directory to the trash.
    #[error(transparent)]
    File(Arc<FileError>),
    /// Building a data preview.
    #[error(transparent)]
    Preview(Arc<PreviewError>),
    /// A panic on a job's thread (its text is in the log).
    #[error("{0} panicked (see the log)")]
    Panicked(&'static str),
    /// `E`: the evaluation itself.
    #[error("evaluation: {0}")]
    Eval(Arc<EvalError>),
    /// `E`: the evaluation's figures.
    #[error("evaluation: {0}")]
    EvalFigures(Arc<ReportError>),
    /// A job's OS thread could not start.
    #[error("cannot start the {what} thread: {reason}")]
    Thread { what: &'static str, reason: String },
}

impl From<FileError> for LabError {
    fn from(e: FileError) -> Self {
        LabError::File(Arc::new(e))
    }
}

impl From<PreviewError> for LabError {
    fn from(e: PreviewError) -> Self {
        LabError::Preview(Arc::new(e))
    }
}

impl From<EvalError> for LabError {
    fn from(e: EvalError) -> Self {
        LabError::Eval(Arc::new(e))
    }
}

impl From<ReportError> for LabError {
    fn from(e: ReportError) -> Self {
        LabError::EvalFigures(Arc::new(e))
    }
}

/// A file operation of the lab's that failed: what, on which path, and why.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: not a run directory", .0.display())]
    NotARunDirectory(PathBuf),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot move {} to {}: {source}", from.display(), to.display())]
    Move {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
}
