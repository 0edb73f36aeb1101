//! GIT's generator coverage (`invlab_core::nuisance_coverage`) where researchers read it: a
//! figure in the run directory (`generator-coverage.svg/.png`: per end, the histogram of the
//! nuisance the generator produced over that of the true transform), and in `invlab report`
//! a table (one row per run and end, then each series' spread over its seeds) and
//! `coverage.csv` (one row per run and end).

use std::fmt::Write as _;

use invlab_core::nuisance_coverage::{CoverageGroup, CoverageSummary, NuisanceCoverage, SizeEnd};

use super::{csv_quote, escape, md_cell, ReportRun, Series};

const W: f64 = 920.0;
const H: f64 = 400.0;
const PANEL_W: f64 = 380.0;
const PANEL_LEFT: [f64; 2] = [70.0, 520.0];
const PLOT_TOP: f64 = 70.0;
const PLOT_BOTTOM: f64 = 300.0;
const BINS: usize = 24;
const TRUE_FILL: &str = "#9aa5b1";
const GENERATED: &str = "#d9480f";

/// Counts of `values` in `bins` equal bins over [lo, hi], as shares of the finite values.
pub(crate) fn histogram(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let mut counts = vec![0.0; bins];
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() || bins == 0 {
        return counts;
    }
    let width = (hi - lo).max(1e-12);
    for v in &finite {
        let k = (((v - lo) / width) * bins as f64).floor();
        counts[(k.max(0.0) as usize).min(bins - 1)] += 1.0;
    }
    counts.iter().map(|c| c / finite.len() as f64).collect()
}

/// The range both samples of every end share, so the panels compare on one axis.
fn shared_range(coverage: &NuisanceCoverage) -> (f64, f64) {
    let all = coverage
        .groups
        .iter()
        .flat_map(|g| g.generated.iter().chain(&g.truth))
        .copied()
        .filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

fn panel(
    out: &mut String,
    coverage: &NuisanceCoverage,
    group: &CoverageGroup,
    left: f64,
    range: (f64, f64),
) {
    let (lo, hi) = range;
    let truth = histogram(&group.truth, lo, hi, BINS);
    let generated = histogram(&group.generated, lo, hi, BINS);
    let top = truth
        .iter()
        .chain(&generated)
        .fold(0.0f64, |m, &v| m.max(v))
        .max(1e-9)
        * 1.08;
    let x = |v: f64| left + (v - lo) / (hi - lo) * PANEL_W;
    let y = |share: f64| PLOT_BOTTOM - share / top * (PLOT_BOTTOM - PLOT_TOP);
    let bin_w = (hi - lo) / BINS as f64;
    let s = group.summary(coverage.styles);
    let sizes = match (
        group.class_sizes.iter().min(),
        group.class_sizes.iter().max(),
    ) {
        (Some(a), Some(b)) if a == b => format!("classes of {a} images"),
        (Some(a), Some(b)) => format!("classes of {a}-{b} images"),
        _ => "no images".into(),
    };
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">{} ({} images, {})</text>",
        left + PANEL_W / 2.0,
        PLOT_TOP - 10.0,
        group.end.label(),
        s.images,
        sizes
    );
    for (k, share) in truth.iter().enumerate() {
        let x0 = x(lo + bin_w * k as f64);
        let _ = writeln!(
            out,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{TRUE_FILL}\"/>",
            y(*share),
            PANEL_W / BINS as f64,
            PLOT_BOTTOM - y(*share)
        );
    }
    // The generated histogram as a step outline over the true one's bars.
    let mut path = format!("M{:.1} {PLOT_BOTTOM}", x(lo));
    for (k, share) in generated.iter().enumerate() {
        let _ = write!(
            path,
            " L{:.1} {:.1} L{:.1} {:.1}",
            x(lo + bin_w * k as f64),
            y(*share),
            x(lo + bin_w * (k + 1) as f64),
            y(*share)
        );
    }
    let _ = write!(path, " L{:.1} {PLOT_BOTTOM}", x(hi));
    let _ = writeln!(
        out,
        "<path d=\"{path}\" fill=\"{GENERATED}\" fill-opacity=\"0.18\" stroke=\"{GENERATED}\" stroke-width=\"2\"/>"
    );
    let _ = writeln!(
        out,
        "<rect x=\"{left}\" y=\"{PLOT_TOP}\" width=\"{PANEL_W}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>",
        PLOT_BOTTOM - PLOT_TOP
    );
    let t = s.text(coverage.measure.decimals());
    for (v, label) in super::y_ticks(lo, hi) {
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" y1=\"{PLOT_BOTTOM}\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"#444\"/><text x=\"{0:.1}\" y=\"{2}\" text-anchor=\"middle\">{label}</text>",
            x(v),
            PLOT_BOTTOM + 5.0,
            PLOT_BOTTOM + 18.0
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{0:.1}\" y=\"{1}\" text-anchor=\"middle\">generated 5-95% covers {2}% of the true range;</text>\n\
<text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">within-image spread {4}x; W1 {5}</text>",
        left + PANEL_W / 2.0,
        PLOT_BOTTOM + 38.0,
        t.covers,
        PLOT_BOTTOM + 54.0,
        t.spread,
        t.wasserstein
    );
}

