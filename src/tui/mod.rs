//! The interactive terminal UI.
//!
//! Threads: the UI thread owns the `App` and the terminal; an input thread forwards key and
//! resize events; a sampler thread sends GPU/CPU readings once a second; each run's worker
//! thread (the engine) sends its events through an `EventSink` that tags them with the run's
//! slot. All of them feed one `mpsc` channel of `AppEvent`s. The UI thread drains the channel,
//! lets the App update (returning `Effect`s it carries out: spawn, control, save), and redraws:
//! at once after a key, otherwise at most ~30 times a second. It never waits on libtorch.

pub mod app;
pub mod command;
pub mod event;
#[doc(hidden)]
pub mod fixtures;
pub mod form;
pub mod gpu;
pub mod history;
pub mod theme;
pub mod ui;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use color_eyre::eyre::WrapErr;
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event as ct;
use ratatui::Terminal;

use crate::config::RunConfig;
use crate::engine::{self, RunHandle};

use app::{App, AppSetup, Effect};
use event::AppEvent;

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
            runs_dir: crate::paths::runs_dir().unwrap_or_else(|| PathBuf::from("runs")),
            ..Default::default()
        }
    }
}

/// Frame cap for redraws not caused by a key.
pub const FRAME: Duration = Duration::from_millis(33);
/// Wake-up period when nothing happens.
pub const TICK: Duration = Duration::from_millis(250);

/// Builds the App from files: configs, themes, history.
pub fn build_app(options: &TuiOptions) -> App {
    let user_configs = crate::paths::config_dir().map(|d| d.join("configs"));
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
        crate::paths::config_dir()
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

/// Carries out the App's effects: run workers, controls, file writes.
pub struct Runtime {
    tx: Sender<AppEvent>,
    handles: HashMap<usize, RunHandle>,
}

impl Runtime {
    pub fn new(tx: Sender<AppEvent>) -> Runtime {
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
                    let sink: engine::EventSink = Box::new(move |event| {
                        let _ = tx.send(AppEvent::Run { slot, event });
                    });
                    self.handles.insert(slot, engine::spawn(request, sink));
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
                Effect::Exit => {}
            }
        }
        self.handles.retain(|_, h| !h.is_finished());
    }

    /// Waits (bounded) for workers to end after their stop.
    pub fn shutdown(&mut self, limit: Duration) {
        let start = Instant::now();
        for h in self.handles.values() {
            h.stop();
        }
        while self.handles.values().any(|h| !h.is_finished()) && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
        for (_, h) in self.handles.drain() {
            if h.is_finished() {
                h.join();
            }
        }
    }
}

/// The UI loop: drain events, update, redraw (at once after keys, else capped at ~30 fps).
/// `after_draw` sees every drawn frame; returning false ends the loop.
pub fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    rx: &Receiver<AppEvent>,
    runtime: &mut Runtime,
    mut after_draw: impl FnMut(&App, &Buffer) -> bool,
) -> color_eyre::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    let mut last_draw = Instant::now();
    let frame = terminal.draw(|f| ui::draw(f, app))?;
    if !after_draw(app, frame.buffer) {
        return Ok(());
    }
    let mut dirty = false;
    let mut last_tick = Instant::now();
    loop {
        let until_tick = (last_tick + TICK).saturating_duration_since(Instant::now());
        let timeout = if dirty {
            (last_draw + FRAME)
                .saturating_duration_since(Instant::now())
                .min(until_tick)
        } else {
            until_tick
        };
        let mut urgent = false;
        match rx.recv_timeout(timeout) {
            Ok(first) => {
                let mut next = Some(first);
                while let Some(ev) = next {
                    urgent |= matches!(ev, AppEvent::Key(_) | AppEvent::Resize(..));
                    dirty |= !matches!(ev, AppEvent::Tick);
                    let effects = app.on_event(ev);
                    runtime.execute(app, effects);
                    next = rx.try_recv().ok();
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            let before = app.message.clone();
            let effects = app.on_event(AppEvent::Tick);
            runtime.execute(app, effects);
            dirty |= app.message.is_none() != before.is_none();
        }
        if app.should_exit {
            break;
        }
        if dirty && (urgent || last_draw.elapsed() >= FRAME) {
            let frame = terminal.draw(|f| ui::draw(f, app))?;
            last_draw = Instant::now();
            dirty = false;
            if !after_draw(app, frame.buffer) {
                break;
            }
        }
    }
    Ok(())
}

fn spawn_input(tx: Sender<AppEvent>) {
    let _ = std::thread::Builder::new()
        .name("invlab-input".into())
        .spawn(move || loop {
            let event = match ct::read() {
                Ok(ct::Event::Key(k)) => AppEvent::Key(k),
                Ok(ct::Event::Resize(w, h)) => AppEvent::Resize(w, h),
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!("reading the terminal: {e}");
                    return;
                }
            };
            if tx.send(event).is_err() {
                return;
            }
        });
}

fn init_logging(dir: Option<PathBuf>) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = dir.or_else(crate::paths::data_dir)?;
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

/// Runs the interactive TUI until the user quits. The terminal is restored on quit, on error
/// and on panic; an active run is stopped cleanly first so its directory stays valid.
pub fn run(options: TuiOptions) -> color_eyre::Result<()> {
    // color-eyre first, so ratatui's panic hook (installed by init) restores the terminal
    // before the report prints. A caller may have installed it already.
    let _ = color_eyre::install();
    let _guard = init_logging(options.log_dir.clone());
    tracing::info!(runs_dir = %options.runs_dir.display(), "invlab TUI starting");
    std::fs::create_dir_all(&options.runs_dir)
        .wrap_err_with(|| format!("creating {}", options.runs_dir.display()))?;
    let mut app = build_app(&options);
    let (tx, rx) = mpsc::channel();
    spawn_input(tx.clone());
    gpu::spawn_sampler(tx.clone(), Duration::from_secs(1));
    let mut runtime = Runtime::new(tx);
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, &mut app, &rx, &mut runtime, |_, _| true);
    ratatui::restore();
    runtime.shutdown(Duration::from_secs(30));
    tracing::info!("invlab TUI ended");
    result
}
