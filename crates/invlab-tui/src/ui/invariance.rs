//! eKLD (or consistency, `v`) against training class size: a scatter on a log10 size axis
//! (ratatui has no log axis: x is log10(n) and the ticks are labelled "10", "100", "1k") and a
//! histogram of the mean per class-size bin. In compare mode, one colour per marked run.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Chart, Dataset, GraphType, LegendPosition, Paragraph, Wrap,
};
use ratatui::Frame;

use crate::app::{App, RunEntry};
use invlab_core::generator::SampleGrid;
use invlab_core::summary::SizeGroup;

use super::generator::render_samples;
use super::picture::Graphics;
use super::{line, pane_block, pane_inner, pow10_label, Text, Tint};

/// Class-size bins (lower edges) for the histogram.
pub(crate) const BINS: [(usize, &str); 7] = [
    (0, "<10"),
    (10, "10+"),
    (30, "30+"),
    (100, "100+"),
    (300, "300+"),
    (1000, "1k+"),
    (3000, "3k+"),
];

fn bin_of(n: usize) -> usize {
    BINS.iter().rposition(|&(lo, _)| n >= lo).unwrap_or(0)
}

/// (class size, value) for each class with a finite value.
fn points(run: &RunEntry, consistency: bool) -> Option<Vec<(usize, f64)>> {
    let inv = run.invariance.as_ref()?;
    let sizes = run.train_sizes()?;
    let values = if consistency {
        &inv.consistency
    } else {
        &inv.ekld
    };
    Some(
        sizes
            .iter()
            .zip(values)
            .filter(|(_, v)| v.is_finite())
            .map(|(&n, &v)| (n, v))
            .collect(),
    )
}

/// Mean value per bin; `None` for empty bins.
pub(crate) fn bin_means(points: &[(usize, f64)]) -> Vec<Option<f64>> {
    let mut sums = vec![(0.0, 0usize); BINS.len()];
    for &(n, v) in points {
        let b = bin_of(n);
        sums[b].0 += v;
        sums[b].1 += 1;
    }
    sums.into_iter()
        .map(|(s, k)| (k > 0).then(|| s / k as f64))
        .collect()
}

/// What the eKLD pane shows, computed from the App and the pane's area; drawing only draws it.
pub(crate) struct InvarianceView<'a> {
    pub title: String,
    pub body: InvarianceBody<'a>,
}

pub(crate) enum InvarianceBody<'a> {
    /// While the generator trains there is no eKLD yet: its sample grid gets this pane's room.
    Samples(&'a SampleGrid),
    /// Why there is nothing to plot.
    Message(String),
    Plot(Box<InvariancePlot>),
}

/// One scatter series: a run (compare mode) or a size group, at (log10 size, value).
pub(crate) struct Scatter {
    pub name: String,
    pub color: Color,
    pub points: Vec<(f64, f64)>,
}

/// One bar of the histogram: the value scaled to an integer, its label, its colour.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistBar {
    pub value: u64,
    pub text: String,
    pub color: Color,
}

