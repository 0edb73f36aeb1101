//! Entering and leaving the terminal: raw mode, the alternate screen and mouse capture, undone
//! on every exit path (quit, error, signal, and a panic on the UI thread).

use std::io::stdout;
use std::thread::{self, ThreadId};

use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;
use ratatui::DefaultTerminal;

/// Raw mode, alternate screen, mouse capture; a panic hook that restores them.
pub(crate) fn init() -> color_eyre::Result<DefaultTerminal> {
    // ratatui's hook restores raw mode and the screen, then runs the earlier (color-eyre) one.
    let terminal = ratatui::init();
    execute!(stdout(), EnableMouseCapture)?;
    let ui_thread: ThreadId = thread::current().id();
    let inner = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if thread::current().id() == ui_thread {
            let _ = execute!(stdout(), DisableMouseCapture);
            inner(info);
        } else {
            // A worker's panic is caught and reported as its run's failure; the lab goes on,
            // so the screen must not be torn down (nor written over).
            tracing::error!("panic on thread {:?}: {info}", thread::current().name());
        }
    }));
    Ok(terminal)
}

/// Undoes `init` (safe to call more than once).
pub(crate) fn restore() {
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
}
