//! The report's statistics over seeds: each series' figures as mean ± sd with a 95 % interval,
//! and every series compared with a baseline series on the seeds both ran (paired differences
//! of accuracies, paired ratios of eKLD), as Markdown and as long-format CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use invlab_core::summary::Summary;

use crate::stats::{paired, Contrast, Estimate, Paired};
use crate::{csv_quote, few_many_ratio, md_cell, ReportRun, Series};

/// A figure of a run's summary that the report aggregates over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    BalancedAccuracy,
    Accuracy,
    ManyShotAccuracy,
    MediumShotAccuracy,
    FewShotAccuracy,
    EkldMany,
    EkldMedium,
    EkldFew,
    FewManyEkld,
    SpearmanSizeEkld,
}

impl Measure {
    /// In the comparison table's column order.
    pub const ALL: [Measure; 10] = [
        Measure::BalancedAccuracy,
        Measure::Accuracy,
        Measure::ManyShotAccuracy,
        Measure::MediumShotAccuracy,
        Measure::FewShotAccuracy,
        Measure::EkldMany,
        Measure::EkldMedium,
        Measure::EkldFew,
        Measure::FewManyEkld,
        Measure::SpearmanSizeEkld,
    ];

    /// The name in CSV files (comparison.csv's column).
    pub fn key(self) -> &'static str {
        match self {
            Measure::BalancedAccuracy => "balanced_accuracy",
            Measure::Accuracy => "accuracy",
            Measure::ManyShotAccuracy => "many_shot_accuracy",
            Measure::MediumShotAccuracy => "medium_shot_accuracy",
            Measure::FewShotAccuracy => "few_shot_accuracy",
            Measure::EkldMany => "ekld_many",
            Measure::EkldMedium => "ekld_medium",
            Measure::EkldFew => "ekld_few",
            Measure::FewManyEkld => "few_many_ekld_ratio",
            Measure::SpearmanSizeEkld => "spearman_size_ekld",
        }
    }

    /// The name in Markdown tables, with its unit.
    pub fn label(self) -> &'static str {
        match self {
            Measure::BalancedAccuracy => "balanced acc %",
            Measure::Accuracy => "acc %",
            Measure::ManyShotAccuracy => "many %",
            Measure::MediumShotAccuracy => "medium %",
            Measure::FewShotAccuracy => "few %",
            Measure::EkldMany => "eKLD many",
            Measure::EkldMedium => "eKLD medium",
            Measure::EkldFew => "eKLD few",
            Measure::FewManyEkld => "few/many eKLD",
            Measure::SpearmanSizeEkld => "Spearman(size, eKLD)",
        }
    }

    /// The run's value, as the summary stores it (accuracies as fractions).
    pub fn of(self, s: &Summary) -> Option<f64> {
        match self {
            Measure::BalancedAccuracy => Some(s.balanced_accuracy),
            Measure::Accuracy => Some(s.accuracy),
            Measure::ManyShotAccuracy => s.many_shot_accuracy,
            Measure::MediumShotAccuracy => s.medium_shot_accuracy,
            Measure::FewShotAccuracy => s.few_shot_accuracy,
            Measure::EkldMany => s.ekld_by_group.many,
            Measure::EkldMedium => s.ekld_by_group.medium,
            Measure::EkldFew => s.ekld_by_group.few,
            Measure::FewManyEkld => few_many_ratio(s),
            Measure::SpearmanSizeEkld => s.spearman_size_ekld,
        }
    }

    fn is_accuracy(self) -> bool {
        matches!(
            self,
            Measure::BalancedAccuracy
                | Measure::Accuracy
                | Measure::ManyShotAccuracy
                | Measure::MediumShotAccuracy
                | Measure::FewShotAccuracy
        )
    }

    /// Accuracies are shown in percent (and differences in points).
    fn display_scale(self) -> f64 {
        if self.is_accuracy() {
            100.0
        } else {
            1.0
        }
    }

    /// eKLD is a scale (nats, positive, spanning decades between classes): methods are
    /// compared by ratio. Accuracies and the rank correlation by difference.
    pub fn contrast(self) -> Contrast {
        match self {
            Measure::EkldMany | Measure::EkldMedium | Measure::EkldFew | Measure::FewManyEkld => {
                Contrast::Ratio
            }
            _ => Contrast::Difference,
        }
    }

    fn value_text(self, v: f64) -> String {
        match self {
            _ if self.is_accuracy() => format!("{v:.1}"),
            Measure::FewManyEkld => format!("{v:.2}"),
            Measure::SpearmanSizeEkld => format!("{v:+.2}"),
            _ => format!("{v:.3}"),
        }
    }

    /// A paired difference or ratio as text: "+5.2" points, "0.71x", "+0.05".
    fn contrast_text(self, v: f64) -> String {
        match self.contrast() {
            Contrast::Ratio => format!("{v:.2}x"),
            Contrast::Difference if self.is_accuracy() => format!("{:+.1}", v * 100.0),
            Contrast::Difference => format!("{v:+.2}"),
        }
    }

    fn contrast_label(self) -> String {
        match self.contrast() {
            Contrast::Ratio => format!("{} (ratio)", self.label()),
            Contrast::Difference if self.is_accuracy() => {
                format!("{} (points)", self.label().trim_end_matches(" %"))
            }
            Contrast::Difference => format!("{} (difference)", self.label()),
        }
    }
}

