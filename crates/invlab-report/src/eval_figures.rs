//! Figures for `invlab eval` (the re-evaluation of a run's checkpoint), drawn from its plain
//! record (`invlab_core::evaluation`): the confusion matrix as a heat map with the classes
//! ordered by training size, and the reliability diagram of the raw and the logit-adjusted
//! model. Same SVG style and PNG path as the run figures (`header`, `Frame`, `legend`,
//! `write_figure`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use invlab_core::evaluation::{Confusion, Corrected, EvalRecord};

use crate::{
    header, legend, write_figure, y_ticks, Frame, ReportError, BOTTOM, H, LEFT, PALETTE, TOP,
};

/// The colour of a share of 1 on the heat map's ramp (a share of 0 is white).
const DARK: [u8; 3] = [0x08, 0x30, 0x6b];
/// A true class with no test image: its row has no shares to show.
const EMPTY_ROW: &str = "#bdbdbd";
/// At most this many classes are labelled on each axis of the confusion matrix.
const MAX_TICKS: usize = 6;

/// `share` (clamped to 0..1) on the linear ramp from white to dark blue, as `#rrggbb`.
pub(crate) fn ramp(share: f64) -> String {
    let s = if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |dark: u8| (255.0 + s * (dark as f64 - 255.0)).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(DARK[0]),
        mix(DARK[1]),
        mix(DARK[2])
    )
}

/// The class indices `0..classes` ordered by training size, largest first; equal sizes keep
/// index order. A class `train_sizes` does not cover counts as size 0.
pub(crate) fn by_training_size(train_sizes: &[usize], classes: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..classes).collect();
    order.sort_by_key(|&c| std::cmp::Reverse(train_sizes.get(c).copied().unwrap_or(0)));
    order
}

/// The display positions (of `n`) that get a label: all of them up to `MAX_TICKS`, else
/// `MAX_TICKS` spread evenly from the first to the last.
fn tick_positions(n: usize) -> Vec<usize> {
    if n <= MAX_TICKS {
        return (0..n).collect();
    }
    let steps = MAX_TICKS - 1;
    let mut positions: Vec<usize> = (0..MAX_TICKS)
        .map(|i| (2 * i * (n - 1) + steps) / (2 * steps))
        .collect();
    positions.dedup();
    positions
}

