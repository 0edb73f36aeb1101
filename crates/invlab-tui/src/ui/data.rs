//! The data pane: pictures of the form's dataset as it would be trained — the largest and the
//! smallest classes after the nuisance transform, one image under fresh draws of the transform
//! eKLD measures, and the class-size profile (log scale, coloured by size group).

use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::app::{App, PreviewView};
use invlab_core::config::serde_plain_name;
use invlab_core::picture::Picture;
use invlab_core::summary::SizeGroup;
use invlab_engine::data_preview::{
    profile_picture, transform_name, variants_caption, ClassPictures, DataPreview,
};

use super::picture::{render_picture, Graphics};
use super::{line, pane_block, pane_inner, Text, Tint};

/// Columns for a class's label left of its images.
const LABEL_W: u16 = 16;
/// Rows of the class-size profile.
const PROFILE_H: u16 = 3;

/// What the data pane shows, computed from the App and the pane's area.
pub(crate) struct DataView<'a> {
    pub title: String,
    pub body: DataBody<'a>,
}

pub(crate) enum DataBody<'a> {
    /// Nothing to show yet, or why not (wrapped when `wrap`).
    Message {
        lines: Vec<Text>,
        wrap: bool,
    },
    Preview(PreviewLayout<'a>),
}

/// Every piece of the preview at its place.
pub(crate) struct PreviewLayout<'a> {
    /// One-line texts: the summary, section titles, the variants caption, the profile's line.
    pub lines: Vec<(Rect, Text)>,
    pub rows: Vec<ClassRow<'a>>,
    /// The class-size profile (log scale), drawn as a picture.
    pub profile: Option<(Rect, Picture)>,
}

/// A class's label, then its images left to right, one column apart.
pub(crate) struct ClassRow<'a> {
    pub label_area: Rect,
    pub label: Vec<Text>,
    pub images: Vec<(&'a Picture, Rect)>,
}

impl<'a> DataView<'a> {
    /// `pictures`: how pictures are drawn (named in the title).
    pub(crate) fn build(app: &'a App, area: Rect, focused: bool, pictures: &str) -> DataView<'a> {
        let theme = app.theme();
        let view = app.preview_view();
        let updating = matches!(view, PreviewView::Building(Some(_)));
        let title = format!(
            " Data: the form's dataset{} (pictures: {pictures}) ",
            if updating { ", updating..." } else { "" },
        );
        let dataset = serde_plain_name(&app.form.config.data.dataset);
        let body = match view {
            PreviewView::Ready(p) | PreviewView::Building(Some(p)) => {
                DataBody::Preview(preview_layout(app, pane_inner(area), p))
            }
            PreviewView::Building(None) => {
                let text = if focused {
                    format!(" preparing {dataset} and drawing transforms (in the background)...")
                } else {
                    " Tab here (or click) to see the form's dataset".to_string()
                };
                DataBody::Message {
                    lines: vec![vec![(text, Tint::Dim)]],
                    wrap: false,
                }
            }
            PreviewView::Failed(e) => DataBody::Message {
                lines: vec![
                    vec![(
                        format!(" cannot show {dataset}:"),
                        Tint::Fg(theme.colors.error),
                    )],
                    vec![(format!(" {e}"), Tint::Base)],
                ],
                wrap: true,
            },
        };
        DataView { title, body }
    }
}

fn preview_layout<'a>(app: &App, inner: Rect, p: &'a DataPreview) -> PreviewLayout<'a> {
    let theme = app.theme();
    let mut lines = Vec::new();
    let mut line_at = |y: u16, x: u16, w: u16, text: Text| {
        if y < inner.bottom() {
            lines.push((Rect::new(x, y, w, 1), text));
        }
    };
    let summary = format!(
        " {}: {} classes, {} training images; nuisance transform {} (built in {:.1} s)",
        serde_plain_name(&p.dataset),
        p.num_classes,
        p.train_total(),
        transform_name(p.transform),
        p.seconds
    );
    line_at(inner.y, inner.x, inner.width, vec![(summary, Tint::Dim)]);
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
    let column_w = if side_by_side {
        inner.width / 2
    } else {
        inner.width
    };
    // At least three images per class fit beside the label (square images, 2 pixels a row).
    let widest = ((column_w.saturating_sub(LABEL_W) / 3).saturating_sub(1) / 2).max(1);
    let row_h = row_h.clamp(1, 14).min(widest);
    let y = inner.y + 1;
    let sections = [
        ("largest classes (after the nuisance transform)", &p.largest),
        ("smallest classes", &p.smallest),
    ];
    let mut rows = Vec::new();
    let mut bottom = y;
    for (k, (title, list)) in sections.iter().enumerate() {
        let (x, top) = if side_by_side {
            (inner.x + k as u16 * column_w, y)
        } else {
            (inner.x, bottom)
        };
        line_at(top, x, column_w, vec![(format!(" {title}"), Tint::Accent)]);
        let mut row_y = top + 1;
        for c in list.iter().take(classes as usize) {
            rows.extend(class_row(
                app,
                Rect::new(x, row_y, column_w, row_h),
                c,
                inner,
            ));
            row_y += row_h;
        }
        bottom = bottom.max(row_y);
    }
    let mut y = bottom;
    line_at(
        y,
        inner.x,
        inner.width,
        vec![(format!(" {}", variants_caption(p)), Tint::Accent)],
    );
    rows.extend(class_row(
        app,
        Rect::new(inner.x, y + 1, inner.width, row_h),
        &p.variants,
        inner,
    ));
    y += 1 + row_h;
    let max = p.sizes_by_rank.first().copied().unwrap_or(0);
    let min = p.sizes_by_rank.last().copied().unwrap_or(0);
    let mut counts = [0usize; 3];
    for &n in &p.sizes_by_rank {
        counts[SizeGroup::of(n).index()] += 1;
    }
    let mut text = vec![(
        format!(" class sizes by rank, log scale: n_max {max} .. n_min {min};"),
        Tint::Accent,
    )];
    for g in SizeGroup::ALL {
        text.push((
            format!(" {} {}", g.name(), counts[g.index()]),
            Tint::Fg(theme.group_color(g)),
        ));
    }
    line_at(y, inner.x, inner.width, text);
    let profile_area =
        Rect::new(inner.x + 1, y + 1, inner.width.saturating_sub(2), PROFILE_H).intersection(inner);
    let profile = (profile_area.height > 0).then(|| {
        let bars = profile_picture(
            &p.sizes_by_rank,
            profile_area.width as usize,
            profile_area.height as usize * 2,
        );
        (profile_area, bars)
    });
    PreviewLayout {
        lines,
        rows,
        profile,
    }
}

