//! Drawing. Every function takes `&App`: rendering cannot change state. The layout is computed
//! from the frame's size each frame, so resizes need nothing special.
//!
//! Wide terminals (>= 120 x 30) show every pane at once; smaller ones show the focused pane
//! full-size under a tab bar (Tab / Shift-Tab switch).

mod classes;
mod curves;
mod invariance;
mod overlay;
mod runs;
mod setup;
mod system;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::app::{App, Pane};

pub use classes::render_classes;
pub use curves::render_curves;
pub use invariance::render_invariance;
pub use runs::render_runs;
pub use setup::render_setup;
pub use system::render_system;

/// Wide layout threshold.
pub fn is_wide(area: Rect) -> bool {
    area.width >= 120 && area.height >= 30
}

pub fn draw(frame: &mut Frame, app: &App) {
    let theme = app.theme();
    let area = frame.area();
    frame.render_widget(Block::default().style(theme.base()), area);
    let [header, body, system, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(if is_wide(area) { 3 } else { 1 }),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(frame, header, app);
    if is_wide(area) {
        let left_w = (area.width * 30 / 100).clamp(48, 64);
        let [left, right] =
            Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(body);
        let setup_h = (setup::wanted_height()).min(left.height.saturating_sub(6));
        let [setup_area, runs_area] =
            Layout::vertical([Constraint::Length(setup_h), Constraint::Min(0)]).areas(left);
        render_setup(frame, setup_area, app, app.focus == Pane::Setup);
        render_runs(frame, runs_area, app, app.focus == Pane::Runs);
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
        let [curves_area, classes_area] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);
        render_curves(frame, curves_area, app, app.focus == Pane::Curves);
        render_classes(frame, classes_area, app, app.focus == Pane::Classes);
        render_invariance(frame, bottom, app, app.focus == Pane::Invariance);
    } else {
        match app.focus {
            Pane::Setup => render_setup(frame, body, app, true),
            Pane::Runs => render_runs(frame, body, app, true),
            Pane::Curves => render_curves(frame, body, app, true),
            Pane::Classes => render_classes(frame, body, app, true),
            Pane::Invariance => render_invariance(frame, body, app, true),
        }
    }
    render_system(frame, system, app);
    render_footer(frame, footer, app);
    if app.prompt.is_some() {
        overlay::render_prompt(frame, area, app);
    }
    if app.help {
        overlay::render_help(frame, area, app);
    }
}

fn render_header(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let mut spans = vec![Span::styled(" invlab ", theme.accent())];
    for pane in Pane::ALL {
        let style = if pane == app.focus {
            theme.selected().fg(theme.colors.accent)
        } else {
            theme.dim()
        };
        let title = if area.width < 120 {
            pane.short_title()
        } else {
            pane.title()
        };
        spans.push(Span::styled(format!(" {title} "), style));
    }
    if app.compare {
        spans.push(Span::styled(
            format!(" COMPARE {} runs ", app.marked().len()),
            Style::default().fg(Color::Black).bg(theme.colors.warn),
        ));
    }
    if let Some(run) = app.selected_run() {
        spans.push(Span::styled(format!("  {}", run.name), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_footer(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let line = match &app.message {
        Some(m) => Line::from(Span::styled(
            format!(" {}", m.text),
            Style::default().fg(if m.error {
                theme.colors.error
            } else {
                theme.colors.ok
            }),
        )),
        None => {
            let keys = [
                ("s", "start"),
                ("p", "pause"),
                ("x", "stop"),
                ("d", "dup"),
                ("m", "mark"),
                ("c", "compare"),
                ("Tab", "pane"),
                ("t", "theme"),
                ("?", "help"),
                ("q", "quit"),
            ];
            let mut spans = vec![Span::raw(" ")];
            for (k, what) in keys {
                spans.push(Span::styled(k, theme.accent()));
                spans.push(Span::styled(format!(" {what}  "), theme.dim()));
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// A bordered block in the theme, highlighted when focused.
pub(crate) fn pane_block<'a>(app: &App, title: impl Into<Line<'a>>, focused: bool) -> Block<'a> {
    let theme = app.theme();
    Block::bordered()
        .border_style(theme.border(focused))
        .title(title)
        .title_style(if focused {
            theme.accent()
        } else {
            theme.base()
        })
        .style(theme.base())
}

/// "1", "10", "100", "1k", "10k" for a power of ten.
pub fn pow10_label(exp: i32) -> String {
    match exp {
        e if e < 0 => format!("{}", 10f64.powi(e)),
        0 => "1".into(),
        1 => "10".into(),
        2 => "100".into(),
        3 => "1k".into(),
        4 => "10k".into(),
        5 => "100k".into(),
        e => format!("1e{e}"),
    }
}

/// "3m20s" style durations.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests;
