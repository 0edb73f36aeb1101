//! Loss and accuracy curves of the selected run, or of every marked run in compare mode.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph};
use ratatui::Frame;

use crate::app::{App, RunEntry};

use super::generator::{render_generator, shows_generator};
use super::pane_block;
use super::picture::Graphics;

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

pub(crate) fn render_curves(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    focused: bool,
    graphics: &mut Graphics,
    samples_elsewhere: bool,
) {
    let theme = app.theme();
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
    let block = pane_block(app, title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(first) = runs.first() else {
        frame.render_widget(
            Paragraph::new(Span::styled(" no run selected", theme.dim())),
            inner,
        );
        return;
    };
    if !app.compare && shows_generator(app, first) {
        render_generator(frame, inner, app, first, graphics, samples_elsewhere);
        return;
    }
    if runs
        .iter()
        .all(|r| r.epochs.is_empty() && r.batch_losses.is_empty())
    {
        let text = match first.phase {
            Some(p) => format!(" {:?}... the first epoch's curves appear when it ends", p),
            None => " no epochs yet".into(),
        };
        frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())), inner);
        return;
    }
    let marker = theme.marker();
    let x_max = runs
        .iter()
        .map(|r| r.total_epochs() as f64)
        .fold(1.0, f64::max);
    let mut loss = Vec::new();
    let mut acc = Vec::new();
    for (k, run) in runs.iter().enumerate() {
        let color = theme.series(k);
        let short = run.short_name().0.to_string();
        if app.compare {
            loss.push(Series {
                name: short.clone(),
                points: run
                    .epochs
                    .iter()
                    .map(|e| (e.epoch as f64, e.train_loss))
                    .collect(),
                style: Style::default().fg(color),
                marker,
            });
            acc.push(Series {
                name: short,
                points: run
                    .epochs
                    .iter()
                    .map(|e| (e.epoch as f64, e.balanced_accuracy))
                    .collect(),
                style: Style::default().fg(color),
                marker,
            });
        } else {
            if !run.batch_losses.is_empty() {
                loss.push(Series {
                    name: "batch".into(),
                    points: run.batch_losses.clone(),
                    style: theme.dim(),
                    marker,
                });
            }
            loss.push(Series {
                name: "train loss".into(),
                points: run
                    .epochs
                    .iter()
                    .map(|e| (e.epoch as f64, e.train_loss))
                    .collect(),
                style: Style::default().fg(theme.series(0)),
                marker,
            });
            acc.push(Series {
                name: "test acc".into(),
                points: run
                    .epochs
                    .iter()
                    .map(|e| (e.epoch as f64, e.test_accuracy))
                    .collect(),
                style: Style::default().fg(theme.series(1)),
                marker,
            });
            acc.push(Series {
                name: "balanced".into(),
                points: run
                    .epochs
                    .iter()
                    .map(|e| (e.epoch as f64, e.balanced_accuracy))
                    .collect(),
                style: Style::default().fg(theme.series(2)),
                marker,
            });
        }
    }
    let loss_max = loss
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(0.1)
        * 1.05;
    let [top, stats, bottom] = Layout::vertical([
        Constraint::Percentage(50),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(
        chart(
            app,
            &acc,
            x_max,
            [0.0, 1.0],
            vec!["0".into(), "50%".into(), "100%".into()],
            "acc",
        ),
        top,
    );
    // The latest numbers on their own line, not crammed into the chart.
    let stats_line = match (app.compare, first.epochs.last()) {
        (false, Some(e)) => Line::from(vec![
            Span::styled(format!(" ep {}/{}  ", e.epoch, e.total_epochs), theme.dim()),
            Span::styled(
                format!("balanced {:.1}%  ", e.balanced_accuracy * 100.0),
                Style::default().fg(theme.series(2)),
            ),
            Span::styled(
                format!("acc {:.1}%  ", e.test_accuracy * 100.0),
                Style::default().fg(theme.series(1)),
            ),
            Span::styled(
                format!("loss {:.3}  lr {:.4}", e.train_loss, e.lr),
                Style::default().fg(theme.series(0)),
            ),
        ]),
        (true, _) => {
            // Each run's latest balanced accuracy (plain accuracy beside it), in its colour.
            let mut spans = vec![Span::styled(" balanced (acc): ", theme.dim())];
            for (k, run) in runs.iter().enumerate() {
                if let Some(e) = run.epochs.last() {
                    spans.push(Span::styled(
                        format!(
                            "{} {:.1}% ({:.1}%)  ",
                            run.short_name().0,
                            e.balanced_accuracy * 100.0,
                            e.test_accuracy * 100.0
                        ),
                        Style::default().fg(theme.series(k)),
                    ));
                }
            }
            Line::from(spans)
        }
        _ => Line::from(""),
    };
    frame.render_widget(Paragraph::new(stats_line), stats);
    frame.render_widget(
        chart(
            app,
            &loss,
            x_max,
            [0.0, loss_max],
            vec![
                "0".into(),
                format!("{:.2}", loss_max / 2.0),
                format!("{loss_max:.2}"),
            ],
            "loss",
        ),
        bottom,
    );
}
