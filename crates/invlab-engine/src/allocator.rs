//! glibc malloc settings for libtorch's allocation pattern.
//!
//! Always (unless `INVLAB_MALLOC=system`): one malloc arena. glibc gives each thread that
//! allocates its own arena, and each keeps the freed blocks of the batches it served; with the
//! worker and libtorch's OpenMP threads that retention was 25-85 MiB of the default run's
//! ~370-400 MiB peak (BENCHMARKS.md). libtorch allocates per op, not per element, so the shared
//! arena's lock is not contended.
//!
//! Heap reuse (the thresholds below): libtorch's CPU allocator takes every tensor from malloc.
//! Activations of a training or evaluation batch are megabytes each, above glibc's default
//! mmap threshold (128 KiB, raised dynamically only after a free), so each batch maps fresh
//! pages and unmaps them again: the kernel zero-fills and faults them in every time, which
//! shows up as system time (a 20-epoch run measured 54 s sys against 140 s user). Serving them
//! from the heap instead, and not trimming it after every batch, lets the same pages be reused.
//! - The ResNets get it for the length of their run ([`reuse_heap_for`]): a ResNet-20 epoch on
//!   the default's 7,822 images took 23.8-24.1 s with it against 28.3-29.3 s without (page
//!   faults were 9 % of the epoch's profile), peak memory 482 against 475 MiB.
//! - The small CNN does not: on the default run it made an epoch about 1.06x faster (3
//!   alternating pairs, BENCHMARKS.md) but raised peak resident memory by 30-100 MiB, past the
//!   400 MB budget of the default run.
//!
//! `INVLAB_MALLOC=tuned` applies it to every run, `lean` to none, `system` leaves glibc's
//! defaults untouched (one arena included), for A/B measurements.
//!
//! Between a run's phases the worker calls [`release_free_memory`] (default run, seed 1: peak
//! 302 MiB with it, 331 MiB without).
#![allow(unsafe_code)] // glibc's mallopt / malloc_trim through libc: each block says why it is sound.

use std::sync::Mutex;

use invlab_core::config::Arch;

/// glibc's arena count for the whole process.
const ARENAS: i32 = 1;
/// Allocations from this size on are still mapped on their own (glibc's largest allowed value
/// on 64-bit: 32 MiB); smaller ones come from the reusable heap.
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory at the top of the heap is returned to the system only above this.
const TRIM_THRESHOLD: i32 = 256 << 20;

/// The environment variable that chooses: unset = one arena, heap reuse for the ResNets' runs;
/// `tuned` = one arena and heap reuse for every run; `lean` = one arena, never heap reuse;
/// `system` = glibc's defaults untouched.
pub(crate) const MODE_VAR: &str = "INVLAB_MALLOC";

/// What was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MallocMode {
    System,
    OneArena,
    Tuned,
}

/// Applies the settings `INVLAB_MALLOC` asks for; returns what took effect. Call it first in
/// `main`, before libtorch allocates or starts threads.
pub fn configure() -> MallocMode {
    let mode = std::env::var(MODE_VAR);
    if mode.as_deref() == Ok("system") || !one_arena() {
        return MallocMode::System;
    }
    if mode.as_deref() == Ok("tuned") && apply() {
        MallocMode::Tuned
    } else {
        MallocMode::OneArena
    }
}

/// Whether a run of `arch` gets heap reuse on top of what [`configure`] set.
fn wants_heap_reuse(arch: Arch, mode: Option<&str>) -> bool {
    mode.is_none() && matches!(arch, Arch::Resnet20 | Arch::Resnet32)
}

/// Runs that currently hold heap reuse (runs in one process may overlap, e.g. in the lab).
static HEAP_USERS: Mutex<usize> = Mutex::new(0);

/// Heap reuse for the length of a run; dropping it restores glibc's thresholds once no run
/// holds it.
#[must_use]
pub(crate) struct HeapReuse {
    held: bool,
}

/// Turns heap reuse on for a run of `arch` when it pays (the ResNets) and `INVLAB_MALLOC` is
/// unset; the returned guard keeps it on until the run ends.
pub(crate) fn reuse_heap_for(arch: Arch) -> HeapReuse {
    let mode = std::env::var(MODE_VAR).ok();
    if !wants_heap_reuse(arch, mode.as_deref()) {
        return HeapReuse { held: false };
    }
    let mut users = HEAP_USERS.lock().unwrap_or_else(|e| e.into_inner());
    if *users == 0 && !apply() {
        return HeapReuse { held: false };
    }
    *users += 1;
    HeapReuse { held: true }
}

impl Drop for HeapReuse {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        let mut users = HEAP_USERS.lock().unwrap_or_else(|e| e.into_inner());
        *users -= 1;
        if *users == 0 {
            restore_defaults();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_arena() -> bool {
    // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) == 1 }
}

/// Returns the heap's free pages to the system: glibc's `malloc_trim` releases free pages inside
/// the heap too, not only at its top. A run calls it between phases (training an epoch, testing,
/// eKLD), so the freed tensors of one phase do not stay resident beneath the next one's.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_arena() -> bool {
    false
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}

/// glibc's initial thresholds (128 KiB each; its mmap threshold then stays fixed rather than
/// dynamic, which only matters for allocations between 128 KiB and 32 MiB freed early on).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn restore_defaults() {
    // SAFETY: as in `apply`.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn restore_defaults() {}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_settings() {
        // mallopt returns 0 for a value out of range (e.g. an mmap threshold above 32 MiB).
        // Under the users' lock, as a run takes it: the defaults are put back only when no run
        // of a neighbouring test holds heap reuse (applying again sets what it set).
        let users = super::HEAP_USERS.lock().unwrap_or_else(|e| e.into_inner());
        assert!(super::one_arena());
        assert!(super::apply());
        if *users == 0 {
            super::restore_defaults();
        }
    }

    #[test]
    fn only_the_resnets_get_heap_reuse_and_only_when_the_variable_is_unset() {
        use super::{wants_heap_reuse, Arch};
        assert!(wants_heap_reuse(Arch::Resnet20, None));
        assert!(wants_heap_reuse(Arch::Resnet32, None));
        assert!(!wants_heap_reuse(Arch::SmallCnn, None));
        for forced in ["lean", "system", "tuned"] {
            assert!(!wants_heap_reuse(Arch::Resnet20, Some(forced)), "{forced}");
        }
    }
}
