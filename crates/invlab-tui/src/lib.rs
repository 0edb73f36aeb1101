//! invlab's interactive terminal lab. It drives the engine through plain-data events and
//! controls only, and never names libtorch.
//!
//! The runtime shell is one tokio `select!` (a current-thread runtime on the UI thread) over:
//! terminal input (crossterm's `EventStream`: keys, mouse, resizes), the `AppEvent` channel
//! (engine events from each run's worker thread through its `EventSink`, GPU/CPU samples from
//! a 1 Hz timer task, finished data previews), a 4 Hz tick, the frame timer, and shutdown
//! signals (SIGTERM, SIGINT, SIGHUP: stop active runs cleanly, wait a bounded time for their
//! `Stopped`, restore the terminal). Training stays on its own OS thread per run, and so does
//! building a data preview; no libtorch call runs on the runtime. The `App` stays pure: the
//! shell turns sources into `AppEvent`s and carries out the `Effect`s the App returns.

pub mod app;
pub mod command;
#[cfg(test)]
mod demo;
pub mod event;
pub mod form;
pub mod history;
pub mod pane;
pub mod sampler;
mod terminal;
pub mod theme;
pub mod ui;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use color_eyre::eyre::WrapErr;
use futures_util::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event as ct;
use ratatui::layout::Rect;
use ratatui::Terminal;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use invlab_core::config::RunConfig;
pub use invlab_core::signal::Signal;
use invlab_engine::RunHandle;

use app::{App, AppSetup, Effect};
use event::AppEvent;
use ui::Graphics;

/// How the TUI starts.
#[derive(Debug, Clone, Default)]
pub struct TuiOptions {
    /// Theme name (built-in: dark, light, high-contrast; or a user theme's name).
    pub theme: Option<String>,
    /// Parent folder of run directories (history is read from here, new runs go here).
    pub runs_dir: PathBuf,
    /// A session config to load into the form.
    pub config: Option<PathBuf>,
    /// Folders searched for saved configs; empty = `./configs` and `<config dir>/configs`.
    pub config_dirs: Vec<PathBuf>,
    /// Where the log file goes; `None` = the data dir.
    pub log_dir: Option<PathBuf>,
}

impl TuiOptions {
    /// Options with the default runs dir (`<data dir>/runs`, else `./runs`).
    pub fn new() -> TuiOptions {
        TuiOptions {
            runs_dir: invlab_core::paths::runs_dir().unwrap_or_else(|| PathBuf::from("runs")),
            ..Default::default()
        }
    }
}

/// Frame cap for redraws not caused by input.
pub(crate) const FRAME: Duration = Duration::from_millis(33);
/// App ticks: messages fade, previews debounce.
pub(crate) const TICK: Duration = Duration::from_millis(250);
/// GPU / CPU sampling period.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// After a shutdown signal, how long active runs get to report `Stopped` (a run stops at the
/// next batch boundary, so seconds at most; this bounds a hung device).
pub(crate) const SIGNAL_GRACE: Duration = Duration::from_secs(15);

/// Builds the App from files: configs, themes, history.
pub(crate) fn build_app(options: &TuiOptions) -> App {
    let user_configs = invlab_core::paths::config_dir().map(|d| d.join("configs"));
    let dirs = if options.config_dirs.is_empty() {
        let mut d = vec![PathBuf::from("configs")];
        d.extend(user_configs.clone());
        d
    } else {
        options.config_dirs.clone()
    };
    let default_config = form::default_config(&dirs[0]);
    let mut setup = AppSetup::plain(options.runs_dir.clone());
    setup.save_dir = user_configs.unwrap_or_else(|| PathBuf::from("configs"));
    setup.default_config = default_config;
    setup.configs = form::list_configs(&dirs);
    setup.history = history::load_history(&options.runs_dir);
    let (themes, problems) = theme::load_all(
        invlab_core::paths::config_dir()
            .map(|d| d.join("themes"))
            .as_deref(),
    );
    for p in &problems {
        tracing::warn!("theme not loaded: {p}");
    }
    setup.themes = themes;
    setup.theme = options.theme.clone();
    let mut config_error = None;
    if let Some(path) = &options.config {
        match RunConfig::load(path, &[]) {
            Ok(c) => setup.form_config = Some(c),
            Err(e) => config_error = Some(e.to_string()),
        }
    }
    let mut app = App::new(setup);
    if let Some(e) = config_error {
        app.report(Err(e));
    } else if let Some(p) = problems.first() {
        app.report(Err(format!("theme not loaded: {p}")));
    }
    app
}