/// A series' runs, one per seed: the first run of a seed that appears twice is used, the
/// others are counted.
struct BySeed<'a> {
    runs: BTreeMap<u64, &'a Summary>,
    duplicates: usize,
}

impl<'a> BySeed<'a> {
    fn of(runs: &'a [ReportRun], series: &Series) -> BySeed<'a> {
        let mut by_seed = BTreeMap::new();
        let mut duplicates = 0;
        for &i in &series.members {
            let s = &runs[i].summary;
            match by_seed.entry(s.seed) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(s);
                }
                std::collections::btree_map::Entry::Occupied(_) => duplicates += 1,
            }
        }
        BySeed {
            runs: by_seed,
            duplicates,
        }
    }

    fn estimate(&self, measure: Measure) -> Option<Estimate> {
        let values: Option<Vec<f64>> = self.runs.values().map(|s| measure.of(s)).collect();
        Estimate::of(&values?)
    }
}

/// `mean ± sd [lo, hi]` in the measure's display units; the mean alone for one seed.
fn estimate_text(measure: Measure, e: &Estimate) -> String {
    let e = e.scaled(measure.display_scale());
    let v = |x| measure.value_text(x);
    match (e.sd, e.interval) {
        (Some(sd), Some((lo, hi))) => {
            let sd = match measure {
                Measure::SpearmanSizeEkld => format!("{sd:.2}"),
                _ => measure.value_text(sd),
            };
            format!("{} ± {} [{}, {}]", v(e.mean), sd, v(lo), v(hi))
        }
        _ => v(e.mean),
    }
}

/// Does any series hold more than one seed (otherwise there is nothing to aggregate)?
pub(crate) fn has_seed_series(runs: &[ReportRun], series: &[Series]) -> bool {
    series.iter().any(|s| BySeed::of(runs, s).runs.len() > 1)
}