/// The scatter (with the class cursor) and the per-size-bin histogram, laid out.
pub(crate) struct InvariancePlot {
    pub info_area: Rect,
    pub scatter_area: Rect,
    pub hist_title_area: Rect,
    pub hist_area: Rect,
    /// The line above the scatter: the cursor's class, or a hint.
    pub info: Text,
    pub x_bounds: [f64; 2],
    pub x_labels: Vec<String>,
    pub y_max: f64,
    pub y_labels: Vec<String>,
    pub series: Vec<Scatter>,
    /// The cursor's vertical line and its point (empty unless focused).
    pub cursor_line: Vec<(f64, f64)>,
    pub cursor_point: Vec<(f64, f64)>,
    pub hist_caption: String,
    /// The used bins, each with one bar per run.
    pub groups: Vec<(&'static str, Vec<HistBar>)>,
    pub bar_width: u16,
    pub bar_gap: u16,
    pub bar_max: u64,
}

/// Histogram values are drawn as integers: the mean times this.
const BAR_SCALE: f64 = 1000.0;

fn log_size(n: usize) -> f64 {
    (n.max(1) as f64).log10()
}

impl<'a> InvarianceView<'a> {
    /// The pane's view on a pane of `area`; `generator_samples`: the generator's sample grid
    /// takes this pane's room (`samples_in_invariance_pane`).
    pub(crate) fn build(
        app: &'a App,
        area: Rect,
        focused: bool,
        generator_samples: bool,
    ) -> InvarianceView<'a> {
        if generator_samples {
            if let Some((run, grid)) = app
                .selected_run()
                .and_then(|r| Some((r, r.generator_samples.as_ref()?)))
            {
                let title = format!(
                    " GIT generator samples: {} (eKLD from epoch {}) ",
                    run.name,
                    run.config.eval.ekld_every.max(1)
                );
                return InvarianceView {
                    title,
                    body: InvarianceBody::Samples(grid),
                };
            }
        }
        let metric = metric_name(app);
        let runs: Vec<&RunEntry> = if app.compare {
            app.marked()
        } else {
            app.selected_run().into_iter().collect()
        };
        let mut title = format!(" {metric} vs training class size (v: eKLD/consistency) ");
        if let (false, Some(inv)) = (
            app.compare,
            runs.first().and_then(|r| r.invariance.as_ref()),
        ) {
            let rho = inv
                .spearman_size_ekld
                .map(|r| format!(": Spearman {r:+.2}"))
                .unwrap_or_default();
            title = format!(
                " {metric} vs class size{rho}; epoch {}, {} (v) ",
                inv.epoch,
                inv.design_text()
            );
        }
        let data: Vec<(&RunEntry, Vec<(usize, f64)>)> = runs
            .iter()
            .filter_map(|r| Some((*r, points(r, app.show_consistency)?)))
            .collect();
        let body = if data.is_empty() {
            InvarianceBody::Message(match runs.first() {
                Some(r) if r.status.is_active() => format!(
                    " eKLD is measured every {} epochs ({} images x {} transforms per class)",
                    r.config.eval.ekld_every.max(1),
                    r.config.eval.live_images_per_class,
                    r.config.eval.live_samples
                ),
                Some(_) => " this run has no eKLD measurement".into(),
                None => " no run selected".into(),
            })
        } else {
            InvarianceBody::Plot(Box::new(plot(app, pane_inner(area), focused, &data)))
        };
        InvarianceView { title, body }
    }
}

fn metric_name(app: &App) -> &'static str {
    if app.show_consistency {
        "consistency"
    } else {
        "eKLD (nats)"
    }
}

