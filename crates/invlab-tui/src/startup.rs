//! Start-up: the lab's options, the `App` built from files (saved configs, themes, run
//! history, a config given on the command line) and the log file. Runs once, before the loop.

use std::path::PathBuf;

use invlab_core::config::RunConfig;
use invlab_core::watch::RunWatcher;

use crate::app::{App, AppSetup};
use crate::{form, history, theme};

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
    /// More folders of run directories to follow live (`invlab watch DIR...`), besides
    /// `runs_dir`.
    pub watch: Vec<PathBuf>,
    /// Runs at a time (`--jobs`; 0 = 1).
    pub jobs: usize,
    /// `--devices`: devices to spread runs over; empty: each config's own.
    pub devices: Vec<invlab_core::device::DeviceRequest>,
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

/// Builds the App from files: configs, themes, history (the watcher's first poll, so the
/// watcher goes on from there).
pub(crate) fn build_app(options: &TuiOptions) -> (App, RunWatcher) {
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
    let mut roots = vec![options.runs_dir.clone()];
    roots.extend(
        options
            .watch
            .iter()
            .filter(|d| **d != options.runs_dir)
            .cloned(),
    );
    let mut watcher = RunWatcher::new(roots);
    setup.history = watcher
        .poll()
        .changed
        .into_iter()
        .map(history::entry_of)
        .collect();
    setup.jobs = options.jobs.max(1);
    setup.devices = options.devices.clone();
    setup.cores = invlab_engine::device::default_threads();
    let (themes, problems) = theme::load_all(
        invlab_core::paths::config_dir()
            .map(|d| d.join("themes"))
            .as_deref(),
    );
    for p in &problems {
        tracing::warn!("theme not loaded: {p}");
    }
    setup.themes = if theme::no_color_requested(std::env::var_os("NO_COLOR").as_deref()) {
        themes
            .into_iter()
            .map(theme::Theme::without_color)
            .collect()
    } else {
        themes
    };
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
    (app, watcher)
}

/// Logs to `<dir>/invlab-tui.log` (the data dir by default); the guard flushes on drop.
pub(crate) fn init_logging(
    dir: Option<PathBuf>,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
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