/// The confusion matrix as a heat map: rows the true class, columns the predicted class, both
/// ordered by training size (largest first), each row divided by its total, so a cell is the
/// share of that true class predicted as that column and tail classes predicted as head
/// classes show as a band in the lower left. A true class with no test image is a grey row.
/// Cells carry `data-true` / `data-pred` (class indices) and `data-share`.
pub fn confusion_svg(record: &EvalRecord, confusion: &Confusion) -> String {
    let k = confusion.classes;
    let order = by_training_size(&record.train_sizes, k);
    let count = |t: usize, p: usize| confusion.counts.get(t * k + p).copied().unwrap_or(0);
    let size = |c: usize| record.train_sizes.get(c).copied().unwrap_or(0);
    // A square matrix as tall as the other figures' plot area.
    let side = H - TOP - BOTTOM;
    let cell = side / k.max(1) as f64;
    let (l, t, r, b) = (LEFT, TOP, LEFT + side, TOP + side);
    let mut out = header(&format!(
        "Confusion (row-normalised), epoch {} of {}",
        record.checkpoint_epoch, record.total_epochs
    ));
    out.push_str("<g shape-rendering=\"crispEdges\">\n");
    let mut any_empty = false;
    for (row, &truth) in order.iter().enumerate() {
        let y = t + row as f64 * cell;
        let total: u64 = (0..k).map(|p| count(truth, p)).sum();
        if total == 0 {
            any_empty = true;
            let _ = writeln!(
                out,
                "<rect data-true=\"{truth}\" data-empty=\"true\" x=\"{l:.2}\" y=\"{y:.2}\" width=\"{side:.2}\" height=\"{cell:.2}\" fill=\"{EMPTY_ROW}\"/>"
            );
            continue;
        }
        for (col, &pred) in order.iter().enumerate() {
            let n = count(truth, pred);
            if n == 0 {
                continue;
            }
            let share = n as f64 / total as f64;
            let _ = writeln!(
                out,
                "<rect data-true=\"{truth}\" data-pred=\"{pred}\" data-share=\"{share:.4}\" x=\"{:.2}\" y=\"{y:.2}\" width=\"{cell:.2}\" height=\"{cell:.2}\" fill=\"{}\"/>",
                l + col as f64 * cell,
                ramp(share)
            );
        }
    }
    out.push_str("</g>\n");
    let _ = writeln!(
        out,
        "<rect x=\"{l}\" y=\"{t}\" width=\"{side}\" height=\"{side}\" fill=\"none\" stroke=\"#444\"/>"
    );
    // A few classes labelled by their training size, on both axes.
    for pos in tick_positions(k) {
        let label = format!("n={}", size(order[pos]));
        let centre = (pos as f64 + 0.5) * cell;
        let (y, x) = (t + centre, l + centre);
        let _ = writeln!(
            out,
            "<line x1=\"{}\" y1=\"{y:.2}\" x2=\"{l}\" y2=\"{y:.2}\" stroke=\"#444\"/>",
            l - 4.0
        );
        let _ = writeln!(
            out,
            "<text class=\"tick-true\" x=\"{}\" y=\"{:.2}\" text-anchor=\"end\" font-size=\"10\">{label}</text>",
            l - 6.0,
            y + 3.5
        );
        let _ = writeln!(
            out,
            "<line x1=\"{x:.2}\" y1=\"{b}\" x2=\"{x:.2}\" y2=\"{}\" stroke=\"#444\"/>",
            b + 4.0
        );
        let _ = writeln!(
            out,
            "<text class=\"tick-pred\" x=\"{x:.2}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{label}</text>",
            b + 16.0
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">predicted class</text>",
        (l + r) / 2.0,
        H - 12.0
    );
    let _ = writeln!(
        out,
        "<text transform=\"translate(18 {}) rotate(-90)\" text-anchor=\"middle\">true class (by training size, largest first)</text>",
        (t + b) / 2.0
    );
    // The colour bar, 0 at the foot to 1 at the top.
    let bar = r + 30.0;
    let _ = writeln!(
        out,
        "<defs><linearGradient id=\"ramp\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\"><stop offset=\"0\" stop-color=\"{}\"/><stop offset=\"1\" stop-color=\"{}\"/></linearGradient></defs>",
        ramp(0.0),
        ramp(1.0)
    );
    let _ = writeln!(
        out,
        "<rect x=\"{bar}\" y=\"{t}\" width=\"16\" height=\"{side}\" fill=\"url(#ramp)\" stroke=\"#444\"/>"
    );
    for (v, label) in [(0.0, "0"), (0.5, "0.5"), (1.0, "1")] {
        let y = b - v * side;
        let _ = writeln!(
            out,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#444\"/><text x=\"{}\" y=\"{}\" font-size=\"10\">{label}</text>",
            bar + 16.0,
            bar + 20.0,
            bar + 23.0,
            y + 3.5
        );
    }
    let _ = writeln!(
        out,
        "<text transform=\"translate({} {}) rotate(-90)\" text-anchor=\"middle\" font-size=\"11\">share of the true class</text>",
        bar + 52.0,
        (t + b) / 2.0
    );
    // How to read it, and what grey means.
    let note = bar + 70.0;
    for (i, line) in [
        "below the diagonal:",
        "predicted as a class",
        "with more training images",
    ]
    .iter()
    .enumerate()
    {
        let _ = writeln!(
            out,
            "<text x=\"{note}\" y=\"{}\" font-size=\"11\">{line}</text>",
            t + 10.0 + 14.0 * i as f64
        );
    }
    if any_empty {
        let y = t + 62.0;
        let _ = writeln!(
            out,
            "<rect x=\"{note}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{EMPTY_ROW}\"/><text x=\"{}\" y=\"{y}\" font-size=\"11\">no test images</text>",
            y - 10.0,
            note + 18.0
        );
    }
    out.push_str("</svg>\n");
    out
}

/// The logit adjustment whose tau is closest to 1 (the first of equals).
pub(crate) fn closest_to_one(corrections: &[Corrected]) -> Option<&Corrected> {
    corrections
        .iter()
        .filter(|c| c.tau.is_finite())
        .min_by(|a, b| (a.tau - 1.0).abs().total_cmp(&(b.tau - 1.0).abs()))
}

/// The reliability diagram: per confidence bin holding images, a bar as tall as the bin's
/// accuracy, the gap to its mean confidence shaded, the diagonal (perfect calibration)
/// dashed; over it, as a line with markers, the logit-adjusted model at the tau closest to 1
/// when the record has one. The title gives the ECEs.
pub fn reliability_svg(record: &EvalRecord) -> String {
    let frame = Frame {
        x0: 0.0,
        x1: 1.0,
        y0: 0.0,
        y1: 1.0,
    };
    let adjusted = closest_to_one(&record.logit_adjusted);
    let title = match adjusted {
        Some(c) => format!(
            "Reliability: ECE {:.3} (raw), {:.3} (logit-adjusted, τ = {})",
            record.raw.ece, c.scores.ece, c.tau
        ),
        None => format!("Reliability: ECE {:.3} (raw)", record.raw.ece),
    };
    let mut out = header(&title);
    frame.axes(
        &mut out,
        &y_ticks(0.0, 1.0),
        "accuracy",
        "confidence (top-1 probability)",
    );
    let _ = writeln!(
        out,
        "<line x1=\"{:.2}\" y1=\"{:.2}\" x2=\"{:.2}\" y2=\"{:.2}\" stroke=\"#444\" stroke-dasharray=\"5 4\"/>",
        frame.x(0.0),
        frame.y(0.0),
        frame.x(1.0),
        frame.y(1.0)
    );
    let unit = |v: f64| {
        if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    for bin in record.raw.reliability.iter().filter(|b| b.images > 0) {
        let (x0, x1) = (frame.x(unit(bin.lo)), frame.x(unit(bin.hi)));
        let (accuracy, confidence) = (unit(bin.accuracy), unit(bin.confidence));
        let _ = writeln!(
            out,
            "<rect class=\"bar\" x=\"{x0:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\" fill-opacity=\"0.8\" stroke=\"white\"/>",
            frame.y(accuracy),
            x1 - x0,
            frame.y(0.0) - frame.y(accuracy),
            PALETTE[0]
        );
        let gap = (frame.y(accuracy) - frame.y(confidence)).abs();
        if gap > 0.0 {
            let _ = writeln!(
                out,
                "<rect class=\"gap\" x=\"{x0:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{gap:.2}\" fill=\"{}\" fill-opacity=\"0.25\" stroke=\"{}\"/>",
                frame.y(accuracy.max(confidence)),
                x1 - x0,
                PALETTE[1],
                PALETTE[1]
            );
        }
    }
    let mut labels = vec!["raw accuracy".to_string(), "gap to confidence".to_string()];
    if let Some(c) = adjusted {
        let color = PALETTE[2];
        let points: Vec<(f64, f64)> = c
            .scores
            .reliability
            .iter()
            .filter(|b| b.images > 0)
            .map(|b| (frame.x(unit(b.confidence)), frame.y(unit(b.accuracy))))
            .collect();
        if points.len() > 1 {
            let path: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.2},{y:.2}"))
                .collect();
            let _ = writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
                path.join(" ")
            );
        }
        for (x, y) in points {
            let _ = writeln!(
                out,
                "<circle class=\"adjusted\" cx=\"{x:.2}\" cy=\"{y:.2}\" r=\"3.5\" fill=\"{color}\"/>"
            );
        }
        labels.push(format!("logit-adj. τ = {}", c.tau));
    }
    legend(&mut out, &labels);
    // The diagonal's row, after the coloured ones.
    let x = crate::W - crate::RIGHT + 15.0;
    let y = TOP + 10.0 + 18.0 * labels.len() as f64;
    let _ = writeln!(
        out,
        "<line x1=\"{x}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#444\" stroke-dasharray=\"5 4\"/><text x=\"{}\" y=\"{y}\">calibrated</text>",
        y - 4.0,
        x + 12.0,
        y - 4.0,
        x + 18.0
    );
    out.push_str("</svg>\n");
    out
}

