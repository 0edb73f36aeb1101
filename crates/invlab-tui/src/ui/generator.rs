//! GIT's generator phase of a run: progress with an ETA, the generator's loss curves, and its
//! newest sample grid (real image, then generated variants) drawn with the picture widget.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::app::{App, RunEntry};
use invlab_engine::{GeneratorProgress, Phase};

use super::curves::{chart, Series};
use super::picture::{render_picture, Graphics};
use invlab_core::generator::SampleGrid;
use invlab_core::nuisance_coverage::NuisanceCoverage;
use invlab_core::picture::{grid as grid_picture, GridRow, GridStyle, Picture};

/// Whether the curves pane shows the generator view for this run: during the generator phase,
/// when the generator is all the run has reported so far, or when asked for (`g`) and the run
/// has a generator (live, or read back from its directory).
pub(crate) fn shows_generator(app: &App, run: &RunEntry) -> bool {
    run.phase == Some(Phase::Generator)
        || (run.generator.is_some() && (run.epochs.is_empty() || app.show_generator))
}

/// Whether the generator's samples take the eKLD pane's place: while the run trains its
/// generator, before it has any eKLD to show, when that pane is on screen beside the curves.
pub(crate) fn samples_in_invariance_pane(app: &App, run: &RunEntry, both_on_screen: bool) -> bool {
    both_on_screen
        && !app.compare
        && run.phase == Some(Phase::Generator)
        && run.invariance.is_none()
        && run.generator_samples.is_some()
}

/// Seconds left, from the pace of the iterations trained in this process.
pub(crate) fn eta_seconds(p: &GeneratorProgress) -> Option<f64> {
    let done_here = p.iteration.checked_sub(p.started_at)?;
    if done_here == 0 || p.seconds <= 0.0 || p.from_cache {
        return None;
    }
    Some(p.iterations.saturating_sub(p.iteration) as f64 * p.seconds / done_here as f64)
}

fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// One line: phase, iteration / total, percent, ETA (or that the generator came from the cache).
pub(crate) fn progress_line(p: &GeneratorProgress) -> String {
    let percent = 100.0 * p.iteration as f64 / p.iterations.max(1) as f64;
    let tail = if p.from_cache {
        "loaded from the cache".to_string()
    } else if p.iteration >= p.iterations && p.started_at == 0 && p.seconds > 0.0 {
        format!("trained in {}", clock(p.seconds))
    } else {
        match eta_seconds(p) {
            Some(eta) => format!("ETA {}", clock(eta)),
            None => "ETA --".into(),
        }
    };
    format!(
        "generator: iteration {}/{} ({percent:.0}%)  {tail}",
        p.iteration, p.iterations
    )
}

pub(crate) fn render_generator(
    frame: &mut Frame,
    inner: Rect,
    app: &App,
    run: &RunEntry,
    graphics: &mut Graphics,
    samples_elsewhere: bool,
) {
    let theme = app.theme();
    let coverage = run
        .generator_coverage
        .as_deref()
        .map(|c| coverage_lines(c, inner.width as usize))
        .unwrap_or_default();
    let [head, coverage_area, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(coverage.len() as u16),
        Constraint::Min(0),
    ])
    .areas(inner);
    let text = match &run.generator {
        Some(p) => format!(" GIT {}", progress_line(p)),
        None => " GIT generator: starting...".into(),
    };
    frame.render_widget(Paragraph::new(Span::styled(text, theme.accent())), head);
    let coverage: Vec<Line> = coverage
        .into_iter()
        .enumerate()
        .map(|(k, l)| {
            Line::from(Span::styled(
                l,
                if k == 0 {
                    theme.dim()
                } else {
                    Style::default()
                },
            ))
        })
        .collect();
    frame.render_widget(Paragraph::new(coverage), coverage_area);
    if body.height == 0 {
        return;
    }
    if samples_elsewhere {
        render_losses(frame, body, app, run);
        return;
    }
    // Side by side when wide, else losses above the samples (which get the larger share:
    // a picture needs rows more than a loss chart does).
    let [losses_area, samples_area] = if body.width >= 90 {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
    } else {
        Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(body)
    };
    render_losses(frame, losses_area, app, run);
    match &run.generator_samples {
        Some(grid) => render_samples(frame, samples_area, app, grid, graphics),
        None => {
            // A finished generator without a grid in memory: a run read back from disk whose
            // cache entry predates samples.json; its PNG is still in the run directory.
            let done = run
                .generator
                .as_ref()
                .is_some_and(|p| p.iteration >= p.iterations);
            let text = if done {
                " no sample grid stored for the lab; see generator-samples.png in the run directory"
            } else {
                " samples appear after the first sample interval"
            };
            frame.render_widget(
                Paragraph::new(Span::styled(text, theme.dim())).wrap(Wrap { trim: true }),
                samples_area,
            )
        }
    }
}