/// Lays out and computes the scatter and the histogram of `data` (not empty) in `inner`.
fn plot(
    app: &App,
    inner: Rect,
    focused: bool,
    data: &[(&RunEntry, Vec<(usize, f64)>)],
) -> InvariancePlot {
    let theme = app.theme();
    let direction = if inner.width >= 100 || inner.height < 16 {
        Direction::Horizontal
    } else {
        Direction::Vertical
    };
    let [scatter_area, hist_area] = Layout::default()
        .direction(direction)
        .spacing(2)
        .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
        .areas(inner);

    // Scatter on log10(size).
    let all = data.iter().flat_map(|(_, p)| p.iter());
    let (mut lo, mut hi, mut y_max) = (f64::MAX, f64::MIN, 0.0f64);
    for &(n, v) in all {
        let x = log_size(n);
        lo = lo.min(x);
        hi = hi.max(x);
        y_max = y_max.max(v);
    }
    let x_lo = lo.floor();
    let x_hi = hi.ceil().max(x_lo + 1.0);
    let y_max = if app.show_consistency {
        1.0
    } else {
        (y_max * 1.1).max(0.1)
    };
    let x_labels: Vec<String> = (x_lo as i32..=x_hi as i32).map(pow10_label).collect();
    let mut series = Vec::new();
    if app.compare {
        for (k, (run, pts)) in data.iter().enumerate() {
            series.push(Scatter {
                name: run.short_name().0.to_string(),
                color: theme.series(k),
                points: pts.iter().map(|&(n, v)| (log_size(n), v)).collect(),
            });
        }
    } else {
        let pts = &data[0].1;
        for g in SizeGroup::ALL {
            let points: Vec<(f64, f64)> = pts
                .iter()
                .filter(|(n, _)| SizeGroup::of(*n) == g)
                .map(|&(n, v)| (log_size(n), v))
                .collect();
            if !points.is_empty() {
                series.push(Scatter {
                    name: g.name().into(),
                    color: theme.group_color(g),
                    points,
                });
            }
        }
    }
    let cursor = class_at_cursor(app).filter(|_| focused);
    let (cursor_line, cursor_point) = match &cursor {
        Some(c) => {
            let x = log_size(c.train_size);
            let v = if app.show_consistency {
                c.consistency
            } else {
                c.ekld
            };
            (
                vec![(x, 0.0), (x, y_max)],
                v.filter(|v| v.is_finite())
                    .map(|v| vec![(x, v)])
                    .unwrap_or_default(),
            )
        }
        None => (Vec::new(), Vec::new()),
    };
    let info_rows = if scatter_area.width < 100 && focused {
        2
    } else {
        1
    };
    let [info_area, scatter_area] =
        Layout::vertical([Constraint::Length(info_rows), Constraint::Min(0)]).areas(scatter_area);

    let (groups, bar_width, bar_gap) = histogram(app, data, hist_area.width);
    let [hist_title_area, hist_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(hist_area);
    InvariancePlot {
        info_area,
        scatter_area,
        hist_title_area,
        hist_area,
        info: cursor_text(app, cursor.as_ref()),
        x_bounds: [x_lo, x_hi],
        x_labels,
        y_max,
        y_labels: vec![
            "0".to_string(),
            format!("{:.2}", y_max / 2.0),
            format!("{y_max:.2}"),
        ],
        series,
        cursor_line,
        cursor_point,
        hist_caption: format!(" mean {} per size bin (train images)", metric_name(app)),
        groups,
        bar_width,
        bar_gap,
        bar_max: (y_max * BAR_SCALE) as u64,
    }
}

/// The histogram of `data`'s mean per size bin (grouped by run in compare mode) on `width`
/// columns: the used bins with their bars, the bar width and the gap between a bin's bars.
fn histogram(
    app: &App,
    data: &[(&RunEntry, Vec<(usize, f64)>)],
    width: u16,
) -> (Vec<(&'static str, Vec<HistBar>)>, u16, u16) {
    let theme = app.theme();
    let means: Vec<Vec<Option<f64>>> = data.iter().map(|(_, p)| bin_means(p)).collect();
    let used: Vec<usize> = (0..BINS.len())
        .filter(|&b| means.iter().any(|m| m[b].is_some()))
        .collect();
    let per_group = means.len().max(1) as u16;
    let group_w = width.saturating_sub(1) / (used.len() as u16).max(1);
    // One column between a group's bars when there are several (values stay apart).
    let bar_gap = u16::from(per_group > 1 && group_w > 2 * per_group + 1);
    let bar_width = (group_w.saturating_sub(1) / per_group)
        .saturating_sub(bar_gap)
        .clamp(1, 9);
    let labelled = bar_width >= 4;
    let groups = used
        .iter()
        .map(|&b| {
            let bars = means
                .iter()
                .enumerate()
                .map(|(k, m)| {
                    let v = m[b].unwrap_or(0.0);
                    let color = if app.compare {
                        theme.series(k)
                    } else {
                        theme.group_color(SizeGroup::of(BINS[b].0.max(1) + usize::from(b != 0)))
                    };
                    HistBar {
                        value: (v * BAR_SCALE).round() as u64,
                        text: match m[b] {
                            Some(_) if labelled => format!("{v:.2}"),
                            _ => String::new(),
                        },
                        color,
                    }
                })
                .collect();
            (BINS[b].1, bars)
        })
        .collect();
    (groups, bar_width, bar_gap)
}

pub(crate) fn render_invariance(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    focused: bool,
    graphics: &mut Graphics,
    generator_samples: bool,
) {
    let view = InvarianceView::build(app, area, focused, generator_samples);
    let block = pane_block(app, view.title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match view.body {
        InvarianceBody::Samples(grid) => render_samples(frame, inner, app, grid, graphics),
        InvarianceBody::Message(text) => {
            frame.render_widget(Paragraph::new(Span::styled(text, app.theme().dim())), inner)
        }
        InvarianceBody::Plot(plot) => draw_plot(frame, app, &plot),
    }
}

fn draw_plot(frame: &mut Frame, app: &App, p: &InvariancePlot) {
    let theme = app.theme();
    let mut datasets: Vec<Dataset> = Vec::new();
    if !p.cursor_line.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(ratatui::symbols::Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.dim())
                .data(&p.cursor_line),
        );
    }
    datasets.extend(p.series.iter().map(|s| {
        Dataset::default()
            .name(s.name.clone())
            .marker(theme.scatter_marker())
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(s.color))
            .data(&s.points)
    }));
    if !p.cursor_point.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(ratatui::symbols::Marker::Block)
                .graph_type(GraphType::Scatter)
                .style(Style::default().fg(theme.colors.accent))
                .data(&p.cursor_point),
        );
    }
    frame.render_widget(
        Paragraph::new(line(app, &p.info)).wrap(Wrap { trim: true }),
        p.info_area,
    );
    let chart = Chart::new(datasets)
        .style(theme.base())
        // No x-axis title: ratatui draws it inside the plot's bottom-right corner, exactly where
        // the largest classes (eKLD ~ 0) plot; the line above the chart names the axis instead.
        // Two blank labels keep the label row and the axis line; the decades are written below
        // at their own columns (`x_label_starts`).
        .x_axis(
            Axis::default()
                .style(theme.dim())
                .bounds(p.x_bounds)
                .labels(["", ""]),
        )
        .y_axis(
            Axis::default()
                .style(theme.dim())
                .bounds([0.0, p.y_max])
                .labels(p.y_labels.clone()),
        )
        .legend_position(Some(LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Percentage(50), Constraint::Percentage(50)));
    frame.render_widget(chart, p.scatter_area);
    let area = p.scatter_area;
    if area.height >= 3 {
        let row = area.bottom() - 1;
        let buf = frame.buffer_mut();
        for (start, label) in x_label_starts(area, &p.y_labels, &p.x_labels) {
            buf.set_string(start, row, label, theme.dim());
        }
    }

    let mut chart = BarChart::default()
        .bar_width(p.bar_width)
        .bar_gap(p.bar_gap)
        .group_gap(1)
        .max(p.bar_max)
        .label_style(theme.dim())
        .style(theme.base());
    for (label, bars) in &p.groups {
        let bars: Vec<Bar> = bars
            .iter()
            .map(|b| {
                Bar::default()
                    .value(b.value)
                    .text_value(b.text.clone())
                    .style(Style::default().fg(b.color))
                    .value_style(Style::default().fg(Color::Black).bg(b.color))
            })
            .collect();
        chart = chart.data(BarGroup::default().label(Line::from(*label)).bars(&bars));
    }
    frame.render_widget(
        Paragraph::new(Span::styled(p.hist_caption.clone(), theme.dim())),
        p.hist_title_area,
    );
    frame.render_widget(chart, p.hist_area);
}

