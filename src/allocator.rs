//! glibc malloc settings for libtorch's allocation pattern.
//!
//! Always (unless `INVLAB_MALLOC=system`): one malloc arena. glibc gives each thread that
//! allocates its own arena, and each keeps the freed blocks of the batches it served; with the
//! worker and libtorch's OpenMP threads that retention was 25-85 MiB of the default run's
//! ~370-400 MiB peak (BENCHMARKS.md). libtorch allocates per op, not per element, so the shared
//! arena's lock is not contended.
//!
//! Opt-in (`INVLAB_MALLOC=tuned`): libtorch's CPU allocator takes every tensor from malloc.
//! Activations of a training or evaluation batch are megabytes each, above glibc's default
//! mmap threshold (128 KiB, raised dynamically only after a free), so each batch maps fresh
//! pages and unmaps them again: the kernel zero-fills and faults them in every time, which
//! shows up as system time (a 20-epoch run measured 54 s sys against 140 s user). Serving them
//! from the heap instead, and not trimming it after every batch, lets the same pages be reused.
//! Measured on the default run (3 epochs, 3 alternating pairs, BENCHMARKS.md): about 1.06x
//! faster wall time, system time halved, but peak resident memory up by 30-100 MiB, past the
//! 400 MB budget of the default run. So it is opt-in.
//!
//! Between a run's phases the worker calls [`release_free_memory`] (default run, seed 1: peak
//! 302 MiB with it, 331 MiB without).

/// glibc's arena count for the whole process.
const ARENAS: i32 = 1;
/// Allocations from this size on are still mapped on their own (glibc's largest allowed value
/// on 64-bit: 32 MiB); smaller ones come from the reusable heap.
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory at the top of the heap is returned to the system only above this.
const TRIM_THRESHOLD: i32 = 256 << 20;

/// The environment variable that chooses: unset = one arena; `tuned` = one arena and the
/// thresholds above (worth it for large training sets on machines with memory to spare);
/// `system` = glibc's defaults untouched (for A/B measurements).
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

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_settings() {
        // mallopt returns 0 for a value out of range (e.g. an mmap threshold above 32 MiB).
        assert!(super::one_arena());
        assert!(super::apply());
    }
}
