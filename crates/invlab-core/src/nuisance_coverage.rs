//! GIT's generator coverage diagnostic, as plain data: does the generator produce the range of
//! nuisance the true transform does, on head images and on tail images? For each image, the
//! nuisance of `styles` generated variants (random styles, from the training image as the
//! classifier's batches give it) beside that of as many fresh draws of the true transform (of
//! the untransformed image), both measured by the same statistic (`NuisanceMeasure`) against
//! the untransformed image. A generator
//! whose style path is dead gives each image nearly one nuisance value whatever the style: its
//! within-image spread is a small share of the true transform's, though the pooled values may
//! still spread across images. The engine measures (`invlab_engine::generative::coverage`);
//! the run directory keeps it as `generator-coverage.json`; the lab and `invlab report` show it.

use serde::{Deserialize, Serialize};

use crate::config::TransformKind;
use crate::summary::{classes_largest_first, SizeGroup};

/// The run-directory file.
pub const FILE: &str = "generator-coverage.json";

/// The statistic of an image that the nuisance transform sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NuisanceMeasure {
    /// BG: the mean value (0..=255) of the pixels that are background (0 in every channel) in
    /// the untransformed image. The true transform sets exactly these pixels to its drawn level.
    BackgroundLevel,
    /// DIL: the image's ink area (pixels >= 128 in some channel) over the untransformed image's.
    /// Dilation raises it above 1, erosion lowers it.
    InkAreaRatio,
}

impl NuisanceMeasure {
    /// The measure of a transform's nuisance; `None` where the diagnostic has none (ROT, whose
    /// angle an image statistic does not read back, and no transform).
    pub fn of(transform: TransformKind) -> Option<NuisanceMeasure> {
        match transform {
            TransformKind::Bg => Some(NuisanceMeasure::BackgroundLevel),
            TransformKind::Dil => Some(NuisanceMeasure::InkAreaRatio),
            TransformKind::Rot | TransformKind::None => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            NuisanceMeasure::BackgroundLevel => "background level",
            NuisanceMeasure::InkAreaRatio => "ink area ratio",
        }
    }

    /// Decimals that show the measure's scale (levels 0..255, ratios near 1).
    pub fn decimals(self) -> usize {
        match self {
            NuisanceMeasure::BackgroundLevel => 0,
            NuisanceMeasure::InkAreaRatio => 2,
        }
    }
}

/// Head or tail: which end of the class-size order the images come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SizeEnd {
    /// The many-shot classes (else the largest third).
    Head,
    /// The few-shot classes (else the smallest third).
    Tail,
}

impl SizeEnd {
    pub fn label(self) -> &'static str {
        match self {
            SizeEnd::Head => "head",
            SizeEnd::Tail => "tail",
        }
    }
}

/// One end's images and their measured nuisance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageGroup {
    pub end: SizeEnd,
    /// Each image's class and that class's training size.
    pub classes: Vec<usize>,
    pub class_sizes: Vec<usize>,
    /// `styles` values per image, image after image: the generated variants' nuisance.
    pub generated: Vec<f64>,
    /// As many values per image from fresh draws of the true transform.
    pub truth: Vec<f64>,
}

/// The diagnostic of one generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NuisanceCoverage {
    pub transform: TransformKind,
    pub measure: NuisanceMeasure,
    /// Generated variants (and true draws) per image.
    pub styles: usize,
    pub groups: Vec<CoverageGroup>,
}

/// A sample's location and spread.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub sd: f64,
    pub q05: f64,
    pub q50: f64,
    pub q95: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        Spread {
            mean: mean(&sorted),
            sd: sd(&sorted),
            q05: quantile(&sorted, 0.05),
            q50: quantile(&sorted, 0.5),
            q95: quantile(&sorted, 0.95),
        }
    }
}

/// What one end's values say.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CoverageSummary {
    pub images: usize,
    pub generated: Spread,
    pub truth: Spread,
    /// The share of the true values' 5-95 % range that the generated values' 5-95 % range
    /// covers (0: disjoint or a point; 1: all of it; NaN without finite values).
    pub range_covered: f64,
    /// Mean over images of the generated values' sd across styles, over the same mean of the
    /// true draws' sd: near 0 when an image's styles all give one nuisance (a dead style
    /// path), near 1 when the styles vary the nuisance as much as the transform does.
    pub within_image_spread: f64,
    /// Wasserstein-1 distance between the generated and the true values (the measure's units).
    pub wasserstein: f64,
}

impl CoverageGroup {
    pub fn images(&self) -> usize {
        self.classes.len()
    }