/// Where each of `labels` (evenly spaced values from the x axis's low bound to its high one)
/// starts on the chart's label row in `area`: centred under the column its value plots at, the
/// first and last kept inside the area, and one left out where it would touch its neighbour.
/// ratatui's Chart spreads labels over equal slots instead, which put "10" and "1k" of an axis
/// from 1 to 10k at 30 % and 70 % of its width, not under the 25 % and 75 % where those sizes
/// plot. The plot's columns are found as the Chart lays them out: after the widest y label
/// (at most a third of the area) and the y axis line.
pub(crate) fn x_label_starts<'a>(
    area: Rect,
    y_labels: &[String],
    labels: &'a [String],
) -> Vec<(u16, &'a str)> {
    let widest = y_labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0) as u16;
    let graph_left = area.left() + widest.min(area.width / 3) + 1;
    let graph_width = area.right().saturating_sub(graph_left);
    if labels.len() < 2 || graph_width < 2 {
        return Vec::new();
    }
    let mut placed = Vec::new();
    let mut free_from = area.left();
    for (i, label) in labels.iter().enumerate() {
        let width = label.chars().count() as u16;
        let share = i as f64 / (labels.len() - 1) as f64;
        let column = graph_left + (share * f64::from(graph_width - 1)).round() as u16;
        let start = column
            .saturating_sub(width.saturating_sub(1) / 2)
            .max(area.left())
            .min(area.right().saturating_sub(width));
        if start >= free_from {
            placed.push((start, label.as_str()));
            free_from = start + width + 1;
        } else if i + 1 == labels.len() {
            // The axis's end is named rather than the decade before it.
            placed.pop();
            placed.push((start, label.as_str()));
        }
    }
    placed
}

