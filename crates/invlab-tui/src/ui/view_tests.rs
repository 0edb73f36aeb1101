//! The panes' view models, checked as data: numbers, labels and places, no buffer drawn.

use ratatui::layout::Rect;

use crate::app::{App, Pane};
use crate::command::Command;
use crate::demo::demo_app;

use super::classes::ClassesView;
use super::curves::{CurvesBody, CurvesView};
use super::data::{DataBody, DataView};
use super::invariance::{bin_means, InvarianceBody, InvarianceView, BINS};
use super::runs::RunsView;
use super::Text;

const PANE: Rect = Rect::new(0, 0, 100, 30);

fn joined(text: &Text) -> String {
    text.iter().map(|(t, _)| t.as_str()).collect()
}

fn finished_run_selected() -> App {
    let mut app = demo_app(20);
    app.selected = 0;
    app
}

#[test]
fn invariance_plots_the_selected_runs_classes_on_a_log_axis() {
    let app = finished_run_selected();
    let view = InvarianceView::build(&app, PANE, false, false);
    assert!(view.title.contains("Spearman"), "{}", view.title);
    let InvarianceBody::Plot(p) = view.body else {
        panic!("a plot")
    };
    let run = &app.runs[0];
    let sizes = run.train_sizes().unwrap();
    let ekld = &run.invariance.as_ref().unwrap().ekld;
    // One series per size group; together they hold every class with a finite value.
    let names: Vec<&str> = p.series.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.iter().all(|n| ["many", "medium", "few"].contains(n)),
        "{names:?}"
    );
    let finite = ekld.iter().filter(|v| v.is_finite()).count();
    assert_eq!(
        p.series.iter().map(|s| s.points.len()).sum::<usize>(),
        finite
    );
    // The x axis spans whole decades around the sizes, labelled as powers of ten.
    let (lo, hi) = (
        (*sizes.iter().min().unwrap() as f64).log10(),
        (*sizes.iter().max().unwrap() as f64).log10(),
    );
    assert_eq!(p.x_bounds, [lo.floor(), hi.ceil().max(lo.floor() + 1.0)]);
    assert_eq!(
        p.x_labels.len(),
        (p.x_bounds[1] - p.x_bounds[0]) as usize + 1
    );
    let decades: Vec<String> = (p.x_bounds[0] as i32..=p.x_bounds[1] as i32)
        .map(super::pow10_label)
        .collect();
    assert_eq!(p.x_labels, decades);
    assert_eq!(p.x_labels.last().map(String::as_str), Some("10k"));
    // The y axis: 10 % above the largest eKLD.
    let top = ekld
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    assert!((p.y_max - (top * 1.1).max(0.1)).abs() < 1e-12);
    assert_eq!(p.y_labels[2], format!("{:.2}", p.y_max));
    // No cursor unless focused; a hint instead.
    assert!(p.cursor_line.is_empty());
    assert!(joined(&p.info).contains("Left/Right"));
    // The histogram: one group per used bin, bars at the bin means scaled by 1000.
    let pts: Vec<(usize, f64)> = sizes.iter().copied().zip(ekld.iter().copied()).collect();
    let means = bin_means(&pts);
    let used: Vec<&str> = BINS
        .iter()
        .zip(&means)
        .filter(|(_, m)| m.is_some())
        .map(|(b, _)| b.1)
        .collect();
    let labels: Vec<&str> = p.groups.iter().map(|g| g.0).collect();
    assert_eq!(labels, used);
    for (label, bars) in &p.groups {
        let b = BINS.iter().position(|x| x.1 == *label).unwrap();
        assert_eq!(bars.len(), 1);
        assert_eq!(bars[0].value, (means[b].unwrap() * 1000.0).round() as u64);
    }
    assert_eq!(p.bar_max, (p.y_max * 1000.0) as u64);
}

#[test]
fn invariance_cursor_and_empty_states() {
    let mut app = finished_run_selected();
    app.focus = Pane::Invariance;
    let view = InvarianceView::build(&app, PANE, true, false);
    let InvarianceBody::Plot(p) = view.body else {
        panic!("a plot")
    };
    assert_eq!(
        p.cursor_line.len(),
        2,
        "a vertical line at the largest class"
    );
    assert_eq!(p.cursor_line[1].1, p.y_max);
    assert!(joined(&p.info).contains("#1/49"), "{:?}", joined(&p.info));
    // A queued run has nothing to plot and says so.
    app.selected = 2;
    let view = InvarianceView::build(&app, PANE, true, false);
    assert!(matches!(view.body, InvarianceBody::Message(m) if m.contains("no eKLD")));
}

