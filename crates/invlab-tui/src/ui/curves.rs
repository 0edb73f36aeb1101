//! Loss and accuracy curves of the selected run, or of every marked run in compare mode.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph};
use ratatui::Frame;

use crate::app::{App, RunEntry};

use super::generator::{render_generator, shows_generator};
use super::picture::Graphics;
use super::{line, pane_block, pane_inner, Text, Tint};

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    pub marker: Marker,
}

pub(super) fn chart<'a>(
    app: &App,
    series: &'a [Series],
    x_max: f64,
    y: [f64; 2],
    y_labels: Vec<String>,
    title: &'a str,
) -> Chart<'a> {
    let theme = app.theme();
    let datasets = series
        .iter()
        .map(|s| {
            Dataset::default()
                .name(s.name.clone())
                .marker(s.marker)
                .graph_type(GraphType::Line)
                .style(s.style)
                .data(&s.points)
        })
        .collect();
    let x_max = x_max.max(1.0);
    Chart::new(datasets)
        .style(theme.base())
        .x_axis(
            Axis::default()
                .style(theme.dim())
                .bounds([0.0, x_max])
                .labels(vec![
                    "0".to_string(),
                    format!("{:.0}", x_max / 2.0),
                    format!("{x_max:.0}"),
                ]),
        )
        .y_axis(
            Axis::default()
                .title(Span::styled(title, theme.dim()))
                .style(theme.dim())
                .bounds(y)
                .labels(y_labels),
        )
        .legend_position(Some(LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Percentage(60), Constraint::Percentage(60)))
}

fn runs_shown(app: &App) -> Vec<&RunEntry> {
    if app.compare {
        app.marked()
    } else {
        app.selected_run().into_iter().collect()
    }
}

/// What the curves pane shows, computed from the App and the pane's area.
pub(crate) struct CurvesView<'a> {
    pub title: String,
    pub body: CurvesBody<'a>,
}

pub(crate) enum CurvesBody<'a> {
    Message(String),
    /// A GIT run's generator view (`generator.rs`).
    Generator(&'a RunEntry),
    Charts(Box<CurveCharts>),
}

/// Accuracy over loss, with the latest numbers between them.
pub(crate) struct CurveCharts {
    pub acc_area: Rect,
    pub stats_area: Rect,
    pub loss_area: Rect,
    pub acc: Vec<Series>,
    pub loss: Vec<Series>,
    /// Epochs on the x axis (the longest run's).
    pub x_max: f64,
    pub loss_max: f64,
    pub loss_labels: Vec<String>,
    pub stats: Text,
}