/// A class's label and images in `area` (clipped to `clip`); none where the label alone
/// does not fit.
fn class_row<'a>(
    app: &App,
    area: Rect,
    class: &'a ClassPictures,
    clip: Rect,
) -> Option<ClassRow<'a>> {
    let area = area.intersection(clip);
    if area.height == 0 || area.width <= LABEL_W {
        return None;
    }
    let label = vec![
        vec![(
            format!(" {}", truncate(&class.name, LABEL_W as usize - 2)),
            Tint::Base,
        )],
        vec![(
            format!(" c{} n={}", class.class, class.train_size),
            Tint::Fg(app.theme().group_color(SizeGroup::of(class.train_size))),
        )],
    ];
    let (w, h) = class
        .images
        .first()
        .map(|p| p.fit_size((area.height * 2) as usize * 2, area.height as usize * 2))
        .unwrap_or((0, 0));
    let cell_w = (w as u16).max(1);
    let cell_h = (h as u16).div_ceil(2).max(1);
    let mut images = Vec::new();
    let mut x = area.x + LABEL_W;
    for image in &class.images {
        if x + cell_w > area.right() {
            break;
        }
        images.push((image, Rect::new(x, area.y, cell_w, cell_h)));
        x += cell_w + 1;
    }
    Some(ClassRow {
        label_area: Rect::new(area.x, area.y, LABEL_W, area.height),
        label,
        images,
    })
}

pub(crate) fn render_data(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    focused: bool,
    graphics: &mut Graphics,
) {
    let view = DataView::build(app, area, focused, graphics.name());
    let block = pane_block(app, view.title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let layout = match view.body {
        DataBody::Message { lines, wrap } => {
            let text: Vec<_> = lines.iter().map(|l| line(app, l)).collect();
            let paragraph = Paragraph::new(text);
            let paragraph = if wrap {
                paragraph.wrap(Wrap { trim: false })
            } else {
                paragraph
            };
            frame.render_widget(paragraph, inner);
            return;
        }
        DataBody::Preview(layout) => layout,
    };
    let background = app.theme().colors.bg;
    for (rect, text) in &layout.lines {
        frame.render_widget(Paragraph::new(line(app, text)), *rect);
    }
    for row in &layout.rows {
        let label: Vec<_> = row.label.iter().map(|l| line(app, l)).collect();
        frame.render_widget(Paragraph::new(label), row.label_area);
        for &(image, rect) in &row.images {
            render_picture(image, rect, frame.buffer_mut(), graphics, background);
        }
    }
    if let Some((rect, picture)) = &layout.profile {
        render_picture(picture, *rect, frame.buffer_mut(), graphics, background);
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
