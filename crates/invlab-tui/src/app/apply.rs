//! Commands (from keys and the mouse) change the state and return effects for the runtime.

use std::path::PathBuf;

use invlab_engine::{Control, RunRequest};

use super::{App, Effect, Pane, Prompt, RunEntry, RunStatus};
use crate::command::Command;
use crate::form::{ConfigFile, Field};

/// The longest text a field takes. A run name names a directory (255 bytes on most file
/// systems, with room left for `-2` suffixes and the temp names beside it); no config value
/// needs more.
pub(crate) const MAX_TEXT_CHARS: usize = 200;

impl App {
    /// Starts queued runs while fewer than `max_parallel` are active.
    pub(super) fn advance_queue(&mut self) -> Vec<Effect> {
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
            // From now on this process writes it: the watcher leaves it to the run's events.
            run.from_history = false;
            let slot = run.slot;
            let threads = self.threads_per_run();
            let device = self.least_busy_device();
            self.runs[i].placed_on = device;
            effects.push(Effect::Spawn {
                slot,
                request,
                threads,
                device,
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

    /// With `--devices`, the device with the fewest active runs of this lab (the first on a
    /// tie); `None` without: each run goes where its config says.
    fn least_busy_device(&self) -> Option<invlab_core::device::DeviceRequest> {
        self.devices.iter().copied().min_by_key(|d| {
            self.runs
                .iter()
                .filter(|r| r.status.is_active() && r.placed_on == Some(*d))
                .count()
        })
    }

    /// A paste goes into the open text field (its first line, control characters dropped), up
    /// to the field's limit; anywhere else it is ignored, never read as commands.
    pub(super) fn paste(&mut self, text: &str) {
        let line: String = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        let target = match (&mut self.prompt, &mut self.form.editing) {
            (Some(Prompt::SaveAs(buf) | Prompt::Filter(buf)), _) | (None, Some(buf)) => buf,
            _ => {
                self.warn("pasted text ignored: open a text field first (e to edit, / to filter)");
                return;
            }
        };
        let room = MAX_TEXT_CHARS.saturating_sub(target.chars().count());
        let taken: String = line.chars().take(room).collect();
        let cut = line.chars().count() > taken.chars().count();
        target.push_str(&taken);
        if cut {
            self.warn(format!(
                "pasted text cut at {MAX_TEXT_CHARS} characters (a field's limit)"
            ));
        }
    }

    /// Moves the selection among the runs the filter shows.
    fn move_selection(&mut self, delta: i32) {
        let visible = self.visible_runs();
        if visible.is_empty() {
            return;
        }
        let at = visible
            .iter()
            .position(|&i| i >= self.selected)
            .unwrap_or(visible.len() - 1) as i32;
        let to = (at + delta).clamp(0, visible.len() as i32 - 1) as usize;
        self.selected = visible[to];
    }

    pub(super) fn begin_quit(&mut self) -> Vec<Effect> {
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
        } else {
            self.say("stopping the active run cleanly before quitting...");
        }
        effects
    }

    /// What a command does: one line each, the work in the methods below (each returns the
    /// effects for the runtime).
    pub fn apply(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::None => Vec::new(),
            Command::ToggleHelp => self.then(|a| a.help = !a.help),
            Command::Start => self.start(),
            Command::TogglePause => self.toggle_pause(),
            Command::Stop => self.then(Self::stop_or_delete_selected),
            Command::Resume => self.resume_selected(),
            Command::Evaluate => self.evaluate_selected(),
            Command::Duplicate => self.then(Self::duplicate_selected),
            Command::NextPane => self.then(|a| a.cycle_focus(1)),
            Command::PrevPane => self.then(|a| a.cycle_focus(-1)),
            Command::Up => self.then(|a| a.move_vertically(-1)),
            Command::Down => self.then(|a| a.move_vertically(1)),
            Command::Left => self.then(|a| a.move_horizontally(-1)),
            Command::Right => self.then(|a| a.move_horizontally(1)),
            Command::Focus(pane) => self.then(|a| a.focus = pane),
            Command::SelectRun(i) => self.then(|a| {
                if i < a.runs.len() {
                    a.selected = i;
                }
            }),
            Command::SelectField(i) => self.then(|a| {
                if a.form.editing.is_none() && i < Field::ALL.len() {
                    a.form.field = i;
                }
            }),
            Command::ToggleMark => self.then(Self::toggle_mark),
            Command::Compare => self.then(Self::toggle_compare),
            Command::CycleTheme => self.then(Self::next_theme),
            Command::ToggleMetric => self.then(|a| a.show_consistency = !a.show_consistency),
            Command::ToggleGenerator => self.then(|a| a.show_generator = !a.show_generator),
            Command::Edit => self.then(Self::edit_field),
            Command::Filter => self.then(|a| {
                let text = a
                    .filter
                    .as_ref()
                    .map(|f| f.text.clone())
                    .unwrap_or_default();
                a.prompt = Some(Prompt::Filter(text));
            }),
            Command::SaveAs => {
                self.then(|a| a.prompt = Some(Prompt::SaveAs(a.form.config.name.clone())))
            }
            Command::ResetForm => self.then(|a| {
                a.form.config = a.default_config.clone();
                a.form.loaded = None;
                a.say("form reset to the defaults");
            }),
            Command::Quit => {
                if self.active_count() > 0 {
                    self.then(|a| a.prompt = Some(Prompt::ConfirmQuit))
                } else {
                    self.begin_quit()
                }
            }
            Command::Jobs => self.cycle_jobs(),
            Command::ForceQuit => {
                self.prompt = None;
                self.begin_quit()
            }
            Command::Yes => self.answer_yes(),
            Command::No => self.then(|a| a.prompt = None),
            Command::Cancel => self.then(|a| {
                a.prompt = None;
                a.form.editing = None;
            }),
            Command::Char(c) => self.then(|a| a.type_char(c)),
            Command::Backspace => self.then(Self::backspace),
            Command::Submit => self.submit(),
        }
    }

    /// Runs a change that has no effect for the runtime.
    fn then(&mut self, change: impl FnOnce(&mut Self)) -> Vec<Effect> {
        change(self);
        Vec::new()
    }

    /// `p`: pause the active (or selected) run after this batch, or resume it.
    fn toggle_pause(&mut self) -> Vec<Effect> {
        let Some(slot) = self.control_target() else {
            self.warn("no active run to pause");
            return Vec::new();
        };
        let Some(run) = self.run_mut(slot) else {
            return Vec::new();
        };
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
        vec![Effect::Control { slot, control }]
    }

    /// `x`: drop a queued run; ask before stopping an active one (or SIGTERM to the process
    /// writing a watched one) or trashing a finished one.
    fn stop_or_delete_selected(&mut self) {
        match self.selected_run().map(|r| (r.slot, r.status.clone())) {
            Some((slot, RunStatus::Queued)) => {
                self.runs.retain(|r| r.slot != slot);
                self.selected = self.selected.min(self.runs.len().saturating_sub(1));
                self.say("removed the queued run");
            }
            Some((_, RunStatus::Stopping)) => self.warn("the selected run is already stopping"),
            Some((slot, RunStatus::Elsewhere { pid: Some(pid), .. })) => {
                self.prompt = Some(Prompt::ConfirmTerminate { slot, pid })
            }
            Some((_, RunStatus::Elsewhere { host, .. })) => self.warn(format!(
                "this run is written on {host}; it can only be stopped there"
            )),
            Some((slot, s)) if s.is_active() => self.prompt = Some(Prompt::ConfirmStop(slot)),
            Some((slot, _)) => self.prompt = Some(Prompt::ConfirmDelete(slot)),
            None => self.warn("no run selected"),
        }
    }

    /// `R`: queue a stopped or killed run to continue from its checkpoint.
    fn resume_selected(&mut self) -> Vec<Effect> {
        if self.refuse_if_elsewhere("cannot resume") {
            return Vec::new();
        }
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
                effects
            }
            _ => {
                self.warn("only a stopped or killed run can be resumed (R)");
                Vec::new()
            }
        }
    }

    /// `d`: the selected run's config into the form.
    fn duplicate_selected(&mut self) {
        match self.selected_run() {
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
        }
    }

    fn cycle_focus(&mut self, delta: i32) {
        let i = Pane::ALL.iter().position(|p| *p == self.focus).unwrap_or(0) as i32;
        self.focus = Pane::ALL[(i + delta).rem_euclid(Pane::ALL.len() as i32) as usize];
    }

    /// Up / down: form fields in the set-up pane, else runs.
    fn move_vertically(&mut self, delta: i32) {
        if self.focus == Pane::Setup {
            self.form.move_field(delta);
        } else {
            self.move_selection(delta);
        }
    }

    /// Left / right: the form's value, the eKLD pane's class cursor, else runs.
    fn move_horizontally(&mut self, delta: i32) {
        match self.focus {
            Pane::Setup => {
                if let Some(result) = self.form.cycle(delta) {
                    self.report(result);
                }
            }
            Pane::Invariance => self.move_class_cursor(delta),
            _ => self.move_selection(delta),
        }
    }

    fn toggle_mark(&mut self) {
        if let Some(run) = self.runs.get_mut(self.selected) {
            run.marked = !run.marked;
        }
        if self.compare && self.marked().len() < 2 {
            self.compare = false;
        }
    }

    fn toggle_compare(&mut self) {
        if self.compare {
            self.compare = false;
        } else if self.marked().len() >= 2 {
            self.compare = true;
        } else {
            self.warn("mark two or more runs (m or Space) to compare them");
        }
    }

    fn next_theme(&mut self) {
        self.theme = (self.theme + 1) % self.themes.len();
        let name = self.theme().name.clone();
        self.say(format!("theme: {name}"));
    }

    /// `e`: type into the selected form field (the set-up pane takes the focus).
    fn edit_field(&mut self) {
        self.focus = Pane::Setup;
        if !self.form.begin_edit() {
            self.warn("this field cycles with left/right");
        }
    }

    /// `y` / Enter on an open question.
    fn answer_yes(&mut self) -> Vec<Effect> {
        match self.prompt.take() {
            Some(Prompt::ConfirmStop(slot)) => match self.run_mut(slot) {
                Some(run) if run.status.is_active() => {
                    run.status = RunStatus::Stopping;
                    vec![Effect::Control {
                        slot,
                        control: Control::Stop,
                    }]
                }
                _ => Vec::new(),
            },
            Some(Prompt::ConfirmTerminate { slot, pid }) => vec![Effect::Terminate { slot, pid }],
            Some(Prompt::ConfirmDelete(slot)) => self.delete(slot),
            Some(Prompt::ConfirmQuit) => self.begin_quit(),
            other => {
                self.prompt = other;
                Vec::new()
            }
        }
    }

    /// A character typed into the open prompt or the field being edited.
    fn type_char(&mut self, c: char) {
        match (&mut self.prompt, &mut self.form.editing) {
            (Some(Prompt::SaveAs(buf) | Prompt::Filter(buf)), _) | (None, Some(buf))
                if buf.chars().count() < MAX_TEXT_CHARS =>
            {
                buf.push(c)
            }
            _ => {}
        }
    }

    fn backspace(&mut self) {
        if let (Some(Prompt::SaveAs(buf) | Prompt::Filter(buf)), _) | (None, Some(buf)) =
            (&mut self.prompt, &mut self.form.editing)
        {
            buf.pop();
        }
    }

    /// Enter while typing: save the config, set the filter, or commit the field.
    fn submit(&mut self) -> Vec<Effect> {
        match self.prompt.take() {
            Some(Prompt::SaveAs(name)) => return self.save_as(name),
            Some(Prompt::Filter(text)) => self.set_filter(&text),
            other => {
                self.prompt = other;
                if let Err(e) = self.form.commit_edit() {
                    self.warn(e);
                }
            }
        }
        Vec::new()
    }

    /// Where deleted run directories go: `trash/` beside the runs folder (in the data dir).
    pub(crate) fn trash_dir(&self) -> PathBuf {
        match self.runs_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join("trash"),
            _ => PathBuf::from("trash"),
        }
    }

    /// Trashes a finished run's directory (the runtime moves it); a run without one just
    /// leaves the list.
    fn delete(&mut self, slot: usize) -> Vec<Effect> {
        let Some(run) = self.run_by_slot(slot) else {
            return Vec::new();
        };
        if run.status.is_active() || run.status == RunStatus::Queued {
            self.warn("stop the run before deleting it");
            return Vec::new();
        }
        if self.evaluating.contains(&slot) {
            self.warn("its checkpoint is being evaluated; delete it when that is done");
            return Vec::new();
        }
        match run.dir.clone() {
            Some(dir) => vec![Effect::Trash {
                slot,
                dir,
                trash: self.trash_dir(),
            }],
            None => {
                let name = run.name.clone();
                self.remove_run(slot);
                self.say(format!(
                    "removed {name} from the list (it had no directory)"
                ));
                Vec::new()
            }
        }
    }

    /// `E`: evaluates the selected run's last checkpoint in the background (`invlab eval`'s
    /// defaults, into `RUN/eval-checkpoint/`); a running run's checkpoint may be evaluated
    /// too (checkpoints are replaced atomically).
    fn evaluate_selected(&mut self) -> Vec<Effect> {
        let Some(run) = self.selected_run() else {
            self.warn("no run selected");
            return Vec::new();
        };
        let (slot, name) = (run.slot, run.name.clone());
        let Some(dir) = run.dir.clone() else {
            self.warn(format!(
                "{name} has no directory (and so no checkpoint) yet"
            ));
            return Vec::new();
        };
        // One at a time: each evaluation loads a dataset and a model beside the runs.
        if let Some(&busy) = self.evaluating.iter().next() {
            let what = if busy == slot {
                format!("{name}'s checkpoint is being evaluated already")
            } else {
                "another run's checkpoint is being evaluated; one at a time".to_string()
            };
            self.warn(what);
            return Vec::new();
        }
        self.evaluating.insert(slot);
        self.say(format!(
            "evaluating {name}'s checkpoint (confusion, calibration, logit adjustment, eKLD) into {}",
            invlab_core::evaluation::eval_dir(&dir, "checkpoint").display()
        ));
        vec![Effect::Evaluate {
            slot,
            dir,
            threads: self.threads_per_run(),
        }]
    }

    fn remove_run(&mut self, slot: usize) {
        self.runs.retain(|r| r.slot != slot);
        self.selected = self.selected.min(self.runs.len().saturating_sub(1));
    }

    /// The runtime moved (or failed to move) a run directory to the trash.
    pub(super) fn on_trashed(
        &mut self,
        slot: usize,
        result: Result<PathBuf, crate::error::LabError>,
    ) {
        match result {
            Ok(to) => {
                let name = self
                    .run_by_slot(slot)
                    .map(|r| r.name.clone())
                    .unwrap_or_default();
                self.remove_run(slot);
                self.say(format!("moved {name} to {}", to.display()));
            }
            Err(e) => self.warn(e.to_string()),
        }
    }

    /// The run whose classes the invariance pane shows (the first marked one when comparing).
    pub(crate) fn invariance_run(&self) -> Option<&RunEntry> {
        if self.compare {
            self.runs.iter().find(|r| r.marked)
        } else {
            self.selected_run()
        }
    }

    fn move_class_cursor(&mut self, delta: i32) {
        let n = self
            .invariance_run()
            .and_then(|r| r.train_sizes())
            .map(|s| s.len())
            .unwrap_or(0);
        if n == 0 {
            return;
        }
        // Ranks run largest first, the x axis smallest first: Right moves to smaller ranks.
        self.class_cursor =
            (self.class_cursor.min(n - 1) as i32 - delta).clamp(0, n as i32 - 1) as usize;
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
        if let Err(e) = invlab_core::config::check_run_name(&name) {
            self.warn(format!("config name {e}"));
            return Vec::new();
        }
        let path = self.save_dir.join(format!("{name}.toml"));
        let text = match self.form.config.to_toml() {
            Ok(text) => text,
            Err(e) => {
                self.warn(format!("config {name} not saved: {e}"));
                return Vec::new();
            }
        };
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
