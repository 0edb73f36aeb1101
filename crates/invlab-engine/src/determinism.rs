//! `train.deterministic`: libtorch's deterministic algorithms, cuDNN's deterministic mode and
//! no cuDNN benchmark search. These are process-wide settings of libtorch's global context, so
//! with several runs in one process they are on while any run that asked for them is active
//! (a run that did not ask then also runs deterministically: slower, never less exact). Each
//! run records in `run.json` whether they were on when it started.
//!
//! tch has no binding for these setters; they are called through their exported C++ symbols
//! (`at::globalContext()` and `at::Context`'s member functions, Itanium C++ ABI: the object is
//! the first argument), which libtorch exports for its own Python bindings.
#![allow(unsafe_code)] // calls into libtorch's exported C++ context setters; see the SAFETY notes.

use std::ffi::c_void;
use std::sync::Mutex;

extern "C" {
    #[link_name = "_ZN2at13globalContextEv"]
    fn at_global_context() -> *mut c_void;
    #[link_name = "_ZN2at7Context26setDeterministicAlgorithmsEbb"]
    fn at_set_deterministic_algorithms(context: *mut c_void, on: bool, warn_only: bool);
    #[link_name = "_ZN2at7Context21setDeterministicCuDNNEb"]
    fn at_set_deterministic_cudnn(context: *mut c_void, on: bool);
    #[link_name = "_ZN2at7Context17setBenchmarkCuDNNEb"]
    fn at_set_benchmark_cudnn(context: *mut c_void, on: bool);
    #[link_name = "_ZNK2at7Context23deterministicAlgorithmsEv"]
    fn at_deterministic_algorithms(context: *const c_void) -> bool;
}

/// Runs that asked for determinism and are still active.
static ACTIVE: Mutex<usize> = Mutex::new(0);

fn apply(on: bool) {
    // SAFETY: `globalContext()` returns libtorch's process-wide context, alive for the whole
    // process; the setters only store flags (their own locking is libtorch's).
    unsafe {
        let context = at_global_context();
        at_set_deterministic_algorithms(context, on, false);
        at_set_deterministic_cudnn(context, on);
        at_set_benchmark_cudnn(context, false);
    }
}

/// Whether libtorch's deterministic algorithms are on now.
pub fn deterministic_now() -> bool {
    // SAFETY: as in `apply`; a plain getter.
    unsafe { at_deterministic_algorithms(at_global_context()) }
}

/// Held for the length of a run that asked for determinism.
pub struct Deterministic {
    asked: bool,
}

impl Deterministic {
    /// Turns the settings on when `asked` (and this is the first such run active).
    pub fn for_run(asked: bool) -> Deterministic {
        if asked {
            let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
            if *active == 0 {
                apply(true);
            }
            *active += 1;
        }
        Deterministic { asked }
    }
}

impl Drop for Deterministic {
    fn drop(&mut self) {
        if self.asked {
            let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
            *active = active.saturating_sub(1);
            if *active == 0 {
                apply(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_is_on_while_a_run_that_asked_is_active() {
        assert!(!deterministic_now());
        let plain = Deterministic::for_run(false);
        assert!(!deterministic_now());
        let first = Deterministic::for_run(true);
        assert!(deterministic_now());
        let second = Deterministic::for_run(true);
        drop(first);
        assert!(deterministic_now(), "another run still asks");
        drop(second);
        assert!(!deterministic_now());
        drop(plain);
        // A deterministic op sequence on the CPU is unchanged by the setting.
        let _on = Deterministic::for_run(true);
        let x = tch::Tensor::arange(10, (tch::Kind::Float, tch::Device::Cpu));
        assert_eq!(x.sum(tch::Kind::Float).double_value(&[]), 45.0);
    }
}
