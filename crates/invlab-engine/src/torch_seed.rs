//! libtorch's process-wide default generator (weight initialisation) is the one random source a
//! run does not own. Two runs initialising models at once on different threads would interleave
//! its draws, so every seeded use of it goes through `with_torch_seed`.

use std::sync::Mutex;

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

/// For unit tests that draw from the default generator (model initialisation, `Tensor::rand`):
/// seeds it and holds it until the guard drops, so that a run another test starts meanwhile
/// initialises exactly as it would alone. Never call `with_torch_seed` while holding it.
#[cfg(test)]
pub(crate) fn hold_torch_seed(seed: u64) -> std::sync::MutexGuard<'static, ()> {
    let guard = TORCH_GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::manual_seed(seed as i64);
    guard
}
