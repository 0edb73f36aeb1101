//! What a key means. One table per key mode (`NORMAL`, `CONFIRM`, `TEXT`, plus `GLOBAL`)
//! drives the key map, the help overlay and the footer, so the three cannot disagree.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::pane::Pane;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    None,
    /// Start the configured run, or queue it behind the active one.
    Start,
    TogglePause,
    /// Stop the selected run (asks first); drop a queued run; move a finished, stopped,
    /// failed or killed run's directory to the trash (asks first).
    Stop,
    Duplicate,
    /// Continue a stopped or killed run from its checkpoint.
    Resume,
    /// One more run at a time (back to one after the core count).
    Jobs,
    /// Re-evaluate the selected run's checkpoint (`invlab eval`) in the background.
    Evaluate,
    NextPane,
    PrevPane,
    Up,
    Down,
    Left,
    Right,
    ToggleMark,
    Compare,
    ToggleHelp,
    CycleTheme,
    /// Show consistency instead of eKLD (and back).
    ToggleMetric,
    ToggleGenerator,
    /// Type into the selected form field.
    Edit,
    /// Save the form's config as a TOML file (asks for a name).
    SaveAs,
    /// Filter the run list by name or config field (asks for the filter).
    Filter,
    /// Reset the form to the defaults.
    ResetForm,
    Quit,
    /// Ctrl-C: quit now, stopping any active run without asking.
    ForceQuit,
    // Answers and text input for prompts.
    Yes,
    No,
    Char(char),
    Backspace,
    Submit,
    Cancel,
    // From the mouse.
    Focus(Pane),
    /// Select the run at this index of the run list.
    SelectRun(usize),
    /// Select the form field at this index.
    SelectField(usize),
}

/// Who has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyMode {
    Normal,
    /// Typing into a form field or a file name.
    Text,
    /// A yes/no question is open.
    Confirm,
    Help,
}

/// A key with or without Ctrl (Shift is part of the character: `R`, `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn ch(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

impl Key {
    fn matches(&self, key: &KeyEvent) -> bool {
        self.code == key.code && self.ctrl == key.modifiers.contains(KeyModifiers::CONTROL)
    }

    /// How the footer writes the key.
    pub fn name(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Backspace => "Bksp".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{}", base.to_uppercase())
        } else {
            base
        }
    }
}

/// One binding: its keys, the command, and how help and footer describe it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Binding {
    pub keys: &'static [Key],
    /// The keys as the help overlay writes them.
    pub label: &'static str,
    pub command: Command,
    /// The help overlay's line; empty = covered by a neighbouring line.
    pub help: &'static str,
    /// A word for the footer, for the commands worth a reminder.
    pub footer: Option<&'static str>,
}

const fn bind(
    keys: &'static [Key],
    label: &'static str,
    command: Command,
    help: &'static str,
    footer: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        label,
        command,
        help,
        footer,
    }
}

/// Keys that work in every mode.
pub(crate) const GLOBAL: &[Binding] = &[bind(
    &[Key {
        code: KeyCode::Char('c'),
        ctrl: true,
    }],
    // Listed in the help with q (one row: the help fits 80 x 24).
    "",
    Command::ForceQuit,
    "",
    None,
)];

/// The lab's keys when nothing else has the keyboard.
pub(crate) const NORMAL: &[Binding] = &[
    bind(
        &[ch('s'), code(KeyCode::Enter)],
        "s / Enter",
        Command::Start,
        "start the configured run (queued if one is running)",
        Some("start"),
    ),
    bind(
        &[ch('p')],
        "p",
        Command::TogglePause,
        "pause / resume the selected (or active) run",
        Some("pause"),
    ),
    bind(
        &[ch('x')],
        "x",
        Command::Stop,
        "stop (asks); drop if queued; trash if finished (asks)",
        Some("stop/del"),
    ),
    bind(
        &[ch('d')],
        "d",
        Command::Duplicate,
        "duplicate the selected run's config into the form",
        Some("dup"),
    ),
    bind(
        &[ch('R')],
        "R",
        Command::Resume,
        "resume the selected stopped / killed run (checkpoint)",
        None,
    ),
    bind(
        &[ch('E')],
        "E",
        Command::Evaluate,
        "evaluate the selected run's checkpoint (confusion, ECE, LA)",
        None,
    ),
    bind(
        &[ch('J')],
        "J",
        Command::Jobs,
        "runs at a time: one more (back to 1 after the cores)",
        None,
    ),
    bind(
        &[code(KeyCode::Tab)],
        "Tab / Shift-Tab",
        Command::NextPane,
        "next / previous pane (or click a pane)",
        Some("pane"),
    ),
    bind(&[code(KeyCode::BackTab)], "", Command::PrevPane, "", None),
    bind(
        &[code(KeyCode::Up), ch('k')],
        "Up Down / j k",
        Command::Up,
        "move: form fields, runs (or the mouse wheel)",
        None,
    ),
    bind(&[code(KeyCode::Down), ch('j')], "", Command::Down, "", None),
    bind(
        &[code(KeyCode::Left), ch('h')],
        "Left Right / h l",
        Command::Left,
        "form: change the value; eKLD pane: class cursor; else runs",
        None,
    ),
    bind(
        &[code(KeyCode::Right), ch('l')],
        "",
        Command::Right,
        "",
        None,
    ),
    bind(
        &[ch('e')],
        "e",
        Command::Edit,
        "type a value into the selected form field",
        None,
    ),
    bind(
        &[ch('/')],
        "/",
        Command::Filter,
        "filter runs by name or field (method.rule=drs)",
        None,
    ),
    bind(
        &[ch('w')],
        "w",
        Command::SaveAs,
        "save the form's config as TOML (asks for a name)",
        None,
    ),
    bind(
        &[ch('r')],
        "r",
        Command::ResetForm,
        "reset the form to the defaults",
        None,
    ),
    bind(
        &[ch('m'), ch(' ')],
        "m / Space",
        Command::ToggleMark,
        "mark / unmark the selected run for comparison",
        Some("mark"),
    ),
    bind(
        &[ch('c')],
        "c",
        Command::Compare,
        "compare marked runs (two or more): curves, eKLD",
        Some("compare"),
    ),
    bind(
        &[ch('v')],
        "v",
        Command::ToggleMetric,
        "eKLD <-> consistency in the invariance pane",
        None,
    ),
    bind(
        &[ch('g')],
        "g",
        Command::ToggleGenerator,
        "curves pane: a GIT run's generator view <-> training curves",
        None,
    ),
    bind(
        &[ch('t')],
        "t",
        Command::CycleTheme,
        "next theme",
        Some("theme"),
    ),
    bind(
        &[ch('?')],
        "?",
        Command::ToggleHelp,
        "this help (any key closes it)",
        Some("help"),
    ),
    bind(
        &[ch('q')],
        "q / Ctrl-C",
        Command::Quit,
        "quit (q asks while a run is active); runs stop cleanly",
        Some("quit"),
    ),
    bind(&[code(KeyCode::Esc)], "", Command::Cancel, "", None),
];

