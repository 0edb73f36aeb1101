//! Figures and tables from finished run directories: eKLD against class size (log axis) and
//! training curves as standalone SVG (and PNG copies, rasterised here with an embedded font),
//! and the comparison table as Markdown and CSV; over seeds, each series' mean ± sd and 95 %
//! interval and paired comparisons with a baseline series (`over_seeds`, on `stats`).
//! `write_run_figures` serves every finished run; `write_report` is `invlab report --out DIR`.

pub mod coverage_figures;
pub mod eval_figures;
pub mod over_seeds;
pub mod stats;

pub use eval_figures::{finish_eval_folder, write_eval_figures};
mod eval_table;
pub use eval_table::{eval_line, eval_table};

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use invlab_core::atomic::write_atomic;
use invlab_core::config::RunConfig;
use invlab_core::records::EpochMetrics;
use invlab_core::rundir::{LoadError, RunDir, RunRecord};
use invlab_core::summary::Summary;

/// Why a report or a run's figures could not be made; each names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    NotARun(#[from] LoadError),
    #[error("{}: no summary.json (is the run finished?)", dir.join("summary.json").display())]
    Unfinished { dir: PathBuf },
    #[error("creating {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The SVG could not be rasterised to `path`.
    #[error("{}: {source}", path.display())]
    Render { path: PathBuf, source: RenderError },
    /// `--out` is a run directory: the report's figures would replace the run's own.
    #[error("{} is a run directory; the report's ekld_vs_size and curves figures would replace the run's own: choose another --out", dir.display())]
    OutIsARun { dir: PathBuf },
    /// `--baseline` (or `--reference`, the `flag`) names no series of the report.
    #[error("{flag} {name:?} is none of the report's series: {}", known.join(", "))]
    UnknownBaseline {
        flag: &'static str,
        name: String,
        known: Vec<String>,
    },
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    write_atomic(path, bytes).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// One finished run as the report sees it: its summary and curves, and the key that groups it
/// with its other seeds.
#[derive(Debug, Clone)]
pub struct ReportRun {
    pub dir: PathBuf,
    pub label: String,
    pub summary: Summary,
    pub metrics: Vec<EpochMetrics>,
    /// The run's config with its name and seed blanked (`None` when no config could be read):
    /// runs with equal keys are seeds of one experiment.
    pub seedless_config: Option<String>,
    /// The nuisance transform it trained under (`data.transform`), as configs write it.
    pub transform: String,
    /// GIT runs: the generator's coverage of the true nuisance (BG, DIL).
    pub coverage: Option<invlab_core::nuisance_coverage::NuisanceCoverage>,
}

impl ReportRun {
    /// Reads a finished run through the run-directory reader (`RunDir::load`).
    pub fn load(dir: &Path) -> Result<ReportRun, ReportError> {
        let record = RunDir {
            path: dir.to_path_buf(),
        }
        .load()?;
        ReportRun::from_record(record)
    }

    pub fn from_record(record: RunRecord) -> Result<ReportRun, ReportError> {
        let Some(summary) = record.summary else {
            return Err(ReportError::Unfinished { dir: record.dir });
        };
        Ok(ReportRun {
            label: summary.name.clone(),
            seedless_config: seedless(&record.config),
            transform: invlab_core::config::serde_plain_name(&record.config.data.transform),
            dir: record.dir,
            metrics: record.epochs,
            coverage: record.generator_coverage,
            summary,
        })
    }
}

/// `config` as TOML with its name and seed blanked.
fn seedless(config: &RunConfig) -> Option<String> {
    let mut config = config.clone();
    config.name = String::new();
    config.seed = 0;
    // A config TOML cannot write (a folder named in non-UTF-8) is a series of its own.
    config.to_toml().ok()
}

/// One series of the figures: a run, or the seeds of one experiment (runs whose configs differ
/// only in name and seed), drawn in one colour.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// The first run's name without its seed suffix, then "(N seeds)" for several.
    pub label: String,
    /// The first run's name without its seed suffix.
    pub name: String,
    /// Indices into the runs, in their order.
    pub members: Vec<usize>,
}

/// Groups `runs` into series, in the order each first appears. A group of several seeds is
/// labelled by its first run's name without a trailing `-s<seed>` / `-seed<seed>`, and the
/// number of seeds.
pub(crate) fn seed_series(runs: &[ReportRun]) -> Vec<Series> {
    let mut series: Vec<Series> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let key = run.seedless_config.as_ref();
        // A series' key is its first run's; a run with no key stands alone.
        let same = |s: &Series| key.is_some() && runs[s.members[0]].seedless_config.as_ref() == key;
        match series.iter().position(same) {
            Some(s) => series[s].members.push(i),
            None => {
                series.push(Series {
                    label: run.label.clone(),
                    name: run.label.clone(),
                    members: vec![i],
                });
            }
        }
    }
    for s in &mut series {
        // A one-run series keeps its run's label but answers to the seedless name as well,
        // so `--baseline ROW-erm` finds a row run on one seed as on three.
        let first = &runs[s.members[0]];
        s.name = strip_seed_suffix(&first.label, first.summary.seed).to_string();
        if s.members.len() > 1 {
            let seeds: std::collections::BTreeSet<u64> =
                s.members.iter().map(|&i| runs[i].summary.seed).collect();
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            s.label = if seeds.len() == s.members.len() {
                format!("{} ({} seeds)", s.name, seeds.len())
            } else {
                // The same seed twice (a run given twice, or rerun): say so.
                format!(
                    "{} ({} runs, {} seed{})",
                    s.name,
                    s.members.len(),
                    seeds.len(),
                    plural(seeds.len())
                )
            };
        }
    }
    series
}

/// The series `wanted` names: its label, its name, or one of its runs' names or directories.
/// `None` picks the first series.
fn baseline_index(
    runs: &[ReportRun],
    series: &[Series],
    wanted: Option<&str>,
    flag: &'static str,
) -> Result<usize, ReportError> {
    let Some(wanted) = wanted else {
        return Ok(0);
    };
    series
        .iter()
        .position(|s| {
            s.label == wanted
                || s.name == wanted
                || s.members
                    .iter()
                    .any(|&i| runs[i].label == wanted || runs[i].dir == Path::new(wanted))
        })
        .ok_or_else(|| ReportError::UnknownBaseline {
            flag,
            name: wanted.to_string(),
            known: series.iter().map(|s| s.name.clone()).collect(),
        })
}

/// The report's statistics over seeds, computed once for the text on stdout and the files:
/// the series, the baseline, the paired comparisons, and their Markdown.
pub struct SeedStatistics {
    series: Vec<Series>,
    has_seeds: bool,
    comparisons: Vec<over_seeds::Comparison>,
    /// With a reference series: the share of the baseline -> reference gap each other series
    /// closes.
    gaps: Vec<over_seeds::GapShare>,
    /// Each series' mean ± sd and 95 % interval, and the comparisons with the baseline;
    /// empty when no series has more than one seed.
    pub markdown: String,
}

