//! Per-class accuracy as vertical bars, ordered by training class size (largest left), coloured
//! and labelled by group: many (>100 images), medium (20-100), few (<20). When there are more
//! classes than columns, neighbouring classes share a column (their mean).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use ratatui::Frame;

use crate::app::App;
use invlab_core::summary::SizeGroup;

use super::{line, pane_block, pane_inner, Text, Tint};

const EIGHTHS: [&str; 9] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

/// Bars of `values` in [0, 1] with a colour each, `width` cells per bar.
struct Bars<'a> {
    values: &'a [(f64, Style)],
    width: u16,
    gap: u16,
}

impl Widget for Bars<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let h = area.height as f64;
        for (i, (v, style)) in self.values.iter().enumerate() {
            let x0 = area.x + i as u16 * (self.width + self.gap);
            if x0 + self.width > area.right() {
                break;
            }
            let eighths = (v.clamp(0.0, 1.0) * h * 8.0).round() as usize;
            for row in 0..area.height {
                let y = area.bottom() - 1 - row;
                let filled = eighths.saturating_sub(row as usize * 8).min(8);
                for dx in 0..self.width {
                    buf[(x0 + dx, y)]
                        .set_symbol(EIGHTHS[filled])
                        .set_style(*style);
                }
            }
        }
    }
}

/// What the per-class pane shows, computed from the App and the pane's area.
pub(crate) struct ClassesView {
    pub title: String,
    /// `None`: the selected run has no per-class accuracy yet.
    pub bars: Option<ClassBars>,
}

/// Per-class accuracy as columns, largest class left, laid out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClassBars {
    pub head_area: Rect,
    pub y_axis_area: Rect,
    pub plot_area: Rect,
    pub strip_area: Rect,
    pub note_area: Rect,
    /// Group means as numbers, and the balanced accuracy.
    pub header: Text,
    /// One label per row of the y axis ("" between the marks).
    pub y_labels: Vec<&'static str>,
    /// One column's accuracy and the size group of its middle class.
    pub columns: Vec<(f64, SizeGroup)>,
    /// Cells per column and between columns.
    pub width: u16,
    pub gap: u16,
    /// Where many / medium / few start, under the columns.
    pub strip: Text,
    pub note: String,
}

impl ClassesView {
    pub(crate) fn build(app: &App, area: Rect) -> ClassesView {
        let run = app.selected_run();
        let title = match run {
            Some(r) => format!(" Per-class accuracy by class size: {} ", r.name),
            None => " Per-class accuracy ".into(),
        };
        let bars = run.and_then(|run| {
            let (acc, sizes) = (run.per_class_accuracy()?, run.train_sizes()?);
            let groups = run
                .epochs
                .last()
                .map(|e| e.groups.clone())
                .unwrap_or_default();
            Some(class_bars(app, pane_inner(area), &acc, &sizes, &groups))
        });
        ClassesView { title, bars }
    }
}