/// The coverage diagnostic as a pane of `width` columns shows it: a caption, then one line per
/// end, e.g. `  tail  [14, 21] vs [5, 94]  covers 8%  within-image spread 0.04x  W1 31`, or in
/// a narrow pane `  tail [14, 21] vs [5, 94] 8%, spread 0.04x`.
pub(crate) fn coverage_lines(c: &NuisanceCoverage, width: usize) -> Vec<String> {
    let d = c.measure.decimals();
    let wide = width >= 80;
    let mut lines = vec![if wide {
        format!(
            " coverage of the {}, {} styles per image (generated vs true, 5-95%):",
            c.measure.label(),
            c.styles
        )
    } else {
        format!(" {}: generated vs true 5-95%", c.measure.label())
    }];
    for g in &c.groups {
        let s = g.summary(c.styles);
        if !wide {
            // One decimal fewer for ratios: the line must fit a third of an 80-column screen.
            let t = s.text(d.min(1));
            lines.push(format!(
                "  {} {}-{} vs {}-{} {}%, spread {}x",
                g.end.label(),
                t.generated[0],
                t.generated[1],
                t.truth[0],
                t.truth[1],
                t.covers,
                t.spread,
            ));
            continue;
        }
        let t = s.text(d);
        lines.push(format!(
            "  {:<5} [{}, {}] vs [{}, {}]  covers {}%  within-image spread {}x  W1 {}",
            g.end.label(),
            t.generated[0],
            t.generated[1],
            t.truth[0],
            t.truth[1],
            t.covers,
            t.spread,
            t.wasserstein,
        ));
    }
    lines
}