/// Keys while a yes/no question is open.
pub(crate) const CONFIRM: &[Binding] = &[
    bind(
        &[ch('y'), ch('Y'), code(KeyCode::Enter)],
        "y / n",
        Command::Yes,
        "answer a question (Enter = yes, Esc = no)",
        None,
    ),
    bind(
        &[ch('n'), ch('N'), ch('q'), code(KeyCode::Esc)],
        "",
        Command::No,
        "",
        None,
    ),
];

/// Keys while typing; every other character is typed.
pub(crate) const TEXT: &[Binding] = &[
    bind(
        &[code(KeyCode::Enter)],
        "Enter Esc Bksp",
        Command::Submit,
        "while typing: finish / cancel / delete a character",
        None,
    ),
    bind(&[code(KeyCode::Esc)], "", Command::Cancel, "", None),
    bind(
        &[code(KeyCode::Backspace)],
        "",
        Command::Backspace,
        "",
        None,
    ),
];

/// The help overlay's lines, in table order: (keys, what they do).
pub(crate) fn help_lines() -> Vec<(&'static str, &'static str)> {
    NORMAL
        .iter()
        .chain(GLOBAL)
        .chain(CONFIRM)
        .chain(TEXT)
        .filter(|b| !b.help.is_empty())
        .map(|b| (b.label, b.help))
        .collect()
}

/// The footer's reminders: (key, word).
pub(crate) fn footer_keys() -> Vec<(String, &'static str)> {
    NORMAL
        .iter()
        .filter_map(|b| Some((b.keys[0].name(), b.footer?)))
        .collect()
}

fn lookup(table: &[Binding], key: &KeyEvent) -> Option<Command> {
    table
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(key)))
        .map(|b| b.command.clone())
}

pub(crate) fn map_key(mode: KeyMode, key: KeyEvent) -> Command {
    if let Some(cmd) = lookup(GLOBAL, &key) {
        return cmd;
    }
    match mode {
        KeyMode::Help => Command::ToggleHelp,
        KeyMode::Confirm => lookup(CONFIRM, &key).unwrap_or(Command::None),
        KeyMode::Text => lookup(TEXT, &key).unwrap_or(match key.code {
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => Command::Char(c),
            _ => Command::None,
        }),
        KeyMode::Normal => lookup(NORMAL, &key).unwrap_or(Command::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn no_key_is_bound_twice_in_a_mode() {
        for table in [NORMAL, CONFIRM, TEXT] {
            let keys: Vec<Key> = table
                .iter()
                .chain(GLOBAL)
                .flat_map(|b| b.keys)
                .copied()
                .collect();
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[i + 1..].contains(k), "{k:?} bound twice");
            }
        }
    }

    #[test]
    fn the_tables_drive_the_map() {
        assert_eq!(
            map_key(KeyMode::Normal, press(KeyCode::Char('s'))),
            Command::Start
        );
        assert_eq!(
            map_key(KeyMode::Normal, press(KeyCode::Enter)),
            Command::Start
        );
        assert_eq!(
            map_key(KeyMode::Confirm, press(KeyCode::Enter)),
            Command::Yes
        );
        assert_eq!(
            map_key(KeyMode::Text, press(KeyCode::Char('s'))),
            Command::Char('s')
        );
        assert_eq!(
            map_key(KeyMode::Help, press(KeyCode::Char('s'))),
            Command::ToggleHelp
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in [
            KeyMode::Normal,
            KeyMode::Text,
            KeyMode::Confirm,
            KeyMode::Help,
        ] {
            assert_eq!(map_key(mode, ctrl_c), Command::ForceQuit);
        }
        // Shift is part of the character.
        let shift_r = KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT);
        assert_eq!(map_key(KeyMode::Normal, shift_r), Command::Resume);
    }

    #[test]
    fn help_and_footer_come_from_the_table() {
        let help = help_lines();
        assert!(help.iter().any(|(k, _)| *k == "s / Enter"));
        assert!(help.iter().any(|(k, _)| *k == "q / Ctrl-C"));
        let footer = footer_keys();
        assert_eq!(footer[0], ("s".to_string(), "start"));
        assert!(footer.contains(&("Tab".to_string(), "pane")));
        // Every normal-mode command with a footer word has a help line.
        for b in NORMAL.iter().filter(|b| b.footer.is_some()) {
            assert!(!b.help.is_empty(), "{:?}", b.command);
        }
    }
}