/// Writes `confusion` and `reliability` (SVG and PNG) into `dir` (created); returns the four
/// files.
pub fn write_eval_figures(
    dir: &Path,
    record: &EvalRecord,
    confusion: &Confusion,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::with_capacity(4);
    written.extend(write_figure(
        dir,
        "confusion",
        &confusion_svg(record, confusion),
    )?);
    written.extend(write_figure(dir, "reliability", &reliability_svg(record))?);
    if let Some(coverage) = &record.generator_coverage {
        written.extend(write_figure(
            dir,
            "generator-coverage",
            &crate::coverage_figures::coverage_svg(coverage),
        )?);
    }
    Ok(written)
}

/// Completes the eval folder the engine began: the figures, then `eval.json` last (its
/// presence marks a complete folder). Both front ends finish an evaluation with this.
pub fn finish_eval_folder(
    dir: &Path,
    record: &EvalRecord,
    confusion: &Confusion,
) -> Result<(), ReportError> {
    write_eval_figures(dir, record, confusion)?;
    invlab_core::evaluation::finish(dir, record).map_err(|source| ReportError::Write {
        path: dir.join(invlab_core::evaluation::RECORD_FILE),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PNG_SCALE, RIGHT, W};
    use invlab_core::config::EvalConfig;
    use invlab_core::evaluation::{score, Logits, Scores};

    /// The value of ` name="…"` in one element's text.
    fn attr<'a>(element: &'a str, name: &str) -> &'a str {
        let key = format!(" {name}=\"");
        let start = element
            .find(&key)
            .unwrap_or_else(|| panic!("no {name} in {element}"))
            + key.len();
        let len = element[start..].find('"').unwrap();
        &element[start..start + len]
    }

    fn num(element: &str, name: &str) -> f64 {
        attr(element, name).parse().unwrap()
    }

    /// The lines (one element each) holding `marker`.
    fn elements<'a>(svg: &'a str, marker: &str) -> Vec<&'a str> {
        svg.lines().filter(|l| l.contains(marker)).collect()
    }

    fn text_of(element: &str) -> &str {
        let start = element.find('>').unwrap() + 1;
        let end = element.find("</text>").unwrap();
        &element[start..end]
    }

    /// Sum of the channels of `#rrggbb`: lower is darker.
    fn lightness(fill: &str) -> u32 {
        (0..3)
            .map(|i| u32::from_str_radix(&fill[1 + 2 * i..3 + 2 * i], 16).unwrap())
            .sum()
    }

    /// Confidence `p` on the top class of three: logits `[ln(2p / (1 - p)), 0, 0]`, rotated so
    /// the top is `predicted`.
    fn image(predicted: usize, p: f64) -> [f32; 3] {
        let mut row = [0.0f32; 3];
        row[predicted] = (2.0 * p / (1.0 - p)).ln() as f32;
        row
    }

    /// Scores of images given as (predicted, confidence, truth), three classes.
    fn scores(images: &[(usize, f64, i64)]) -> Scores {
        let values: Vec<f32> = images.iter().flat_map(|&(p, c, _)| image(p, c)).collect();
        let labels: Vec<i64> = images.iter().map(|i| i.2).collect();
        score(
            Logits {
                values: &values,
                classes: 3,
            },
            &labels,
            &[100, 10, 1],
        )
        .0
    }

    fn record(train_sizes: Vec<usize>, raw: Scores, logit_adjusted: Vec<Corrected>) -> EvalRecord {
        let k = train_sizes.len();
        EvalRecord {
            name: "checkpoint".into(),
            run_id: "run".into(),
            checkpoint_epoch: 7,
            total_epochs: 10,
            overrides: Vec::new(),
            eval: EvalConfig::default(),
            device: "cpu".into(),
            invlab_version: "test".into(),
            libtorch_version: "none".into(),
            created: 0,
            seconds: 0.0,
            test_images: 0,
            class_names: (0..k).map(|c| format!("c{c}")).collect(),
            train_sizes,
            test_sizes: vec![0; k],
            raw,
            logit_adjusted,
            tau_normalized: Vec::new(),
            tau_normalized_note: None,
            posthoc_note: None,
            matches_run: Some(true),
            invariance: None,
            generator_coverage: None,
            generator_coverage_note: None,
        }
    }

    /// Four classes of training sizes 5, 500, 50, 20 (by size: 1, 2, 3, 0). Class 1 is always
    /// right (8 images); class 0 (the smallest) is always predicted as class 1; class 2 is
    /// right 3 times of 4 and once predicted as class 1; class 3 has no test image.
    fn long_tail_confusion() -> (EvalRecord, Confusion) {
        let mut values = Vec::new();
        let mut labels = Vec::new();
        let mut add = |truth: i64, predicted: usize, times: usize| {
            for _ in 0..times {
                let mut row = [0.0f32; 4];
                row[predicted] = 5.0;
                values.extend(row);
                labels.push(truth);
            }
        };
        add(1, 1, 8);
        add(0, 1, 3);
        add(2, 2, 3);
        add(2, 1, 1);
        let sizes = vec![5, 500, 50, 20];
        let (raw, confusion) = score(
            Logits {
                values: &values,
                classes: 4,
            },
            &labels,
            &sizes,
        );
        assert_eq!(
            (
                confusion.get(1, 1),
                confusion.get(0, 1),
                confusion.get(2, 1)
            ),
            (8, 3, 1)
        );
        (record(sizes, raw, Vec::new()), confusion)
    }

    #[test]
    fn the_ramp_runs_from_white_to_dark_blue() {
        assert_eq!(ramp(0.0), "#ffffff");
        assert_eq!(ramp(1.0), "#08306b");
        assert_eq!(ramp(2.0), "#08306b");
        assert!(lightness(&ramp(0.75)) < lightness(&ramp(0.25)));
    }

    #[test]
    fn the_confusion_matrix_is_row_normalised_and_ordered_by_training_size() {
        let (record, confusion) = long_tail_confusion();
        let svg = confusion_svg(&record, &confusion);
        assert!(
            svg.contains(">Confusion (row-normalised), epoch 7 of 10</text>"),
            "{svg}"
        );
        assert!(svg.contains(">true class (by training size, largest first)</text>"));
        assert!(svg.contains(">predicted class</text>"));
        let cell = (H - TOP - BOTTOM) / 4.0;
        let find = |t: usize, p: usize| -> &str {
            let found = elements(&svg, &format!("data-true=\"{t}\" data-pred=\"{p}\""));
            assert_eq!(found.len(), 1, "cell ({t}, {p}): {svg}");
            found[0]
        };
        // (x, y) of a cell at display row and column.
        let at = |el: &str, row: usize, col: usize| {
            let (x, y) = (num(el, "x"), num(el, "y"));
            assert!(
                (x - (LEFT + col as f64 * cell)).abs() < 0.01
                    && (y - (TOP + row as f64 * cell)).abs() < 0.01,
                "expected row {row}, column {col}: {el}"
            );
        };
        // The largest class (index 1, 500 images) is the first row and column, all right:
        // the darkest colour.
        let head = find(1, 1);
        at(head, 0, 0);
        assert_eq!(attr(head, "fill"), ramp(1.0));
        let cells = elements(&svg, "data-pred=");
        assert_eq!(cells.len(), 4, "only the non-zero cells");
        let darkest = cells
            .iter()
            .map(|c| lightness(attr(c, "fill")))
            .min()
            .unwrap();
        assert_eq!(lightness(attr(head, "fill")), darkest);
        // The smallest class (index 0), all predicted as the head: the last row, first column,
        // and a full share of its row (3 of 3), not 3 of the largest count (8).
        let tail = find(0, 1);
        at(tail, 3, 0);
        assert_eq!(attr(tail, "fill"), ramp(1.0));
        // Class 2 (second by size): 3 of 4 right, 1 of 4 as the head.
        let right = find(2, 2);
        at(right, 1, 1);
        assert_eq!(attr(right, "fill"), ramp(0.75));
        let wrong = find(2, 1);
        at(wrong, 1, 0);
        assert_eq!(attr(wrong, "fill"), ramp(0.25));
        assert_ne!(ramp(0.75), ramp(3.0 / 8.0));
        // Class 3 (third by size) has no test image: its row is grey and holds no cell.
        let empty = elements(&svg, "data-empty=\"true\"");
        assert_eq!(empty.len(), 1);
        assert_eq!(attr(empty[0], "data-true"), "3");
        assert!((num(empty[0], "y") - (TOP + 2.0 * cell)).abs() < 0.01);
        assert_eq!(attr(empty[0], "fill"), EMPTY_ROW);
        assert!(elements(&svg, "data-true=\"3\" data-pred").is_empty());
        // Rows top to bottom and columns left to right are labelled by size, largest first.
        for (class, coordinate) in [("tick-true", "y"), ("tick-pred", "x")] {
            let mut ticks: Vec<(f64, &str)> = elements(&svg, class)
                .iter()
                .map(|t| (num(t, coordinate), text_of(t)))
                .collect();
            ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
            let labels: Vec<&str> = ticks.iter().map(|t| t.1).collect();
            assert_eq!(labels, ["n=500", "n=50", "n=20", "n=5"], "{class}");
        }
    }

    #[test]
    fn two_hundred_classes_get_a_few_ticks_and_equal_sizes_keep_index_order() {
        assert_eq!(by_training_size(&[3, 7, 3, 7], 4), vec![1, 3, 0, 2]);
        assert_eq!(tick_positions(4), vec![0, 1, 2, 3]);
        let positions = tick_positions(200);
        assert_eq!(positions.len(), MAX_TICKS);
        assert_eq!((positions[0], positions[MAX_TICKS - 1]), (0, 199));
        // Sizes rising with the index: the display order is the reverse.
        let k = 200;
        let sizes: Vec<usize> = (0..k).map(|c| 10 + 20 * c).collect();
        let counts: Vec<u64> = (0..k * k).map(|i| u64::from(i / k == i % k) * 3).collect();
        let confusion = Confusion { classes: k, counts };
        let record = record(sizes, scores(&[(0, 0.9, 0)]), Vec::new());
        let svg = confusion_svg(&record, &confusion);
        let ticks = elements(&svg, "tick-true");
        assert_eq!(ticks.len(), MAX_TICKS);
        assert_eq!(text_of(ticks[0]), "n=3990");
        assert_eq!(text_of(ticks[MAX_TICKS - 1]), "n=10");
        assert_eq!(elements(&svg, "data-pred=").len(), k);
        let png = crate::svg_to_png(&svg).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    /// Raw: two images at confidence 0.9 (one right) and two at 0.5 (both right): bins 13
    /// (accuracy 0.5) and 7 (accuracy 1), ECE 0.5 x 0.4 + 0.5 x 0.5 = 0.45.
    fn calibration_record(logit_adjusted: Vec<Corrected>) -> EvalRecord {
        let raw = scores(&[(0, 0.9, 0), (0, 0.9, 1), (1, 0.5, 1), (2, 0.5, 2)]);
        record(vec![100, 10, 1], raw, logit_adjusted)
    }

    #[test]
    fn the_reliability_diagram_draws_one_bar_per_bin_with_images_as_tall_as_its_accuracy() {
        let record = calibration_record(Vec::new());
        assert_eq!(format!("{:.3}", record.raw.ece), "0.450");
        let svg = reliability_svg(&record);
        assert!(
            svg.contains(">Reliability: ECE 0.450 (raw)</text>"),
            "{svg}"
        );
        let bars = elements(&svg, "class=\"bar\"");
        assert_eq!(bars.len(), 2, "{svg}");
        let (plot_w, plot_h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        // (first bin's index, accuracy), by x.
        let mut got: Vec<(f64, f64, f64, f64)> = bars
            .iter()
            .map(|b| {
                (
                    num(b, "x"),
                    num(b, "width"),
                    num(b, "height"),
                    num(b, "y") + num(b, "height"),
                )
            })
            .collect();
        got.sort_by(|a, b| a.0.total_cmp(&b.0));
        for ((x, width, height, foot), (bin, accuracy)) in
            got.into_iter().zip([(7, 1.0), (13, 0.5)])
        {
            assert!(
                (x - (LEFT + bin as f64 / 15.0 * plot_w)).abs() < 0.01,
                "{x}"
            );
            assert!((width - plot_w / 15.0).abs() < 0.01, "{width}");
            assert!((height - accuracy * plot_h).abs() < 0.01, "{height}");
            assert!((foot - (H - BOTTOM)).abs() < 0.01, "{foot}");
        }
        // A gap per bin (0.4 and 0.5 of the axis), the diagonal dashed, no overlay.
        let gaps: Vec<f64> = elements(&svg, "class=\"gap\"")
            .iter()
            .map(|g| num(g, "height"))
            .collect();
        assert_eq!(gaps.len(), 2);
        assert!(
            gaps.iter().any(|h| (h - 0.4 * plot_h).abs() < 0.01),
            "{gaps:?}"
        );
        assert!(
            gaps.iter().any(|h| (h - 0.5 * plot_h).abs() < 0.01),
            "{gaps:?}"
        );
        assert!(svg.contains(&format!(
            "x1=\"{LEFT:.2}\" y1=\"{:.2}\" x2=\"{:.2}\" y2=\"{TOP:.2}\" stroke=\"#444\" stroke-dasharray",
            H - BOTTOM,
            W - RIGHT
        )));
        assert!(elements(&svg, "class=\"adjusted\"").is_empty());
        assert_eq!(svg.matches("width=\"12\" height=\"12\"").count(), 2);
    }

    #[test]
    fn the_logit_adjusted_overlay_is_the_tau_closest_to_one() {
        let corrected = |tau: f64, scores: Scores| Corrected { tau, scores };
        // tau 1: three right at 0.9, one wrong at 0.5: ECE 0.75 x 0.1 + 0.25 x 0.5 = 0.2.
        let at_one = scores(&[(0, 0.9, 0), (1, 0.9, 1), (2, 0.9, 2), (1, 0.5, 0)]);
        assert_eq!(format!("{:.3}", at_one.ece), "0.200");
        let record = calibration_record(vec![
            corrected(0.5, scores(&[(0, 0.9, 0); 4])),
            corrected(2.0, scores(&[(0, 0.5, 0), (0, 0.5, 1)])),
            corrected(1.0, at_one),
            corrected(0.0, scores(&[(0, 0.7, 2)])),
        ]);
        let svg = reliability_svg(&record);
        assert!(
            svg.contains(">Reliability: ECE 0.450 (raw), 0.200 (logit-adjusted, τ = 1)</text>"),
            "{svg}"
        );
        let frame = Frame {
            x0: 0.0,
            x1: 1.0,
            y0: 0.0,
            y1: 1.0,
        };
        let mut markers: Vec<(f64, f64)> = elements(&svg, "class=\"adjusted\"")
            .iter()
            .map(|m| (num(m, "cx"), num(m, "cy")))
            .collect();
        markers.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(markers.len(), 2, "{svg}");
        for ((x, y), (confidence, accuracy)) in markers.into_iter().zip([(0.5, 0.0), (0.9, 1.0)]) {
            assert!((x - frame.x(confidence)).abs() < 0.01, "{x}");
            assert!((y - frame.y(accuracy)).abs() < 0.01, "{y}");
        }
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains(">logit-adj. τ = 1</text>"));
        assert_eq!(svg.matches("width=\"12\" height=\"12\"").count(), 3);
    }

    #[test]
    fn write_eval_figures_writes_both_figures_as_svg_and_png() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("eval-checkpoint");
        let (record, confusion) = long_tail_confusion();
        let written = write_eval_figures(&dir, &record, &confusion).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "confusion.svg",
                "confusion.png",
                "reliability.svg",
                "reliability.png"
            ]
        );
        for path in &written {
            assert_eq!(path.parent(), Some(dir.as_path()));
            let bytes = std::fs::read(path).unwrap();
            if path.extension().unwrap() == "png" {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
            } else {
                assert!(bytes.starts_with(b"<svg"), "{}", path.display());
            }
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("confusion.svg")).unwrap(),
            confusion_svg(&record, &confusion)
        );
        // The PNG draws the head's cell (first row and column, always right) dark blue, and
        // the grey row of the class with no test image.
        let png = std::fs::read(dir.join("confusion.png")).unwrap();
        let pixmap = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        let cell = (H - TOP - BOTTOM) / 4.0;
        let pixel = |x: f64, y: f64| {
            let p = pixmap
                .pixel((x * PNG_SCALE as f64) as u32, (y * PNG_SCALE as f64) as u32)
                .unwrap();
            format!("#{:02x}{:02x}{:02x}", p.red(), p.green(), p.blue())
        };
        assert_eq!(pixel(LEFT + cell / 2.0, TOP + cell / 2.0), ramp(1.0));
        assert_eq!(pixel(LEFT + cell / 2.0, TOP + 2.5 * cell), EMPTY_ROW);
    }
}