    pub fn summary(&self, styles: usize) -> CoverageSummary {
        let generated = Spread::of(&self.generated);
        let truth = Spread::of(&self.truth);
        // Each image's finite values; an image with fewer than two has no spread to report.
        let per_image_sd = |values: &[f64]| -> f64 {
            let sds: Vec<f64> = values
                .chunks(styles.max(1))
                .map(|chunk| {
                    chunk
                        .iter()
                        .copied()
                        .filter(|v| v.is_finite())
                        .collect::<Vec<_>>()
                })
                .filter(|finite| finite.len() > 1)
                .map(|finite| sd(&finite))
                .collect();
            mean(&sds)
        };
        CoverageSummary {
            images: self.images(),
            generated,
            truth,
            range_covered: overlap_share((generated.q05, generated.q95), (truth.q05, truth.q95)),
            within_image_spread: per_image_sd(&self.generated) / per_image_sd(&self.truth),
            wasserstein: wasserstein1(&self.generated, &self.truth),
        }
    }
}

/// The share of `of` (lo, hi) that `by` covers; 0 for an empty `of`, NaN for a bound that is
/// not finite.
pub fn overlap_share(by: (f64, f64), of: (f64, f64)) -> f64 {
    // A bound that is not a number (no finite values behind it) covers nothing; `f64::min`
    // and `max` would silently pick the other side.
    if ![by.0, by.1, of.0, of.1].iter().all(|v| v.is_finite()) {
        return f64::NAN;
    }
    let width = of.1 - of.0;
    if width <= 0.0 || !width.is_finite() {
        return 0.0;
    }
    ((by.1.min(of.1) - by.0.max(of.0)).max(0.0) / width).min(1.0)
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample standard deviation (n - 1); 0 for fewer than two values.
fn sd(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
}

/// The `p` quantile of sorted values, interpolated linearly between order statistics (R's
/// type 7, NumPy's default).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = p.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// Wasserstein-1 distance between two samples' empirical distributions: the integral of
/// |F_a - F_b| over the line, exact for samples of any sizes.
pub fn wasserstein1(a: &[f64], b: &[f64]) -> f64 {
    let finite = |v: &[f64]| {
        let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        s.sort_by(f64::total_cmp);
        s
    };
    let (a, b) = (finite(a), finite(b));
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let mut points: Vec<f64> = a.iter().chain(&b).copied().collect();
    points.sort_by(f64::total_cmp);
    let (mut i, mut j, mut total) = (0, 0, 0.0);
    for w in points.windows(2) {
        while i < a.len() && a[i] <= w[0] {
            i += 1;
        }
        while j < b.len() && b[j] <= w[0] {
            j += 1;
        }
        let gap = i as f64 / a.len() as f64 - j as f64 / b.len() as f64;
        total += gap.abs() * (w[1] - w[0]);
    }
    total
}

/// Which images the diagnostic measures: `per_end` from the head (the many-shot classes, over
/// 100 training images, largest first) and from the tail (the few-shot classes, under 20,
/// smallest first), the groups every table of the project uses; where a group is empty (a
/// dataset without few-shot classes), the largest or smallest third of the classes instead.
/// Images are taken round-robin across the end's classes (first images first), so an end with
/// up to `per_end` classes has all of them. Classes without images are skipped; `usable` says
/// whether an image can carry the measure.
pub fn pick_images(
    by_class: &[Vec<usize>],
    sizes: &[usize],
    per_end: usize,
    usable: &dyn Fn(usize) -> bool,
) -> Vec<(SizeEnd, Vec<(usize, usize)>)> {
    let order = classes_largest_first(by_class, sizes);
    let third = order.len().div_ceil(3);
    let in_group = |group: SizeGroup| -> Vec<usize> {
        order
            .iter()
            .copied()
            .filter(|&c| SizeGroup::of(sizes[c]) == group)
            .collect()
    };
    let mut head = in_group(SizeGroup::Many);
    if head.is_empty() {
        head = order[..third].to_vec();
    }
    let mut tail = in_group(SizeGroup::Few);
    if tail.is_empty() {
        tail = order[order.len() - third..].to_vec();
    }
    // A dataset whose classes are all few-shot: the head's classes are not the tail too.
    tail.retain(|c| !head.contains(c));
    tail.reverse();
    [(SizeEnd::Head, head), (SizeEnd::Tail, tail)]
        .into_iter()
        .map(|(end, classes)| (end, round_robin(by_class, &classes, per_end, usable)))
        .collect()
}

/// Up to `count` usable images, one per class in turn.
fn round_robin(
    by_class: &[Vec<usize>],
    classes: &[usize],
    count: usize,
    usable: &dyn Fn(usize) -> bool,
) -> Vec<(usize, usize)> {
    let mut picked = Vec::new();
    let mut next = vec![0usize; classes.len()];
    let mut progress = true;
    while picked.len() < count && progress {
        progress = false;
        for (k, &c) in classes.iter().enumerate() {
            if picked.len() >= count {
                break;
            }
            while let Some(&i) = by_class[c].get(next[k]) {
                next[k] += 1;
                if usable(i) {
                    picked.push((c, i));
                    progress = true;
                    break;
                }
            }
        }
    }
    picked
}

/// A summary's figures as every view writes them: the 5-95 % ranges and W1 with the measure's
/// decimals, the share covered in whole percent, the spread with two decimals.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryText {
    pub generated: [String; 2],
    pub truth: [String; 2],
    /// Percent, without the sign.
    pub covers: String,
    /// Times, without the `x`.
    pub spread: String,
    pub wasserstein: String,
}

