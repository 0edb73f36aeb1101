//! What a key means: keys map to `Command`s (depending on what has the keyboard), and the App
//! applies commands. The help overlay is generated from `KEYS`, so it lists every binding.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    None,
    /// Start the configured run, or queue it behind the active one.
    Start,
    TogglePause,
    /// Stop the selected run (asks first); removes a queued run from the queue.
    Stop,
    Duplicate,
    /// Continue a stopped or killed run from its checkpoint.
    Resume,
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
    /// Type into the selected form field.
    Edit,
    /// Save the form's config as a TOML file (asks for a name).
    SaveAs,
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
}

/// Who has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    Normal,
    /// Typing into a form field or a file name.
    Text,
    /// A yes/no question is open.
    Confirm,
    Help,
}

/// Every binding, for the help overlay: (keys, what they do).
pub const KEYS: &[(&str, &str)] = &[
    (
        "s / Enter",
        "start the configured run (queued if one is running)",
    ),
    ("p", "pause / resume the selected (or active) run"),
    ("x", "stop the selected run (asks first); drop a queued run"),
    ("d", "duplicate the selected run's config into the form"),
    ("R", "resume the selected stopped / killed run (checkpoint)"),
    ("Tab / Shift-Tab", "next / previous pane"),
    ("Up Down / j k", "move: form fields, runs"),
    (
        "Left Right / h l",
        "change the form value; elsewhere previous / next run",
    ),
    ("e", "type a value into the selected form field"),
    ("w", "save the form's config as TOML (asks for a name)"),
    ("r", "reset the form to the defaults"),
    ("m / Space", "mark / unmark the selected run for comparison"),
    ("c", "compare marked runs (two or more): curves, eKLD"),
    ("v", "eKLD <-> consistency in the invariance pane"),
    ("t", "next theme"),
    ("?", "this help (any key closes it)"),
    (
        "q",
        "quit (asks while a run is active; it is stopped cleanly)",
    ),
    ("Ctrl-C", "quit at once, stopping active runs cleanly"),
    ("y / n", "answer a question (Enter = yes, Esc = no)"),
    (
        "Enter Esc Bksp",
        "while typing: finish / cancel / delete a character",
    ),
];

pub fn map_key(mode: KeyMode, key: KeyEvent) -> Command {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Command::ForceQuit;
    }
    match mode {
        KeyMode::Help => Command::ToggleHelp,
        KeyMode::Confirm => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => Command::Yes,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                Command::No
            }
            _ => Command::None,
        },
        KeyMode::Text => match key.code {
            KeyCode::Enter => Command::Submit,
            KeyCode::Esc => Command::Cancel,
            KeyCode::Backspace => Command::Backspace,
            KeyCode::Char(c) => Command::Char(c),
            _ => Command::None,
        },
        KeyMode::Normal => match key.code {
            KeyCode::Char('s') | KeyCode::Enter => Command::Start,
            KeyCode::Char('p') => Command::TogglePause,
            KeyCode::Char('x') => Command::Stop,
            KeyCode::Char('d') => Command::Duplicate,
            KeyCode::Char('R') => Command::Resume,
            KeyCode::Tab => Command::NextPane,
            KeyCode::BackTab => Command::PrevPane,
            KeyCode::Up | KeyCode::Char('k') => Command::Up,
            KeyCode::Down | KeyCode::Char('j') => Command::Down,
            KeyCode::Left | KeyCode::Char('h') => Command::Left,
            KeyCode::Right | KeyCode::Char('l') => Command::Right,
            KeyCode::Char('m') | KeyCode::Char(' ') => Command::ToggleMark,
            KeyCode::Char('c') => Command::Compare,
            KeyCode::Char('?') => Command::ToggleHelp,
            KeyCode::Char('t') => Command::CycleTheme,
            KeyCode::Char('v') => Command::ToggleMetric,
            KeyCode::Char('e') => Command::Edit,
            KeyCode::Char('w') => Command::SaveAs,
            KeyCode::Char('r') => Command::ResetForm,
            KeyCode::Char('q') => Command::Quit,
            KeyCode::Esc => Command::Cancel,
            _ => Command::None,
        },
    }
}
