//! Everything the App reacts to arrives as one `AppEvent` on one channel: keys from the input
//! thread, engine events from worker threads (tagged with the run's slot), GPU samples, ticks.

use ratatui::crossterm::event::KeyEvent;

use crate::engine::Event;

use super::gpu::GpuSample;

#[derive(Debug, Clone)]
pub enum AppEvent {
    Key(KeyEvent),
    /// Periodic wake-up (4 Hz) so time-based text (elapsed, ETA) moves.
    Tick,
    /// An engine event of the run in `slot`.
    Run {
        slot: usize,
        event: Event,
    },
    Gpu(GpuSample),
    Resize(u16, u16),
}