/// The run's coverage figure: one panel per end (head, tail).
pub fn coverage_svg(coverage: &NuisanceCoverage) -> String {
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        W / 2.0,
        escape(&format!(
            "GIT generator coverage: {} of {} random styles per image against {} true draws",
            coverage.measure.label(),
            coverage.styles,
            coverage.styles
        ))
    );
    let _ = writeln!(
        out,
        "<rect x=\"{}\" y=\"32\" width=\"12\" height=\"12\" fill=\"{TRUE_FILL}\"/><text x=\"{}\" y=\"42\">true transform</text>\
<rect x=\"{}\" y=\"32\" width=\"12\" height=\"12\" fill=\"{GENERATED}\" fill-opacity=\"0.4\" stroke=\"{GENERATED}\"/><text x=\"{}\" y=\"42\">generated</text>",
        W / 2.0 - 120.0,
        W / 2.0 - 102.0,
        W / 2.0 + 10.0,
        W / 2.0 + 28.0
    );
    let range = shared_range(coverage);
    for (group, left) in coverage.groups.iter().zip(PANEL_LEFT) {
        panel(&mut out, coverage, group, left, range);
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} (shares of each end's values per bin)</text>",
        W / 2.0,
        H - 12.0,
        escape(coverage.measure.label())
    );
    out.push_str("</svg>\n");
    out
}

/// The report's section: one row per run that has a coverage record and end, then, for each
/// series of several seeds, the spread of those rows over its seeds.
pub(crate) fn coverage_markdown(runs: &[ReportRun], series: &[Series]) -> String {
    let rows: Vec<(&ReportRun, &NuisanceCoverage)> = runs
        .iter()
        .filter_map(|r| Some((r, r.coverage.as_ref()?)))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## GIT generator coverage\n\nFor head (many-shot) and tail (few-shot) training images, the nuisance statistic \
(background level for BG, ink-area ratio for DIL) of generated variants with random styles against as many fresh draws of the \
true transform: the share of the true 5-95 % range that the generated 5-95 % range covers, the within-image spread (mean sd \
over an image's styles / the same of its true draws; near 0: the style path does not vary the nuisance) and the \
Wasserstein-1 distance. A run keeps the histograms as `generator-coverage.png` (an `invlab eval` folder, for a run measured \
after the fact).\n\n\
| run | statistic | end | images | styles | generated 5-95 % | true 5-95 % | covers | within-image spread | W1 |\n\
|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (run, coverage) in rows {
        let d = coverage.measure.decimals();
        for g in &coverage.groups {
            let s = g.summary(coverage.styles);
            let t = s.text(d);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} - {} | {} - {} | {} % | {}x | {} |",
                md_cell(&run.label),
                coverage.measure.label(),
                g.end.label(),
                s.images,
                coverage.styles,
                t.generated[0],
                t.generated[1],
                t.truth[0],
                t.truth[1],
                t.covers,
                t.spread,
                t.wasserstein
            );
        }
    }
    out.push_str(&over_seeds_markdown(runs, series));
    out
}

/// Per series of several seeds with coverage records, and per end: the mean, least and
/// greatest of each run's coverage figures (each run measures its own generator, so these
/// are the generator's seed-to-seed spread).
fn over_seeds_markdown(runs: &[ReportRun], series: &[Series]) -> String {
    let mut out = String::new();
    for s in series {
        let measured: Vec<&NuisanceCoverage> = s
            .members
            .iter()
            .filter_map(|&i| runs[i].coverage.as_ref())
            .collect();
        if measured.len() < 2 {
            continue;
        }
        if out.is_empty() {
            out.push_str(
                "\nOver seeds (each seed's run trains and measures its own generator): the mean and, in \
brackets, the least and greatest of the runs' figures.\n\n\
| series | end | runs | covers | within-image spread | W1 |\n|---|---|---|---|---|---|\n",
            );
        }
        let d = measured[0].measure.decimals();
        for end in [SizeEnd::Head, SizeEnd::Tail] {
            let summaries: Vec<CoverageSummary> = measured
                .iter()
                .flat_map(|c| {
                    c.groups
                        .iter()
                        .filter(|g| g.end == end)
                        .map(|g| g.summary(c.styles))
                })
                .collect();
            if summaries.is_empty() {
                continue;
            }
            // Over the runs whose figure is finite (a run whose measure read nothing has NaN);
            // the count says how many that is when some are not.
            let spread = |value: fn(&CoverageSummary) -> f64, scale: f64, digits: usize, unit| {
                let values: Vec<f64> = summaries
                    .iter()
                    .map(value)
                    .filter(|v| v.is_finite())
                    .map(|v| v * scale)
                    .collect();
                if values.is_empty() {
                    return "–".to_string();
                }
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                let least = values.iter().copied().fold(f64::INFINITY, f64::min);
                let most = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let of = if values.len() < summaries.len() {
                    format!(" ({} of {})", values.len(), summaries.len())
                } else {
                    String::new()
                };
                format!("{mean:.digits$} [{least:.digits$}, {most:.digits$}]{unit}{of}")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                md_cell(&s.label),
                end.label(),
                summaries.len(),
                spread(|c| c.range_covered, 100.0, 0, " %"),
                spread(|c| c.within_image_spread, 1.0, 2, "x"),
                spread(|c| c.wasserstein, 1.0, d, ""),
            );
        }
    }
    out
}

