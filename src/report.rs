//! Figures and tables from finished run directories: eKLD against class size (log axis) and
//! training curves as standalone SVG, and a Markdown comparison table. Plain data in, text out.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::engine::rundir::{read_metrics, RunDir};
use crate::engine::{EpochMetrics, Summary};

/// One finished run, read back from its directory.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub dir: PathBuf,
    pub label: String,
    pub summary: Summary,
    pub metrics: Vec<EpochMetrics>,
}

impl RunRecord {
    pub fn load(dir: &Path) -> Result<RunRecord, String> {
        let path = dir.join("summary.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e} (is the run finished?)", path.display()))?;
        let summary: Summary =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(RunRecord {
            dir: dir.to_path_buf(),
            label: summary.name.clone(),
            metrics: read_metrics(&dir.join("metrics.jsonl")),
            summary,
        })
    }
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
        for k in 0..=5 {
            let v = self.y0 + (self.y1 - self.y0) * k as f64 / 5.0;
            let y = self.y(v);
            let _ = writeln!(out, "<line x1=\"{}\" y1=\"{y:.1}\" x2=\"{l}\" y2=\"{y:.1}\" stroke=\"#444\"/><line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{r}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>", l - 5.0, l - 8.0, y + 4.0, fmt_tick(v));
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

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn legend(out: &mut String, labels: &[String]) {
    for (i, label) in labels.iter().enumerate() {
        let y = TOP + 10.0 + 18.0 * i as f64;
        let x = W - RIGHT + 15.0;
        let _ = writeln!(out, "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>", y - 10.0, PALETTE[i % PALETTE.len()], x + 18.0, y, escape(label));
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

/// eKLD per class against training class size (log axis), one colour per run, with each run's
/// mean eKLD per log-size bin drawn as a line.
pub fn ekld_vs_size_svg(runs: &[RunRecord]) -> String {
    let points: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|r| {
            r.summary
                .classes
                .iter()
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
        &runs.iter().map(|r| r.label.clone()).collect::<Vec<_>>(),
    );
    out.push_str("</svg>\n");
    out
}

/// Mean y in `bins` equal-width bins of x; empty bins are skipped. Points are (x, y).
pub fn binned_means(points: &[(f64, f64)], bins: usize) -> Vec<(f64, f64)> {
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

/// Balanced test accuracy per epoch for each run.
pub fn curves_svg(runs: &[RunRecord]) -> String {
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
    let ticks: Vec<(f64, String)> = (0..=5)
        .map(|k| {
            let e = 1.0 + (max_epoch - 1.0) * k as f64 / 5.0;
            (e, format!("{}", e.round()))
        })
        .collect();
    let mut out = header("Balanced test accuracy (solid) and train loss x10 (dashed)");
    frame.axes(&mut out, &ticks, "%", "epoch");
    for (i, r) in runs.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        // One "x,y" list per series: accuracy (solid) and loss x10 (dashed).
        let series = |value: &dyn Fn(&EpochMetrics) -> f64| -> String {
            r.metrics
                .iter()
                .map(|m| format!("{:.1},{:.1}", frame.x(m.epoch as f64), frame.y(value(m))))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let acc = series(&|m| 100.0 * m.balanced_accuracy);
        let loss = series(&|m| (10.0 * m.train_loss).min(100.0));
        let _ = writeln!(
            out,
            "<polyline points=\"{acc}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>"
        );
        let _ = writeln!(out, "<polyline points=\"{loss}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>");
    }
    legend(
        &mut out,
        &runs.iter().map(|r| r.label.clone()).collect::<Vec<_>>(),
    );
    out.push_str("</svg>\n");
    out
}

/// A Markdown table: accuracy by group and mean eKLD on many- vs few-shot classes.
pub fn comparison_table(runs: &[RunRecord]) -> String {
    let pct = |v: Option<f64>| {
        v.map(|x| format!("{:.1}", 100.0 * x))
            .unwrap_or_else(|| "–".into())
    };
    let num = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "–".into());
    let mut out = String::from(
        "| run | balanced acc % | many % | medium % | few % | eKLD many | eKLD medium | eKLD few | few/many eKLD | Spearman(size, eKLD) |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in runs {
        let s = &r.summary;
        let ratio = match (s.ekld_by_group.few, s.ekld_by_group.many) {
            (Some(f), Some(m)) if m > 0.0 => Some(f / m),
            _ => None,
        };
        let _ = writeln!(
            out,
            "| {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            100.0 * s.balanced_accuracy,
            pct(s.many_shot_accuracy),
            pct(s.medium_shot_accuracy),
            pct(s.few_shot_accuracy),
            num(s.ekld_by_group.many),
            num(s.ekld_by_group.medium),
            num(s.ekld_by_group.few),
            ratio
                .map(|x| format!("{x:.1}x"))
                .unwrap_or_else(|| "–".into()),
            s.spearman_size_ekld
                .map(|x| format!("{x:+.2}"))
                .unwrap_or_else(|| "–".into()),
        );
    }
    out
}

/// Writes `ekld_vs_size.svg` and `curves.svg` into a finished run's directory.
pub fn write_run_figures(dir: &Path) -> Result<(), String> {
    let run = RunRecord::load(dir)?;
    let runs = [run];
    let d = RunDir {
        path: dir.to_path_buf(),
    };
    crate::engine::rundir::write_atomic(
        &d.file("ekld_vs_size.svg"),
        ekld_vs_size_svg(&runs).as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    crate::engine::rundir::write_atomic(&d.file("curves.svg"), curves_svg(&runs).as_bytes())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
