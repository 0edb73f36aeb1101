//! Stop signals in batch mode. Clusters send SIGTERM before a job's time limit (or the signal
//! chosen with Slurm's `--signal`, e.g. SIGUSR1); people press Ctrl-C (SIGINT). The first of
//! these asks the running run to stop at its next batch boundary, checkpointed and resumable; a
//! second one ends the process at once with 128 + the signal's number (the run directory then
//! resumes from its last checkpoint, as after a kill).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use invlab_core::signal::Signal;

/// The signals that stop a batch run.
pub(crate) const STOP_SIGNALS: [Signal; 3] = [Signal::Term, Signal::Int, Signal::Usr1];

/// Which stop signal arrived first, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct StopSignals {
    requested: Arc<AtomicBool>,
    /// The number of the last stop signal received (0 for none).
    signal: Arc<AtomicUsize>,
}

impl StopSignals {
    /// Installs the handlers. Returns the error text when the system refuses one (then that
    /// signal keeps its default action: the process dies, resumable from the last checkpoint).
    pub fn install() -> Result<StopSignals, SignalError> {
        let signals = StopSignals::default();
        for signal in STOP_SIGNALS {
            let sig = signal.number();
            let register = || -> std::io::Result<()> {
                // Order matters: the shutdown check runs before the flag is set, so only a
                // second signal finds it set.
                signal_hook::flag::register_conditional_shutdown(
                    sig,
                    128 + sig,
                    signals.requested.clone(),
                )?;
                signal_hook::flag::register_usize(sig, signals.signal.clone(), sig as usize)?;
                signal_hook::flag::register(sig, signals.requested.clone())?;
                Ok(())
            };
            register().map_err(|error| SignalError { signal, error })?;
        }
        Ok(signals)
    }

    /// The stop signal received, if any.
    pub(crate) fn received(&self) -> Option<Signal> {
        if self.requested.load(Ordering::SeqCst) {
            Signal::from_number(self.signal.load(Ordering::SeqCst) as i32)
        } else {
            None
        }
    }

    /// Records a stop request as if `sig` had arrived (tests, and front ends without signals).
    #[cfg(test)]
    pub fn request(&self, sig: Signal) {
        self.signal.store(sig.number() as usize, Ordering::SeqCst);
        self.requested.store(true, Ordering::SeqCst);
    }
}

/// A stop signal the system would not let batch mode handle.
#[derive(Debug, thiserror::Error)]
#[error("cannot handle {}: {error}", signal_name(*signal))]
pub struct SignalError {
    pub signal: Signal,
    pub error: std::io::Error,
}

/// "SIGTERM" and the like, for messages.
pub(crate) fn signal_name(sig: Signal) -> &'static str {
    match sig {
        Signal::Int => "SIGINT (Ctrl-C)",
        other => other.name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_seen_with_its_signal() {
        let s = StopSignals::default();
        assert_eq!(s.received(), None);
        s.request(Signal::Usr1);
        assert_eq!(s.received(), Some(Signal::Usr1));
        assert_eq!(signal_name(Signal::Term), "SIGTERM");
        assert_eq!(signal_name(Signal::Int), "SIGINT (Ctrl-C)");
    }
}
