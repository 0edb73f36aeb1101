//! The run list: history, live runs and the queue, with status, progress and ETA.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use crate::app::{App, RunEntry, RunStatus};
use invlab_engine::Phase;

use super::{duration, pane_block, pane_inner, Tint};
use crate::layout::{runs_geometry, RunsGeometry};

fn status_color(app: &App, status: &RunStatus) -> Tint {
    let c = &app.theme().colors;
    Tint::Fg(match status {
        RunStatus::Running | RunStatus::Starting | RunStatus::Elsewhere { .. } => c.accent,
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
        (RunStatus::Running | RunStatus::Paused | RunStatus::Elsewhere { .. }, Some(b))
            if b.epoch > run.epochs_done() =>
        {
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

/// What the run list shows, computed from the App and the pane's area.
pub(crate) struct RunsView {
    pub title: String,
    /// `None`: no runs yet.
    pub table: Option<RunTable>,
}

/// The visible rows of the run table, with the selected run's detail line under it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunTable {
    pub geometry: RunsGeometry,
    /// Why the selected run failed, else its directory (true: an error).
    pub detail: Option<(String, bool)>,
    pub wide: bool,
    pub header: Vec<&'static str>,
    pub rows: Vec<RunRow>,
}

/// One row: its cells (unstyled where the tint is `None`), selected or not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRow {
    pub cells: Vec<(String, Option<Tint>)>,
    pub selected: bool,
}

impl RunsView {
    pub(crate) fn build(app: &App, area: Rect) -> RunsView {
        let queued = app
            .runs
            .iter()
            .filter(|r| r.status == RunStatus::Queued)
            .count();
        let visible = app.visible_runs();
        let title = match &app.filter {
            None => format!(
                " Runs ({}, {} queued, {} at once; m mark, c compare) ",
                app.runs.len(),
                queued,
                app.max_parallel
            ),
            Some(f) => format!(
                " Runs ({} of {} match /{}; {} at once) ",
                visible.len(),
                app.runs.len(),
                f.text,
                app.max_parallel
            ),
        };
        let table = (!visible.is_empty()).then(|| run_table(app, &visible, pane_inner(area)));
        RunsView { title, table }
    }
}

/// The table of the runs at `visible` (indices into `app.runs`).
fn run_table(app: &App, visible: &[usize], inner: Rect) -> RunTable {
    let wide = inner.width >= 76;
    let header = if wide {
        vec![
            "", "run", "status", "epoch", "ETA", "bal%", "acc%", "device",
        ]
    } else {
        vec!["", "run", "status", "epoch", "ETA", "bal%"]
    };
    let detail = app.selected_run().and_then(|r| r.detail());
    let selected_row = visible.iter().position(|&i| i == app.selected).unwrap_or(0);
    let geometry = runs_geometry(inner, selected_row, detail.is_some());
    let rows_shown = geometry.table.height.saturating_sub(1) as usize;
    let rows = visible
        .iter()
        .skip(geometry.offset)
        .take(rows_shown)
        .map(|&i| (i, &app.runs[i]))
        .map(|(i, run)| {
            let mark = if run.marked { "*" } else { " " };
            let eta = match (run.phase, &run.generator) {
                (Some(Phase::Generator), Some(g)) => super::generator::eta_seconds(g),
                _ => run.eta_seconds(),
            }
            .map(duration)
            .unwrap_or_default();
            let (balanced, plain) = accuracies(run);
            let mut cells = vec![
                (mark.to_string(), Some(Tint::Accent)),
                (run.short_name().0.to_string(), None),
                (run.status.label(), Some(status_color(app, &run.status))),
                (progress(run), None),
                (eta, None),
                (balanced, None),
            ];
            if wide {
                cells.push((plain, Some(Tint::Dim)));
                let device = run
                    .info
                    .as_ref()
                    .map(|i| i.device.clone())
                    .or_else(|| run.summary.as_ref().map(|s| s.device.clone()))
                    .unwrap_or_else(|| run.config.device.to_string());
                cells.push((device, None));
            }
            RunRow {
                cells,
                selected: i == app.selected,
            }
        })
        .collect();
    RunTable {
        geometry,
        detail,
        wide,
        header,
        rows,
    }
}

pub(crate) fn render_runs(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = app.theme();
    let view = RunsView::build(app, area);
    let block = pane_block(app, view.title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(t) = view.table else {
        let text = vec![
            Line::from(""),
            Line::from(Span::styled(
                " No runs yet. Press s to train the configured run.",
                theme.dim(),
            )),
        ];
        frame.render_widget(Paragraph::new(text), inner);
        return;
    };
    if let (Some((text, error)), Some(rect)) = (t.detail, t.geometry.detail) {
        let style = if error {
            Style::default().fg(theme.colors.error)
        } else {
            theme.dim()
        };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(text, style)))
                .wrap(ratatui::widgets::Wrap { trim: true }),
            rect,
        );
    }
    let header = Row::new(t.header).style(theme.dim());
    let rows: Vec<Row> = t
        .rows
        .into_iter()
        .map(|r| {
            let cells = r.cells.into_iter().map(|(text, tint)| match tint {
                Some(tint) => Cell::from(Span::styled(text, tint.style(app))),
                None => Cell::from(text),
            });
            Row::new(cells).style(if r.selected {
                theme.selected()
            } else {
                theme.base()
            })
        })
        .collect();
    let widths: Vec<Constraint> = if t.wide {
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
    frame.render_widget(Table::new(rows, widths).header(header), t.geometry.table);
}
