//! All TUI state, and the state machine over it. No terminal, no threads, no clock: keys become
//! `Command`s, commands and engine events change state and return `Effect`s that the runtime
//! carries out (spawn a run, send a control, write a file). Quitting is state, not an effect:
//! the loop ends once `should_exit` is set. Tests drive this directly.

use std::collections::VecDeque;
use std::path::PathBuf;

use ratatui::crossterm::event::{KeyEvent, KeyEventKind};

use invlab_core::config::RunConfig;
use invlab_engine::{Control, RunRequest};

use super::command::{map_key, Command, KeyMode};
use super::event::AppEvent;
use super::form::{ConfigFile, Form};
use super::sampler::SystemSample;
use super::theme::Theme;

pub(crate) use super::pane::Pane;

mod apply;
mod filter;
mod mouse;
mod preview_cache;
mod run_events;
mod runs;
mod watched;

pub use filter::RunFilter;
pub(crate) use preview_cache::{PreviewCache, PreviewView};
pub use runs::RunStatus;
pub(crate) use runs::{BatchProgress, RunEntry};

/// Something the runtime must do for the App. Short-lived, so the size of `Spawn` is no concern.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Effect {
    Spawn {
        slot: usize,
        request: RunRequest,
        /// libtorch threads for the run (its share of the cores).
        threads: usize,
        /// The device the lab places it on (`--devices`); `None`: the config's own.
        device: Option<invlab_core::device::DeviceRequest>,
    },
    Control {
        slot: usize,
        control: Control,
    },
    SaveConfig {
        path: PathBuf,
        text: String,
    },
    /// Move a finished run's directory into the trash folder, then report `Trashed`.
    Trash {
        slot: usize,
        dir: PathBuf,
        trash: PathBuf,
    },
    /// Build the data preview of `config` on a background thread, then report `Preview`.
    BuildPreview {
        key: String,
        config: Box<RunConfig>,
    },
    /// Draw a finished run's figures (`invlab_report::write_run_figures`) on a background
    /// thread.
    WriteFigures {
        dir: PathBuf,
    },
    /// Re-evaluate the checkpoint in `dir` (`invlab eval` with its defaults) on a background
    /// thread with `threads` libtorch threads, write its figures, then report `Evaluated`.
    Evaluate {
        slot: usize,
        dir: PathBuf,
        threads: usize,
    },
    /// Send SIGTERM to the process `pid` of this host, which writes the run in `slot` (a batch
    /// run the lab watches): it stops that run cleanly, as on a cluster's time limit.
    Terminate {
        slot: usize,
        pid: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    ConfirmStop(usize),
    /// Stop a run another process of this host writes (SIGTERM to its pid)?
    ConfirmTerminate {
        slot: usize,
        pid: u32,
    },
    /// Move a finished / stopped / failed / killed run's directory to the trash?
    ConfirmDelete(usize),
    ConfirmQuit,
    /// Typing a file name to save the form's config under.
    SaveAs(String),
    /// Typing a run-list filter (`/`): name words and `key=value` config fields.
    Filter(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub error: bool,
    /// Ticks left before it fades (errors stay longer).
    pub ttl: u16,
}

/// Ticks (4 Hz) a message stays: 6 s, errors 15 s.
const MESSAGE_TICKS: u16 = 24;
const ERROR_TICKS: u16 = 60;

/// Start-up inputs of the App.
#[derive(Debug, Clone)]
pub struct AppSetup {
    pub runs_dir: PathBuf,
    /// Where `w` saves configs.
    pub save_dir: PathBuf,
    pub default_config: RunConfig,
    pub form_config: Option<RunConfig>,
    pub configs: Vec<ConfigFile>,
    pub history: Vec<RunEntry>,
    pub themes: Vec<Theme>,
    pub theme: Option<String>,
    /// Runs at once (`--jobs`).
    pub jobs: usize,
    /// libtorch's default thread count, split between parallel runs.
    pub cores: usize,
    /// `--devices`: concrete devices to spread runs over; empty: each config's own.
    pub devices: Vec<invlab_core::device::DeviceRequest>,
}

impl AppSetup {
    /// A setup with built-in defaults and no files (tests, first start).
    pub fn plain(runs_dir: PathBuf) -> AppSetup {
        AppSetup {
            save_dir: runs_dir.join("configs"),
            runs_dir,
            default_config: RunConfig::default(),
            form_config: None,
            configs: Vec::new(),
            history: Vec::new(),
            themes: vec![Theme::default()],
            theme: None,
            jobs: 1,
            cores: 1,
            devices: Vec::new(),
        }
    }
}

pub struct App {
    pub form: Form,
    pub runs: Vec<RunEntry>,
    /// Index into `runs`.
    pub selected: usize,
    pub focus: Pane,
    pub prompt: Option<Prompt>,
    pub help: bool,
    pub compare: bool,
    pub show_consistency: bool,
    /// The curves pane shows a GIT run's generator view even after its generator phase.
    pub show_generator: bool,
    pub themes: Vec<Theme>,
    pub theme: usize,
    pub system: Option<SystemSample>,
    /// Recent GPU (or CPU) utilisation in percent, oldest first.
    pub utilization: VecDeque<u64>,
    pub message: Option<Message>,
    pub runs_dir: PathBuf,
    pub save_dir: PathBuf,
    pub default_config: RunConfig,
    /// Runs at once; the queue advances when one ends (`J` cycles it up to `cores`).
    pub max_parallel: usize,
    /// Devices to spread runs over (`--devices`), least busy first; empty: the config's own.
    pub devices: Vec<invlab_core::device::DeviceRequest>,
    /// libtorch's threads for one run alone: split between the runs at once (each run gets
    /// `cores / max_parallel`, at least one), so parallel runs never oversubscribe the CPU.
    pub cores: usize,
    pub quitting: bool,
    /// The one exit mechanism: the event loop ends after the event that set it.
    pub should_exit: bool,
    /// The class under the invariance pane's cursor, as a rank (0 = largest class).
    pub class_cursor: usize,
    /// Data previews of the form's config (pictures built in the background).
    pub previews: PreviewCache,
    /// The run list shows only the runs this lets through (`/`).
    pub filter: Option<RunFilter>,
    /// Runs whose checkpoint is being evaluated (`E`), by slot.
    pub evaluating: std::collections::BTreeSet<usize>,
    next_slot: usize,
}

const UTIL_HISTORY: usize = 240;

impl App {
    pub fn new(setup: AppSetup) -> App {
        let themes = if setup.themes.is_empty() {
            vec![Theme::default()]
        } else {
            setup.themes
        };
        let theme = setup
            .theme
            .as_deref()
            .and_then(|n| themes.iter().position(|t| t.name == n))
            .unwrap_or(0);
        let mut message = None;
        if let Some(name) = &setup.theme {
            if themes.iter().all(|t| &t.name != name) {
                message = Some(Message {
                    text: format!(
                        "no theme named {name:?}; have {}",
                        themes
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    error: true,
                    ttl: ERROR_TICKS,
                });
            }
        }
        let mut runs = setup.history;
        for (i, r) in runs.iter_mut().enumerate() {
            r.slot = i;
        }
        let next_slot = runs.len();
        let selected = runs.len().saturating_sub(1);
        let form_config = setup
            .form_config
            .unwrap_or_else(|| setup.default_config.clone());
        App {
            form: Form::new(form_config, setup.configs),
            runs,
            selected,
            focus: Pane::Setup,
            prompt: None,
            help: false,
            compare: false,
            show_consistency: false,
            show_generator: false,
            themes,
            theme,
            system: None,
            utilization: VecDeque::new(),
            message,
            runs_dir: setup.runs_dir,
            save_dir: setup.save_dir,
            default_config: setup.default_config,
            max_parallel: setup.jobs.max(1),
            devices: setup.devices,
            cores: setup.cores.max(1),
            quitting: false,
            should_exit: false,
            class_cursor: 0,
            previews: PreviewCache::default(),
            filter: None,
            evaluating: Default::default(),
            next_slot,
        }
    }

    pub fn theme(&self) -> &Theme {
        &self.themes[self.theme]
    }

    pub(crate) fn selected_run(&self) -> Option<&RunEntry> {
        self.runs.get(self.selected)
    }

    pub(crate) fn run_by_slot(&self, slot: usize) -> Option<&RunEntry> {
        self.runs.iter().find(|r| r.slot == slot)
    }

    fn run_mut(&mut self, slot: usize) -> Option<&mut RunEntry> {
        self.runs.iter_mut().find(|r| r.slot == slot)
    }

    pub fn active_count(&self) -> usize {
        self.runs.iter().filter(|r| r.status.is_active()).count()
    }

    pub fn marked(&self) -> Vec<&RunEntry> {
        self.runs.iter().filter(|r| r.marked).collect()
    }

    pub(crate) fn key_mode(&self) -> KeyMode {
        if self.help {
            KeyMode::Help
        } else {
            match &self.prompt {
                Some(
                    Prompt::ConfirmStop(_)
                    | Prompt::ConfirmTerminate { .. }
                    | Prompt::ConfirmDelete(_)
                    | Prompt::ConfirmQuit,
                ) => KeyMode::Confirm,
                Some(Prompt::SaveAs(_) | Prompt::Filter(_)) => KeyMode::Text,
                None if self.form.editing.is_some() => KeyMode::Text,
                None => KeyMode::Normal,
            }
        }
    }

    /// A key, as a command (key releases and repeats mean nothing).
    pub(crate) fn handle_key(&self, key: KeyEvent) -> Command {
        if key.kind != KeyEventKind::Press {
            return Command::None;
        }
        map_key(self.key_mode(), key)
    }

    fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
            ttl: MESSAGE_TICKS,
        });
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
            ttl: ERROR_TICKS,
        });
    }

    /// Tells the user how an effect went (the runtime reports file writes here).
    pub fn report<E: std::fmt::Display>(&mut self, result: Result<String, E>) {
        match result {
            Ok(t) => self.say(t),
            Err(e) => self.warn(e.to_string()),
        }
    }

    pub(crate) fn on_event(&mut self, event: AppEvent) -> Vec<Effect> {
        match event {
            AppEvent::Key(key) => {
                let cmd = self.handle_key(key);
                self.apply(cmd)
            }
            AppEvent::Tick => {
                if let Some(m) = &mut self.message {
                    m.ttl = m.ttl.saturating_sub(1);
                    if m.ttl == 0 {
                        self.message = None;
                    }
                }
                self.preview_tick()
            }
            AppEvent::Preview { key, result } => {
                self.previews.finished(key, result);
                // A change made while it was building is due now.
                self.preview_tick()
            }
            AppEvent::Saved(result) => {
                self.report(result.map(|p| format!("saved {}", p.display())));
                Vec::new()
            }
            AppEvent::Trashed { slot, result } => {
                self.on_trashed(slot, result);
                Vec::new()
            }
            AppEvent::Evaluated { slot, result } => {
                self.evaluating.remove(&slot);
                self.report(result);
                Vec::new()
            }
            AppEvent::Shutdown(signal) => {
                let first = !self.quitting;
                let effects = self.begin_quit();
                if first && !self.should_exit {
                    self.warn(format!(
                        "{signal}: stopping the active run cleanly (it stays resumable), then quitting"
                    ));
                }
                effects
            }
            AppEvent::Mouse { event, area } => {
                let mut effects = Vec::new();
                for cmd in self.mouse_commands(area, event) {
                    effects.extend(self.apply(cmd));
                }
                effects
            }
            AppEvent::Resize(..) => Vec::new(),
            AppEvent::Paste(text) => {
                self.paste(&text);
                Vec::new()
            }
            AppEvent::System(sample) => {
                let util = sample
                    .gpus
                    .first()
                    .and_then(|g| g.utilization.map(u64::from))
                    .unwrap_or(sample.host.cpu_percent.round() as u64);
                self.utilization.push_back(util.min(100));
                while self.utilization.len() > UTIL_HISTORY {
                    self.utilization.pop_front();
                }
                self.system = Some(sample);
                Vec::new()
            }
            AppEvent::Run { slot, event } => self.on_run_event(slot, event),
            AppEvent::Terminated { slot, pid, sent } => {
                let name = self
                    .run_by_slot(slot)
                    .map(|r| r.name.clone())
                    .unwrap_or_default();
                if sent {
                    self.say(format!(
                        "SIGTERM sent to process {pid}: {name} stops at its next batch boundary"
                    ));
                } else {
                    self.warn(format!(
                        "process {pid} ({name}) is gone or would not take SIGTERM"
                    ));
                }
                Vec::new()
            }
            AppEvent::Watched(changes) => {
                self.on_watched(changes);
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests;