impl SeedStatistics {
    /// Groups `runs` into series and compares each with the baseline series (`baseline`,
    /// else the first); an unknown baseline is an error naming the series there are.
    pub fn of(runs: &[ReportRun], baseline: Option<&str>) -> Result<SeedStatistics, ReportError> {
        Self::with_reference(runs, baseline, None)
    }

    /// `of`, and with a `reference` series (an upper bound such as GIT's oracle control) the
    /// share of the baseline -> reference gap every other series closes, per seed.
    pub fn with_reference(
        runs: &[ReportRun],
        baseline: Option<&str>,
        reference: Option<&str>,
    ) -> Result<SeedStatistics, ReportError> {
        let series = seed_series(runs);
        let base = baseline_index(runs, &series, baseline, "--baseline")?;
        let reference = match reference {
            Some(name) => Some(baseline_index(runs, &series, Some(name), "--reference")?),
            None => None,
        };
        let has_seeds = over_seeds::has_seed_series(runs, &series);
        let comparisons = if has_seeds {
            over_seeds::comparisons(runs, &series, base)
        } else {
            Vec::new()
        };
        let gaps = match reference {
            Some(r) if r != base => over_seeds::gap_shares(runs, &series, base, r),
            _ => Vec::new(),
        };
        let mut markdown = String::new();
        if has_seeds {
            markdown.push_str(
                "
## Over seeds

Each series' runs (configs equal but for name and seed) as mean ± sd          [95 % t-interval of the mean] over its seeds; accuracy in %, eKLD in nats.

",
            );
            markdown.push_str(&over_seeds::series_table(runs, &series));
            if !comparisons.is_empty() {
                let _ = writeln!(
                    markdown,
                    "
### Paired with {} as the baseline
",
                    md_cell(&series[base].label)
                );
                markdown.push_str(&over_seeds::comparisons_markdown(&comparisons));
            }
            if !gaps.is_empty() {
                markdown.push_str("\n### Gaps closed\n\n");
                markdown.push_str(&over_seeds::gap_shares_markdown(&gaps));
            }
        }
        Ok(SeedStatistics {
            series,
            has_seeds,
            comparisons,
            gaps,
            markdown,
        })
    }
}

/// The statistics over seeds as Markdown (`SeedStatistics::of(..).markdown`).
pub fn seed_statistics(runs: &[ReportRun], baseline: Option<&str>) -> Result<String, ReportError> {
    Ok(SeedStatistics::of(runs, baseline)?.markdown)
}

/// `name` without a trailing `-s<seed>` or `-seed<seed>`.
fn strip_seed_suffix(name: &str, seed: u64) -> &str {
    [format!("-s{seed}"), format!("-seed{seed}")]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix.as_str()))
        .unwrap_or(name)
}

const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2",
];

const W: f64 = 720.0;
const H: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn header(title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        (LEFT + W - RIGHT) / 2.0,
        escape(title)
    )
}

/// Maps data to the plot area.
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        LEFT + (v - self.x0) / (self.x1 - self.x0).max(1e-12) * (W - LEFT - RIGHT)
    }
    fn y(&self, v: f64) -> f64 {
        H - BOTTOM - (v - self.y0) / (self.y1 - self.y0).max(1e-12) * (H - TOP - BOTTOM)
    }

    fn axes(&self, out: &mut String, x_ticks: &[(f64, String)], y_label: &str, x_label: &str) {
        let (l, r, t, b) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
        let _ = writeln!(
            out,
            "<rect x=\"{l}\" y=\"{t}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>",
            r - l,
            b - t
        );
        for (v, label) in x_ticks {
            let x = self.x(*v);
            let _ = writeln!(out, "<line x1=\"{x:.1}\" y1=\"{b}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>", b + 5.0, b + 18.0);
        }
        for (v, label) in y_ticks(self.y0, self.y1) {
            let y = self.y(v);
            let _ = writeln!(out, "<line x1=\"{}\" y1=\"{y:.1}\" x2=\"{l}\" y2=\"{y:.1}\" stroke=\"#444\"/><line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{r}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>", l - 5.0, l - 8.0, y + 4.0);
        }
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            (l + r) / 2.0,
            H - 12.0,
            escape(x_label)
        );
        let _ = writeln!(
            out,
            "<text transform=\"translate(18 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            (t + b) / 2.0,
            escape(y_label)
        );
    }
}

/// Round y ticks over [lo, hi]: a step of 1, 2 or 5 x 10^k giving at most 6 intervals, each labelled
/// with as many decimals as the step needs, so that no two labels read the same (a fixed two
/// decimals printed "0.01, 0.01, 0.01" for an eKLD axis up to 0.012).
fn y_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![(lo, format!("{lo}"))];
    }
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&st| span / st <= 6.0 + 1e-9)
        .unwrap_or(10.0 * magnitude);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            (v, format!("{v:.decimals$}"))
        })
        .collect()
}

/// Width the legend has for a label's text, and the widest a character of the figures' font
/// gets at its size (run names such as `glyphs-rot-ldam-drw-s0` would otherwise run off the
/// figure's right edge).
const LEGEND_TEXT_WIDTH: f64 = RIGHT - 15.0 - 18.0 - 4.0;
const CHAR_WIDTH: f64 = 7.6;

/// Legend rows that fit beside the plot (18 px each, from the plot's top to the figure's foot).
const LEGEND_ROWS: usize = ((H - TOP - 10.0) / 18.0) as usize;

/// One row per label while they fit; past that, the rows that fit less one, then a last row
/// saying how many more there are and where to find them (the colours repeat every
/// `PALETTE.len()` series in any case; the table names every run).
fn legend(out: &mut String, labels: &[String]) {
    let shown = if labels.len() > LEGEND_ROWS {
        LEGEND_ROWS - 1
    } else {
        labels.len()
    };
    if shown < labels.len() {
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" font-style=\"italic\">+{} more (see the table)</text>",
            W - RIGHT + 15.0,
            TOP + 10.0 + 18.0 * shown as f64,
            labels.len() - shown
        );
    }
    for (i, label) in labels.iter().enumerate().take(shown) {
        let y = TOP + 10.0 + 18.0 * i as f64;
        let x = W - RIGHT + 15.0;
        // Long labels are squeezed to fit rather than clipped.
        let fit = if label.chars().count() as f64 * CHAR_WIDTH > LEGEND_TEXT_WIDTH {
            format!(" textLength=\"{LEGEND_TEXT_WIDTH}\" lengthAdjust=\"spacingAndGlyphs\"")
        } else {
            String::new()
        };
        let _ = writeln!(out, "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\"{fit}>{}</text>", y - 10.0, PALETTE[i % PALETTE.len()], x + 18.0, y, escape(label));
    }
}