impl<'a> CurvesView<'a> {
    pub(crate) fn build(app: &'a App, area: Rect) -> CurvesView<'a> {
        let runs = runs_shown(app);
        let title = if app.compare {
            " Curves: compare (balanced acc, train loss) ".to_string()
        } else {
            match runs.first() {
                // Runs with a generator can switch to its view (losses, samples) and back.
                Some(r) if r.generator.is_some() => format!(" Curves: {} (g generator) ", r.name),
                Some(r) => format!(" Curves: {} ", r.name),
                None => " Curves ".into(),
            }
        };
        let body = match runs.first() {
            None => CurvesBody::Message(" no run selected".into()),
            Some(first) if !app.compare && shows_generator(app, first) => {
                CurvesBody::Generator(first)
            }
            Some(first)
                if runs
                    .iter()
                    .all(|r| r.epochs.is_empty() && r.batch_losses.is_empty()) =>
            {
                CurvesBody::Message(match first.phase {
                    Some(p) => format!(" {:?}... the first epoch's curves appear when it ends", p),
                    None => " no epochs yet".into(),
                })
            }
            Some(_) => CurvesBody::Charts(Box::new(charts(app, &runs, pane_inner(area)))),
        };
        CurvesView { title, body }
    }
}

fn epoch_points(
    run: &RunEntry,
    value: impl Fn(&invlab_core::records::EpochMetrics) -> f64,
) -> Vec<(f64, f64)> {
    run.epochs
        .iter()
        .map(|e| (e.epoch as f64, value(e)))
        .collect()
}

/// The series, axes and latest numbers of `runs` (at least one) in `inner`.
fn charts(app: &App, runs: &[&RunEntry], inner: Rect) -> CurveCharts {
    let theme = app.theme();
    let marker = theme.marker();
    let x_max = runs
        .iter()
        .map(|r| r.total_epochs() as f64)
        .fold(1.0, f64::max);
    let series = |name: String, points, style| Series {
        name,
        points,
        style,
        marker,
    };
    let fg = |k| Style::default().fg(theme.series(k));
    let mut loss = Vec::new();
    let mut acc = Vec::new();
    for (k, run) in runs.iter().enumerate() {
        if app.compare {
            let short = run.short_name().0.to_string();
            loss.push(series(
                short.clone(),
                epoch_points(run, |e| e.train_loss),
                fg(k),
            ));
            acc.push(series(
                short,
                epoch_points(run, |e| e.balanced_accuracy),
                fg(k),
            ));
        } else {
            if !run.batch_losses.is_empty() {
                loss.push(series(
                    "batch".into(),
                    run.batch_losses.clone(),
                    theme.dim(),
                ));
            }
            loss.push(series(
                "train loss".into(),
                epoch_points(run, |e| e.train_loss),
                fg(0),
            ));
            acc.push(series(
                "test acc".into(),
                epoch_points(run, |e| e.test_accuracy),
                fg(1),
            ));
            acc.push(series(
                "balanced".into(),
                epoch_points(run, |e| e.balanced_accuracy),
                fg(2),
            ));
        }
    }
    let loss_max = loss
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(0.1)
        * 1.05;
    let [acc_area, stats_area, loss_area] = Layout::vertical([
        Constraint::Percentage(50),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    CurveCharts {
        acc_area,
        stats_area,
        loss_area,
        acc,
        loss,
        x_max,
        loss_max,
        loss_labels: vec![
            "0".into(),
            format!("{:.2}", loss_max / 2.0),
            format!("{loss_max:.2}"),
        ],
        stats: stats(app, runs),
    }
}

/// The latest numbers on their own line, not crammed into the chart.
fn stats(app: &App, runs: &[&RunEntry]) -> Text {
    let theme = app.theme();
    let fg = |k| Tint::Fg(theme.series(k));
    if app.compare {
        // Each run's latest balanced accuracy (plain accuracy beside it), in its colour.
        let mut text = vec![(" balanced (acc): ".to_string(), Tint::Dim)];
        for (k, run) in runs.iter().enumerate() {
            if let Some(e) = run.epochs.last() {
                text.push((
                    format!(
                        "{} {:.1}% ({:.1}%)  ",
                        run.short_name().0,
                        e.balanced_accuracy * 100.0,
                        e.test_accuracy * 100.0
                    ),
                    fg(k),
                ));
            }
        }
        return text;
    }
    match runs.first().and_then(|r| r.epochs.last()) {
        Some(e) => vec![
            (format!(" ep {}/{}  ", e.epoch, e.total_epochs), Tint::Dim),
            (
                format!("balanced {:.1}%  ", e.balanced_accuracy * 100.0),
                fg(2),
            ),
            (format!("acc {:.1}%  ", e.test_accuracy * 100.0), fg(1)),
            (format!("loss {:.3}  lr {:.4}", e.train_loss, e.lr), fg(0)),
        ],
        None => vec![(String::new(), Tint::Base)],
    }
}

pub(crate) fn render_curves(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    focused: bool,
    graphics: &mut Graphics,
    samples_elsewhere: bool,
) {
    let view = CurvesView::build(app, area);
    let block = pane_block(app, view.title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match view.body {
        CurvesBody::Message(text) => {
            frame.render_widget(Paragraph::new(Span::styled(text, app.theme().dim())), inner)
        }
        CurvesBody::Generator(run) => {
            render_generator(frame, inner, app, run, graphics, samples_elsewhere)
        }
        CurvesBody::Charts(c) => {
            let acc_labels = vec!["0".into(), "50%".into(), "100%".into()];
            frame.render_widget(
                chart(app, &c.acc, c.x_max, [0.0, 1.0], acc_labels, "acc"),
                c.acc_area,
            );
            frame.render_widget(Paragraph::new(line(app, &c.stats)), c.stats_area);
            frame.render_widget(
                chart(
                    app,
                    &c.loss,
                    c.x_max,
                    [0.0, c.loss_max],
                    c.loss_labels.clone(),
                    "loss",
                ),
                c.loss_area,
            );
        }
    }
}
