//! The run list: history, live runs and the queue, with status, progress and ETA.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use crate::tui::app::{App, RunEntry, RunStatus};

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

fn accuracy(run: &RunEntry) -> String {
    if let Some(s) = &run.summary {
        return format!("{:.1}", s.balanced_accuracy * 100.0);
    }
    run.epochs
        .last()
        .map(|e| format!("{:.1}", e.balanced_accuracy * 100.0))
        .unwrap_or_else(|| "-".into())
}

pub fn render_runs(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
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
        vec!["", "run", "status", "epoch", "ETA", "bal%", "device"]
    } else {
        vec!["", "run", "status", "epoch", "ETA", "bal%"]
    };
    let header = Row::new(header_cells).style(theme.dim());
    // The selected run's failure reason or directory on the last line.
    let detail = app.selected_run().and_then(|r| match &r.status {
        RunStatus::Failed(reason) if !reason.is_empty() => Some(Line::from(Span::styled(
            format!(" {}: {reason}", r.short_name().0),
            Style::default().fg(theme.colors.error),
        ))),
        _ => r
            .dir
            .as_ref()
            .map(|d| Line::from(Span::styled(format!(" {}", d.display()), theme.dim()))),
    });
    let inner = match detail {
        Some(line) if inner.height >= 4 => {
            let last = Rect {
                y: inner.bottom() - 1,
                height: 1,
                ..inner
            };
            frame.render_widget(
                Paragraph::new(line).wrap(ratatui::widgets::Wrap { trim: true }),
                last,
            );
            Rect {
                height: inner.height - 1,
                ..inner
            }
        }
        _ => inner,
    };
    // Scroll so the selected row stays visible.
    let visible = inner.height.saturating_sub(1) as usize;
    let offset = app.selected.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row> = app
        .runs
        .iter()
        .enumerate()
        .skip(offset)
        .take(visible)
        .map(|(i, run)| {
            let mark = if run.marked { "*" } else { " " };
            let eta = run.eta_seconds().map(duration).unwrap_or_else(|| "".into());
            let (name, _) = run.short_name();
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
                Cell::from(accuracy(run)),
            ]);
            if wide {
                cells.push(Cell::from(
                    run.info
                        .as_ref()
                        .map(|i| i.device.clone())
                        .or_else(|| run.summary.as_ref().map(|s| s.device.clone()))
                        .unwrap_or_else(|| run.config.device.clone()),
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