/// Log10 tick positions labelled 1, 10, 100, 1k, 10k over [lo, hi] (in log10 units).
fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    (lo.floor() as i32..=hi.ceil() as i32)
        .filter(|&e| (e as f64) >= lo - 1e-9 && (e as f64) <= hi + 1e-9)
        .map(|e| {
            let v = 10f64.powi(e);
            let label = if v >= 1000.0 {
                format!("{}k", v / 1000.0)
            } else {
                format!("{v}")
            };
            (e as f64, label)
        })
        .collect()
}

/// eKLD per class against training class size (log axis), one colour per series (a run, or
/// the seeds of one experiment: every seed's classes as points), with the series' mean eKLD per
/// log-size bin drawn as a line.
pub(crate) fn ekld_vs_size_svg(runs: &[ReportRun]) -> String {
    let series = seed_series(runs);
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.members
                .iter()
                .flat_map(|&i| &runs[i].summary.classes)
                .filter_map(|c| c.ekld.map(|e| (((c.train_size.max(1)) as f64).log10(), e)))
                .collect()
        })
        .collect();
    let all: Vec<&(f64, f64)> = points.iter().flatten().collect();
    let (xmin, xmax) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let ymax = all.iter().fold(0f64, |m, p| m.max(p.1));
    let frame = Frame {
        x0: (xmin.floor()).min(xmin - 0.05),
        x1: (xmax.ceil()).max(xmax + 0.05),
        y0: 0.0,
        y1: if ymax > 0.0 { ymax * 1.05 } else { 1.0 },
    };
    let mut out = header("eKLD against class size");
    frame.axes(
        &mut out,
        &log_ticks(frame.x0, frame.x1),
        "eKLD (nats)",
        "training images in the class (log scale)",
    );
    for (i, pts) in points.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        for (x, y) in pts {
            let _ = writeln!(out, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\" fill-opacity=\"0.55\"/>", frame.x(*x), frame.y(*y));
        }
        let bins = binned_means(pts, 6);
        if bins.len() > 1 {
            let path: Vec<String> = bins
                .iter()
                .map(|(x, y)| format!("{:.1},{:.1}", frame.x(*x), frame.y(*y)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
                path.join(" ")
            );
        }
    }
    legend(
        &mut out,
        &series.iter().map(|s| s.label.clone()).collect::<Vec<_>>(),
    );
    out.push_str("</svg>\n");
    out
}

/// Mean y in `bins` equal-width bins of x; empty bins are skipped. Points are (x, y).
pub(crate) fn binned_means(points: &[(f64, f64)], bins: usize) -> Vec<(f64, f64)> {
    if points.is_empty() || bins == 0 {
        return Vec::new();
    }
    let (lo, hi) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let width = ((hi - lo) / bins as f64).max(1e-9);
    let mut acc = vec![(0.0, 0.0, 0usize); bins];
    for (x, y) in points {
        let k = (((x - lo) / width) as usize).min(bins - 1);
        acc[k].0 += x;
        acc[k].1 += y;
        acc[k].2 += 1;
    }
    acc.into_iter()
        .filter(|a| a.2 > 0)
        .map(|(sx, sy, n)| (sx / n as f64, sy / n as f64))
        .collect()
}

/// Whole epochs from 1, at most six, evenly stepped (a two-epoch run gets 1 and 2, not 1 1 1 2 2 2).
fn epoch_ticks(max_epoch: usize) -> Vec<usize> {
    let step = max_epoch.saturating_sub(1).div_ceil(5).max(1);
    (1..=max_epoch.max(1)).step_by(step).collect()
}

/// Balanced test accuracy and train loss per epoch for each series (a run, or the mean over
/// the seeds of one experiment).
pub(crate) fn curves_svg(runs: &[ReportRun]) -> String {
    let max_epoch = runs
        .iter()
        .flat_map(|r| r.metrics.iter().map(|m| m.epoch))
        .max()
        .unwrap_or(1)
        .max(2) as f64;
    let frame = Frame {
        x0: 1.0,
        x1: max_epoch,
        y0: 0.0,
        y1: 100.0,
    };
    let ticks: Vec<(f64, String)> = epoch_ticks(max_epoch as usize)
        .into_iter()
        .map(|e| (e as f64, e.to_string()))
        .collect();
    let series = seed_series(runs);
    let mut out = header("Balanced test accuracy (solid) and train loss x10 (dashed)");
    frame.axes(&mut out, &ticks, "%", "epoch");
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        // One "x,y" list per curve: accuracy (solid) and loss x10 (dashed), each the mean over
        // the series' runs that reached the epoch.
        let curve = |value: &dyn Fn(&EpochMetrics) -> f64| -> String {
            (1..=max_epoch as usize)
                .filter_map(|epoch| {
                    let values: Vec<f64> = s
                        .members
                        .iter()
                        .filter_map(|&r| runs[r].metrics.iter().find(|m| m.epoch == epoch))
                        .map(value)
                        .collect();
                    (!values.is_empty()).then(|| {
                        let mean = values.iter().sum::<f64>() / values.len() as f64;
                        format!("{:.1},{:.1}", frame.x(epoch as f64), frame.y(mean))
                    })
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let acc = curve(&|m| 100.0 * m.balanced_accuracy);
        let loss = curve(&|m| (10.0 * m.train_loss).min(100.0));
        let _ = writeln!(
            out,
            "<polyline points=\"{acc}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>"
        );
        let _ = writeln!(out, "<polyline points=\"{loss}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>");
    }
    legend(
        &mut out,
        &series.iter().map(|s| s.label.clone()).collect::<Vec<_>>(),
    );
    out.push_str("</svg>\n");
    out
}

/// Text safe inside a Markdown table cell: a `|` would end the cell (names come from
/// `summary.json`, which another tool or an older invlab may have written) and a line break the row.
pub(crate) fn md_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// A Markdown table: accuracy by group and mean eKLD on many- vs few-shot classes.
pub fn comparison_table(runs: &[ReportRun]) -> String {
    let pct = |v: Option<f64>| {
        v.map(|x| format!("{:.1}", 100.0 * x))
            .unwrap_or_else(|| "–".into())
    };
    let num = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "–".into());
    let mut out = String::from(
        "| run | balanced acc % | acc % | many % | medium % | few % | eKLD many | eKLD medium | eKLD few | few/many eKLD | Spearman(size, eKLD) |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in runs {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md_cell(&r.label),
            100.0 * s.balanced_accuracy,
            100.0 * s.accuracy,
            pct(s.many_shot_accuracy),
            pct(s.medium_shot_accuracy),
            pct(s.few_shot_accuracy),
            num(s.ekld_by_group.many),
            num(s.ekld_by_group.medium),
            num(s.ekld_by_group.few),
            few_many_ratio(s)
                .map(|x| format!("{x:.1}x"))
                .unwrap_or_else(|| "–".into()),
            s.spearman_size_ekld
                .map(|x| format!("{x:+.2}"))
                .unwrap_or_else(|| "–".into()),
        );
    }
    out
}