#[test]
fn curves_of_a_live_run_and_of_compared_runs() {
    let mut app = demo_app(20);
    let view = CurvesView::build(&app, PANE);
    assert_eq!(view.title, " Curves: k49rot-drs ");
    let CurvesBody::Charts(c) = view.body else {
        panic!("charts")
    };
    let names = |s: &[super::curves::Series]| s.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&c.acc), ["test acc", "balanced"]);
    assert_eq!(names(&c.loss), ["batch", "train loss"]);
    assert_eq!(c.x_max, 50.0, "the run's planned epochs");
    assert_eq!(c.acc[0].points.len(), 20);
    let top = c
        .loss
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    assert!((c.loss_max - top.max(0.1) * 1.05).abs() < 1e-12);
    assert!(joined(&c.stats).starts_with(" ep 20/50  balanced "));
    // Compare: one series per marked run, named by run.
    app.apply(Command::SelectRun(0));
    app.apply(Command::ToggleMark);
    app.apply(Command::SelectRun(1));
    app.apply(Command::ToggleMark);
    app.apply(Command::Compare);
    let view = CurvesView::build(&app, PANE);
    let CurvesBody::Charts(c) = view.body else {
        panic!("charts")
    };
    assert_eq!(names(&c.acc), ["k49rot-erm", "k49rot-drs"]);
    assert!(joined(&c.stats).contains("k49rot-erm"));
    // The queued run: nothing yet.
    let mut app = demo_app(20);
    app.selected = 2;
    let view = CurvesView::build(&app, PANE);
    assert!(matches!(view.body, CurvesBody::Message(m) if m.contains("no epochs yet")));
}

#[test]
fn classes_are_ordered_by_size_and_pooled_when_columns_run_out() {
    let app = finished_run_selected();
    let view = ClassesView::build(&app, PANE);
    let b = view.bars.expect("per-class accuracy");
    let acc = app.runs[0].per_class_accuracy().unwrap();
    // 98 columns inside the border, 5 for the y axis: 49 classes get one column each.
    assert_eq!(b.plot_area.width, 93);
    assert_eq!(b.columns.len(), 49);
    assert_eq!((b.width, b.gap), (1, 0));
    assert_eq!(
        b.columns.first().unwrap().1,
        invlab_core::summary::SizeGroup::Many
    );
    assert_eq!(
        b.columns.last().unwrap().1,
        invlab_core::summary::SizeGroup::Few
    );
    let balanced = acc.iter().sum::<f64>() / acc.len() as f64;
    assert!(joined(&b.header).ends_with(&format!("balanced {:.1}%", balanced * 100.0)));
    assert_eq!(b.y_labels.first(), Some(&"100%"));
    assert_eq!(b.y_labels.last(), Some(&"  0%"));
    let strip = joined(&b.strip);
    assert!(strip.starts_with("     |many"), "{strip}");
    assert!(strip.contains("|few"), "{strip}");
    assert!(b.note.starts_with(" 49 classes; sizes "), "{}", b.note);
    // A narrow pane pools neighbouring classes.
    let b = ClassesView::build(&app, Rect::new(0, 0, 30, 20))
        .bars
        .unwrap();
    assert_eq!(b.plot_area.width, 23);
    assert_eq!(b.columns.len(), 49usize.div_ceil(3));
    assert!(b.note.contains("3 per column"), "{}", b.note);
}

#[test]
fn runs_view_lists_visible_rows_with_the_selection() {
    let app = demo_app(20);
    let view = RunsView::build(&app, PANE);
    assert_eq!(
        view.title,
        " Runs (3, 1 queued, 1 at once; m mark, c compare) "
    );
    let t = view.table.expect("a table");
    assert!(t.wide);
    assert_eq!(t.header.len(), 8);
    let cell = |r: usize, c: usize| t.rows[r].cells[c].0.clone();
    assert_eq!(t.rows.len(), 3);
    assert_eq!(cell(0, 1), "k49rot-erm");
    assert_eq!(cell(0, 2), "done");
    assert_eq!(
        cell(1, 3),
        "20/50  50%",
        "epochs done, then the batch's share"
    );
    assert_eq!(cell(2, 2), "queued");
    assert_eq!(cell(2, 5), "-", "no accuracy before the first epoch");
    assert!(t.rows[1].selected && !t.rows[0].selected);
    // A short pane scrolls so the selected run stays visible.
    let mut app = demo_app(20);
    app.selected = 2;
    let t = RunsView::build(&app, Rect::new(0, 0, 60, 5)).table.unwrap();
    assert!(!t.wide);
    assert_eq!(t.rows.len(), 2);
    assert_eq!(t.geometry.offset, 1);
    assert!(t.rows[1].selected);
}

