//! Everything the App reacts to is an `AppEvent`: keys, mouse events, engine events from worker threads
//! (tagged with the run's slot), GPU samples, finished data previews, ticks and shutdown
//! signals. The runtime shell turns its sources into these.

use std::sync::Arc;

use ratatui::crossterm::event::{KeyEvent, MouseEvent};
use ratatui::layout::Rect;

use invlab_core::signal::Signal;
use invlab_core::watch::Changes;
use invlab_engine::Event;

use super::error::LabError;
use super::sampler::SystemSample;
use invlab_engine::data_preview::DataPreview;

#[derive(Debug, Clone)]
pub enum AppEvent {
    Key(KeyEvent),
    /// A mouse event on a screen of `area` (what was drawn last), hit-tested by the App
    /// through the drawing's layout.
    Mouse {
        event: MouseEvent,
        area: Rect,
    },
    /// Periodic wake-up (4 Hz) so time-based text (elapsed, ETA) moves and debounces settle.
    Tick,
    /// An engine event of the run in `slot`.
    Run {
        slot: usize,
        event: Event,
    },
    System(SystemSample),
    /// A data preview built in the background for the config whose `preview_key` is `key`.
    Preview {
        key: String,
        result: Result<Arc<DataPreview>, LabError>,
    },
    /// The run directory `dir` of the run in `slot` was moved to the trash (or not: why).
    Trashed {
        slot: usize,
        result: Result<std::path::PathBuf, LabError>,
    },
    /// The evaluation of the run in `slot` was written (a line saying what it found), or why
    /// not.
    Evaluated {
        slot: usize,
        result: Result<String, LabError>,
    },
    /// A config file was saved (the path written), or why not.
    Saved(Result<std::path::PathBuf, LabError>),
    /// SIGTERM, SIGINT or SIGHUP (named): stop active runs cleanly, then exit.
    Shutdown(Signal),
    Resize(u16, u16),
    /// Text pasted into the terminal (bracketed paste): one event, whatever its length.
    Paste(String),
    /// SIGTERM was sent (or could not be: `sent` false) to the process writing a watched run.
    Terminated {
        slot: usize,
        pid: u32,
        sent: bool,
    },
    /// Run directories the watcher found new, changed or gone (other processes' runs too).
    Watched(Arc<Changes>),
}
