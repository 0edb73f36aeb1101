//! The data pane: pictures of the form's dataset as it would be trained — the largest and the
//! smallest classes after the nuisance transform, one image under fresh draws of the transform
//! eKLD measures, and the class-size profile (log scale, coloured by size group).

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::app::{App, PreviewView};
use invlab_core::config::serde_plain_name;
use invlab_core::summary::SizeGroup;
use invlab_engine::data_preview::{
    profile_picture, transform_name, variants_caption, ClassPictures, DataPreview,
};

use super::pane_block;
use super::picture::{render_picture, Graphics};

/// Columns for a class's label left of its images.
const LABEL_W: u16 = 16;
/// Rows of the class-size profile.
const PROFILE_H: u16 = 3;

pub(crate) fn render_data(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    focused: bool,
    graphics: &mut Graphics,
) {
    let theme = app.theme();
    let view = app.preview_view();
    let updating = matches!(view, PreviewView::Building(Some(_)));
    let title = format!(
        " Data: the form's dataset{} (pictures: {}) ",
        if updating { ", updating..." } else { "" },
        graphics.name()
    );
    let block = pane_block(app, title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let preview = match view {
        PreviewView::Ready(p) | PreviewView::Building(Some(p)) => p,
        PreviewView::Building(None) => {
            let text = if focused {
                format!(
                    " preparing {} and drawing transforms (in the background)...",
                    serde_plain_name(&app.form.config.data.dataset)
                )
            } else {
                " Tab here (or click) to see the form's dataset".to_string()
            };
            frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())), inner);
            return;
        }
        PreviewView::Failed(e) => {
            let text = vec![
                Line::from(Span::styled(
                    format!(
                        " cannot show {}:",
                        serde_plain_name(&app.form.config.data.dataset)
                    ),
                    Style::default().fg(theme.colors.error),
                )),
                Line::from(Span::styled(format!(" {e}"), theme.base())),
            ];
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), inner);
            return;
        }
    };
    render_preview(frame, inner, app, preview, graphics);
}

fn group_color(app: &App, size: usize) -> Color {
    app.theme().group_color(SizeGroup::of(size))
}