/// Carries out the App's effects: run workers, controls, file writes, trash, previews.
pub struct Runtime {
    tx: UnboundedSender<AppEvent>,
    handles: HashMap<usize, RunHandle>,
}

impl Runtime {
    pub fn new(tx: UnboundedSender<AppEvent>) -> Runtime {
        Runtime {
            tx,
            handles: HashMap::new(),
        }
    }

    pub fn execute(&mut self, app: &mut App, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Spawn { slot, request } => {
                    tracing::info!(slot, "starting a run");
                    let tx = self.tx.clone();
                    // Called on the worker thread: an unbounded send never blocks it.
                    let sink: invlab_engine::EventSink = Box::new(move |event| {
                        let _ = tx.send(AppEvent::Run { slot, event });
                    });
                    self.handles
                        .insert(slot, invlab_engine::spawn(request, sink));
                }
                Effect::Control { slot, control } => {
                    tracing::info!(slot, ?control, "control");
                    if let Some(h) = self.handles.get(&slot) {
                        h.send(control);
                    }
                }
                Effect::SaveConfig { path, text } => {
                    let result = path
                        .parent()
                        .map(std::fs::create_dir_all)
                        .unwrap_or(Ok(()))
                        .and_then(|_| std::fs::write(&path, text));
                    app.report(match result {
                        Ok(()) => Ok(format!("saved {}", path.display())),
                        Err(e) => Err(format!("cannot save {}: {e}", path.display())),
                    });
                }
                Effect::Trash { slot, dir, trash } => {
                    let result = move_to_trash(&dir, &trash);
                    tracing::info!(slot, ?result, "trash {}", dir.display());
                    let more = app.on_event(AppEvent::Trashed { slot, result });
                    self.execute(app, more);
                }
                Effect::BuildPreview { key, config } => spawn_preview(self.tx.clone(), key, config),
                Effect::WriteFigures { dir } => spawn_figures(dir),
                Effect::Exit => {}
            }
        }
        self.handles.retain(|_, h| !h.is_finished());
    }

    /// True while a worker thread is alive.
    pub(crate) fn has_workers(&self) -> bool {
        self.handles.values().any(|h| !h.is_finished())
    }

    /// Sends `Stop` to every worker and waits (bounded) for them to end.
    pub fn shutdown(&mut self, limit: Duration) {
        let start = std::time::Instant::now();
        for h in self.handles.values() {
            h.stop();
        }
        while self.has_workers() && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
        for (slot, h) in self.handles.drain() {
            if h.is_finished() {
                h.join();
            } else {
                tracing::warn!(slot, "worker still running at exit");
            }
        }
    }
}

/// Moves a run directory into `trash` (created if missing), under a fresh name when one of
/// the same name is there already. A rename, never a delete: the run can be brought back.
pub(crate) fn move_to_trash(dir: &Path, trash: &Path) -> Result<PathBuf, String> {
    let name = dir
        .file_name()
        .ok_or_else(|| format!("{}: not a run directory", dir.display()))?;
    std::fs::create_dir_all(trash)
        .map_err(|e| format!("cannot create {}: {e}", trash.display()))?;
    let mut target = trash.join(name);
    let mut n = 2;
    while target.exists() {
        target = trash.join(format!("{}-{n}", name.to_string_lossy()));
        n += 1;
    }
    std::fs::rename(dir, &target)
        .map_err(|e| format!("cannot move {} to {}: {e}", dir.display(), target.display()))?;
    Ok(target)
}