impl CoverageSummary {
    pub fn text(&self, decimals: usize) -> SummaryText {
        let d = decimals;
        SummaryText {
            generated: [
                format!("{:.d$}", self.generated.q05),
                format!("{:.d$}", self.generated.q95),
            ],
            truth: [
                format!("{:.d$}", self.truth.q05),
                format!("{:.d$}", self.truth.q95),
            ],
            covers: format!("{:.0}", 100.0 * self.range_covered),
            spread: format!("{:.2}", self.within_image_spread),
            wasserstein: format!("{:.d$}", self.wasserstein),
        }
    }
}

/// One line per end for the batch log and `invlab eval`, e.g. `tail (16 images)  generated
/// 5-95% [14, 21]  true [5, 94]: covers 8%, within-image spread 0.04x, W1 31`.
pub fn summary_line(coverage: &NuisanceCoverage, group: &CoverageGroup) -> String {
    let s = group.summary(coverage.styles);
    let t = s.text(coverage.measure.decimals());
    format!(
        "{} ({} images)  generated 5-95% [{}, {}]  true [{}, {}]: covers {}%, within-image spread {}x, W1 {}",
        group.end.label(),
        s.images,
        t.generated[0],
        t.generated[1],
        t.truth[0],
        t.truth[1],
        t.covers,
        t.spread,
        t.wasserstein,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_order_statistics_as_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        // numpy.quantile([1,2,3,4,10], 0.95) = 4 + 0.8 * 6 = 8.8
        assert!((quantile(&v, 0.95) - 8.8).abs() < 1e-12);
        assert!((quantile(&v, 0.05) - 1.2).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn wasserstein_is_the_area_between_the_distribution_functions() {
        // A shift by c moves every unit of mass c.
        let a = [0.0, 1.0, 2.0, 5.0];
        let b: Vec<f64> = a.iter().map(|x| x + 3.0).collect();
        assert!((wasserstein1(&a, &b) - 3.0).abs() < 1e-12);
        assert_eq!(wasserstein1(&a, &a), 0.0);
        // Unequal sizes: {0} against {0, 2}: half the mass moves 2.
        assert!((wasserstein1(&[0.0], &[0.0, 2.0]) - 1.0).abs() < 1e-12);
        // Equal sizes: the mean distance between sorted values (scipy.stats.wasserstein_distance).
        let x = [3.0, 0.0, 1.0];
        let y = [4.0, 4.0, 0.5];
        let expected = ((0.0f64 - 0.5).abs() + (1.0f64 - 4.0).abs() + (3.0f64 - 4.0).abs()) / 3.0;
        assert!((wasserstein1(&x, &y) - expected).abs() < 1e-12);
    }

    #[test]
    fn overlap_is_the_share_of_the_true_range_covered() {
        assert_eq!(overlap_share((0.0, 10.0), (0.0, 100.0)), 0.1);
        assert_eq!(overlap_share((-5.0, 200.0), (0.0, 100.0)), 1.0);
        assert_eq!(overlap_share((150.0, 200.0), (0.0, 100.0)), 0.0);
        assert_eq!(overlap_share((0.0, 10.0), (5.0, 5.0)), 0.0);
    }

    /// A generator whose styles do nothing (one value per image) against a transform drawing
    /// levels uniformly: the summary must see both the pooled overlap and the dead style path.
    #[test]
    fn a_dead_style_path_shows_as_no_within_image_spread() {
        let styles = 50;
        let images = 4;
        let generated: Vec<f64> = (0..images)
            .flat_map(|i| std::iter::repeat_n(20.0 * i as f64, styles))
            .collect();
        let truth: Vec<f64> = (0..images)
            .flat_map(|_| (0..styles).map(|k| 2.0 * k as f64))
            .collect();
        let group = CoverageGroup {
            end: SizeEnd::Tail,
            classes: vec![0; images],
            class_sizes: vec![5; images],
            generated,
            truth,
        };
        let s = group.summary(styles);
        assert_eq!(s.images, 4);
        assert_eq!(s.within_image_spread, 0.0);
        assert_eq!(s.generated.q05, 0.0);
        assert_eq!(s.generated.q95, 60.0);
        // True 5-95 % of 4 x {0, 2, .., 98}: 4 .. 94 (numpy.quantile); generated 0 .. 60
        // covers (60 - 4) / 90 of it.
        assert_eq!((s.truth.q05, s.truth.q95), (4.0, 94.0), "{:?}", s.truth);
        assert!((s.range_covered - 56.0 / 90.0).abs() < 1e-9);
        // Same values redrawn per image: within-image spread 1.
        let alive = CoverageGroup {
            generated: group.truth.clone(),
            ..group.clone()
        };
        assert!((alive.summary(styles).within_image_spread - 1.0).abs() < 1e-12);
        assert_eq!(alive.summary(styles).wasserstein, 0.0);
    }

    #[test]
    fn head_and_tail_are_the_many_and_few_shot_classes_taken_round_robin() {
        // Many: classes 4 (5000), 0 (300), 2 (150); medium: 3 (40), 7 (25); few: 5 (12),
        // 6 (3), 1 (1). Class c holds images 10000 c + i.
        let sizes = [300usize, 1, 150, 40, 5000, 12, 3, 25];
        let classes = |sizes: &[usize]| -> Vec<Vec<usize>> {
            sizes
                .iter()
                .enumerate()
                .map(|(c, &n)| (0..n).map(|i| 10_000 * c + i).collect())
                .collect()
        };
        // Image 1 of class 0 cannot carry the measure.
        let picked = pick_images(&classes(&sizes), &sizes, 5, &|i| i != 1);
        assert_eq!(picked[0].0, SizeEnd::Head);
        // Head: the many-shot classes, largest first, in turn, skipping image 1.
        assert_eq!(
            picked[0].1,
            vec![(4, 40_000), (0, 0), (2, 20_000), (4, 40_001), (0, 2)]
        );
        // Tail: the few-shot classes, smallest first, in turn until they run out.
        assert_eq!(picked[1].0, SizeEnd::Tail);
        assert_eq!(
            picked[1].1,
            vec![
                (1, 10_000),
                (6, 60_000),
                (5, 50_000),
                (6, 60_001),
                (5, 50_001)
            ]
        );
        // No many-shot class: the largest third is the head, and the tail (here every class
        // is few-shot) leaves the head's classes out.
        let small = [9usize, 1, 5, 3, 7, 2];
        let picked = pick_images(&classes(&small), &small, 5, &|_| true);
        assert_eq!(
            picked[0].1,
            vec![(0, 0), (4, 40_000), (0, 1), (4, 40_001), (0, 2)]
        );
        assert_eq!(
            picked[1].1,
            vec![
                (1, 10_000),
                (5, 50_000),
                (3, 30_000),
                (2, 20_000),
                (5, 50_001)
            ]
        );
        // An empty dataset picks nothing and does not panic.
        assert!(pick_images(&[], &[], 4, &|_| true)
            .iter()
            .all(|(_, p)| p.is_empty()));
    }

    /// A generator whose values are all unreadable covers nothing: NaN, never "100 %".
    #[test]
    fn a_generator_without_finite_values_reports_no_coverage() {
        let group = CoverageGroup {
            end: SizeEnd::Head,
            classes: vec![0, 1],
            class_sizes: vec![200, 200],
            generated: vec![f64::NAN; 6],
            truth: vec![0.0, 40.0, 80.0, 10.0, 50.0, 90.0],
        };
        let s = group.summary(3);
        assert!(s.range_covered.is_nan(), "{s:?}");
        assert!(s.within_image_spread.is_nan() && s.wasserstein.is_nan());
        assert!(overlap_share((f64::NAN, f64::NAN), (0.0, 1.0)).is_nan());
        // One unreadable value in an image leaves that image's other values their spread.
        let mut one_bad = group.clone();
        one_bad.generated = vec![0.0, 40.0, f64::NAN, 10.0, 50.0, 90.0];
        let s = one_bad.summary(3);
        assert!(s.within_image_spread.is_finite(), "{s:?}");
    }

    #[test]
    fn the_measure_follows_the_transform() {
        assert_eq!(
            NuisanceMeasure::of(TransformKind::Bg),
            Some(NuisanceMeasure::BackgroundLevel)
        );
        assert_eq!(
            NuisanceMeasure::of(TransformKind::Dil),
            Some(NuisanceMeasure::InkAreaRatio)
        );
        assert_eq!(NuisanceMeasure::of(TransformKind::Rot), None);
    }
}
