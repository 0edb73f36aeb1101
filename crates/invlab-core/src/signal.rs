//! The stop signals both front ends handle, as a type: batch mode (SIGTERM, SIGINT, SIGUSR1)
//! and the lab (SIGTERM, SIGINT, SIGHUP; a closed terminal counts as SIGHUP).

use std::fmt;

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
        assert_eq!(Signal::Term.number(), 15);
    }
}