/// Which of the grid's images to show in `width` x `height` pixels, and how large: images
/// `side` pixels square, 1 pixel apart and from the edge. The labelled grid shrunk into a pane
/// leaves a few pixels per image; this keeps each image at least half its size (28 -> 14
/// pixels, still a readable glyph) and shows as many images as fit at that (the largest side
/// among the layouts that show the most). `None` when not even the real image and one variant
/// fit at half size.
pub(crate) fn compact_layout(
    grid_rows: usize,
    grid_columns: usize,
    size: usize,
    width: usize,
    height: usize,
) -> Option<CompactLayout> {
    (size.div_ceil(2).max(1)..=size)
        .rev()
        .map(|side| CompactLayout {
            rows: grid_rows.min(height.saturating_sub(1) / (side + 1)),
            columns: grid_columns.min(width.saturating_sub(1) / (side + 1)),
            side,
        })
        .filter(|l| l.rows >= 1 && l.columns >= 2)
        // Sides run largest first and `max_by_key` keeps the last maximum: break ties by hand.
        .fold(None, |best: Option<CompactLayout>, l| match best {
            Some(b) if b.rows * b.columns >= l.rows * l.columns => Some(b),
            _ => Some(l),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompactLayout {
    pub rows: usize,
    pub columns: usize,
    pub side: usize,
}

/// The grid's rows in the order a short view shows them: the head class's first image, then
/// the tail classes, then the head class's second image.
fn row_order(rows: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows).filter(|&r| r != 1).collect();
    if rows > 1 {
        order.push(1);
    }
    order
}

/// The images of `layout`, unlabelled, 1 pixel apart, and the labels of the rows shown.
pub(crate) fn compact_picture(
    grid: &SampleGrid,
    layout: CompactLayout,
    background: [u8; 3],
) -> (Picture, Vec<String>) {
    let shown: Vec<usize> = row_order(grid.rows.len())
        .into_iter()
        .take(layout.rows)
        .collect();
    let rows: Vec<GridRow> = shown
        .iter()
        .map(|&r| GridRow {
            label: String::new(),
            cells: grid.rows[r]
                .images
                .iter()
                .take(layout.columns)
                .map(|img| {
                    let p = Picture::from_chw(grid.channels, grid.size, grid.size, img);
                    if layout.side == grid.size {
                        p
                    } else {
                        p.resize(layout.side, layout.side)
                    }
                })
                .collect(),
        })
        .collect();
    let style = GridStyle {
        scale: 1,
        gap: 1,
        background,
        text: background,
    };
    let labels = shown.iter().map(|&r| grid.rows[r].label.clone()).collect();
    (grid_picture(None, &[], &rows, &style), labels)
}

/// The sample grid: in full (labelled) through a graphics protocol; with half-blocks, where
/// a terminal cell is two pixels, the compact view with its row labels as text above it.
pub(crate) fn render_samples(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    grid: &SampleGrid,
    graphics: &mut Graphics,
) {
    let theme = app.theme();
    let columns = grid.rows.first().map_or(0, |r| r.images.len());
    let [caption, picture_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let layout = compact_layout(
        grid.rows.len(),
        columns,
        grid.size,
        picture_area.width as usize,
        picture_area.height as usize * 2,
    );
    match layout {
        Some(layout) if graphics.is_halfblocks() => {
            // The gaps in the pane's own colour, so the images stand apart.
            let background = match theme.colors.bg {
                Color::Rgb(r, g, b) => [r, g, b],
                _ => [0, 0, 0],
            };
            let (picture, labels) = compact_picture(grid, layout, background);
            let text = format!(
                " real, then {} random styles; rows: {}",
                layout.columns.saturating_sub(1),
                labels.join(", ")
            );
            frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())), caption);
            // Drawn at its own size: the layout already sized the images for this area, and
            // stretching them by a fraction of a cell would thicken strokes unevenly.
            let exact = Rect {
                width: (picture.width as u16).min(picture_area.width),
                height: (picture.height.div_ceil(2) as u16).min(picture_area.height),
                ..picture_area
            };
            render_picture(
                &picture,
                exact,
                frame.buffer_mut(),
                graphics,
                theme.colors.bg,
            );
        }
        _ => render_picture(
            &grid.to_picture(),
            area,
            frame.buffer_mut(),
            graphics,
            theme.colors.bg,
        ),
    }
}

