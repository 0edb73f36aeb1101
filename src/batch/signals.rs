//! Stop signals in batch mode, read by `invlab_core::signal::listen` as the lab's are: the
//! first asks every running run to stop at its next batch boundary, checkpointed and
//! resumable; repeats within the window (Slurm's double SIGTERM) are the same request; a later
//! one ends the process at once with 128 + the signal's number (the run directories then resume
//! from their last checkpoints, as after a kill): the second, deliberate Ctrl-C.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use invlab_core::signal::{self, Meaning, Signal, SignalError};

/// Which stop signal arrived first, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct StopSignals {
    requested: Arc<AtomicBool>,
    /// The number of the first stop signal received (0 for none).
    signal: Arc<AtomicUsize>,
}

impl StopSignals {
    /// Installs the handlers: signals are read on a thread of their own (signal-hook's
    /// self-pipe), where deciding by time is safe. Returns the error when the system refuses
    /// one (then the signals keep their default action: the process dies, resumable from the
    /// last checkpoint).
    pub fn install() -> Result<StopSignals, SignalError> {
        let signals = StopSignals::default();
        let shared = signals.clone();
        signal::listen(move |sig, meaning| match meaning {
            Meaning::Stop => {
                shared.signal.store(sig.number() as usize, Ordering::SeqCst);
                shared.requested.store(true, Ordering::SeqCst);
            }
            Meaning::Repeat => {}
            Meaning::EndNow => signal_hook::low_level::exit(128 + sig.number()),
        })?;
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
