//! Everything the App reacts to is an `AppEvent`: keys, engine events from worker threads
//! (tagged with the run's slot), GPU samples, finished data previews, ticks and shutdown
//! signals. The runtime shell turns its sources into these.

use std::sync::Arc;

use ratatui::crossterm::event::KeyEvent;

use invlab_core::signal::Signal;
use invlab_engine::Event;

use super::sampler::GpuSample;
use invlab_engine::data_preview::DataPreview;

#[derive(Debug, Clone)]
pub enum AppEvent {
    Key(KeyEvent),
    /// Periodic wake-up (4 Hz) so time-based text (elapsed, ETA) moves and debounces settle.
    Tick,
    /// An engine event of the run in `slot`.
    Run {
        slot: usize,
        event: Event,
    },
    Gpu(GpuSample),
    /// A data preview built in the background for the config whose `preview_key` is `key`.
    Preview {
        key: String,
        result: Result<Arc<DataPreview>, String>,
    },
    /// The run directory `dir` of the run in `slot` was moved to the trash (or not: why).
    Trashed {
        slot: usize,
        result: Result<std::path::PathBuf, String>,
    },
    /// SIGTERM, SIGINT or SIGHUP (named): stop active runs cleanly, then exit.
    Shutdown(Signal),
    Resize(u16, u16),
}
