//! How an invocation ends when it does not end well: one error type for the binary, each
//! variant with its documented exit status (`--help`: 1 failed, 2 bad input, 75 stopped and
//! resumable). `main` prints it (unless the runs already said it, line by line) and exits with
//! `exit_code()`.

use invlab_core::config::ConfigError;
use invlab_engine::data_preview::PreviewError;
use invlab_engine::evaluation::EvalError;
use invlab_report::ReportError;

/// Some runs failed (sysexits-free, plain failure).
pub const EXIT_FAILED: u8 = 1;
/// A flag, config file or path is wrong; nothing ran.
pub const EXIT_USAGE: u8 = 2;
/// Stopped by a signal (SIGTERM, SIGINT, SIGUSR1, SIGHUP) with the runs checkpointed and
/// resumable: run the command again (with `--resume DIR`, or the same `--index` / `--continue`
/// command). The value is sysexits' EX_TEMPFAIL, "try again later".
pub const EXIT_STOPPED: u8 = 75;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag, a path or a sweep that cannot be used; nothing ran.
    #[error("{0}")]
    Usage(String),
    /// `--devices` does not parse.
    #[error("--devices: {0}")]
    Devices(#[from] invlab_core::schedule::DeviceListError),
    /// `--jobs`, `--per-device`, `--threads` that give no slot to run on.
    #[error(transparent)]
    Slots(#[from] invlab_core::schedule::SlotError),
    /// A config file (or `--set`) that does not load; nothing ran.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `invlab data --preview`: the config, the data or the output file.
    #[error(transparent)]
    Preview(#[from] PreviewError),
    /// `invlab report`: a directory that is not a finished run.
    #[error(transparent)]
    ReportInput(ReportError),
    /// `invlab report --out`: the results could not be written.
    #[error(transparent)]
    ReportOutput(ReportError),
    /// `invlab eval`: the run, its checkpoint or an override cannot be used, or the
    /// evaluation failed.
    #[error(transparent)]
    Eval(#[from] invlab_engine::evaluation::EvalError),
    /// Runs failed; each was reported as it failed.
    #[error("{failed} run(s) failed")]
    RunsFailed { failed: usize },
    /// Stopped by a signal, every run checkpointed; each run said where it stopped.
    #[error("stopped by a signal; the same command continues the runs")]
    Stopped,
    /// Standard output could not be written.
    #[error("writing to standard output: {0}")]
    Output(std::io::Error),
    /// The lab could not run (its terminal, its start-up).
    #[error("{0:?}")]
    Lab(color_eyre::Report),
}

impl CliError {
    /// The process's exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_)
            | CliError::Devices(_)
            | CliError::Slots(_)
            | CliError::Config(_)
            | CliError::ReportInput(_) => EXIT_USAGE,
            CliError::Preview(PreviewError::Writing { .. }) => EXIT_FAILED,
            CliError::Preview(_) => EXIT_USAGE,
            // `--out` names a run directory: a bad flag, nothing written.
            CliError::ReportOutput(ReportError::OutIsARun { .. }) => EXIT_USAGE,
            CliError::ReportOutput(_)
            | CliError::RunsFailed { .. }
            | CliError::Output(_)
            | CliError::Lab(_) => EXIT_FAILED,
            CliError::Stopped => EXIT_STOPPED,
            CliError::Eval(e) => match e {
                EvalError::BadInput(_) => EXIT_USAGE,
                EvalError::Failed(_) => EXIT_FAILED,
                EvalError::Stopped => EXIT_STOPPED,
            },
        }
    }

    /// Whether `main` should print the error: runs that failed or stopped have said so on
    /// their own lines already.
    pub fn needs_message(&self) -> bool {
        !matches!(self, CliError::RunsFailed { .. } | CliError::Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_documented_exit_status() {
        let config =
            invlab_core::config::RunConfig::from_toml_str("nope = 1", "x.toml", &[]).unwrap_err();
        assert_eq!(CliError::Config(config).exit_code(), 2);
        assert_eq!(CliError::Usage("--jobs 0".into()).exit_code(), 2);
        let devices = invlab_core::schedule::parse_devices("cpu,auto").unwrap_err();
        assert_eq!(CliError::from(devices).exit_code(), 2);
        let slots = invlab_core::schedule::SlotError::NoJobs;
        assert_eq!(CliError::from(slots).exit_code(), 2);
        assert_eq!(CliError::RunsFailed { failed: 1 }.exit_code(), 1);
        assert_eq!(CliError::Stopped.exit_code(), 75);
        let writing = PreviewError::Writing {
            path: "/x.png".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(CliError::Preview(writing).exit_code(), 1);
        assert!(!CliError::Stopped.needs_message());
        assert!(CliError::Usage("x".into()).needs_message());
    }
}