/// Draws a finished run's figures on their own OS thread (rendering SVG and PNG takes a moment).
/// A figure that cannot be drawn is not a failed run: the data behind it is on disk.
fn spawn_figures(dir: PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("invlab-figures".into())
        .spawn(move || {
            if let Err(e) = invlab_report::write_run_figures(&dir) {
                tracing::warn!("figures for {} not written: {e}", dir.display());
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the figures thread: {e}");
    }
}

/// Builds a data preview on its own OS thread (it prepares data and runs libtorch
/// transforms) and reports it as `AppEvent::Preview`.
fn spawn_preview(tx: UnboundedSender<AppEvent>, key: String, config: Box<RunConfig>) {
    let spawned = std::thread::Builder::new()
        .name("invlab-preview".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(|| invlab_engine::data_preview::build(&config))
                .unwrap_or_else(|_| Err("building the preview panicked (see the log)".into()))
                .map(Arc::new);
            if let Err(e) = &result {
                tracing::warn!("data preview: {e}");
            }
            let _ = tx.send(AppEvent::Preview { key, result });
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the preview thread: {e}");
    }
}

/// Samples GPU / CPU once per `period` on a timer task; the blocking NVML / sysinfo calls run
/// on tokio's blocking pool, off the select loop.
fn spawn_sampler(tx: UnboundedSender<AppEvent>, period: Duration) {
    tokio::spawn(async move {
        let Ok(mut sampler) = tokio::task::spawn_blocking(sampler::Sampler::new).await else {
            return;
        };
        let mut timer = tokio::time::interval(period);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            timer.tick().await;
            let Ok((back, sample)) = tokio::task::spawn_blocking(move || {
                let sample = sampler.sample();
                (sampler, sample)
            })
            .await
            else {
                return;
            };
            sampler = back;
            if tx.send(AppEvent::Gpu(sample)).is_err() {
                return;
            }
        }
    });
}

/// SIGTERM, SIGINT and SIGHUP as a stream (must be called inside the runtime).
pub(crate) fn shutdown_signals() -> io::Result<impl Stream<Item = Signal> + Unpin> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut signals = [
        (Signal::Term, signal(SignalKind::terminate())?),
        (Signal::Int, signal(SignalKind::interrupt())?),
        (Signal::Hup, signal(SignalKind::hangup())?),
    ];
    Ok(futures_util::stream::poll_fn(move |cx| {
        for (which, s) in signals.iter_mut() {
            if let Poll::Ready(Some(())) = s.poll_recv(cx) {
                return Poll::Ready(Some(*which));
            }
        }
        Poll::Pending
    }))
}

/// The loop's sources besides the `AppEvent` channel.
pub struct Sources<I, S> {
    /// Terminal events (crossterm's `EventStream`, or a test's stream).
    pub input: I,
    /// Shutdown signals.
    pub signals: S,
}

/// Applies a terminal event; true when it needs a redraw at once (input was handled).
fn on_terminal_event<B: Backend>(
    terminal: &Terminal<B>,
    app: &mut App,
    runtime: &mut Runtime,
    event: ct::Event,
) -> bool {
    match event {
        ct::Event::Key(k) => {
            let effects = app.on_event(AppEvent::Key(k));
            runtime.execute(app, effects);
            true
        }
        ct::Event::Mouse(m) => {
            let area = terminal
                .size()
                .map(|s| Rect::new(0, 0, s.width, s.height))
                .unwrap_or_default();
            let commands = ui::mouse_commands(app, area, m);
            let any = !commands.is_empty();
            for cmd in commands {
                let effects = app.apply(cmd);
                runtime.execute(app, effects);
            }
            any
        }
        ct::Event::Resize(w, h) => {
            let effects = app.on_event(AppEvent::Resize(w, h));
            runtime.execute(app, effects);
            true
        }
        _ => false,
    }
}

