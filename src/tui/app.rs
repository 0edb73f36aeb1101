//! All TUI state, and the state machine over it. No terminal, no threads, no clock: keys become
//! `Command`s, commands and engine events change state and return `Effect`s that the runtime
//! carries out (spawn a run, send a control, write a file, exit). Tests drive this directly.

use std::collections::VecDeque;
use std::path::PathBuf;

use ratatui::crossterm::event::{KeyEvent, KeyEventKind};

use crate::config::RunConfig;
use crate::engine::{
    Control, EpochMetrics, Event, GeneratorProgress, InvarianceReport, Phase, RunInfo, RunRequest,
    Summary,
};

use super::command::{map_key, Command, KeyMode};
use super::event::AppEvent;
use super::form::{ConfigFile, Form};
use super::gpu::GpuSample;
use super::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Setup,
    Runs,
    Curves,
    Classes,
    Invariance,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Setup,
        Pane::Runs,
        Pane::Curves,
        Pane::Classes,
        Pane::Invariance,
    ];

    pub fn short_title(self) -> &'static str {
        match self {
            Pane::Classes => "Classes",
            Pane::Invariance => "eKLD",
            other => other.title(),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Pane::Setup => "Set-up",
            Pane::Runs => "Runs",
            Pane::Curves => "Curves",
            Pane::Classes => "Per-class accuracy",
            Pane::Invariance => "Invariance",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    Queued,
    /// Spawned, `Started` not yet seen.
    Starting,
    Running,
    Paused,
    /// Stop sent, terminal event not yet seen.
    Stopping,
    Done,
    Stopped {
        epochs_done: usize,
    },
    Failed(String),
    /// Found in history with no final word: the process died mid-run.
    Killed {
        epochs_done: usize,
    },
}

impl RunStatus {
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            RunStatus::Starting | RunStatus::Running | RunStatus::Paused | RunStatus::Stopping
        )
    }

    pub fn label(&self) -> String {
        match self {
            RunStatus::Queued => "queued".into(),
            RunStatus::Starting => "starting".into(),
            RunStatus::Running => "running".into(),
            RunStatus::Paused => "paused".into(),
            RunStatus::Stopping => "stopping".into(),
            RunStatus::Done => "done".into(),
            RunStatus::Stopped { .. } => "stopped".into(),
            RunStatus::Failed(reason) if reason.is_empty() => "failed".into(),
            RunStatus::Failed(reason) => format!("failed: {reason}"),
            RunStatus::Killed { .. } => "killed".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: f64,
}

/// One run in the list: queued, live, or read back from its directory.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    /// Stable id; engine events carry it.
    pub slot: usize,
    pub name: String,
    pub config: RunConfig,
    pub status: RunStatus,
    pub dir: Option<PathBuf>,
    pub info: Option<Box<RunInfo>>,
    pub phase: Option<Phase>,
    pub batch: Option<BatchProgress>,
    /// (fractional epoch, loss) of the live batch reports.
    pub batch_losses: Vec<(f64, f64)>,
    pub epochs: Vec<EpochMetrics>,
    pub invariance: Option<Box<InvarianceReport>>,
    /// GIT's generator phase: the latest progress and the newest sample grid.
    pub generator: Option<Box<GeneratorProgress>>,
    pub generator_samples: Option<Box<crate::git::samples::SampleGrid>>,
    /// Generator losses seen so far (for the loss curves).
    pub generator_losses: Vec<crate::git::training::Losses>,
    pub summary: Option<Box<Summary>>,
    pub marked: bool,
    pub pause_requested: bool,
    /// Queued to continue from its directory's checkpoint rather than start afresh.
    pub resume: bool,
    pub from_history: bool,
    /// Last update, seconds since the Unix epoch (history order).
    pub updated: u64,
}

