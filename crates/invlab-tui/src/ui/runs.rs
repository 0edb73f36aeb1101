//! The run list: history, live runs and the queue, with status, progress and ETA.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use crate::app::{App, RunEntry, RunStatus};
use invlab_engine::Phase;

use super::{duration, pane_block};

fn status_color(app: &App, status: &RunStatus) -> Style {
    let c = &app.theme().colors;
    Style::default().fg(match status {
        RunStatus::Running | RunStatus::Starting => c.accent,
        RunStatus::Paused | RunStatus::Stopping | RunStatus::Queued => c.warn,
        RunStatus::Done => c.ok,
        RunStatus::Failed(_) | RunStatus::Killed { .. } => c.error,
        RunStatus::Stopped { .. } => c.dim,
    })
}

fn progress(run: &RunEntry) -> String {
    let total = run.total_epochs();
    if let (Some(Phase::Generator), Some(g)) = (run.phase, &run.generator) {
        // GIT trains its generator before the first epoch.
        return format!("gen {:>3}%", g.iteration * 100 / g.iterations.max(1));
    }
    match (&run.status, run.batch) {
        (RunStatus::Running | RunStatus::Paused, Some(b)) if b.epoch > run.epochs_done() => {
            format!(
                "{}/{} {:>3}%",
                run.epochs_done(),
                total,
                b.batch * 100 / b.batches.max(1)
            )
        }
        _ => format!("{}/{}", run.epochs_done(), total),
    }
}

/// (balanced accuracy, plain accuracy): the summary's, else the last epoch's.
pub(crate) fn latest_accuracies(run: &RunEntry) -> Option<(f64, f64)> {
    match &run.summary {
        Some(s) => Some((s.balanced_accuracy, s.accuracy)),
        None => run
            .epochs
            .last()
            .map(|e| (e.balanced_accuracy, e.test_accuracy)),
    }
}

/// [`latest_accuracies`] in percent, "-" before the first epoch.
fn accuracies(run: &RunEntry) -> (String, String) {
    match latest_accuracies(run) {
        Some((b, a)) => (format!("{:.1}", b * 100.0), format!("{:.1}", a * 100.0)),
        None => ("-".into(), "-".into()),
    }
}

/// Where the table sits in the pane's inner area, and the first run it shows.
pub(super) struct RunsGeometry {
    pub table: Rect,
    pub detail: Option<Rect>,
    /// Index of the run on the table's first row (below the header).
    pub offset: usize,
}

pub(super) fn geometry(app: &App, inner: Rect, has_detail: bool) -> RunsGeometry {
    let (table, detail) = if has_detail && inner.height >= 4 {
        (
            Rect {
                height: inner.height - 1,
                ..inner
            },
            Some(Rect {
                y: inner.bottom() - 1,
                height: 1,
                ..inner
            }),
        )
    } else {
        (inner, None)
    };
    // Scroll so the selected row stays visible.
    let visible = table.height.saturating_sub(1) as usize;
    let offset = app.selected.saturating_sub(visible.saturating_sub(1));
    RunsGeometry {
        table,
        detail,
        offset,
    }
}

fn detail_line<'a>(app: &'a App) -> Option<Line<'a>> {
    let theme = app.theme();
    app.selected_run().and_then(|r| match &r.status {
        RunStatus::Failed(reason) if !reason.is_empty() => Some(Line::from(Span::styled(
            format!(" {}: {reason}", r.short_name().0),
            Style::default().fg(theme.colors.error),
        ))),
        _ => r
            .dir
            .as_ref()
            .map(|d| Line::from(Span::styled(format!(" {}", d.display()), theme.dim()))),
    })
}

/// The run under row `y` of the pane with inner area `inner`, if any.
pub(super) fn run_at(app: &App, inner: Rect, y: u16) -> Option<usize> {
    let g = geometry(app, inner, detail_line(app).is_some());
    if y <= g.table.y || y >= g.table.bottom() {
        return None;
    }
    let i = g.offset + (y - g.table.y - 1) as usize;
    (i < app.runs.len()).then_some(i)
}

pub(crate) fn render_runs(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = app.theme();
    let queued = app
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Queued)
        .count();
    let title = format!(
        " Runs ({}, {} queued; m mark, c compare) ",
        app.runs.len(),
        queued
    );
    let block = pane_block(app, title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.runs.is_empty() {
        let text = vec![
            Line::from(""),
            Line::from(Span::styled(
                " No runs yet. Press s to train the configured run.",
                theme.dim(),
            )),
        ];
        frame.render_widget(Paragraph::new(text), inner);
        return;
    }
    let wide = inner.width >= 76;
    let header_cells: Vec<&str> = if wide {
        vec![
            "", "run", "status", "epoch", "ETA", "bal%", "acc%", "device",
        ]
    } else {
        vec!["", "run", "status", "epoch", "ETA", "bal%"]
    };
    let header = Row::new(header_cells).style(theme.dim());
    let detail = detail_line(app);
    let g = geometry(app, inner, detail.is_some());
    if let (Some(line), Some(rect)) = (detail, g.detail) {
        frame.render_widget(
            Paragraph::new(line).wrap(ratatui::widgets::Wrap { trim: true }),
            rect,
        );
    }
    let (inner, offset) = (g.table, g.offset);
    let visible = inner.height.saturating_sub(1) as usize;
    let rows: Vec<Row> = app
        .runs
        .iter()
        .enumerate()
        .skip(offset)
        .take(visible)
        .map(|(i, run)| {
            let mark = if run.marked { "*" } else { " " };
            let eta = match (run.phase, &run.generator) {
                (Some(Phase::Generator), Some(g)) => super::generator::eta_seconds(g),
                _ => run.eta_seconds(),
            }
            .map(duration)
            .unwrap_or_else(|| "".into());
            let (name, _) = run.short_name();
            let (balanced, plain) = accuracies(run);
            let mut cells = vec![
                Cell::from(Span::styled(mark, theme.accent())),
                Cell::from(name.to_string()),
            ];
            cells.extend([
                Cell::from(Span::styled(
                    run.status.label(),
                    status_color(app, &run.status),
                )),
                Cell::from(progress(run)),
                Cell::from(eta),
                Cell::from(balanced),
            ]);
            if wide {
                cells.push(Cell::from(Span::styled(plain, theme.dim())));
                cells.push(Cell::from(
                    run.info
                        .as_ref()
                        .map(|i| i.device.clone())
                        .or_else(|| run.summary.as_ref().map(|s| s.device.clone()))
                        .unwrap_or_else(|| run.config.device.to_string()),
                ));
            }
            let row = Row::new(cells);
            if i == app.selected {
                row.style(theme.selected())
            } else {
                row.style(theme.base())
            }
        })
        .collect();
    let widths: Vec<Constraint> = if wide {
        vec![
            Constraint::Length(1),
            Constraint::Min(18),
            Constraint::Length(16),
            Constraint::Length(11),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Length(7),
        ]
    } else {
        vec![
            Constraint::Length(1),
            Constraint::Min(10),
            Constraint::Min(8),
            Constraint::Length(11),
            Constraint::Length(6),
            Constraint::Length(5),
        ]
    };
    frame.render_widget(Table::new(rows, widths).header(header), inner);
}