#[test]
fn data_view_places_sections_rows_and_the_profile() {
    let mut app = demo_app(20);
    app.apply(Command::Focus(Pane::Data));
    let view = DataView::build(&app, PANE, true, "half-blocks");
    assert!(view.title.contains("(pictures: half-blocks)"));
    assert!(
        matches!(&view.body, DataBody::Message { lines, wrap: false }
        if joined(&lines[0]).contains("preparing glyphs"))
    );
    super::tests::with_preview(&mut app);
    let area = Rect::new(0, 0, 120, 40);
    let view = DataView::build(&app, area, true, "half-blocks");
    let DataBody::Preview(p) = view.body else {
        panic!("a preview")
    };
    let texts: Vec<String> = p.lines.iter().map(|(_, t)| joined(t)).collect();
    assert!(texts[0].starts_with(" glyphs: 49 classes"), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("largest classes")));
    assert!(texts.iter().any(|t| t.contains("class sizes by rank")));
    // Side by side at this width: the two sections start on the same row.
    let titles: Vec<Rect> = p
        .lines
        .iter()
        .filter(|(_, t)| {
            let t = joined(t);
            t.contains("largest classes") || t.contains("smallest classes")
        })
        .map(|(r, _)| *r)
        .collect();
    assert_eq!(titles.len(), 2);
    assert_eq!(titles[0].y, titles[1].y);
    assert_eq!(titles[1].x, 1 + 118 / 2);
    // Every class row's images sit right of its label, inside the pane.
    assert!(!p.rows.is_empty());
    for row in &p.rows {
        for &(_, r) in &row.images {
            assert!(r.x >= row.label_area.right() && r.right() <= 119);
        }
    }
    let (profile, picture) = p.profile.as_ref().expect("room for the profile");
    assert_eq!(picture.width, profile.width as usize);
    assert_eq!(picture.height, profile.height as usize * 2);
}

/// Decade labels sit under the columns their sizes plot at: on an axis from 1 to 10k, "10" and
/// "1k" centre at 25 % and 75 % of the plot's width (ratatui's own placement put them at 30 %
/// and 70 %), "1" starts at the plot's left and "10k" ends at the area's right.
#[test]
fn decade_labels_sit_under_their_decades() {
    let labels: Vec<String> = ["1", "10", "100", "1k", "10k"].map(String::from).to_vec();
    let y_labels: Vec<String> = ["0", "0.97", "1.94"].map(String::from).to_vec();
    let area = Rect::new(1, 0, 78, 10);
    let placed = super::invariance::x_label_starts(area, &y_labels, &labels);
    // The plot starts after the y labels (4 wide) and the axis line: column 6, 73 wide.
    let (left, width) = (6.0, 73.0);
    let centre = |(start, text): (u16, &str)| start as f64 + (text.len() as f64 - 1.0) / 2.0;
    let share = |p| (centre(p) - left) / (width - 1.0);
    assert_eq!(placed.len(), 5, "{placed:?}");
    assert_eq!(placed[0], (6, "1"));
    assert!((share(placed[1]) - 0.25).abs() < 0.02, "{placed:?}");
    assert!((share(placed[2]) - 0.50).abs() < 0.02, "{placed:?}");
    assert!((share(placed[3]) - 0.75).abs() < 0.02, "{placed:?}");
    assert_eq!(placed[4], (76, "10k"));
    // Too narrow for all: none overlaps, and the axis's end keeps its name.
    let tight = super::invariance::x_label_starts(Rect::new(0, 0, 16, 10), &y_labels, &labels);
    for pair in tight.windows(2) {
        assert!(
            pair[0].0 as usize + pair[0].1.len() < pair[1].0 as usize,
            "{tight:?}"
        );
    }
    assert_eq!(tight.last().map(|p| p.1), Some("10k"));
}

