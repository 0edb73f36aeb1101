//! The panes of the lab, in Tab order.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Setup,
    /// Pictures of the configured dataset (the form's data section).
    Data,
    Runs,
    Curves,
    Classes,
    Invariance,
}

impl Pane {
    pub(crate) const ALL: [Pane; 6] = [
        Pane::Setup,
        Pane::Data,
        Pane::Runs,
        Pane::Curves,
        Pane::Classes,
        Pane::Invariance,
    ];

    pub(crate) fn short_title(self) -> &'static str {
        match self {
            Pane::Classes => "Classes",
            Pane::Invariance => "eKLD",
            other => other.title(),
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Pane::Setup => "Set-up",
            Pane::Data => "Data",
            Pane::Runs => "Runs",
            Pane::Curves => "Curves",
            Pane::Classes => "Per-class accuracy",
            Pane::Invariance => "Invariance",
        }
    }
}
