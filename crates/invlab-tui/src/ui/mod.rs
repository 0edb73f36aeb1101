//! Drawing. Every function takes `&App`: rendering cannot change state. The layout is computed
//! from the frame's size each frame, so resizes need nothing special.
//!
//! Wide terminals (>= 120 x 30) show every pane at once (the data pane takes the live panes'
//! place while it has focus); smaller ones show the focused pane full-size under a tab bar
//! (Tab / Shift-Tab or a click switch). `crate::layout` is the one place pane rectangles come
//! from: drawing and the App's mouse hit-testing both use it.

mod classes;
mod curves;
mod data;
mod generator;
mod invariance;
mod overlay;
pub mod picture;
mod runs;
mod setup;
mod system;

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::app::{App, Pane};
use super::command::footer_keys;
use crate::layout::{layout, tab_title};

pub(crate) use classes::render_classes;
pub(crate) use curves::render_curves;
pub(crate) use data::render_data;
pub(crate) use invariance::render_invariance;
pub use picture::Graphics;
pub(crate) use runs::render_runs;
pub(crate) use setup::render_setup;
pub(crate) use system::render_system;

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
    let screen = layout(area, app.focus);
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

/// How a piece of a view model's text is coloured: a role of the theme, or a colour the view
/// model took from it (a series, a size group).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Tint {
    Base,
    Dim,
    Accent,
    Fg(Color),
}

impl Tint {
    pub(crate) fn style(self, app: &App) -> Style {
        let theme = app.theme();
        match self {
            Tint::Base => theme.base(),
            Tint::Dim => theme.dim(),
            Tint::Accent => theme.accent(),
            Tint::Fg(c) => Style::default().fg(c),
        }
    }
}

/// A line of a view model: pieces of text with their tints.
pub(crate) type Text = Vec<(String, Tint)>;

/// A view model's line, drawn in the theme.
pub(crate) fn line<'a>(app: &App, text: &Text) -> Line<'a> {
    Line::from(
        text.iter()
            .map(|(t, tint)| Span::styled(t.clone(), tint.style(app)))
            .collect::<Vec<_>>(),
    )
}

/// The area inside a pane's border (`pane_block`'s inner area), for view models that lay out
/// the pane before anything is drawn.
pub(crate) fn pane_inner(area: Rect) -> Rect {
    Block::bordered().inner(area)
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
#[cfg(test)]
mod view_tests;
