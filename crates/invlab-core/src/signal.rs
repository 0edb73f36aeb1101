//! The stop signals both front ends handle, and the one place they are read. Clusters send
//! SIGTERM before a job's time limit (or the signal chosen with Slurm's `--signal`, e.g.
//! SIGUSR1); people press Ctrl-C (SIGINT); a closed terminal or ssh session sends SIGHUP. The
//! first asks every active run to stop at its next batch boundary, checkpointed and resumable.
//! Repeats within `REPEAT_WINDOW` are the same request: at a time limit Slurm sends the job step
//! SIGTERM twice, 10-40 ms apart, and that must not cost the partial epoch. A signal after the
//! window means "end now": batch mode exits with 128 + its number, the lab restores the terminal
//! and leaves without waiting for its runs (their directories resume from the last checkpoint).

use std::fmt;
use std::time::{Duration, Instant};

/// A signal that stops a run cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Term,
    Int,
    Hup,
    Usr1,
}

impl Signal {
    pub const ALL: [Signal; 4] = [Signal::Term, Signal::Int, Signal::Hup, Signal::Usr1];

    /// The signal's number on this system.
    pub fn number(self) -> i32 {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Int => libc::SIGINT,
            Signal::Hup => libc::SIGHUP,
            Signal::Usr1 => libc::SIGUSR1,
        }
    }

    /// The signal numbered `number`, if it is one of these.
    pub fn from_number(number: i32) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.number() == number)
    }

    /// `SIGTERM`, `SIGINT`, `SIGHUP`, `SIGUSR1`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
            Signal::Hup => "SIGHUP",
            Signal::Usr1 => "SIGUSR1",
        }
    }
}

/// The signals that stop runs, in both front ends.
pub const STOP_SIGNALS: [Signal; 4] = [Signal::Term, Signal::Int, Signal::Usr1, Signal::Hup];

/// Signals this close after the first one repeat its request instead of ending the process.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(2);

/// What a stop signal means, given when the first one arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The first: stop cleanly.
    Stop,
    /// Within the window of the first (Slurm's double SIGTERM): nothing more.
    Repeat,
    /// Later: end now.
    EndNow,
}

/// The meaning of a signal arriving at `now` when the first arrived at `first`.
pub fn meaning(first: Option<Instant>, now: Instant) -> Meaning {
    match first {
        None => Meaning::Stop,
        Some(t) if now.saturating_duration_since(t) < REPEAT_WINDOW => Meaning::Repeat,
        Some(_) => Meaning::EndNow,
    }
}

/// A stop signal the system would not let us handle.
#[derive(Debug, thiserror::Error)]
#[error("cannot handle {signal}: {error}")]
pub struct SignalError {
    pub signal: Signal,
    pub error: std::io::Error,
}

/// Reads the stop signals on a thread of its own (signal-hook's self-pipe, where deciding by
/// time is safe) and hands each to `deliver` with its meaning. The one signal reader of both
/// front ends: batch mode records the request and exits on `EndNow`; the lab forwards them to
/// its event loop. An error when the system refuses a handler (the signals then keep their
/// default action: the process dies, its runs resumable from their last checkpoints).
pub fn listen(
    mut deliver: impl FnMut(Signal, Meaning) + Send + 'static,
) -> Result<(), SignalError> {
    let numbers: Vec<i32> = STOP_SIGNALS.iter().map(|s| s.number()).collect();
    let refused = |error| SignalError {
        signal: STOP_SIGNALS[0],
        error,
    };
    let mut incoming = signal_hook::iterator::Signals::new(&numbers).map_err(refused)?;
    std::thread::Builder::new()
        .name("invlab-signals".into())
        .spawn(move || {
            let mut first: Option<Instant> = None;
            for number in incoming.forever() {
                let Some(signal) = Signal::from_number(number) else {
                    continue;
                };
                let now = Instant::now();
                let m = meaning(first, now);
                if m == Meaning::Stop {
                    first = Some(now);
                }
                deliver(signal, m);
            }
        })
        .map_err(refused)?;
    Ok(())
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_round_trip() {
        for s in Signal::ALL {
            assert_eq!(Signal::from_number(s.number()), Some(s));
            assert_eq!(s.to_string(), s.name());
        }
        assert_eq!(Signal::from_number(0), None);
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
        assert_eq!(Signal::Term.number(), 15);
    }
}
