//! invlab's interactive terminal lab. It drives the engine through plain-data events and
//! controls only, and never names libtorch.
//!
//! The runtime shell is one tokio `select!` (a current-thread runtime on the UI thread) over:
//! terminal input (crossterm's `EventStream`: keys, mouse, resizes), the `AppEvent` channel
//! (engine events from each run's worker thread through its `EventSink`, GPU/CPU samples from
//! a 1 Hz timer task, finished data previews), a 4 Hz tick, the frame timer, and shutdown
//! signals (SIGTERM, SIGINT, SIGUSR1, SIGHUP: stop active runs cleanly, wait a bounded time for their
//! `Stopped`, restore the terminal). Training stays on its own OS thread per run, and so does
//! building a data preview; no libtorch call runs on the runtime. The `App` stays pure: the
//! shell turns sources into `AppEvent`s and carries out the `Effect`s the App returns.
//!
//! The shell, one job a module: `startup` (options, the App built from files, logging),
//! `runtime` (carries out effects, owns the runs' handles, starts the background threads),
//! `event_loop` (the `select!` loop and its sources); this file only wires them together.

pub mod app;
pub mod command;
#[cfg(test)]
mod demo;
pub mod error;
pub mod event;
mod event_loop;
pub mod form;
pub mod history;
mod layout;
pub mod pane;
mod runtime;
pub mod sampler;
mod startup;
mod terminal;
pub mod theme;
pub mod ui;

use std::time::Duration;

use color_eyre::eyre::WrapErr;
use ratatui::crossterm::event as ct;
use tokio::sync::mpsc::unbounded_channel;

pub use event_loop::{event_loop, spawn_sampler, Sources, SAMPLE_EVERY};
pub use invlab_core::signal::Signal;
pub use runtime::Runtime;
pub use startup::TuiOptions;

use event_loop::{shutdown_signals, spawn_watcher, WATCH_EVERY};
use startup::{build_app, init_logging};
use ui::Graphics;

/// How the lab ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The user quit.
    Quit,
    /// A shutdown signal (or the terminal going away) ended it; active runs were stopped.
    Signal(Signal),
}

/// Runs the interactive TUI until the user quits or a shutdown signal arrives. The terminal
/// is restored on quit, on error, on a signal and on panic; active runs are stopped cleanly
/// first so their directories stay valid and resumable.
pub fn run(options: TuiOptions) -> color_eyre::Result<Ended> {
    // color-eyre's hooks are installed once, by the binary's `main`, before this runs: the
    // terminal's panic hook (installed next) restores the screen before the report.
    let _guard = init_logging(options.log_dir.clone());
    tracing::info!(runs_dir = %options.runs_dir.display(), "invlab TUI starting");
    std::fs::create_dir_all(&options.runs_dir)
        .wrap_err_with(|| format!("creating {}", options.runs_dir.display()))?;
    let (mut app, watcher) = build_app(&options);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    let (tx, mut rx) = unbounded_channel();
    let mut runtime = Runtime::new(tx.clone());
    let result = rt.block_on(async {
        let signals = shutdown_signals().wrap_err("installing signal handlers")?;
        spawn_sampler(tx.clone(), SAMPLE_EVERY);
        spawn_watcher(tx, watcher, WATCH_EVERY);
        let mut terminal = terminal::init()?;
        // Before input is read: the terminal's answer to the query arrives on stdin.
        let mut graphics = Graphics::detect();
        let sources = Sources {
            input: ct::EventStream::new(),
            signals,
        };
        let result = event_loop(
            &mut terminal,
            &mut app,
            &mut rx,
            sources,
            &mut runtime,
            &mut graphics,
            |_, _| true,
        )
        .await;
        terminal::restore();
        result
    });
    // The runtime is gone; workers that are still stopping get a short, bounded wait.
    drop(rt);
    runtime.shutdown(Duration::from_secs(5));
    tracing::info!("invlab TUI ended");
    Ok(match result? {
        Some(signal) => Ended::Signal(signal),
        None => Ended::Quit,
    })
}
