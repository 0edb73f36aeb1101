//! Seeding. Every random draw of a run follows from its seed through `derive_seed` (host-side
//! ChaCha streams), except the draws libtorch makes from its process-wide default generator
//! (weight initialisation). Two runs initialising models at once on different threads would
//! interleave those draws, so every seeded use of that generator goes through `with_torch_seed`.

use std::sync::Mutex;

pub use crate::data::longtail::derive_seed;

static TORCH_GENERATOR: Mutex<()> = Mutex::new(());

/// Seeds libtorch's default generator and runs `draw` while no other thread can use it
/// through this function.
pub(crate) fn with_torch_seed<T>(seed: u64, draw: impl FnOnce() -> T) -> T {
    let _guard = TORCH_GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::manual_seed(seed as i64);
    draw()
}
