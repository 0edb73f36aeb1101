//! Entering and leaving the terminal: raw mode, the alternate screen and mouse capture, undone
//! on every exit path (quit, error, signal, a panic on the UI thread, and an abort: a failed
//! allocation or a C++ `terminate` in libtorch raises SIGABRT, which a panic hook never sees).
#![allow(unsafe_code)] // termios and a SIGABRT handler through libc; each block says why it is sound.

use std::io::stdout;
use std::thread::{self, ThreadId};

use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use ratatui::crossterm::execute;
use ratatui::DefaultTerminal;

/// The terminal's settings before raw mode, for the abort handler.
static SAVED_TERMIOS: std::sync::OnceLock<libc::termios> = std::sync::OnceLock::new();

/// What the abort handler writes: mouse capture and bracketed paste off, the main screen back,
/// the cursor shown (crossterm's sequences for the same steps).
const RESTORE_SEQUENCE: &[u8] =
    b"\x1b[?1006l\x1b[?1015l\x1b[?1003l\x1b[?1002l\x1b[?1000l\x1b[?2004l\x1b[?1049l\x1b[?25h";

/// SIGABRT: restore the terminal with async-signal-safe calls only (write, tcsetattr), then
/// die of the signal as before.
extern "C" fn restore_on_abort(_: libc::c_int) {
    // SAFETY: write(2), tcsetattr(3), signal(2) and raise(3) are async-signal-safe; the saved
    // termios was written once before the handler was installed and is only read here.
    unsafe {
        libc::write(
            libc::STDOUT_FILENO,
            RESTORE_SEQUENCE.as_ptr().cast(),
            RESTORE_SEQUENCE.len(),
        );
        if let Some(saved) = SAVED_TERMIOS.get() {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
        }
        libc::signal(libc::SIGABRT, libc::SIG_DFL);
        libc::raise(libc::SIGABRT);
    }
}

/// Saves the terminal's settings and installs `restore_on_abort`.
fn restore_on_abort_install() {
    // SAFETY: tcgetattr fills a termios we own; a zeroed termios is a valid value to fill.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } != 0 {
        return;
    }
    if SAVED_TERMIOS.set(t).is_ok() {
        // SAFETY: installs a handler that only makes async-signal-safe calls.
        unsafe {
            libc::signal(
                libc::SIGABRT,
                restore_on_abort as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

/// Raw mode, alternate screen, mouse capture; a panic hook and an abort handler that restore
/// them.
pub(crate) fn init() -> color_eyre::Result<DefaultTerminal> {
    restore_on_abort_install();
    // ratatui's hook restores raw mode and the screen, then runs the earlier (color-eyre) one.
    let terminal = ratatui::init();
    // Bracketed paste: a paste arrives as one event, not as thousands of key presses that
    // stall input and act as commands once a text field closes.
    execute!(stdout(), EnableMouseCapture, EnableBracketedPaste)?;
    let ui_thread: ThreadId = thread::current().id();
    let inner = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if thread::current().id() == ui_thread {
            let _ = execute!(stdout(), DisableMouseCapture, DisableBracketedPaste);
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
    let _ = execute!(stdout(), DisableMouseCapture, DisableBracketedPaste);
    ratatui::restore();
}