fn class_bars(
    app: &App,
    inner: Rect,
    acc: &[f64],
    sizes: &[usize],
    groups: &invlab_core::records::GroupAccuracy,
) -> ClassBars {
    let theme = app.theme();
    let tint = |g: SizeGroup| Tint::Fg(theme.group_color(g));
    let mut order: Vec<usize> = (0..acc.len().min(sizes.len())).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    // Header: group means as numbers.
    let balanced = acc.iter().sum::<f64>() / acc.len().max(1) as f64;
    let pct = |v: Option<f64>| {
        v.map(|x| format!("{:.1}%", x * 100.0))
            .unwrap_or("-".into())
    };
    let count = |g: SizeGroup| {
        order
            .iter()
            .filter(|&&c| SizeGroup::of(sizes[c]) == g)
            .count()
    };
    let header = vec![
        (
            format!(" many({}) {}  ", count(SizeGroup::Many), pct(groups.many)),
            tint(SizeGroup::Many),
        ),
        (
            format!(
                "medium({}) {}  ",
                count(SizeGroup::Medium),
                pct(groups.medium)
            ),
            tint(SizeGroup::Medium),
        ),
        (
            format!("few({}) {}  ", count(SizeGroup::Few), pct(groups.few)),
            tint(SizeGroup::Few),
        ),
        (format!("balanced {:.1}%", balanced * 100.0), Tint::Base),
    ];
    let [head_area, chart, strip_area, note_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let [y_axis_area, plot_area] =
        Layout::horizontal([Constraint::Length(5), Constraint::Min(1)]).areas(chart);
    let mut y_labels = vec![""; y_axis_area.height as usize];
    if let Some(l) = y_labels.first_mut() {
        *l = "100%";
    }
    if y_axis_area.height >= 3 {
        y_labels[y_axis_area.height as usize / 2] = " 50%";
    }
    if let Some(l) = y_labels.last_mut() {
        *l = "  0%";
    }
    // Columns: one class each if it fits, else classes pooled per column.
    let n = order.len().max(1);
    let cols = plot_area.width.max(1) as usize;
    let per_col = n.div_ceil(cols);
    let columns: Vec<(f64, SizeGroup)> = order
        .chunks(per_col)
        .map(|chunk| {
            let mean = chunk.iter().map(|&c| acc[c]).sum::<f64>() / chunk.len() as f64;
            // The group of the column's middle class.
            (mean, SizeGroup::of(sizes[chunk[chunk.len() / 2]]))
        })
        .collect();
    let (width, gap) = {
        let k = columns.len() as u16;
        let w = plot_area.width / k.max(1);
        if w >= 3 {
            ((w - 1).min(4), 1)
        } else {
            (w.max(1), 0)
        }
    };
    let strip = group_strip(&columns, width + gap, tint);
    let biggest = order.first().map(|&c| sizes[c]).unwrap_or(0);
    let smallest = order.last().map(|&c| sizes[c]).unwrap_or(0);
    let note = if per_col > 1 {
        format!(" {n} classes, {per_col} per column; sizes {biggest} .. {smallest} left to right")
    } else {
        format!(" {n} classes; sizes {biggest} .. {smallest} left to right")
    };
    ClassBars {
        head_area,
        y_axis_area,
        plot_area,
        strip_area,
        note_area,
        header,
        y_labels,
        columns,
        width,
        gap,
        strip,
        note,
    }
}

/// The strip under the bars: where many / medium / few start, `step` cells a column.
fn group_strip(columns: &[(f64, SizeGroup)], step: u16, tint: impl Fn(SizeGroup) -> Tint) -> Text {
    let mut strip = vec![("     ".to_string(), Tint::Base)];
    let mut last: Option<SizeGroup> = None;
    let mut used = 0u16;
    for (i, &(_, g)) in columns.iter().enumerate() {
        let x = i as u16 * step;
        if x < used {
            continue;
        }
        if last != Some(g) {
            let label = match g {
                SizeGroup::Many => "|many",
                SizeGroup::Medium => "|medium",
                SizeGroup::Few => "|few",
            };
            if x > used {
                strip.push((" ".repeat((x - used) as usize), Tint::Base));
            }
            strip.push((label.to_string(), tint(g)));
            used = x + label.len() as u16;
            last = Some(g);
        }
    }
    strip
}

pub(crate) fn render_classes(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = app.theme();
    let view = ClassesView::build(app, area);
    let block = pane_block(app, view.title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(b) = view.bars else {
        frame.render_widget(
            Paragraph::new(Span::styled(" no per-class accuracy yet", theme.dim())),
            inner,
        );
        return;
    };
    frame.render_widget(Paragraph::new(line(app, &b.header)), b.head_area);
    let y_labels: Vec<Line> = b
        .y_labels
        .iter()
        .map(|&l| match l {
            "" => Line::from(""),
            l => Line::from(Span::styled(l, theme.dim())),
        })
        .collect();
    frame.render_widget(Paragraph::new(y_labels), b.y_axis_area);
    let values: Vec<(f64, Style)> = b
        .columns
        .iter()
        .map(|&(v, g)| (v, Style::default().fg(theme.group_color(g))))
        .collect();
    frame.render_widget(
        Bars {
            values: &values,
            width: b.width,
            gap: b.gap,
        },
        b.plot_area,
    );
    frame.render_widget(Paragraph::new(strip_line(&b.strip)), b.strip_area);
    frame.render_widget(
        Paragraph::new(Span::styled(b.note, theme.dim())),
        b.note_area,
    );
}

/// The group strip: its blanks unstyled, as before view models.
fn strip_line(strip: &Text) -> Line<'_> {
    Line::from(
        strip
            .iter()
            .map(|(t, tint)| match tint {
                Tint::Fg(c) => Span::styled(t.as_str(), Style::default().fg(*c)),
                _ => Span::raw(t.as_str()),
            })
            .collect::<Vec<_>>(),
    )
}