fn render_losses(frame: &mut Frame, area: Rect, app: &App, run: &RunEntry) {
    let theme = app.theme();
    let l = &run.generator_losses;
    if l.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                " no generator losses yet",
                theme.dim(),
            ))),
            area,
        );
        return;
    }
    type Pick = fn(&invlab_core::generator::Losses) -> f64;
    let parts: [(&str, Pick); 5] = [
        ("dis", |x| x.dis),
        ("gan", |x| x.gan),
        ("recon x", |x| x.recon_x),
        ("recon s", |x| x.recon_s),
        ("recon c", |x| x.recon_c),
    ];
    let marker = theme.marker();
    let series: Vec<Series> = parts
        .iter()
        .enumerate()
        .map(|(k, (name, pick))| Series {
            name: (*name).into(),
            points: l.iter().map(|x| (x.iteration as f64, pick(x))).collect(),
            style: Style::default().fg(theme.series(k)),
            marker,
        })
        .collect();
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(0.01)
        * 1.05;
    let x_max = run
        .generator
        .as_ref()
        .map(|p| p.iterations as f64)
        .unwrap_or_else(|| l.last().map(|x| x.iteration as f64).unwrap_or(1.0));
    // The legend as one line of names in their colours: the chart's own legend needs a row
    // per loss and hides itself in a short pane.
    let [legend_area, chart_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let mut legend = vec![Span::raw(" ")];
    for s in &series {
        let last = s.points.last().map_or(f64::NAN, |p| p.1);
        legend.push(Span::styled(format!("{} {last:.2}", s.name), s.style));
        legend.push(Span::raw("  "));
    }
    frame.render_widget(Paragraph::new(Line::from(legend)), legend_area);
    frame.render_widget(
        chart(
            app,
            &series,
            x_max,
            [0.0, y_max],
            vec![
                "0".into(),
                format!("{:.2}", y_max / 2.0),
                format!("{y_max:.2}"),
            ],
            "loss",
        )
        .legend_position(None),
        chart_area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(iteration: usize, started_at: usize, seconds: f64) -> GeneratorProgress {
        GeneratorProgress {
            key: "k".into(),
            iteration,
            iterations: 1000,
            losses: None,
            seconds,
            started_at,
            from_cache: false,
            samples: None,
        }
    }

    #[test]
    fn eta_follows_the_pace_since_this_process_started() {
        // 100 iterations in 50 s since resuming at 400: 500 left at 0.5 s each.
        let p = progress(500, 400, 50.0);
        assert_eq!(eta_seconds(&p), Some(250.0));
        assert!(progress_line(&p).contains("500/1000 (50%)  ETA 4:10"));
        assert_eq!(eta_seconds(&progress(400, 400, 0.0)), None);
        let mut cached = progress(1000, 0, 0.0);
        cached.from_cache = true;
        assert!(progress_line(&cached).contains("loaded from the cache"));
    }

    #[test]
    fn coverage_lines_show_each_end_generated_against_true() {
        use invlab_core::nuisance_coverage::{CoverageGroup, NuisanceMeasure, SizeEnd};
        // Two images, 4 styles: generated levels stuck near 10 and 30, true ones 0..90.
        let group = |end, generated: Vec<f64>| CoverageGroup {
            end,
            classes: vec![0, 1],
            class_sizes: vec![100, 90],
            generated,
            truth: vec![0.0, 30.0, 60.0, 90.0, 0.0, 30.0, 60.0, 90.0],
        };
        let coverage = NuisanceCoverage {
            transform: invlab_core::config::TransformKind::Bg,
            measure: NuisanceMeasure::BackgroundLevel,
            styles: 4,
            groups: vec![
                group(
                    SizeEnd::Head,
                    vec![10.0, 10.0, 10.0, 10.0, 30.0, 30.0, 30.0, 30.0],
                ),
                group(
                    SizeEnd::Tail,
                    vec![0.0, 30.0, 60.0, 90.0, 0.0, 30.0, 60.0, 90.0],
                ),
            ],
        };
        let lines = coverage_lines(&coverage, 100);
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].contains("background level, 4 styles per image"),
            "{}",
            lines[0]
        );
        // Head: generated 5-95% of {10 x4, 30 x4} = [10, 30]; true [0, 90] (numpy: 0 and
        // 90 at 0.05 / 0.95 of 8 values: 0 + 0.35 * 0 = 0 and 90); covers 20/90 = 22%.
        assert_eq!(
            lines[1],
            "  head  [10, 30] vs [0, 90]  covers 22%  within-image spread 0.00x  W1 30"
        );
        assert!(
            lines[2].starts_with(
                "  tail  [0, 90] vs [0, 90]  covers 100%  within-image spread 1.00x  W1 0"
            ),
            "{}",
            lines[2]
        );
        // A narrow pane: the same figures, shorter words, within 46 columns.
        let narrow = coverage_lines(&coverage, 46);
        assert_eq!(narrow[1], "  head 10-30 vs 0-90 22%, spread 0.00x");
        // DIL's ratios, the widest figures, fit too.
        let dil = NuisanceCoverage {
            transform: invlab_core::config::TransformKind::Dil,
            measure: NuisanceMeasure::InkAreaRatio,
            styles: 4,
            groups: vec![group(
                SizeEnd::Tail,
                vec![0.09, 4.37, 1.0, 2.0, 0.5, 3.1, 1.1, 2.2],
            )],
        };
        let narrow = coverage_lines(&dil, 46);
        assert!(narrow[1].starts_with("  tail 0.2-3.9 vs "), "{narrow:?}");
        assert!(narrow.iter().all(|l| l.chars().count() <= 46), "{narrow:?}");
        assert!(narrow.iter().all(|l| l.chars().count() <= 46), "{narrow:?}");
    }

    #[test]
    fn the_compact_view_keeps_images_at_least_half_size_and_shows_as_many_as_fit() {
        // 6 rows x 8 columns of 28-pixel images (the built-in grid).
        let layout = |w, h| compact_layout(6, 8, 28, w, h);
        let l = |rows, columns, side| {
            Some(CompactLayout {
                rows,
                columns,
                side,
            })
        };
        // 60 x 24 pixels: one row; three images fit at 14..=18 pixels, the largest wins.
        assert_eq!(layout(60, 24), l(1, 3, 18));
        // 64 x 32 pixels: two rows of four at half size beat one row of three larger ones.
        assert_eq!(layout(64, 32), l(2, 4, 14));
        // Room for the whole grid at full size: all of it, unshrunk.
        assert_eq!(layout(240, 180), l(6, 8, 28));
        // Too narrow for a real image and one variant at half size.
        assert_eq!(layout(20, 40), None);
    }

    #[test]
    fn the_compact_picture_holds_the_chosen_images_in_head_then_tail_order() {
        // Each image a constant: row r, column k has grey 10 * (4 * r + k) + 5.
        let grid = SampleGrid {
            channels: 1,
            size: 4,
            rows: (0..4)
                .map(|r| invlab_core::generator::SampleRow {
                    label: format!("row{r}"),
                    images: (0..3)
                        .map(|k| vec![(10 * (4 * r + k) + 5) as u8; 16])
                        .collect(),
                })
                .collect(),
        };
        let layout = CompactLayout {
            rows: 3,
            columns: 2,
            side: 4,
        };
        let (picture, labels) = compact_picture(&grid, layout, [0, 0, 0]);
        // Rows 0, 2, 3 (the head's second image last); 1-pixel gaps and border.
        assert_eq!(labels, ["row0", "row2", "row3"]);
        assert_eq!((picture.width, picture.height), (1 + 2 * 5, 1 + 3 * 5));
        for (shown, r) in [0usize, 2, 3].into_iter().enumerate() {
            for k in 0..2 {
                let grey = (10 * (4 * r + k) + 5) as u8;
                let (x, y) = (1 + 5 * k, 1 + 5 * shown);
                assert_eq!(picture.rgb(x + 1, y + 2), [grey; 3], "row {r} column {k}");
            }
        }
        assert_eq!(picture.rgb(0, 0), [0, 0, 0]);
        // Halved: 2-pixel images of the same greys.
        let (small, _) = compact_picture(&grid, CompactLayout { side: 2, ..layout }, [0, 0, 0]);
        assert_eq!((small.width, small.height), (1 + 2 * 3, 1 + 3 * 3));
        assert_eq!(small.rgb(1 + 3, 1 + 3), [(10 * 9 + 5) as u8; 3]);
    }
}
