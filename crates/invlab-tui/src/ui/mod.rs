//! Drawing. Every function takes `&App`: rendering cannot change state. The layout is computed
//! from the frame's size each frame, so resizes need nothing special.
//!
//! Wide terminals (>= 120 x 30) show every pane at once (the data pane takes the live panes'
//! place while it has focus); smaller ones show the focused pane full-size under a tab bar
//! (Tab / Shift-Tab or a click switch). `layout` is the one place pane rectangles come from:
//! drawing and mouse hit-testing both use it.

mod classes;
mod curves;
mod data;
mod generator;
mod invariance;
mod mouse;
mod overlay;
pub mod picture;
mod runs;
mod setup;
mod system;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::app::{App, Pane};
use super::command::footer_keys;

pub(crate) use classes::render_classes;
pub(crate) use curves::render_curves;
pub(crate) use data::render_data;
pub(crate) use invariance::render_invariance;
pub(crate) use mouse::mouse_commands;
pub use picture::Graphics;
pub(crate) use runs::render_runs;
pub(crate) use setup::render_setup;
pub(crate) use system::render_system;

/// Wide layout threshold.
pub(crate) fn is_wide(area: Rect) -> bool {
    area.width >= 120 && area.height >= 30
}

/// Where everything goes on a screen of `area`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Screen {
    pub header: Rect,
    /// The panes shown, with their rectangles.
    pub panes: Vec<(Pane, Rect)>,
    pub system: Rect,
    pub footer: Rect,
}

pub(crate) fn layout(area: Rect, app: &App) -> Screen {
    let wide = is_wide(area);
    let [header, body, system, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(if wide { 3 } else { 1 }),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut panes = Vec::new();
    if wide {
        let left_w = (area.width * 30 / 100).clamp(48, 64);
        let [left, right] =
            Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(body);
        let setup_h = (setup::wanted_height()).min(left.height.saturating_sub(6));
        let [setup_area, runs_area] =
            Layout::vertical([Constraint::Length(setup_h), Constraint::Min(0)]).areas(left);
        panes.push((Pane::Setup, setup_area));
        panes.push((Pane::Runs, runs_area));
        if app.focus == Pane::Data {
            panes.push((Pane::Data, right));
        } else {
            let [top, bottom] =
                Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(right);
            let [curves_area, classes_area] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(top);
            panes.push((Pane::Curves, curves_area));
            panes.push((Pane::Classes, classes_area));
            panes.push((Pane::Invariance, bottom));
        }
    } else {
        panes.push((app.focus, body));
    }
    Screen {
        header,
        panes,
        system,
        footer,
    }
}

/// Draws with half-block pictures (tests, snapshots).
#[cfg(test)]
pub(crate) fn draw(frame: &mut Frame, app: &App) {
    draw_with(frame, app, &mut Graphics::halfblocks());
}

/// Draws the lab; pictures go through `graphics` (a terminal protocol or half-blocks).
pub(crate) fn draw_with(frame: &mut Frame, app: &App, graphics: &mut Graphics) {
    let theme = app.theme();
    let area = frame.area();
    frame.render_widget(Block::default().style(theme.base()), area);
    let screen = layout(area, app);
    render_header(frame, screen.header, app);
    let on_screen = |pane: Pane| screen.panes.iter().any(|&(p, _)| p == pane);
    let samples_below = app.selected_run().is_some_and(|r| {
        generator::samples_in_invariance_pane(
            app,
            r,
            on_screen(Pane::Curves) && on_screen(Pane::Invariance),
        )
    });
    for &(pane, rect) in &screen.panes {
        let focused = pane == app.focus;
        match pane {
            Pane::Setup => render_setup(frame, rect, app, focused),
            Pane::Data => render_data(frame, rect, app, focused, graphics),
            Pane::Runs => render_runs(frame, rect, app, focused),
            Pane::Curves => render_curves(frame, rect, app, focused, graphics, samples_below),
            Pane::Classes => render_classes(frame, rect, app, focused),
            Pane::Invariance => {
                render_invariance(frame, rect, app, focused, graphics, samples_below)
            }
        }
    }
    render_system(frame, screen.system, app);
    render_footer(frame, screen.footer, app);
    if app.prompt.is_some() {
        overlay::render_prompt(frame, area, app);
    }
    if app.help {
        overlay::render_help(frame, area, app);
    }
}

/// The header's pane tabs: (pane, columns it spans).
pub(crate) fn header_tabs(area: Rect) -> Vec<(Pane, u16, u16)> {
    let mut x = area.x + " invlab ".len() as u16;
    Pane::ALL
        .iter()
        .map(|&pane| {
            let w = tab_title(area, pane).len() as u16 + 2;
            let tab = (pane, x, x + w);
            x += w;
            tab
        })
        .collect()
}

fn tab_title(area: Rect, pane: Pane) -> &'static str {
    if area.width < 120 {
        pane.short_title()
    } else {
        pane.title()
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
        spans.push(Span::styled(format!(" {} ", tab_title(area, pane)), style));
    }
    if app.compare {
        spans.push(Span::styled(
            format!(" COMPARE {} runs ", app.marked().len()),
            Style::default().fg(Color::Black).bg(theme.colors.warn),
        ));
    }
    if let Some(run) = app.selected_run() {
        spans.push(Span::styled(format!("  {}", run.name), theme.dim()));
        // The headline figure: balanced accuracy (the test sets of real long-tailed data are
        // imbalanced), plain accuracy beside it.
        if let Some((balanced, plain)) = runs::latest_accuracies(run) {
            spans.push(Span::styled(
                format!("  balanced {:.1}%", balanced * 100.0),
                theme.accent(),
            ));
            spans.push(Span::styled(
                format!(" (acc {:.1}%)", plain * 100.0),
                theme.dim(),
            ));
        }
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
            let mut spans = vec![Span::raw(" ")];
            for (k, what) in footer_keys() {
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
pub(crate) fn pow10_label(exp: i32) -> String {
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
pub(crate) fn duration(secs: f64) -> String {
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