/// Mean eKLD of the few-shot classes over that of the many-shot classes (the report's "few/many
/// eKLD" column).
pub fn few_many_ratio(s: &Summary) -> Option<f64> {
    match (s.ekld_by_group.few, s.ekld_by_group.many) {
        (Some(f), Some(m)) if m > 0.0 => Some(f / m),
        _ => None,
    }
}

/// The comparison table as CSV, full precision, fractions (not percent); empty where unmeasured.
pub(crate) fn comparison_csv(runs: &[ReportRun]) -> String {
    let mut out = String::from(
        "run,dir,balanced_accuracy,accuracy,many_shot_accuracy,medium_shot_accuracy,few_shot_accuracy,ekld_many,ekld_medium,ekld_few,few_many_ekld_ratio,spearman_size_ekld,seed,transform,ekld_sampling,invlab_commit\n",
    );
    let field = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in runs {
        let s = &r.summary;
        let cells = [
            csv_quote(&r.label),
            csv_quote(&r.dir.display().to_string()),
            s.balanced_accuracy.to_string(),
            s.accuracy.to_string(),
            field(s.many_shot_accuracy),
            field(s.medium_shot_accuracy),
            field(s.few_shot_accuracy),
            field(s.ekld_by_group.many),
            field(s.ekld_by_group.medium),
            field(s.ekld_by_group.few),
            field(few_many_ratio(s)),
            field(s.spearman_size_ekld),
            s.seed.to_string(),
            csv_quote(&r.transform),
            s.ekld_sampling
                .map(|m| invlab_core::config::serde_plain_name(&m))
                .unwrap_or_default(),
            csv_quote(s.invlab_commit.as_deref().unwrap_or("")),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

pub(crate) use invlab_core::summary::csv_field as csv_quote;

/// The embedded font every PNG is drawn with: DejaVu Sans cut to Latin, Greek and common
/// symbols (`assets/fonts/`, Bitstream Vera licence). No system font is consulted, so a figure
/// comes out the same on every machine, including one without any fonts.
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-subset.ttf");
const FONT_FAMILY: &str = "DejaVu Sans";
/// PNGs are drawn at twice the SVG's size: sharp on slides and high-density screens.
const PNG_SCALE: f32 = 2.0;

fn render_options() -> &'static resvg::usvg::Options<'static> {
    static OPTIONS: std::sync::OnceLock<resvg::usvg::Options<'static>> = std::sync::OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut opt = resvg::usvg::Options {
            font_family: FONT_FAMILY.into(),
            ..Default::default()
        };
        let db = opt.fontdb_mut();
        db.load_font_data(FONT.to_vec());
        db.set_sans_serif_family(FONT_FAMILY);
        opt
    })
}

/// Why an SVG written here could not become a PNG.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("reading the SVG: {0}")]
    Svg(#[from] resvg::usvg::Error),
    #[error("a {width}x{height} image is too large")]
    TooLarge { width: u32, height: u32 },
    #[error("encoding the PNG: {0}")]
    Encode(String),
}