/// The UI loop. Redraws at once after input, otherwise at most every `FRAME` while something
/// changed. `after_draw` sees every drawn frame; returning false ends the loop. Ends when the
/// App exits, or `SIGNAL_GRACE` after a shutdown signal, or at once on a second signal.
/// Returns the shutdown signal that ended it, if one did.
pub async fn event_loop<B, I, S>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut UnboundedReceiver<AppEvent>,
    sources: Sources<I, S>,
    runtime: &mut Runtime,
    graphics: &mut Graphics,
    mut after_draw: impl FnMut(&App, &Buffer) -> bool,
) -> color_eyre::Result<Option<Signal>>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    I: Stream<Item = io::Result<ct::Event>> + Unpin,
    S: Stream<Item = Signal> + Unpin,
{
    let Sources {
        mut input,
        mut signals,
    } = sources;
    let mut shutting_down = false;
    let mut ended_by = None;
    let mut draw = |terminal: &mut Terminal<B>, app: &App, graphics: &mut Graphics| {
        terminal
            .draw(|f| ui::draw_with(f, app, graphics))
            .map(|frame| after_draw(app, frame.buffer))
    };
    if !draw(terminal, app, graphics)? {
        return Ok(None);
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let next_frame = tokio::time::sleep(FRAME);
    tokio::pin!(next_frame);
    let grace = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(grace);
    let mut dirty = false;
    let mut input_open = true;
    loop {
        let mut urgent = false;
        tokio::select! {
            biased;
            Some(signal) = signals.next() => {
                if shutting_down {
                    tracing::warn!("{signal} again: exiting without waiting");
                    break;
                }
                tracing::info!("{signal}: stopping active runs, then exiting");
                shutting_down = true;
                ended_by = Some(signal);
                grace.as_mut().reset(Instant::now() + SIGNAL_GRACE);
                let effects = app.on_event(AppEvent::Shutdown(signal));
                runtime.execute(app, effects);
                // Say why at once: the run may report Stopped before the next frame.
                dirty = true;
                urgent = true;
            }
            event = input.next(), if input_open => match event {
                Some(Ok(event)) => {
                    urgent = on_terminal_event(terminal, app, runtime, event);
                    dirty |= urgent;
                }
                other => {
                    // The terminal is gone (or unreadable): as a hang-up.
                    input_open = false;
                    tracing::warn!("terminal input ended: {other:?}");
                    if !shutting_down {
                        shutting_down = true;
                        ended_by = Some(Signal::Hup);
                        grace.as_mut().reset(Instant::now() + SIGNAL_GRACE);
                        let effects = app.on_event(AppEvent::Shutdown(Signal::Hup));
                        runtime.execute(app, effects);
                    }
                }
            },
            Some(first) = events.recv() => {
                // Everything queued, then one redraw.
                let mut next = Some(first);
                while let Some(event) = next {
                    dirty = true;
                    let effects = app.on_event(event);
                    runtime.execute(app, effects);
                    next = events.try_recv().ok();
                }
            }
            _ = tick.tick() => {
                let before = (app.message.is_none(), app.previews.is_building());
                let effects = app.on_event(AppEvent::Tick);
                dirty |= !effects.is_empty()
                    || before != (app.message.is_none(), app.previews.is_building());
                runtime.execute(app, effects);
            }
            _ = &mut next_frame, if dirty => {
                urgent = true;
            }
            _ = &mut grace, if shutting_down => {
                tracing::warn!("runs did not stop within {SIGNAL_GRACE:?}; exiting");
                break;
            }
        }
        if app.should_exit {
            break;
        }
        if dirty && urgent {
            match draw(terminal, app, graphics) {
                Ok(true) => {}
                Ok(false) => break,
                // After a hang-up the terminal may be gone; keep stopping the runs.
                Err(_) if shutting_down => {}
                Err(e) => return Err(e.into()),
            }
            dirty = false;
            next_frame.as_mut().reset(Instant::now() + FRAME);
        }
    }
    Ok(ended_by)
}

fn init_logging(dir: Option<PathBuf>) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = dir.or_else(invlab_core::paths::data_dir)?;
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::never(&dir, "invlab-tui.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("INVLAB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

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
    let mut app = build_app(&options);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    let (tx, mut rx) = unbounded_channel();
    let mut runtime = Runtime::new(tx.clone());
    let result = rt.block_on(async {
        let signals = shutdown_signals().wrap_err("installing signal handlers")?;
        spawn_sampler(tx, SAMPLE_EVERY);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trashing_moves_the_directory_under_a_fresh_name() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        let trash = tmp.path().join("trash");
        for _ in 0..2 {
            std::fs::create_dir_all(runs.join("r1")).unwrap();
            std::fs::write(runs.join("r1/summary.json"), "{}").unwrap();
            move_to_trash(&runs.join("r1"), &trash).unwrap();
            assert!(!runs.join("r1").exists());
        }
        assert!(trash.join("r1/summary.json").exists());
        assert!(trash.join("r1-2/summary.json").exists(), "no overwrite");
        let e = move_to_trash(&runs.join("gone"), &trash).unwrap_err();
        assert!(e.contains("gone"), "{e}");
    }
}