impl RunEntry {
    pub fn new(slot: usize, name: String, config: RunConfig) -> RunEntry {
        RunEntry {
            slot,
            name,
            config,
            status: RunStatus::Queued,
            dir: None,
            info: None,
            phase: None,
            batch: None,
            batch_losses: Vec::new(),
            epochs: Vec::new(),
            invariance: None,
            generator: None,
            generator_samples: None,
            generator_losses: Vec::new(),
            summary: None,
            marked: false,
            pause_requested: false,
            resume: false,
            from_history: false,
            updated: 0,
        }
    }

    /// The name without a leading `YYYYMMDD-HHMMSS-` stamp, and the stamp as `MM-DD HH:MM`.
    pub fn short_name(&self) -> (&str, Option<String>) {
        let n = &self.name;
        let b = n.as_bytes();
        let stamped = b.len() > 16
            && b[..8].iter().all(u8::is_ascii_digit)
            && b[8] == b'-'
            && b[9..15].iter().all(u8::is_ascii_digit)
            && b[15] == b'-';
        if stamped {
            let when = format!("{}-{} {}:{}", &n[4..6], &n[6..8], &n[9..11], &n[11..13]);
            (&n[16..], Some(when))
        } else {
            (n, None)
        }
    }

    /// Keeps a generator progress report: losses for the curves, the newest sample grid.
    pub fn record_generator(&mut self, mut progress: GeneratorProgress) {
        if let Some(l) = progress.losses {
            if self.generator_losses.last().map(|p| p.iteration) < Some(l.iteration) {
                self.generator_losses.push(l);
            }
        }
        if let Some(grid) = progress.samples.take() {
            self.generator_samples = Some(Box::new(grid));
        }
        self.generator = Some(Box::new(progress));
    }

    pub fn total_epochs(&self) -> usize {
        self.info
            .as_ref()
            .map(|i| i.total_epochs)
            .or_else(|| self.epochs.last().map(|e| e.total_epochs))
            .unwrap_or(self.config.train.epochs)
    }

    pub fn epochs_done(&self) -> usize {
        self.epochs.last().map(|e| e.epoch).unwrap_or(0)
    }

    /// Training images per class label, when known.
    pub fn train_sizes(&self) -> Option<Vec<usize>> {
        if let Some(info) = &self.info {
            return Some(info.train_sizes.clone());
        }
        self.summary
            .as_ref()
            .map(|s| s.classes.iter().map(|c| c.train_size).collect())
    }