/// Rasterises one of the SVGs written here to PNG bytes.
pub(crate) fn svg_to_png(svg: &str) -> Result<Vec<u8>, RenderError> {
    use resvg::tiny_skia::{Pixmap, Transform};
    let tree = resvg::usvg::Tree::from_str(svg, render_options())?;
    let size = tree.size();
    let (w, h) = (
        (size.width() * PNG_SCALE).ceil() as u32,
        (size.height() * PNG_SCALE).ceil() as u32,
    );
    let mut pixmap = Pixmap::new(w, h).ok_or(RenderError::TooLarge {
        width: w,
        height: h,
    })?;
    resvg::render(
        &tree,
        Transform::from_scale(PNG_SCALE, PNG_SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| RenderError::Encode(e.to_string()))
}

/// Writes `<stem>.svg` and `<stem>.png` into `dir`, atomically; returns both paths.
fn write_figure(dir: &Path, stem: &str, svg: &str) -> Result<[PathBuf; 2], ReportError> {
    let svg_path = dir.join(format!("{stem}.svg"));
    let png_path = dir.join(format!("{stem}.png"));
    write_file(&svg_path, svg.as_bytes())?;
    let png = svg_to_png(svg).map_err(|source| ReportError::Render {
        path: png_path.clone(),
        source,
    })?;
    write_file(&png_path, &png)?;
    Ok([svg_path, png_path])
}

/// Writes `ekld_vs_size` and `curves` (SVG and PNG) into a finished run's directory.
pub fn write_run_figures(dir: &Path) -> Result<(), ReportError> {
    let runs = [ReportRun::load(dir)?];
    write_figure(dir, "ekld_vs_size", &ekld_vs_size_svg(&runs))?;
    write_figure(dir, "curves", &curves_svg(&runs))?;
    if let Some(coverage) = &runs[0].coverage {
        write_figure(
            dir,
            "generator-coverage",
            &coverage_figures::coverage_svg(coverage),
        )?;
    }
    // The event file again, now with the figures as images.
    let run = RunDir {
        path: dir.to_path_buf(),
    };
    invlab_core::tensorboard::write(&run).map_err(|source| ReportError::Write {
        path: dir.join(invlab_core::tensorboard::FILE),
        source,
    })?;
    Ok(())
}

/// `invlab report --out DIR`: creates `dir` and writes `report.md` (table and figures),
/// `comparison.csv`, and the overlaid figures `ekld_vs_size` and `curves` as SVG and PNG.
/// Returns the files written.
pub fn write_report(
    runs: &[ReportRun],
    dir: &Path,
    baseline: Option<&str>,
) -> Result<Vec<PathBuf>, ReportError> {
    write_report_with(runs, dir, &SeedStatistics::of(runs, baseline)?)
}

/// `write_report` with statistics already computed (the CLI prints them too).
pub fn write_report_with(
    runs: &[ReportRun],
    dir: &Path,
    statistics: &SeedStatistics,
) -> Result<Vec<PathBuf>, ReportError> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if runs.iter().any(|r| same(&r.dir, dir)) || dir.join("summary.json").exists() {
        return Err(ReportError::OutIsARun {
            dir: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    written.extend(write_figure(dir, "ekld_vs_size", &ekld_vs_size_svg(runs))?);
    written.extend(write_figure(dir, "curves", &curves_svg(runs))?);
    let mut files = vec![
        ("comparison.csv", comparison_csv(runs)),
        (
            "report.md",
            report_markdown(runs, &statistics.markdown, &statistics.series),
        ),
    ];
    if let Some(csv) = coverage_figures::coverage_csv(runs) {
        files.push(("coverage.csv", csv));
    }
    // Every series' figures, one seed or several (a one-run series has no sd or interval):
    // scripts read one file whatever a row's seeds.
    files.push((
        "series.csv",
        over_seeds::series_csv(runs, &statistics.series),
    ));
    if statistics.has_seeds {
        if !statistics.comparisons.is_empty() {
            files.push((
                "paired.csv",
                over_seeds::comparisons_csv(&statistics.comparisons),
            ));
        }
        if !statistics.gaps.is_empty() {
            files.push(("gaps.csv", over_seeds::gap_shares_csv(&statistics.gaps)));
        }
    }
    for (name, text) in files {
        let path = dir.join(name);
        write_file(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// The report page: the table, the figures beside it, and the run directories compared.
pub(crate) fn report_markdown(runs: &[ReportRun], statistics: &str, series: &[Series]) -> String {
    let mut out = String::from("# Run comparison\n\n");
    out.push_str(&comparison_table(runs));
    out.push_str(statistics);
    out.push_str(&coverage_figures::coverage_markdown(runs, series));
    out.push_str(
        "\nBalanced accuracy is the mean of per-class test accuracies; many / medium / few are the \
classes with > 100, 20-100 and < 20 training images. eKLD in nats (lower: more invariant).\n\n\
![eKLD against class size](ekld_vs_size.png)\n\n![Balanced test accuracy and train loss per epoch](curves.png)\n\n\
Runs:\n\n",
    );
    for r in runs {
        let _ = writeln!(out, "- {}: `{}`", r.label, r.dir.display());
    }
    let grouped: Vec<String> = series
        .iter()
        .filter(|s| s.members.len() > 1)
        .map(|s| s.label.clone())
        .collect();
    if !grouped.is_empty() {
        let _ = writeln!(
            out,
            "\nRuns whose configs differ only in name and seed are one series in the figures \
             (points: every seed's classes; line: their mean per size bin; curves: the mean \
             over seeds): {}.",
            grouped.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finished run of `config` under `name` and `seed`, with made-up metrics whose
    /// balanced accuracy is `rate` every epoch, written the way `report` reads runs.
    fn record(name: &str, seed: u64, config: &RunConfig, rate: f64) -> ReportRun {
        use invlab_core::fixtures;
        let mut config = config.clone();
        config.name = name.into();
        config.seed = seed;
        let info = fixtures::run_info(&config, name, PathBuf::from(name));
        let mut last = fixtures::epoch(&info, 2, 0.5);
        last.balanced_accuracy = rate;
        let mut summary = fixtures::summary(&info, &last, &fixtures::invariance(&info, 2, 0.5));
        summary.seed = seed;
        summary.name = name.into();
        ReportRun {
            dir: PathBuf::from(name),
            label: name.into(),
            summary,
            metrics: vec![last],
            seedless_config: seedless(&config),
            transform: invlab_core::config::serde_plain_name(&config.data.transform),
            coverage: None,
        }
    }

    #[test]
    fn runs_differing_only_in_seed_are_one_series_and_their_curves_the_mean() {
        let erm = RunConfig::default();
        let mut drs = RunConfig::default();
        drs.method.rule = invlab_core::config::Rule::Drs;
        let mut runs = vec![
            record("bg-erm-s0", 0, &erm, 0.40),
            record("bg-drs-s0", 0, &drs, 0.20),
            record("bg-erm-s1", 1, &erm, 0.60),
            record("bg-drs-seed2", 2, &drs, 0.70),
            record("other", 3, &erm, 0.10),
        ];
        // A run whose config did not parse stands alone, even beside a twin.
        let mut lone = runs[0].clone();
        lone.seedless_config = None;
        runs.push(lone);
        let series = seed_series(&runs);
        let got: Vec<(&str, &[usize])> = series
            .iter()
            .map(|s| (s.label.as_str(), s.members.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("bg-erm (3 seeds)", &[0, 2, 4][..]),
                ("bg-drs (2 seeds)", &[1, 3][..]),
                ("bg-erm-s0", &[5][..]),
            ]
        );
        // One legend entry and one accuracy curve per series, at the mean of its seeds:
        // (40 + 60) / 2 % for ERM, (20 + 70) / 2 % for DRS; no single run's value is drawn.
        let svg = curves_svg(&runs[..4]);
        assert_eq!(
            svg.matches("width=\"12\" height=\"12\"").count(),
            2,
            "{svg}"
        );
        let point_at =
            |pct: f64| format!(",{:.1}\"", H - BOTTOM - pct / 100.0 * (H - TOP - BOTTOM));
        for pct in [50.0, 45.0] {
            assert!(svg.contains(&point_at(pct)), "{pct} %: {svg}");
        }
        for pct in [40.0, 60.0, 20.0, 70.0] {
            assert!(!svg.contains(&point_at(pct)), "{pct} %: {svg}");
        }
        let ekld = ekld_vs_size_svg(&runs[..4]);
        assert_eq!(ekld.matches("<polyline").count(), 2);
        let classes = runs[0].summary.classes.len();
        assert_eq!(
            ekld.matches("<circle").count(),
            4 * classes,
            "every seed's classes"
        );
    }

    /// `--baseline` names a series by its seedless name whether it holds one seed or several
    /// (reproduce.sh names runs ROW-METHOD-sSEED and gives one seed to some rows).
    #[test]
    fn a_baseline_of_one_seed_is_found_by_its_seedless_name() {
        let erm = RunConfig::default();
        let mut drs = RunConfig::default();
        drs.method.rule = invlab_core::config::Rule::Drs;
        let one_seed = vec![
            record("dil-erm-s0", 0, &erm, 0.4),
            record("dil-drs-s0", 0, &drs, 0.5),
        ];
        let series = seed_series(&one_seed);
        assert_eq!(
            series[1].label, "dil-drs-s0",
            "a lone run keeps its own label"
        );
        assert_eq!(
            baseline_index(&one_seed, &series, Some("dil-drs"), "--baseline").unwrap(),
            1
        );
        assert_eq!(
            baseline_index(&one_seed, &series, Some("dil-drs-s0"), "--baseline").unwrap(),
            1
        );
        let three = vec![
            record("bg-erm-s0", 0, &erm, 0.4),
            record("bg-drs-s0", 0, &drs, 0.5),
            record("bg-erm-s1", 1, &erm, 0.4),
            record("bg-drs-s1", 1, &drs, 0.5),
        ];
        let series = seed_series(&three);
        assert_eq!(
            baseline_index(&three, &series, Some("bg-drs"), "--baseline").unwrap(),
            1
        );
        let err = baseline_index(
            &one_seed,
            &seed_series(&one_seed),
            Some("dil-ce"),
            "--baseline",
        );
        assert!(
            matches!(err, Err(ReportError::UnknownBaseline { ref known, .. }) if known == &["dil-erm", "dil-drs"]),
            "{err:?}"
        );
    }

    /// GIT runs' coverage records reach the report as a table and `coverage.csv`, one row per
    /// run and end, with the figures the summary computes; runs without one add nothing.
    #[test]
    fn the_report_tables_each_git_runs_coverage() {
        let mut config = RunConfig::default();
        config.data.transform = invlab_core::config::TransformKind::Bg;
        // GIT's runs differ from the control's in their config, so the two are two series.
        let mut git_config = config.clone();
        git_config.method.rule = invlab_core::config::Rule::Drs;
        let mut git = record("bg-git-seed0", 0, &git_config, 0.5);
        git.coverage = Some(coverage_figures::tests::coverage());
        let runs = vec![record("bg-drs-seed0", 0, &config, 0.4), git];
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("report");
        write_report(&runs, &out, None).unwrap();
        let csv = std::fs::read_to_string(out.join("coverage.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "{csv}");
        // Tail: generated all 20 against true {0, 40, 80} x 2: W1 = (20 + 20 + 60) / 3.
        let tail: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(
            &tail[..6],
            ["bg-git-seed0", "0", "bg", "background level", "tail", "2"]
        );
        assert_eq!(tail[13], "0");
        assert_eq!(tail[14], "0");
        assert!((tail[15].parse::<f64>().unwrap() - 100.0 / 3.0).abs() < 1e-9);
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(md.contains("## GIT generator coverage"), "{md}");
        assert!(
            md.contains("| bg-git-seed0 | background level | head | 2 | 3 | 0 - 80 | 0 - 80 | 100 % | 1.00x | 0 |"),
            "{md}"
        );
        // A single run of its series: no over-seeds table.
        assert!(!md.contains("Over seeds (each seed"), "{md}");
        // Two seeds of one GIT series: their figures' mean, least and greatest per end. The
        // second seed's tail generator matches the truth (100 %, 1.00x, W1 0) where the
        // first's gives one level (0 %, 0.00x, W1 33.3).
        let mut git1 = record("bg-git-seed1", 1, &git_config, 0.5);
        let mut matched = coverage_figures::tests::coverage();
        let truth = matched.groups[1].truth.clone();
        matched.groups[1].generated = truth;
        git1.coverage = Some(matched.clone());
        // Another series of two seeds with records of its own (every value a constant 40:
        // covers 0 %, spread 0.00x on both ends) must get its own rows and none of GIT's.
        let mut other_config = config.clone();
        other_config.method.rule = invlab_core::config::Rule::Drw;
        let flat = {
            let mut c = matched;
            for g in &mut c.groups {
                g.generated = vec![40.0; g.generated.len()];
            }
            c
        };
        let mut others: Vec<ReportRun> = (0..2)
            .map(|seed| {
                let mut r = record(&format!("bg-other-seed{seed}"), seed, &other_config, 0.5);
                r.coverage = Some(flat.clone());
                r
            })
            .collect();
        // The second's tail measured nothing (NaN): its figures are left out, and counted.
        if let Some(c) = others[1].coverage.as_mut() {
            c.groups[1].generated = vec![f64::NAN; c.groups[1].generated.len()];
        }
        let two = [vec![runs[0].clone(), runs[1].clone(), git1], others].concat();
        let both = tmp.path().join("both");
        write_report(&two, &both, None).unwrap();
        let md = std::fs::read_to_string(both.join("report.md")).unwrap();
        assert!(
            md.contains("| bg-git (2 seeds) | head | 2 | 100 [100, 100] % | 1.00 [1.00, 1.00]x | 0 [0, 0] |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| bg-git (2 seeds) | tail | 2 | 50 [0, 100] % | 0.50 [0.00, 1.00]x | 17 [0, 33] |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| bg-other (2 seeds) | tail | 2 | 0 [0, 0] % (1 of 2) | 0.00 [0.00, 0.00]x (1 of 2) | 27 [27, 27] (1 of 2) |"
            ),
            "{md}"
        );
        let over_seeds_rows = md
            .lines()
            .filter(|l| l.contains(" seeds) | head |") || l.contains(" seeds) | tail |"))
            .count();
        assert_eq!(over_seeds_rows, 4, "{md}");
        // Without coverage records: no file, no section.
        let plain = tmp.path().join("plain");
        write_report(&runs[..1], &plain, None).unwrap();
        // One run: its series' figures still reach series.csv, with no sd or interval.
        let series = std::fs::read_to_string(plain.join("series.csv")).unwrap();
        let balanced = series
            .lines()
            .find(|l| l.contains(",balanced_accuracy,"))
            .unwrap_or_else(|| panic!("{series}"));
        assert!(
            balanced.starts_with(&format!("{},1,balanced_accuracy,", runs[0].label))
                && balanced.ends_with(",,,"),
            "{balanced}"
        );
        assert!(
            !plain.join("paired.csv").exists(),
            "one seed: nothing to pair"
        );
        assert!(!plain.join("coverage.csv").exists());
        assert!(!std::fs::read_to_string(plain.join("report.md"))
            .unwrap()
            .contains("coverage"));
    }

    /// A run of `record` whose summary says `balanced` and few-shot eKLD `few_ekld`.
    fn scored(
        name: &str,
        seed: u64,
        config: &RunConfig,
        balanced: f64,
        few_ekld: f64,
    ) -> ReportRun {
        let mut run = record(name, seed, config, balanced);
        run.summary.balanced_accuracy = balanced;
        run.summary.ekld_by_group.few = Some(few_ekld);
        run
    }

    /// The share of the baseline -> reference gap a candidate closes, per seed: balanced
    /// accuracy (git - drs) / (oracle - drs) = (0.55-0.50)/(0.60-0.50) = 0.5, (0.48-0.40)/
    /// (0.50-0.40) = 0.8, (0.52-0.50)/(0.60-0.50) = 0.2 (mean 0.5); few-shot eKLD on the log
    /// scale ln(1.5/2)/ln(1/2) = 0.415, ln(2/2)/ln(1/2) = 0, ln(0.5/2)/ln(0.25/2) = 0.667. A
    /// seed the reference does not beat (seed 3: oracle = drs) has no gap and is left out.
    #[test]
    fn gap_shares_divide_each_seeds_move_by_its_gap() {
        let drs = RunConfig::default();
        let mut git = RunConfig::default();
        git.method.augment = invlab_core::config::Augment::Git;
        let mut oracle = RunConfig::default();
        oracle.method.augment = invlab_core::config::Augment::GitOracle;
        let runs = vec![
            scored("drs-s0", 0, &drs, 0.50, 2.0),
            scored("drs-s1", 1, &drs, 0.40, 2.0),
            scored("drs-s2", 2, &drs, 0.50, 2.0),
            scored("drs-s3", 3, &drs, 0.50, 2.0),
            scored("git-s0", 0, &git, 0.55, 1.5),
            scored("git-s1", 1, &git, 0.48, 2.0),
            scored("git-s2", 2, &git, 0.52, 0.5),
            scored("git-s3", 3, &git, 0.70, 1.0),
            scored("oracle-s0", 0, &oracle, 0.60, 1.0),
            scored("oracle-s1", 1, &oracle, 0.50, 1.0),
            scored("oracle-s2", 2, &oracle, 0.60, 0.25),
            scored("oracle-s3", 3, &oracle, 0.50, 2.0),
        ];
        let stats = SeedStatistics::with_reference(&runs, Some("drs"), Some("oracle")).unwrap();
        assert_eq!(
            stats.gaps.len(),
            1,
            "git only: not the baseline or the reference"
        );
        let gap = &stats.gaps[0];
        assert!(gap.candidate.starts_with("git"));
        let row = |m: over_seeds::Measure| {
            gap.rows
                .iter()
                .find(|r| r.0 == m)
                .unwrap_or_else(|| panic!("{m:?}"))
        };
        let (_, seeds, shares, e) = row(over_seeds::Measure::BalancedAccuracy);
        assert_eq!(seeds, &vec![0, 1, 2], "seed 3 has no gap");
        for (got, want) in shares.iter().zip([0.5, 0.8, 0.2]) {
            assert!((got - want).abs() < 1e-9, "{shares:?}");
        }
        assert!((e.mean - 0.5).abs() < 1e-9);
        let (_, seeds, shares, _) = row(over_seeds::Measure::EkldFew);
        assert_eq!(seeds, &vec![0, 1, 2]);
        let want = [
            (1.5f64 / 2.0).ln() / 0.5f64.ln(),
            0.0,
            (0.5f64 / 2.0).ln() / (0.25f64 / 2.0).ln(),
        ];
        for (got, want) in shares.iter().zip(want) {
            assert!((got - want).abs() < 1e-9, "{shares:?}");
        }
        assert!(
            stats.markdown.contains("share of the gap from drs"),
            "{}",
            stats.markdown
        );
        assert!(
            stats
                .markdown
                .contains("| balanced acc % | 50 %, 80 %, 20 % | 50 % |"),
            "{}",
            stats.markdown
        );
        // The CSV carries the same shares; an unknown reference names its flag.
        let csv = over_seeds::gap_shares_csv(&stats.gaps);
        assert!(csv.contains(",balanced_accuracy,3,0.5"), "{csv}");
        let err = SeedStatistics::with_reference(&runs, Some("drs"), Some("nope"))
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("--reference \"nope\""), "{err}");
    }

    /// The statistics over seeds are computed from each run's summary and paired by the seed
    /// the summary records, not by the order the runs were given: per seed DRS - ERM is
    /// +5, +6, +8 points (mean 6.33, sd 1.528, t(0.975, 2) = 4.303: 2.5 to 10.1) while the
    /// unpaired order would give other numbers; the eKLD ratios 0.5, 0.8, 0.5 average
    /// geometrically to 0.585.
    #[test]
    fn series_statistics_and_paired_comparisons_follow_the_seeds() {
        let erm = RunConfig::default();
        let mut drs = RunConfig::default();
        drs.method.rule = invlab_core::config::Rule::Drs;
        let runs = vec![
            scored("erm-s0", 0, &erm, 0.40, 2.0),
            scored("erm-s1", 1, &erm, 0.60, 1.0),
            scored("erm-s2", 2, &erm, 0.50, 4.0),
            // DRS in another order, with a seed ERM does not have.
            scored("drs-s2", 2, &drs, 0.58, 2.0),
            scored("drs-s0", 0, &drs, 0.45, 1.0),
            scored("drs-s1", 1, &drs, 0.66, 0.8),
            scored("drs-s7", 7, &drs, 0.10, 9.0),
        ];
        let text = seed_statistics(&runs, None).unwrap();
        // ERM over its seeds: balanced 50.0 ± 10.0 [25.2, 74.8].
        assert!(
            text.contains("| erm (3 seeds) | 3 | 50.0 ± 10.0 [25.2, 74.8] |"),
            "{text}"
        );
        assert!(text.contains("| drs (4 seeds) | 4 |"), "{text}");
        assert!(text.contains("Paired on 3 seeds (0, 1, 2)"), "{text}");
        assert!(
            text.contains("| balanced acc (points) | +5.0, +6.0, +8.0 | +6.3 | +2.5 to +10.1 | 3 / 0 | 0.250 |"),
            "{text}"
        );
        assert!(
            text.contains("| eKLD few (ratio) | 0.50x, 0.80x, 0.50x | 0.58x |"),
            "{text}"
        );

        let series = seed_series(&runs);
        let comparisons = over_seeds::comparisons(&runs, &series, 0);
        let (_, few) = comparisons[0]
            .rows
            .iter()
            .find(|(m, _)| *m == over_seeds::Measure::EkldFew)
            .unwrap();
        let geometric = (0.5f64 * 0.8 * 0.5).powf(1.0 / 3.0);
        assert!((few.estimate.mean - geometric).abs() < 1e-12);
        let csv = over_seeds::comparisons_csv(&comparisons);
        assert!(
            csv.contains("drs (4 seeds),erm (3 seeds),balanced_accuracy,difference,3,"),
            "{csv}"
        );
        assert!(csv.contains(",0;1;2,"), "{csv}");
        let series_csv = over_seeds::series_csv(&runs, &series);
        assert!(
            series_csv.contains("erm (3 seeds),3,balanced_accuracy,0.5,"),
            "{series_csv}"
        );

        // The baseline by name; an unknown one is named with the choices.
        let drs_first = seed_statistics(&runs, Some("drs")).unwrap();
        assert!(
            drs_first.contains("#### erm (3 seeds) against drs (4 seeds)"),
            "{drs_first}"
        );
        assert!(
            drs_first.contains("| balanced acc (points) | -5.0, -6.0, -8.0 |"),
            "{drs_first}"
        );
        let err = seed_statistics(&runs, Some("ldam"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"ldam\"") && err.contains("erm, drs"),
            "{err}"
        );
        // One run per series: nothing to aggregate.
        assert_eq!(seed_statistics(&runs[..1], None).unwrap(), "");
    }

    /// 200 experiments (distinct configs) with eKLD below 0.013: the legend keeps inside the
    /// figure and says how many it leaves out, and no two y ticks read the same.
    #[test]
    fn two_hundred_series_keep_the_legend_inside_and_the_ticks_distinct() {
        let runs: Vec<ReportRun> = (0..200)
            .map(|i| {
                let mut config = RunConfig::default();
                config.train.lr = 0.001 * (i + 1) as f64;
                let mut r = record(&format!("run-{i}"), 0, &config, 0.5);
                for c in &mut r.summary.classes {
                    c.ekld = c.ekld.map(|e| e * 0.01);
                }
                r
            })
            .collect();
        let ymax = runs
            .iter()
            .flat_map(|r| r.summary.classes.iter().filter_map(|c| c.ekld))
            .fold(0f64, f64::max);
        assert!(
            ymax > 0.001 && ymax < 0.02,
            "the eKLD axis is small: {ymax}"
        );
        for svg in [ekld_vs_size_svg(&runs), curves_svg(&runs)] {
            let swatches = svg.matches("width=\"12\" height=\"12\"").count();
            assert_eq!(swatches, LEGEND_ROWS - 1, "legend rows");
            let more = format!("+{} more (see the table)", 200 - (LEGEND_ROWS - 1));
            assert!(svg.contains(&more), "no '{more}'");
            // Every legend row ends above the figure's foot.
            let last_y = TOP + 10.0 + 18.0 * (LEGEND_ROWS - 1) as f64;
            assert!(last_y < H - 5.0, "{last_y}");
            let ticks: Vec<&str> = svg
                .split("text-anchor=\"end\">")
                .skip(1)
                .map(|t| &t[..t.find('<').unwrap()])
                .collect();
            let mut distinct = ticks.clone();
            distinct.dedup();
            assert!(ticks.len() >= 3, "{ticks:?}");
            assert_eq!(distinct, ticks, "y ticks repeat");
        }
    }

    #[test]
    fn a_pipe_or_a_line_break_in_a_name_stays_inside_its_table_cell() {
        let mut r = record("a|b\nc", 0, &RunConfig::default(), 0.5);
        r.label = "a|b\nc\\".into();
        let table = comparison_table(&[r]);
        let row = table.lines().nth(2).unwrap();
        assert!(row.starts_with("| a\\|b c\\\\ | 50.0 |"), "{row}");
        // Unescaped pipes delimit exactly the 11 columns.
        let delimiters = row.matches('|').count() - row.matches("\\|").count();
        assert_eq!(delimiters, 12, "{row}");
    }

    #[test]
    fn y_ticks_are_round_steps_labelled_as_finely_as_the_step() {
        let labels = |lo, hi| -> Vec<String> { y_ticks(lo, hi).into_iter().map(|t| t.1).collect() };
        assert_eq!(labels(0.0, 0.0126), ["0.000", "0.005", "0.010"]);
        assert_eq!(labels(0.0, 100.0), ["0", "20", "40", "60", "80", "100"]);
        assert_eq!(
            labels(0.0, 1.05),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        assert_eq!(labels(0.0, 3.2), ["0", "1", "2", "3"]);
        // Positions are the labelled values.
        for (v, label) in y_ticks(0.0, 0.37) {
            assert!(
                (v - label.parse::<f64>().unwrap()).abs() < 1e-12,
                "{v} {label}"
            );
        }
    }

    #[test]
    fn bins_average_and_ticks_are_powers_of_ten() {
        let b = binned_means(&[(0.0, 1.0), (0.1, 3.0), (1.0, 5.0)], 2);
        assert_eq!(b, vec![(0.05, 2.0), (1.0, 5.0)]);
        let t = log_ticks(0.3, 3.7);
        assert_eq!(
            t.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
            vec!["10", "100", "1k"]
        );
    }

    #[test]
    fn long_legend_labels_are_squeezed_inside_the_figure() {
        let labels = vec![
            "erm".to_string(),
            "glyphs-rot-ldam-drw-s0-with-a-long-name".into(),
        ];
        let mut svg = header("legend");
        legend(&mut svg, &labels);
        svg.push_str("</svg>");
        assert_eq!(
            svg.matches("textLength").count(),
            1,
            "only the long label: {svg}"
        );
        // No ink in the last 3 pixel columns (at the PNG's scale): the label ends before the
        // figure's right edge instead of running off it.
        let png = svg_to_png(&svg).unwrap();
        let pixmap = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        let (w, h) = (pixmap.width(), pixmap.height());
        let dark = (0..h)
            .flat_map(|y| (w - 3 * PNG_SCALE as u32..w).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let p = pixmap.pixel(x, y).unwrap();
                p.alpha() > 0 && (p.red() as u32 + p.green() as u32 + p.blue() as u32) < 300
            })
            .count();
        assert_eq!(dark, 0);
    }

    #[test]
    fn pngs_draw_text_with_the_embedded_font_quickly() {
        let svg = format!(
            "{}<text x=\"40\" y=\"200\" font-size=\"40\">eKLD ρ ≥ 0.5 – ×</text></svg>",
            header("A title")
        );
        let t0 = std::time::Instant::now();
        let png = svg_to_png(&svg).unwrap();
        let took = t0.elapsed();
        // Finding fonts on the system took seconds; the embedded one is milliseconds. A
        // wide bound, for a loaded machine.
        assert!(took < std::time::Duration::from_secs(20), "{took:?}");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, at twice the SVG's size.
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((w, h), ((2.0 * W) as u32, (2.0 * H) as u32));
        // The text is drawn: a white page with only a title and a line of text still holds
        // dark pixels, which it would not if no font were found.
        let pixmap = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        let dark = pixmap
            .pixels()
            .iter()
            .filter(|p| p.red() < 100 && p.alpha() > 200)
            .count();
        assert!(dark > 500, "{dark} dark pixels");
    }

    #[test]
    fn epoch_ticks_are_whole_and_distinct() {
        assert_eq!(epoch_ticks(2), vec![1, 2]);
        assert_eq!(epoch_ticks(6), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(epoch_ticks(20), vec![1, 5, 9, 13, 17]);
        assert_eq!(epoch_ticks(21), vec![1, 5, 9, 13, 17, 21]);
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_quote("a,b"), "\"a,b\"");
        assert_eq!(csv_quote("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_quote("plain"), "plain");
    }

    #[test]
    fn a_folder_that_is_not_a_finished_run_is_refused_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let err = ReportRun::load(tmp.path()).unwrap_err();
        assert!(matches!(err, ReportError::NotARun(_)), "{err:?}");
        assert!(err.to_string().contains("not a run directory"), "{err}");
        let run = RunDir::create(tmp.path(), "r").unwrap();
        run.write_config(&RunConfig::default()).unwrap();
        let err = ReportRun::load(&run.path).unwrap_err();
        assert!(matches!(err, ReportError::Unfinished { .. }), "{err:?}");
        assert!(
            err.to_string()
                .ends_with("r/summary.json: no summary.json (is the run finished?)"),
            "{err}"
        );
        let err = write_run_figures(&run.path).unwrap_err();
        assert!(matches!(err, ReportError::Unfinished { .. }), "{err:?}");
    }

    /// `report --out` pointing at one of the runs (or any run directory) would replace that
    /// run's own figures: refused, nothing written.
    #[test]
    fn a_report_never_writes_into_a_run_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let config = RunConfig::default();
        let mut run = record("a", 0, &config, 0.5);
        let dir = tmp.path().join("a");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("curves.svg"), "the run's own").unwrap();
        run.dir = dir.clone();
        let err = write_report(std::slice::from_ref(&run), &dir, None).unwrap_err();
        assert!(matches!(err, ReportError::OutIsARun { .. }), "{err:?}");
        assert_eq!(
            std::fs::read_to_string(dir.join("curves.svg")).unwrap(),
            "the run's own"
        );
        // Another run's directory (it has a summary.json) is refused too.
        let other = tmp.path().join("b");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("summary.json"), "{}").unwrap();
        assert!(write_report(std::slice::from_ref(&run), &other, None).is_err());
        let out = tmp.path().join("cmp");
        assert!(write_report(&[run], &out, None).is_ok());
        assert!(out.join("report.md").is_file());
    }
}