fn render_preview(
    frame: &mut Frame,
    inner: Rect,
    app: &App,
    p: &DataPreview,
    graphics: &mut Graphics,
) {
    let theme = app.theme();
    let background = theme.colors.bg;
    let summary = format!(
        " {}: {} classes, {} training images; nuisance transform {} (built in {:.1} s)",
        serde_plain_name(&p.dataset),
        p.num_classes,
        p.train_total(),
        transform_name(p.transform),
        p.seconds
    );
    let line = |frame: &mut Frame, y: u16, x: u16, w: u16, text: Line| {
        if y < inner.bottom() {
            frame.render_widget(Paragraph::new(text), Rect::new(x, y, w, 1));
        }
    };
    line(
        frame,
        inner.y,
        inner.x,
        inner.width,
        Line::from(Span::styled(summary, theme.dim())),
    );
    let side_by_side = inner.width >= 90;
    let groups = p.largest.len().max(p.smallest.len()).max(1) as u16;
    let headers = if side_by_side { 1 } else { 2 } + 1 + 1;
    let fixed = 1 + headers + PROFILE_H;
    let picture_rows = if side_by_side { groups } else { 2 * groups } + 1;
    // Rows per class: up to 14 (a 28-pixel image at full size), at least 1.
    let mut classes = groups;
    let mut row_h = inner.height.saturating_sub(fixed) / picture_rows.max(1);
    while row_h < 3 && classes > 1 {
        classes -= 1;
        let rows = if side_by_side { classes } else { 2 * classes } + 1;
        row_h = inner.height.saturating_sub(fixed) / rows;
    }
    let column_w_for = if side_by_side {
        inner.width / 2
    } else {
        inner.width
    };
    // At least three images per class fit beside the label (square images, 2 pixels a row).
    let widest = ((column_w_for.saturating_sub(LABEL_W) / 3).saturating_sub(1) / 2).max(1);
    let row_h = row_h.clamp(1, 14).min(widest);
    let mut y = inner.y + 1;
    let column_w = if side_by_side {
        inner.width / 2
    } else {
        inner.width
    };
    let sections = [
        ("largest classes (after the nuisance transform)", &p.largest),
        ("smallest classes", &p.smallest),
    ];
    let mut bottom = y;
    for (k, (title, list)) in sections.iter().enumerate() {
        let (x, top) = if side_by_side {
            (inner.x + k as u16 * column_w, y)
        } else {
            (inner.x, bottom)
        };
        line(
            frame,
            top,
            x,
            column_w,
            Line::from(Span::styled(format!(" {title}"), theme.accent())),
        );
        let mut row_y = top + 1;
        for c in list.iter().take(classes as usize) {
            class_row(
                frame,
                app,
                Rect::new(x, row_y, column_w, row_h),
                c,
                inner,
                graphics,
            );
            row_y += row_h;
        }
        bottom = bottom.max(row_y);
    }
    y = bottom;
    line(
        frame,
        y,
        inner.x,
        inner.width,
        Line::from(Span::styled(
            format!(" {}", variants_caption(p)),
            theme.accent(),
        )),
    );
    class_row(
        frame,
        app,
        Rect::new(inner.x, y + 1, inner.width, row_h),
        &p.variants,
        inner,
        graphics,
    );
    y += 1 + row_h;
    let max = p.sizes_by_rank.first().copied().unwrap_or(0);
    let min = p.sizes_by_rank.last().copied().unwrap_or(0);
    let mut counts = [0usize; 3];
    for &n in &p.sizes_by_rank {
        counts[SizeGroup::of(n).index()] += 1;
    }
    let mut spans = vec![Span::styled(
        format!(" class sizes by rank, log scale: n_max {max} .. n_min {min};"),
        theme.accent(),
    )];
    for g in SizeGroup::ALL {
        spans.push(Span::styled(
            format!(" {} {}", g.name(), counts[g.index()]),
            Style::default().fg(theme.group_color(g)),
        ));
    }
    line(frame, y, inner.x, inner.width, Line::from(spans));
    let profile_area =
        Rect::new(inner.x + 1, y + 1, inner.width.saturating_sub(2), PROFILE_H).intersection(inner);
    if profile_area.height > 0 {
        let bars = profile_picture(
            &p.sizes_by_rank,
            profile_area.width as usize,
            profile_area.height as usize * 2,
        );
        render_picture(
            &bars,
            profile_area,
            frame.buffer_mut(),
            graphics,
            background,
        );
    }
}

/// A class's label, then its images left to right, one column apart.
fn class_row(
    frame: &mut Frame,
    app: &App,
    area: Rect,
    class: &ClassPictures,
    clip: Rect,
    graphics: &mut Graphics,
) {
    let area = area.intersection(clip);
    if area.height == 0 || area.width <= LABEL_W {
        return;
    }
    let theme = app.theme();
    let mut label = vec![Line::from(Span::styled(
        format!(" {}", truncate(&class.name, LABEL_W as usize - 2)),
        theme.base(),
    ))];
    label.push(Line::from(Span::styled(
        format!(" c{} n={}", class.class, class.train_size),
        Style::default().fg(group_color(app, class.train_size)),
    )));
    frame.render_widget(
        Paragraph::new(label),
        Rect::new(area.x, area.y, LABEL_W, area.height),
    );
    let (w, h) = class
        .images
        .first()
        .map(|p| p.fit_size((area.height * 2) as usize * 2, area.height as usize * 2))
        .unwrap_or((0, 0));
    let cell_w = (w as u16).max(1);
    let cell_h = (h as u16).div_ceil(2).max(1);
    let mut x = area.x + LABEL_W;
    for image in &class.images {
        if x + cell_w > area.right() {
            break;
        }
        render_picture(
            image,
            Rect::new(x, area.y, cell_w, cell_h),
            frame.buffer_mut(),
            graphics,
            theme.colors.bg,
        );
        x += cell_w + 1;
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('~');
        t
    }
}