/// `coverage.csv`: the same rows at full precision; `None` when no run has a coverage record.
pub(crate) fn coverage_csv(runs: &[ReportRun]) -> Option<String> {
    let mut out = String::from(
        "run,seed,transform,measure,end,images,styles,generated_q05,generated_q50,generated_q95,true_q05,true_q50,true_q95,range_covered,within_image_spread,wasserstein1\n",
    );
    let mut any = false;
    for run in runs {
        let Some(c) = &run.coverage else { continue };
        any = true;
        for g in &c.groups {
            let s = g.summary(c.styles);
            let cells = [
                csv_quote(&run.label),
                run.summary.seed.to_string(),
                csv_quote(&run.transform),
                csv_quote(c.measure.label()),
                g.end.label().to_string(),
                s.images.to_string(),
                c.styles.to_string(),
                s.generated.q05.to_string(),
                s.generated.q50.to_string(),
                s.generated.q95.to_string(),
                s.truth.q05.to_string(),
                s.truth.q50.to_string(),
                s.truth.q95.to_string(),
                s.range_covered.to_string(),
                s.within_image_spread.to_string(),
                s.wasserstein.to_string(),
            ];
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    any.then_some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use invlab_core::config::TransformKind;
    use invlab_core::nuisance_coverage::{NuisanceMeasure, SizeEnd};

    #[test]
    fn histogram_shares_count_each_value_once_in_its_bin() {
        let h = histogram(&[0.0, 0.5, 1.0, 9.99, 10.0, f64::NAN], 0.0, 10.0, 10);
        // 0 and 0.5 in bin 0, 1.0 in bin 1, 9.99 and the top edge 10 in the last bin.
        assert_eq!(h[0], 0.4);
        assert_eq!(h[1], 0.2);
        assert_eq!(h[9], 0.4);
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    pub(crate) fn coverage() -> NuisanceCoverage {
        let group = |end, generated: Vec<f64>| CoverageGroup {
            end,
            classes: vec![0, 1],
            class_sizes: vec![5, 7],
            generated,
            truth: vec![0.0, 40.0, 80.0, 0.0, 40.0, 80.0],
        };
        NuisanceCoverage {
            transform: TransformKind::Bg,
            measure: NuisanceMeasure::BackgroundLevel,
            styles: 3,
            groups: vec![
                group(SizeEnd::Head, vec![0.0, 40.0, 80.0, 0.0, 40.0, 80.0]),
                group(SizeEnd::Tail, vec![20.0; 6]),
            ],
        }
    }

    #[test]
    fn the_figure_draws_both_ends_on_one_axis_with_their_figures() {
        let svg = coverage_svg(&coverage());
        assert!(
            svg.contains("head (2 images, classes of 5-7 images)"),
            "{svg}"
        );
        assert!(svg.contains("tail (2 images"));
        // Tail: all generated values at 20, inside 0..80: covers (20 - 20) / 72 = 0 %.
        assert!(svg.contains("covers 0% of the true range;"), "{svg}");
        assert!(svg.contains("within-image spread 0.00x; W1 33"), "{svg}");
        assert!(svg.contains("covers 100% of the true range;"));
        assert!(svg.contains("within-image spread 1.00x; W1 0"));
        // One true bar per bin per panel, one generated outline per panel.
        assert_eq!(
            svg.matches(&format!("fill=\"{TRUE_FILL}\"/>")).count(),
            2 * BINS + 1
        );
        assert_eq!(svg.matches("<path ").count(), 2);
        // The tail's generated outline rises to the top of the plot in the bin holding 20
        // (bin 6 of 24 over 0..80); its other bins lie on the axis.
        let tail_path = svg.split("<path d=\"").nth(2).unwrap();
        let bin6_x = PANEL_LEFT[1] + 6.0 / 24.0 * PANEL_W;
        let top = 1.0 / 1.08;
        let y = PLOT_BOTTOM - top * (PLOT_BOTTOM - PLOT_TOP);
        assert!(
            tail_path.contains(&format!("L{bin6_x:.1} {y:.1}")),
            "{tail_path}"
        );
        assert!(super::super::svg_to_png(&svg).is_ok());
    }
}