    pub fn class_names(&self) -> Vec<String> {
        if let Some(info) = &self.info {
            return info.class_names.clone();
        }
        self.summary
            .as_ref()
            .map(|s| s.classes.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Per-class accuracy of the latest epoch (or the summary).
    pub fn per_class_accuracy(&self) -> Option<Vec<f64>> {
        if let Some(e) = self.epochs.last() {
            return Some(e.per_class_accuracy.clone());
        }
        self.summary
            .as_ref()
            .map(|s| s.classes.iter().map(|c| c.accuracy).collect())
    }

    /// Seconds left, from the mean wall time of the epochs done so far.
    pub fn eta_seconds(&self) -> Option<f64> {
        if !self.status.is_active() || self.epochs.is_empty() {
            return None;
        }
        let per_epoch = self
            .epochs
            .iter()
            .map(|e| e.train_seconds + e.eval_seconds)
            .sum::<f64>()
            / self.epochs.len() as f64;
        let left = self.total_epochs().saturating_sub(self.epochs_done()) as f64;
        let in_epoch = self
            .batch
            .filter(|b| b.epoch > self.epochs_done() && b.batches > 0)
            .map(|b| b.batch as f64 / b.batches as f64)
            .unwrap_or(0.0);
        Some(((left - in_epoch).max(0.0)) * per_epoch)
    }
}

/// Something the runtime must do for the App. Short-lived, so the size of `Spawn` is no concern.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Effect {
    Spawn { slot: usize, request: RunRequest },
    Control { slot: usize, control: Control },
    SaveConfig { path: PathBuf, text: String },
    Exit,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    ConfirmStop(usize),
    ConfirmQuit,
    /// Typing a file name to save the form's config under.
    SaveAs(String),
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
    pub themes: Vec<Theme>,
    pub theme: usize,
    pub gpu: Option<GpuSample>,
    /// Recent GPU (or CPU) utilisation in percent, oldest first.
    pub utilization: VecDeque<u64>,
    pub message: Option<Message>,
    pub runs_dir: PathBuf,
    pub save_dir: PathBuf,
    pub default_config: RunConfig,
    /// Runs at once; the queue advances when one ends.
    pub max_parallel: usize,
    pub quitting: bool,
    pub should_exit: bool,
    next_slot: usize,
}

const UTIL_HISTORY: usize = 240;
const MAX_BATCH_POINTS: usize = 4000;

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
            themes,
            theme,
            gpu: None,
            utilization: VecDeque::new(),
            message,
            runs_dir: setup.runs_dir,
            save_dir: setup.save_dir,
            default_config: setup.default_config,
            max_parallel: 1,
            quitting: false,
            should_exit: false,
            next_slot,
        }
    }

    pub fn theme(&self) -> &Theme {
        &self.themes[self.theme]
    }

    pub fn selected_run(&self) -> Option<&RunEntry> {
        self.runs.get(self.selected)
    }

    pub fn run_by_slot(&self, slot: usize) -> Option<&RunEntry> {
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

    pub fn key_mode(&self) -> KeyMode {
        if self.help {
            KeyMode::Help
        } else {
            match &self.prompt {
                Some(Prompt::ConfirmStop(_)) | Some(Prompt::ConfirmQuit) => KeyMode::Confirm,
                Some(Prompt::SaveAs(_)) => KeyMode::Text,
                None if self.form.editing.is_some() => KeyMode::Text,
                None => KeyMode::Normal,
            }
        }
    }

    /// A key, as a command (key releases and repeats mean nothing).
    pub fn handle_key(&self, key: KeyEvent) -> Command {
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
    pub fn report(&mut self, result: Result<String, String>) {
        match result {
            Ok(t) => self.say(t),
            Err(t) => self.warn(t),
        }
    }

    pub fn on_event(&mut self, event: AppEvent) -> Vec<Effect> {
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
                Vec::new()
            }
            AppEvent::Resize(..) => Vec::new(),
            AppEvent::Gpu(sample) => {
                let util = sample
                    .gpus
                    .first()
                    .and_then(|g| g.utilization.map(u64::from))
                    .unwrap_or(sample.host.cpu_percent.round() as u64);
                self.utilization.push_back(util.min(100));
                while self.utilization.len() > UTIL_HISTORY {
                    self.utilization.pop_front();
                }
                self.gpu = Some(sample);
                Vec::new()
            }
            AppEvent::Run { slot, event } => self.on_run_event(slot, event),
        }
    }

    fn on_run_event(&mut self, slot: usize, event: Event) -> Vec<Effect> {
        let terminal = event.is_terminal();
        let Some(run) = self.run_mut(slot) else {
            return Vec::new();
        };
        match event {
            Event::Started(info) => {
                if run.status != RunStatus::Stopping {
                    run.status = RunStatus::Running;
                }
                run.dir = Some(info.dir.clone());
                run.name = info.run_id.clone();
                run.info = Some(info);
            }
            Event::Phase(p) => run.phase = Some(p),
            Event::Batch {
                epoch,
                batch,
                batches,
                loss,
            } => {
                run.batch = Some(BatchProgress {
                    epoch,
                    batch,
                    batches,
                    loss,
                });
                if loss.is_finite() && batches > 0 {
                    let x = (epoch.max(1) - 1) as f64 + batch as f64 / batches as f64;
                    run.batch_losses.push((x, loss));
                    if run.batch_losses.len() > MAX_BATCH_POINTS {
                        // Keep every other point: the curve's shape survives, memory stays flat.
                        let kept = run.batch_losses.iter().step_by(2).copied().collect();
                        run.batch_losses = kept;
                    }
                }
            }
            Event::Epoch(m) => {
                if let Some(inv) = &m.invariance {
                    run.invariance = Some(Box::new(inv.clone()));
                }
                run.epochs.push(*m);
            }
            Event::Invariance(r) => run.invariance = Some(r),
            Event::Generator(p) => run.record_generator(*p),
            Event::Paused => {
                run.status = RunStatus::Paused;
                run.pause_requested = false;
            }
            Event::Resumed => {
                if run.status == RunStatus::Paused {
                    run.status = RunStatus::Running;
                }
            }
            Event::Finished(summary) => {
                run.status = RunStatus::Done;
                run.summary = Some(summary);
            }
            Event::Stopped { epochs_done } => run.status = RunStatus::Stopped { epochs_done },
            Event::Failed { message } => {
                tracing::warn!(slot, "run failed: {message}");
                run.status = RunStatus::Failed(message);
            }
        }
        if terminal {
            let run = self.run_by_slot(slot).expect("present");
            let text = format!("{}: {}", run.name, run.status.label());
            let failed = matches!(run.status, RunStatus::Failed(_));
            if failed {
                self.warn(text);
            } else {
                self.say(text);
            }
            if self.quitting {
                if self.active_count() == 0 {
                    self.should_exit = true;
                    return vec![Effect::Exit];
                }
                return Vec::new();
            }
            return self.advance_queue();
        }
        Vec::new()
    }

    /// Starts queued runs while fewer than `max_parallel` are active.
    fn advance_queue(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        while self.active_count() < self.max_parallel {
            let Some(i) = self.runs.iter().position(|r| r.status == RunStatus::Queued) else {
                break;
            };
            let run = &mut self.runs[i];
            run.status = RunStatus::Starting;
            let request = match (&run.dir, run.resume) {
                (Some(dir), true) => RunRequest::Resume { dir: dir.clone() },
                _ => RunRequest::New {
                    config: run.config.clone(),
                    runs_dir: self.runs_dir.clone(),
                },
            };
            run.resume = false;
            effects.push(Effect::Spawn {
                slot: run.slot,
                request,
            });
            // Follow the newest live run.
            self.selected = i;
        }
        effects
    }

    /// The run `p` and friends act on: the selected one if active, else the first active one.
    fn control_target(&self) -> Option<usize> {
        match self.selected_run() {
            Some(r) if r.status.is_active() => Some(r.slot),
            _ => self
                .runs
                .iter()
                .find(|r| r.status.is_active())
                .map(|r| r.slot),
        }
    }

    fn move_selection(&mut self, delta: i32) {
        if self.runs.is_empty() {
            return;
        }
        let n = self.runs.len() as i32;
        self.selected = (self.selected as i32 + delta).clamp(0, n - 1) as usize;
    }

    fn begin_quit(&mut self) -> Vec<Effect> {
        self.quitting = true;
        self.runs.retain(|r| r.status != RunStatus::Queued);
        self.selected = self.selected.min(self.runs.len().saturating_sub(1));
        let mut effects = Vec::new();
        for run in self.runs.iter_mut().filter(|r| r.status.is_active()) {
            if run.status != RunStatus::Stopping {
                run.status = RunStatus::Stopping;
                effects.push(Effect::Control {
                    slot: run.slot,
                    control: Control::Stop,
                });
            }
        }
        if self.active_count() == 0 {
            self.should_exit = true;
            effects.push(Effect::Exit);
        } else {
            self.say("stopping the active run cleanly before quitting...");
        }
        effects
    }

    pub fn apply(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::None => {}
            Command::ToggleHelp => self.help = !self.help,
            Command::Start => return self.start(),
            Command::TogglePause => {
                let Some(slot) = self.control_target() else {
                    self.warn("no active run to pause");
                    return Vec::new();
                };
                let run = self.run_mut(slot).expect("present");
                let control = match (&run.status, run.pause_requested) {
                    (RunStatus::Paused, _) => Control::Resume,
                    (RunStatus::Running | RunStatus::Starting, false) => {
                        run.pause_requested = true;
                        Control::Pause
                    }
                    (RunStatus::Running | RunStatus::Starting, true) => {
                        run.pause_requested = false;
                        Control::Resume
                    }
                    _ => return Vec::new(),
                };
                let name = run.name.clone();
                self.say(match control {
                    Control::Pause => format!("pausing {name} after this batch"),
                    _ => format!("resuming {name}"),
                });
                return vec![Effect::Control { slot, control }];
            }
            Command::Stop => match self.selected_run().map(|r| (r.slot, r.status.clone())) {
                Some((slot, RunStatus::Queued)) => {
                    self.runs.retain(|r| r.slot != slot);
                    self.selected = self.selected.min(self.runs.len().saturating_sub(1));
                    self.say("removed the queued run");
                }
                Some((slot, s)) if s.is_active() && s != RunStatus::Stopping => {
                    self.prompt = Some(Prompt::ConfirmStop(slot))
                }
                _ => self.warn("the selected run is not running"),
            },
            Command::Resume => {
                let Some(run) = self.runs.get_mut(self.selected) else {
                    self.warn("no run selected");
                    return Vec::new();
                };
                match (&run.status, &run.dir) {
                    (RunStatus::Stopped { .. } | RunStatus::Killed { .. }, Some(_)) => {
                        run.status = RunStatus::Queued;
                        run.resume = true;
                        let name = run.name.clone();
                        let effects = self.advance_queue();
                        self.say(if effects.is_empty() {
                            format!("{name} will resume when the active run ends")
                        } else {
                            format!("resuming {name} from its last checkpoint")
                        });
                        return effects;
                    }
                    _ => self.warn("only a stopped or killed run can be resumed (R)"),
                }
            }
            Command::Duplicate => match self.selected_run() {
                Some(r) => {
                    let config = r.config.clone();
                    let name = r.name.clone();
                    self.form.config = config;
                    self.form.loaded = None;
                    self.focus = Pane::Setup;
                    self.say(format!(
                        "copied {name}'s config into the form: edit, then s"
                    ));
                }
                None => self.warn("no run selected"),
            },
            Command::NextPane | Command::PrevPane => {
                let i = Pane::ALL.iter().position(|p| *p == self.focus).unwrap_or(0) as i32;
                let d = if cmd == Command::NextPane { 1 } else { -1 };
                self.focus = Pane::ALL[(i + d).rem_euclid(Pane::ALL.len() as i32) as usize];
            }
            Command::Up | Command::Down => {
                let d = if cmd == Command::Up { -1 } else { 1 };
                if self.focus == Pane::Setup {
                    self.form.move_field(d);
                } else {
                    self.move_selection(d);
                }
            }
            Command::Left | Command::Right => {
                let d = if cmd == Command::Left { -1 } else { 1 };
                if self.focus == Pane::Setup {
                    if let Some(result) = self.form.cycle(d) {
                        self.report(result);
                    }
                } else {
                    self.move_selection(d);
                }
            }
            Command::ToggleMark => {
                if let Some(run) = self.runs.get_mut(self.selected) {
                    run.marked = !run.marked;
                }
                if self.compare && self.marked().len() < 2 {
                    self.compare = false;
                }
            }
            Command::Compare => {
                if self.compare {
                    self.compare = false;
                } else if self.marked().len() >= 2 {
                    self.compare = true;
                } else {
                    self.warn("mark two or more runs (m or Space) to compare them");
                }
            }
            Command::CycleTheme => {
                self.theme = (self.theme + 1) % self.themes.len();
                let name = self.theme().name.clone();
                self.say(format!("theme: {name}"));
            }
            Command::ToggleMetric => self.show_consistency = !self.show_consistency,
            Command::Edit => {
                if self.focus != Pane::Setup {
                    self.focus = Pane::Setup;
                }
                if !self.form.begin_edit() {
                    self.warn("this field cycles with left/right");
                }
            }
            Command::SaveAs => {
                self.prompt = Some(Prompt::SaveAs(self.form.config.name.clone()));
            }
            Command::ResetForm => {
                self.form.config = self.default_config.clone();
                self.form.loaded = None;
                self.say("form reset to the defaults");
            }
            Command::Quit => {
                if self.active_count() > 0 {
                    self.prompt = Some(Prompt::ConfirmQuit);
                } else {
                    return self.begin_quit();
                }
            }
            Command::ForceQuit => {
                self.prompt = None;
                return self.begin_quit();
            }
            Command::Yes => match self.prompt.take() {
                Some(Prompt::ConfirmStop(slot)) => {
                    if let Some(run) = self.run_mut(slot) {
                        if run.status.is_active() {
                            run.status = RunStatus::Stopping;
                            return vec![Effect::Control {
                                slot,
                                control: Control::Stop,
                            }];
                        }
                    }
                }
                Some(Prompt::ConfirmQuit) => return self.begin_quit(),
                other => self.prompt = other,
            },
            Command::No => {
                self.prompt = None;
            }
            Command::Cancel => {
                self.prompt = None;
                self.form.editing = None;
            }
            Command::Char(c) => match (&mut self.prompt, &mut self.form.editing) {
                (Some(Prompt::SaveAs(buf)), _) | (None, Some(buf)) => buf.push(c),
                _ => {}
            },
            Command::Backspace => match (&mut self.prompt, &mut self.form.editing) {
                (Some(Prompt::SaveAs(buf)), _) | (None, Some(buf)) => {
                    buf.pop();
                }
                _ => {}
            },
            Command::Submit => match self.prompt.take() {
                Some(Prompt::SaveAs(name)) => return self.save_as(name),
                other => {
                    self.prompt = other;
                    if let Err(e) = self.form.commit_edit() {
                        self.warn(e);
                    }
                }
            },
        }
        Vec::new()
    }

    fn start(&mut self) -> Vec<Effect> {
        let config = self.form.config.clone();
        if let Err(e) = config.validate("form") {
            self.warn(e.to_string());
            return Vec::new();
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        self.runs
            .push(RunEntry::new(slot, config.name.clone(), config));
        self.selected = self.runs.len() - 1;
        let effects = self.advance_queue();
        if effects.is_empty() {
            let ahead = self
                .runs
                .iter()
                .filter(|r| r.status == RunStatus::Queued)
                .count();
            self.say(format!("queued ({ahead} waiting)"));
        } else {
            self.say("starting...");
        }
        effects
    }

    fn save_as(&mut self, name: String) -> Vec<Effect> {
        let name = name.trim().trim_end_matches(".toml").to_string();
        if name.is_empty()
            || name
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || "-_.+".contains(c)))
        {
            self.warn(format!(
                "{name:?}: use letters, digits, '-', '_', '.', '+' for a config name"
            ));
            return Vec::new();
        }
        let path = self.save_dir.join(format!("{name}.toml"));
        let text = self.form.config.to_toml();
        let file = ConfigFile {
            name: name.clone(),
            path: path.clone(),
        };
        let i = match self.form.configs.iter().position(|c| c.path == path) {
            Some(i) => i,
            None => {
                self.form.configs.push(file);
                self.form.configs.len() - 1
            }
        };
        self.form.loaded = Some(i);
        vec![Effect::SaveConfig { path, text }]
    }
}

#[cfg(test)]
mod tests;
