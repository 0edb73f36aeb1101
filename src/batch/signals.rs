//! Stop signals in batch mode. Clusters send SIGTERM before a job's time limit (or the signal
//! chosen with Slurm's `--signal`, e.g. SIGUSR1); people press Ctrl-C (SIGINT). The first of
//! these asks every running run to stop at its next batch boundary, checkpointed and resumable.
//! Repeats within `REPEAT_WINDOW` are the same request: at a time limit Slurm sends the job
//! step SIGTERM twice, 10-40 ms apart, and that must not cost the partial epoch. A signal after
//! the window ends the process at once with 128 + the signal's number (the run directories then
//! resume from their last checkpoints, as after a kill): the second, deliberate Ctrl-C.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use invlab_core::signal::Signal;

/// The signals that stop a batch run. SIGHUP (the terminal or ssh session went away) too: its
/// default action would kill the process with the state still "running".
pub(crate) const STOP_SIGNALS: [Signal; 4] = [Signal::Term, Signal::Int, Signal::Usr1, Signal::Hup];

/// Signals this close after the first one repeat its request instead of ending the process.
pub(crate) const REPEAT_WINDOW: Duration = Duration::from_secs(2);

/// What a stop signal means, given when the first one arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// The first: stop cleanly.
    Stop,
    /// Within the window of the first (Slurm's double SIGTERM): nothing more.
    Repeat,
    /// Later: end the process now.
    EndNow,
}

pub(crate) fn meaning(first: Option<Instant>, now: Instant) -> Meaning {
    match first {
        None => Meaning::Stop,
        Some(t) if now.saturating_duration_since(t) < REPEAT_WINDOW => Meaning::Repeat,
        Some(_) => Meaning::EndNow,
    }
}

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
        let numbers: Vec<i32> = STOP_SIGNALS.iter().map(|s| s.number()).collect();
        let mut incoming =
            signal_hook::iterator::Signals::new(&numbers).map_err(|error| SignalError {
                signal: STOP_SIGNALS[0],
                error,
            })?;
        let signals = StopSignals::default();
        let shared = signals.clone();
        std::thread::Builder::new()
            .name("invlab-signals".into())
            .spawn(move || {
                let mut first: Option<Instant> = None;
                for number in incoming.forever() {
                    let now = Instant::now();
                    match meaning(first, now) {
                        Meaning::Stop => {
                            first = Some(now);
                            shared.signal.store(number as usize, Ordering::SeqCst);
                            shared.requested.store(true, Ordering::SeqCst);
                        }
                        Meaning::Repeat => {}
                        Meaning::EndNow => signal_hook::low_level::exit(128 + number),
                    }
                }
            })
            .map_err(|error| SignalError {
                signal: STOP_SIGNALS[0],
                error,
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

    #[test]
    fn repeats_within_the_window_are_one_request_and_a_later_one_ends_now() {
        let t0 = Instant::now();
        assert_eq!(meaning(None, t0), Meaning::Stop);
        // Slurm's second SIGTERM, 10-40 ms after the first.
        assert_eq!(
            meaning(Some(t0), t0 + Duration::from_millis(40)),
            Meaning::Repeat
        );
        assert_eq!(
            meaning(Some(t0), t0 + REPEAT_WINDOW - Duration::from_millis(1)),
            Meaning::Repeat
        );
        assert_eq!(meaning(Some(t0), t0 + REPEAT_WINDOW), Meaning::EndNow);
        assert_eq!(
            meaning(Some(t0), t0 + Duration::from_secs(60)),
            Meaning::EndNow
        );
    }
}