/// One class's figures, for the cursor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClassFigures {
    pub class: usize,
    pub name: String,
    pub train_size: usize,
    /// Rank by training size (0 = largest) and the number of classes.
    pub rank: usize,
    pub classes: usize,
    pub ekld: Option<f64>,
    pub ekld_stderr: Option<f64>,
    pub consistency: Option<f64>,
    pub accuracy: Option<f64>,
}

/// The class under the cursor (ranks by training size, largest first).
pub(crate) fn class_at_cursor(app: &App) -> Option<ClassFigures> {
    let run = app.invariance_run()?;
    let sizes = run.train_sizes()?;
    if sizes.is_empty() {
        return None;
    }
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let rank = app.class_cursor.min(sizes.len() - 1);
    let c = order[rank];
    let inv = run.invariance.as_ref();
    let at = |v: Option<&Vec<f64>>| v.and_then(|v| v.get(c).copied());
    Some(ClassFigures {
        class: c,
        name: run.class_names().get(c).cloned().unwrap_or_default(),
        train_size: sizes[c],
        rank,
        classes: sizes.len(),
        ekld: at(inv.map(|r| &r.ekld)),
        ekld_stderr: at(inv.map(|r| &r.ekld_stderr)),
        consistency: at(inv.map(|r| &r.consistency)),
        accuracy: run.per_class_accuracy().and_then(|a| a.get(c).copied()),
    })
}

/// The line above the scatter: the class under the cursor (while focused), else a hint.
fn cursor_text(app: &App, c: Option<&ClassFigures>) -> Text {
    let theme = app.theme();
    let Some(c) = c else {
        return vec![(
            " x: training images per class (log). Tab here, then Left/Right: one class".into(),
            Tint::Dim,
        )];
    };
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or_else(|| "-".into());
    let group = SizeGroup::of(c.train_size);
    let ekld = match (c.ekld, c.ekld_stderr) {
        (Some(e), Some(se)) => format!("{e:.3} +- {se:.3}"),
        (e, _) => opt(e, &|e| format!("{e:.3}")),
    };
    vec![
        (format!(" {} (c{}) ", c.name, c.class), Tint::Accent),
        (
            format!("{} images, {}", c.train_size, group.name()),
            Tint::Fg(theme.group_color(group)),
        ),
        (format!(" #{}/{}  ", c.rank + 1, c.classes), Tint::Dim),
        ("eKLD ".into(), Tint::Dim),
        (ekld, Tint::Base),
        ("  consistency ".into(), Tint::Dim),
        (opt(c.consistency, &|v| format!("{v:.2}")), Tint::Base),
        ("  accuracy ".into(), Tint::Dim),
        (
            opt(c.accuracy, &|v| format!("{:.1}%", v * 100.0)),
            Tint::Base,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins() {
        assert_eq!(bin_of(5), 0);
        assert_eq!(bin_of(10), 1);
        assert_eq!(bin_of(99), 2);
        assert_eq!(bin_of(4800), 6);
        let m = bin_means(&[(5, 1.0), (7, 3.0), (4800, 0.5)]);
        assert_eq!(m[0], Some(2.0));
        assert_eq!(m[1], None);
        assert_eq!(m[6], Some(0.5));
    }
}
