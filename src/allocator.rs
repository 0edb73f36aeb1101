//! glibc malloc settings for libtorch's allocation pattern.
//!
//! libtorch's CPU allocator takes every tensor from malloc. Activations of a training or
//! evaluation batch are megabytes each, above glibc's default mmap threshold (128 KiB, raised
//! dynamically only after a free), so each batch maps fresh pages and unmaps them again: the
//! kernel zero-fills and faults them in every time, which shows up as system time (a 20-epoch
//! run measured 54 s sys against 140 s user). Serving them from the heap instead, and not
//! trimming it after every batch, lets the same pages be reused.
//!
//! Measured on the default run (3 epochs, 3 alternating pairs, BENCHMARKS.md): about 1.06x
//! faster wall time, system time halved, but peak resident memory up from 350-395 MB to
//! 420-490 MB, past the 400 MB budget of the default run. So it is opt-in.

/// Allocations from this size on are still mapped on their own (glibc's largest allowed value
/// on 64-bit: 32 MiB); smaller ones come from the reusable heap.
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory at the top of the heap is returned to the system only above this.
const TRIM_THRESHOLD: i32 = 256 << 20;

/// The environment variable that turns the tuning on (`INVLAB_MALLOC=tuned`): worth it for
/// large training sets on machines with memory to spare.
pub const OPT_IN_VAR: &str = "INVLAB_MALLOC";

/// Applies the settings when opted in; returns whether they were applied. Call it first in
/// `main`, before libtorch allocates.
pub fn tune_for_libtorch() -> bool {
    if !std::env::var(OPT_IN_VAR).is_ok_and(|v| v == "tuned") {
        return false;
    }
    apply()
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
        assert!(super::apply());
    }
}
