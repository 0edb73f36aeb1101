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

use super::pane_block;

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

pub(crate) fn render_classes(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = app.theme();
    let run = app.selected_run();
    let title = match run {
        Some(r) => format!(" Per-class accuracy by class size: {} ", r.name),
        None => " Per-class accuracy ".into(),
    };
    let block = pane_block(app, title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let data = run.and_then(|r| Some((r, r.per_class_accuracy()?, r.train_sizes()?)));
    let Some((run, acc, sizes)) = data else {
        frame.render_widget(
            Paragraph::new(Span::styled(" no per-class accuracy yet", theme.dim())),
            inner,
        );
        return;
    };
    let mut order: Vec<usize> = (0..acc.len().min(sizes.len())).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let group_style = |g: SizeGroup| {
        Style::default().fg(match g {
            SizeGroup::Many => theme.colors.many,
            SizeGroup::Medium => theme.colors.medium,
            SizeGroup::Few => theme.colors.few,
        })
    };
    // Header: group means as numbers.
    let groups = run
        .epochs
        .last()
        .map(|e| e.groups.clone())
        .unwrap_or_default();
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
    let header = Line::from(vec![
        Span::styled(
            format!(" many({}) {}  ", count(SizeGroup::Many), pct(groups.many)),
            group_style(SizeGroup::Many),
        ),
        Span::styled(
            format!(
                "medium({}) {}  ",
                count(SizeGroup::Medium),
                pct(groups.medium)
            ),
            group_style(SizeGroup::Medium),
        ),
        Span::styled(
            format!("few({}) {}  ", count(SizeGroup::Few), pct(groups.few)),
            group_style(SizeGroup::Few),
        ),
        Span::styled(format!("balanced {:.1}%", balanced * 100.0), theme.base()),
    ]);
    let [head, chart, axis, legend] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(header), head);
    let [yaxis, plot] =
        Layout::horizontal([Constraint::Length(5), Constraint::Min(1)]).areas(chart);
    // y labels
    let mut buf_lines = vec![Line::from(""); yaxis.height as usize];
    if let Some(l) = buf_lines.first_mut() {
        *l = Line::from(Span::styled("100%", theme.dim()));
    }
    if yaxis.height >= 3 {
        buf_lines[yaxis.height as usize / 2] = Line::from(Span::styled(" 50%", theme.dim()));
    }
    if let Some(l) = buf_lines.last_mut() {
        *l = Line::from(Span::styled("  0%", theme.dim()));
    }
    frame.render_widget(Paragraph::new(buf_lines), yaxis);
    // Columns: one class each if it fits, else classes pooled per column.
    let n = order.len().max(1);
    let cols = plot.width.max(1) as usize;
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
        let w = plot.width / k.max(1);
        if w >= 3 {
            ((w - 1).min(4), 1)
        } else {
            (w.max(1), 0)
        }
    };
    let values: Vec<(f64, Style)> = columns.iter().map(|&(v, g)| (v, group_style(g))).collect();
    frame.render_widget(
        Bars {
            values: &values,
            width,
            gap,
        },
        plot,
    );
    // Group strip under the bars: where many / medium / few start.
    let step = width + gap;
    let mut spans = vec![Span::raw("     ")];
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
                spans.push(Span::raw(" ".repeat((x - used) as usize)));
            }
            spans.push(Span::styled(label, group_style(g)));
            used = x + label.len() as u16;
            last = Some(g);
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), axis);
    let biggest = order.first().map(|&c| sizes[c]).unwrap_or(0);
    let smallest = order.last().map(|&c| sizes[c]).unwrap_or(0);
    let note = if per_col > 1 {
        format!(" {n} classes, {per_col} per column; sizes {biggest} .. {smallest} left to right")
    } else {
        format!(" {n} classes; sizes {biggest} .. {smallest} left to right")
    };
    frame.render_widget(Paragraph::new(Span::styled(note, theme.dim())), legend);
}