/// The largest classes plot at eKLD ~ 0 in the plot's bottom-right corner, and nothing is
/// written over them there (an x-axis title once was). Unfocused, so no cursor covers them.
#[test]
fn the_bottom_right_corner_of_the_scatter_shows_its_points() {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    let app = demo_app(20);
    assert_ne!(app.focus, Pane::Invariance);
    let mut t = Terminal::new(TestBackend::new(200, 50)).unwrap();
    t.draw(|f| super::draw(f, &app)).unwrap();
    let screen = crate::layout::layout(Rect::new(0, 0, 200, 50), app.focus);
    let pane = screen
        .panes
        .iter()
        .find(|(p, _)| *p == Pane::Invariance)
        .unwrap()
        .1;
    let view = InvarianceView::build(&app, pane, false, false);
    let InvarianceBody::Plot(p) = view.body else {
        panic!("a plot")
    };
    assert!(p.cursor_point.is_empty());
    // The largest class: in the rightmost tenth of the axis, at the bottom.
    let largest = p
        .series
        .iter()
        .flat_map(|s| &s.points)
        .fold((f64::MIN, 0.0), |a, &b| if b.0 > a.0 { b } else { a });
    let share = (largest.0 - p.x_bounds[0]) / (p.x_bounds[1] - p.x_bounds[0]);
    assert!(share > 0.9 && largest.1 < 0.1 * p.y_max, "{largest:?}");
    // Its cell, found as the chart lays the plot out (after the y labels and the axis line):
    // a mark, not text and not blank.
    let area = p.scatter_area;
    let widest = p.y_labels.iter().map(|l| l.len()).max().unwrap() as u16;
    let left = area.left() + widest.min(area.width / 3) + 1;
    let width = area.right() - left;
    let column = left + (share * f64::from(width - 1)).floor() as u16;
    let bottom = area.bottom() - 3; // above the label row and the axis line
    let around: String = (column.saturating_sub(1)..=(column + 1).min(area.right() - 1))
        .map(|x| t.backend().buffer()[(x, bottom)].symbol().to_string())
        .collect();
    assert!(
        around.chars().any(|c| !c.is_whitespace()) && !around.chars().any(char::is_alphanumeric),
        "{around:?} at column {column}, row {bottom}"
    );
}

#[test]
fn the_system_view_names_each_reading_or_says_why_there_is_none() {
    use super::system::{SystemLine, SystemView};
    use crate::sampler::{HostSample, NvidiaSample, SystemSample};
    let mut app = demo_app(20);
    app.system = None;
    app.utilization.clear();
    assert_eq!(SystemView::build(&app).lines, [SystemLine::Sampling]);
    let host = HostSample {
        cpu_percent: 37.4,
        cores: 2,
        process_memory: 3 << 29,
        total_memory: 24 << 30,
    };
    app.system = Some(SystemSample {
        gpus: Vec::new(),
        no_gpu_reason: Some("NVML: driver not loaded".into()),
        host: host.clone(),
    });
    app.utilization.extend([10, 90]);
    let view = SystemView::build(&app);
    assert_eq!(
        view.lines,
        [SystemLine::NoGpu {
            cpu: "37% of 2 cores".into(),
            memory: "1.5/24.0 GiB".into(),
            reason: "NVML: driver not loaded".into(),
        }]
    );
    assert_eq!(
        (view.spark_label, view.utilization),
        (" CPU util", vec![10, 90])
    );
    // A GPU seen through MIG (no utilisation), power without a limit, NVML's index 3 as
    // this process's cuda:1.
    app.system = Some(SystemSample {
        gpus: vec![NvidiaSample {
            index: 3,
            cuda: Some(1),
            uuid: None,
            processes: Vec::new(),
            name: "NVIDIA H200".into(),
            utilization: None,
            memory_used: Some(1 << 30),
            memory_total: Some(4 << 30),
            temperature: None,
            power_mw: Some(250_400),
            power_limit_mw: None,
        }],
        no_gpu_reason: None,
        host,
    });
    let view = SystemView::build(&app);
    let SystemLine::Gpu {
        label,
        utilization,
        memory,
        temperature,
        power,
        ..
    } = &view.lines[0]
    else {
        panic!("{:?}", view.lines)
    };
    assert_eq!(label, " cuda:1 (GPU3) ");
    assert_eq!(utilization, "n/a (MIG?)");
    assert_eq!(memory, "1.0/4.0 GiB");
    assert_eq!(temperature, "n/a");
    assert_eq!(power, "250 W");
    assert_eq!(view.spark_label, " GPU util");
}