/// The table of every series over its seeds, Markdown.
pub(crate) fn series_table(runs: &[ReportRun], series: &[Series]) -> String {
    let mut out = String::from("| series | seeds |");
    let mut rule = String::from("|---|---|");
    for m in Measure::ALL {
        let _ = write!(out, " {} |", m.label());
        rule.push_str("---|");
    }
    out.push('\n');
    out.push_str(&rule);
    out.push('\n');
    for s in series {
        let by_seed = BySeed::of(runs, s);
        let _ = write!(out, "| {} | {} |", md_cell(&s.label), by_seed.runs.len());
        for m in Measure::ALL {
            let cell = by_seed
                .estimate(m)
                .map(|e| estimate_text(m, &e))
                .unwrap_or_else(|| "–".into());
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

/// The series statistics as CSV, one row per series and measure, full precision, in the
/// summary's units (fractions for accuracies).
pub(crate) fn series_csv(runs: &[ReportRun], series: &[Series]) -> String {
    let mut out = String::from("series,seeds,measure,mean,sd,ci95_low,ci95_high\n");
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for s in series {
        let by_seed = BySeed::of(runs, s);
        for m in Measure::ALL {
            let Some(e) = by_seed.estimate(m) else {
                continue;
            };
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                csv_quote(&s.label),
                by_seed.runs.len(),
                m.key(),
                e.mean,
                opt(e.sd),
                opt(e.interval.map(|i| i.0)),
                opt(e.interval.map(|i| i.1)),
            );
        }
    }
    out
}

/// One series against the baseline series, on the seeds both ran.
pub(crate) struct Comparison {
    pub baseline: String,
    pub candidate: String,
    pub shared_seeds: Vec<u64>,
    /// Runs left out because their seed appeared twice in a series.
    pub duplicates: usize,
    pub rows: Vec<(Measure, Paired)>,
}

/// Every other series against `baseline` (an index into `series`), where they share a seed.
pub(crate) fn comparisons(
    runs: &[ReportRun],
    series: &[Series],
    baseline: usize,
) -> Vec<Comparison> {
    let base = BySeed::of(runs, &series[baseline]);
    let mut out = Vec::new();
    for (i, s) in series.iter().enumerate() {
        if i == baseline {
            continue;
        }
        let cand = BySeed::of(runs, s);
        let shared: Vec<u64> = base
            .runs
            .keys()
            .filter(|seed| cand.runs.contains_key(seed))
            .copied()
            .collect();
        if shared.is_empty() {
            continue;
        }
        let rows = Measure::ALL
            .iter()
            .filter_map(|&m| {
                let triples: Vec<(u64, Option<f64>, Option<f64>)> = shared
                    .iter()
                    .map(|seed| (*seed, m.of(base.runs[seed]), m.of(cand.runs[seed])))
                    .collect();
                paired(m.contrast(), &triples).map(|p| (m, p))
            })
            .collect();
        out.push(Comparison {
            baseline: series[baseline].label.clone(),
            candidate: s.label.clone(),
            shared_seeds: shared,
            duplicates: base.duplicates + cand.duplicates,
            rows,
        });
    }
    out
}

fn seeds_text(seeds: &[u64]) -> String {
    seeds
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The paired comparisons, Markdown: one table per candidate series.
pub(crate) fn comparisons_markdown(comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    for c in comparisons {
        let _ = writeln!(
            out,
            "#### {} against {}\n\nPaired on {} seed{} ({}): per seed the candidate minus the \
             baseline (accuracy in points, Spearman) or over it (eKLD); the mean difference, or \
             the geometric mean of the ratios, with its 95 % t-interval; the seeds above / below \
             the baseline and a two-sided sign test.{}\n",
            md_cell(&c.candidate),
            md_cell(&c.baseline),
            c.shared_seeds.len(),
            if c.shared_seeds.len() == 1 { "" } else { "s" },
            seeds_text(&c.shared_seeds),
            if c.duplicates > 0 {
                format!(
                    " {} run{} with a seed already in its series left out.",
                    c.duplicates,
                    if c.duplicates == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        );
        out.push_str(
            "| measure | per seed | mean | 95 % interval | above / below | sign test p |\n\
             |---|---|---|---|---|---|\n",
        );
        for (m, p) in &c.rows {
            let per_seed = p
                .per_seed
                .iter()
                .map(|&v| m.contrast_text(v))
                .collect::<Vec<_>>()
                .join(", ");
            let interval = p
                .estimate
                .interval
                .map(|(lo, hi)| format!("{} to {}", m.contrast_text(lo), m.contrast_text(hi)))
                .unwrap_or_else(|| "– (one seed)".into());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} / {} | {:.3} |",
                m.contrast_label(),
                per_seed,
                m.contrast_text(p.estimate.mean),
                interval,
                p.above,
                p.below,
                p.sign_test_p
            );
        }
        out.push('\n');
    }
    out
}

/// The paired comparisons as CSV, one row per candidate and measure; accuracy differences as
/// fractions, eKLD as ratios; per-seed values separated by `;`.
pub(crate) fn comparisons_csv(comparisons: &[Comparison]) -> String {
    let mut out = String::from(
        "candidate,baseline,measure,contrast,seeds,mean,ci95_low,ci95_high,above,below,sign_test_p,seed_list,per_seed\n",
    );
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for c in comparisons {
        for (m, p) in &c.rows {
            let contrast = match p.contrast {
                Contrast::Difference => "difference",
                Contrast::Ratio => "ratio",
            };
            let seeds = p
                .seeds
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(";");
            let per_seed = p
                .per_seed
                .iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(";");
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                csv_quote(&c.candidate),
                csv_quote(&c.baseline),
                m.key(),
                contrast,
                p.seeds.len(),
                p.estimate.mean,
                opt(p.estimate.interval.map(|i| i.0)),
                opt(p.estimate.interval.map(|i| i.1)),
                p.above,
                p.below,
                p.sign_test_p,
                seeds,
                per_seed,
            );
        }
    }
    out
}

/// The share of the gap from a baseline series to a reference (an upper bound, e.g. GIT's
/// oracle control) that a candidate closes, per seed: (candidate - baseline) / (reference -
/// baseline) for accuracies and correlations, ln(candidate / baseline) / ln(reference /
/// baseline) for eKLD (its scale). 1 closes the gap, 0 is the baseline, below 0 the wrong way.
pub(crate) struct GapShare {
    pub candidate: String,
    pub baseline: String,
    pub reference: String,
    /// Per measure: the seeds used, their shares, and the mean with its t-interval.
    pub rows: Vec<(Measure, Vec<u64>, Vec<f64>, Estimate)>,
}

/// A gap narrower than this (in the measure's own units, or log-units) gives no share: a
/// reference no better than the baseline on that seed has no gap to close.
const NO_GAP: f64 = 1e-9;

pub(crate) fn gap_shares(
    runs: &[ReportRun],
    series: &[Series],
    baseline: usize,
    reference: usize,
) -> Vec<GapShare> {
    let base = BySeed::of(runs, &series[baseline]);
    let refr = BySeed::of(runs, &series[reference]);
    let mut out = Vec::new();
    for (i, s) in series.iter().enumerate() {
        if i == baseline || i == reference {
            continue;
        }
        let cand = BySeed::of(runs, s);
        let rows: Vec<_> = Measure::ALL
            .iter()
            .filter_map(|&m| {
                let mut seeds = Vec::new();
                let mut shares = Vec::new();
                for (seed, b) in &base.runs {
                    let (Some(c), Some(r)) = (cand.runs.get(seed), refr.runs.get(seed)) else {
                        continue;
                    };
                    let (Some(b), Some(c), Some(r)) = (m.of(b), m.of(c), m.of(r)) else {
                        continue;
                    };
                    let (moved, gap) = match m.contrast() {
                        Contrast::Difference => (c - b, r - b),
                        Contrast::Ratio if b > 0.0 && c > 0.0 && r > 0.0 => {
                            ((c / b).ln(), (r / b).ln())
                        }
                        Contrast::Ratio => continue,
                    };
                    if gap.abs() < NO_GAP {
                        continue;
                    }
                    seeds.push(*seed);
                    shares.push(moved / gap);
                }
                Estimate::of(&shares).map(|e| (m, seeds, shares, e))
            })
            .collect();
        if !rows.is_empty() {
            out.push(GapShare {
                candidate: s.label.clone(),
                baseline: series[baseline].label.clone(),
                reference: series[reference].label.clone(),
                rows,
            });
        }
    }
    out
}

fn share_text(v: f64) -> String {
    format!("{:.0} %", v * 100.0)
}

pub(crate) fn gap_shares_markdown(gaps: &[GapShare]) -> String {
    let mut out = String::new();
    for g in gaps {
        let _ = writeln!(
            out,
            "#### {}: share of the gap from {} to {} closed\n\nPer seed (candidate - baseline) / \
             (reference - baseline), eKLD on the log scale; 100 % matches the reference, 0 % \
             the baseline. Seeds where the reference equals the baseline have no gap and are \
             left out.\n",
            md_cell(&g.candidate),
            md_cell(&g.baseline),
            md_cell(&g.reference)
        );
        out.push_str("| measure | per seed | mean | 95 % interval |\n|---|---|---|---|\n");
        for (m, _, shares, e) in &g.rows {
            let per_seed = shares
                .iter()
                .map(|&v| share_text(v))
                .collect::<Vec<_>>()
                .join(", ");
            let interval = e
                .interval
                .map(|(lo, hi)| format!("{} to {}", share_text(lo), share_text(hi)))
                .unwrap_or_else(|| "– (one seed)".into());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                m.label(),
                per_seed,
                share_text(e.mean),
                interval
            );
        }
        out.push('\n');
    }
    out
}

/// The gap shares as CSV (shares as fractions; per-seed values separated by `;`).
pub(crate) fn gap_shares_csv(gaps: &[GapShare]) -> String {
    let mut out = String::from(
        "candidate,baseline,reference,measure,seeds,mean,ci95_low,ci95_high,seed_list,per_seed\n",
    );
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for g in gaps {
        for (m, seeds, shares, e) in &g.rows {
            let join = |v: Vec<String>| v.join(";");
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{}",
                csv_quote(&g.candidate),
                csv_quote(&g.baseline),
                csv_quote(&g.reference),
                m.key(),
                seeds.len(),
                e.mean,
                opt(e.interval.map(|i| i.0)),
                opt(e.interval.map(|i| i.1)),
                join(seeds.iter().map(u64::to_string).collect()),
                join(shares.iter().map(f64::to_string).collect()),
            );
        }
    }
    out
}
