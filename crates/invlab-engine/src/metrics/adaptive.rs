//! Adaptive eKLD sampling as a two-stage (nested) design: images of a class are the primary
//! units, transform draws of one image the secondary units. Every image of a class always has
//! the same number of draws (a balanced design), so the standard error of the class mean is the
//! spread of the per-image means over sqrt(images) — that spread already contains the
//! within-image noise divided by the draws per image, so it is honest for the nested design
//! (treating all draws as independent would understate it whenever images differ).
//!
//! The allocation follows the classical two-stage optimum: with a new image costing
//! `image_cost_ratio` transformed draws, the cost-optimal draws per image is
//! sqrt(image_cost_ratio * within_var / between_var). Held-out images are scarce, so all of them
//! are used before draws per image go beyond that optimum.

use std::ops::Range;

/// Running sums of one image's KL draws (and how many of them kept the argmax).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ImageDraws {
    pub count: usize,
    pub sum: f64,
    pub sum_sq: f64,
    pub agree: f64,
}

impl ImageDraws {
    fn mean(&self) -> f64 {
        self.sum / self.count.max(1) as f64
    }

    /// Unbiased variance of this image's draws (0 with fewer than two).
    fn variance(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let n = self.count as f64;
        ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }
}

/// A class's estimate from a balanced nested sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NestedEstimate {
    pub mean: f64,
    /// Standard error of `mean` (spread of per-image means / sqrt(images)); 0 with one image.
    pub stderr: f64,
    pub images: usize,
    pub samples_per_image: usize,
    /// Variance of one draw around its image's mean (pooled over images).
    pub within_var: f64,
    /// Variance of the images' true means (method-of-moments, clamped at 0).
    pub between_var: f64,
    /// Share of draws whose argmax agrees with the clean image's.
    pub consistency: f64,
}

/// Estimate from images that all have the same number of draws.
pub fn estimate(draws: &[ImageDraws]) -> NestedEstimate {
    let n = draws.len();
    let m = draws.first().map_or(0, |d| d.count);
    debug_assert!(
        draws.iter().all(|d| d.count == m),
        "unbalanced nested sample"
    );
    let nf = n.max(1) as f64;
    let mean = draws.iter().map(ImageDraws::mean).sum::<f64>() / nf;
    let means_var = if n > 1 {
        draws.iter().map(|d| (d.mean() - mean).powi(2)).sum::<f64>() / (nf - 1.0)
    } else {
        0.0
    };
    let within_var = draws.iter().map(ImageDraws::variance).sum::<f64>() / nf;
    let between_var = (means_var - within_var / m.max(1) as f64).max(0.0);
    let total_draws = draws.iter().map(|d| d.count).sum::<usize>().max(1) as f64;
    NestedEstimate {
        mean,
        stderr: (means_var / nf).sqrt(),
        images: n,
        samples_per_image: m,
        within_var,
        between_var,
        consistency: draws.iter().map(|d| d.agree).sum::<f64>() / total_draws,
    }
}

/// How far adaptive sampling may go for one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptivePlan {
    /// Stop once the class's standard error is at most this (nats), or at most
    /// `target_relative` times the class's eKLD, whichever is larger.
    pub target_stderr: f64,
    /// Relative target (share of the class's eKLD): eKLD spans orders of magnitude between
    /// nuisances (about 3 nats under ROT, 0.03 under BG), so an absolute target alone is either
    /// wasteful on the one or useless on the other.
    pub target_relative: f64,
    /// Images of the class that may be used (all held-out ones, or a cap).
    pub max_images: usize,
    /// Most draws per image.
    pub max_samples: usize,
    /// Cost of a new image (its clean forward) in units of one transformed draw.
    pub image_cost_ratio: f64,
}

/// The first round: enough images and two draws each to see both variance components.
pub(crate) const PILOT_IMAGES: usize = 16;
pub(crate) const PILOT_SAMPLES: usize = 2;

/// Fewest images a class may stop at (all of them when it has fewer).
pub(crate) const MIN_IMAGES: usize = 30;

/// (1.05^2 - 1): within-image variance at most this share of the between-image variance keeps
/// the SE within 5% of what infinitely many draws per image would give.
const FLOOR_MARGIN: f64 = 0.1025;

impl AdaptivePlan {
    /// The standard error a class with estimated eKLD `mean` must reach.
    pub(crate) fn target_for(&self, mean: f64) -> f64 {
        self.target_stderr.max(self.target_relative * mean.abs())
    }

    /// (images, draws per image) of the pilot round, within the caps.
    pub(crate) fn pilot(&self, available: usize) -> (usize, usize) {
        let images = PILOT_IMAGES.min(available).min(self.max_images);
        (images, PILOT_SAMPLES.min(self.max_samples).max(1))
    }

    /// The next round's (images, draws per image), or `None` when the target is met or the
    /// caps are reached. Growth is at most 2x per round, so a noisy early estimate of the
    /// variance components cannot commit much work.
    pub fn next(&self, est: &NestedEstimate, available: usize) -> Option<(usize, usize)> {
        let (n, m) = (est.images, est.samples_per_image);
        let max_images = available.min(self.max_images);
        // A standard error from a handful of images is itself too uncertain to stop on (per-
        // image KL is skewed: a small sample that missed the rare large values looks precise).
        let min_images = MIN_IMAGES.min(max_images);
        let target = self.target_for(est.mean);
        if n == 0 || (est.stderr <= target && n >= min_images.max(2)) {
            return None;
        }
        let target_var = target.powi(2);
        let (sb, sw) = (est.between_var, est.within_var);
        if n < max_images {
            // Images first: towards the cost-optimal draws per image (never fewer than so far,
            // at most twice as many per round: between_var is clamped at 0 whenever a small
            // sample's image means happen to spread less than the draws' noise predicts, and
            // jumping to the cap on that would spend 100 draws on images that differ).
            let optimal = if sb > 0.0 {
                (self.image_cost_ratio * sw / sb).sqrt()
            } else {
                self.max_samples as f64
            };
            let m_next = (optimal.round() as usize).clamp(m, (2 * m).min(self.max_samples).max(m));
            let needed = ((sb + sw / m_next as f64) / target_var).ceil();
            let most = (2 * n).min(max_images);
            let least = (n + 1).max(min_images).min(most);
            let n_next = (needed.min(max_images as f64) as usize).clamp(least, most);
            return Some((n_next, m_next));
        }
        if m >= self.max_samples {
            return None;
        }
        // All images in use: more draws per image shrink only the within-image part, down to
        // the floor the images' own spread sets (between_var / images). Draws that would bring
        // the SE less than 5% above that floor are not worth their cost, whatever the target.
        let room = n as f64 * target_var - sb;
        let for_target = if room > 0.0 {
            (sw / room).ceil()
        } else {
            f64::INFINITY
        };
        let near_floor = if sb > 0.0 {
            (sw / (FLOOR_MARGIN * sb)).ceil()
        } else {
            f64::INFINITY
        };
        let needed = for_target.min(near_floor).min(self.max_samples as f64) as usize;
        (needed > m).then(|| (n, needed.min((2 * m).min(self.max_samples))))
    }
}

/// Adds draws to a range of a class's images (see [`sample_class`]).
pub(crate) type DrawRound<'a> = dyn FnMut(Range<usize>, usize, &mut [ImageDraws]) -> bool + 'a;

/// Runs the adaptive rounds for one class with `available` images. `draw(images, extra, out)`
/// adds `extra` draws to each image in `images` (positions in the class's image order),
/// accumulating into `out` (one entry per position in `images`); it returns false when a stop
/// was requested, and then this returns `None`.
pub(crate) fn sample_class(
    plan: &AdaptivePlan,
    available: usize,
    draw: &mut DrawRound<'_>,
) -> Option<NestedEstimate> {
    let (n0, m0) = plan.pilot(available);
    let mut draws = vec![ImageDraws::default(); n0];
    if n0 == 0 {
        return Some(estimate(&draws));
    }
    if !draw(0..n0, m0, &mut draws) {
        return None;
    }
    let mut previous: Option<NestedEstimate> = None;
    loop {
        let est = estimate(&draws);
        // Stop on the larger of this round's SE and the one the previous round's variance
        // components predict for this sample: a round that happens to miss the rare large
        // per-image KLs looks precise, and stopping on it alone would make the reported SE
        // optimistic (the reported SE is always this round's own).
        let predicted = previous.map_or(0.0, |p| {
            ((p.between_var + p.within_var / est.samples_per_image.max(1) as f64)
                / est.images.max(1) as f64)
                .sqrt()
        });
        let cautious = NestedEstimate {
            stderr: est.stderr.max(predicted),
            ..est
        };
        previous = Some(est);
        let Some((n_next, m_next)) = plan.next(&cautious, available) else {
            return Some(est);
        };
        let (n, m) = (est.images, est.samples_per_image);
        if m_next > m && !draw(0..n, m_next - m, &mut draws) {
            return None;
        }
        if n_next > n {
            draws.resize(n_next, ImageDraws::default());
            if !draw(n..n_next, m_next, &mut draws[n..]) {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Standard normal by Box-Muller.
    fn normal(rng: &mut ChaCha8Rng) -> f64 {
        let u: f64 = rng.random::<f64>().max(1e-300);
        let v: f64 = rng.random();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A synthetic class: image i has true mean KL exp(mu + sb * z_i) (log-normal over images,
    /// as per-image KL is skewed), draws are that times a log-normal factor with mean 1.
    struct Synthetic {
        image_means: Vec<f64>,
        within_sd: f64,
        rng: ChaCha8Rng,
        draws_made: usize,
    }

    impl Synthetic {
        fn new(images: usize, mu: f64, between_sd: f64, within_sd: f64, seed: u64) -> Self {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let image_means = (0..images)
                .map(|_| (mu + between_sd * normal(&mut rng)).exp())
                .collect();
            Synthetic {
                image_means,
                within_sd,
                rng,
                draws_made: 0,
            }
        }

        /// The class mean the estimator targets: the mean over the population the images
        /// come from (here the log-normal's expectation, not the finite set's average).
        fn draw(&mut self, images: Range<usize>, extra: usize, out: &mut [ImageDraws]) -> bool {
            for (slot, i) in out.iter_mut().zip(images) {
                for _ in 0..extra {
                    let s = self.within_sd;
                    let factor = (s * normal(&mut self.rng) - s * s / 2.0).exp();
                    let kl = self.image_means[i] * factor;
                    slot.count += 1;
                    slot.sum += kl;
                    slot.sum_sq += kl * kl;
                    slot.agree += 1.0;
                    self.draws_made += 1;
                }
            }
            true
        }
    }

    fn plan(target: f64, max_images: usize) -> AdaptivePlan {
        AdaptivePlan {
            target_stderr: target,
            target_relative: 0.0,
            max_images,
            max_samples: 100,
            image_cost_ratio: 1.0,
        }
    }

    #[test]
    fn estimate_of_a_balanced_sample_matches_hand_computation() {
        // Two images, two draws each: means 1 and 3, within variances 2 and 0.5.
        let d = |a: f64, b: f64| ImageDraws {
            count: 2,
            sum: a + b,
            sum_sq: a * a + b * b,
            agree: 1.0,
        };
        let est = estimate(&[d(0.0, 2.0), d(2.5, 3.5)]);
        assert!((est.mean - 2.0).abs() < 1e-12);
        // Means 1 and 3: variance 2, stderr sqrt(2 / 2) = 1.
        assert!((est.stderr - 1.0).abs() < 1e-12);
        assert!((est.within_var - 1.25).abs() < 1e-12);
        assert!((est.between_var - (2.0 - 1.25 / 2.0)).abs() < 1e-12);
        assert!((est.consistency - 0.5).abs() < 1e-12);
    }

    /// Share of `trials` classes whose mean +- 2 SE covers the population mean, for adaptive
    /// sampling (`None`) or a fixed design of `Some(images)` x 2 draws.
    fn coverage(between_sd: f64, within_sd: f64, target: f64, fixed: Option<usize>) -> f64 {
        let mu: f64 = -2.0;
        let true_mean = (mu + between_sd * between_sd / 2.0).exp();
        let trials = 1000;
        let mut covered = 0;
        for seed in 0..trials {
            // A large pool so the population mean, not the pool's, is the target.
            let mut class = Synthetic::new(5000, mu, between_sd, within_sd, seed);
            let est = match fixed {
                Some(n) => {
                    let mut d = vec![ImageDraws::default(); n];
                    class.draw(0..n, 2, &mut d);
                    estimate(&d)
                }
                None => sample_class(&plan(target, 5000), 5000, &mut |r, k, out| {
                    class.draw(r, k, out)
                })
                .unwrap(),
            };
            covered += usize::from((est.mean - true_mean).abs() <= 2.0 * est.stderr);
        }
        covered as f64 / trials as f64
    }

    #[test]
    fn two_standard_errors_cover_the_true_mean() {
        // Mildly skewed per-image KL, between- or within-dominated: about 95%.
        for &(between_sd, within_sd, target) in &[(0.3, 0.3, 0.005), (0.1, 1.2, 0.005)] {
            let rate = coverage(between_sd, within_sd, target, None);
            assert!(
                (0.92..=0.98).contains(&rate),
                "coverage {rate} for between {between_sd}, within {within_sd}"
            );
        }
        // Strongly skewed (log-normal sd 0.8): +-2 SE undercovers for any design of a few dozen
        // images (the sample mean's distribution is itself skewed); stopping on the measured SE
        // must not make that much worse than a fixed design of similar size.
        let adaptive = coverage(0.8, 0.3, 0.02, None);
        let fixed = coverage(0.8, 0.3, 0.02, Some(40));
        assert!(
            adaptive >= fixed - 0.06 && adaptive >= 0.84,
            "adaptive {adaptive} against fixed {fixed}"
        );
    }

    #[test]
    fn allocation_follows_the_variance_components() {
        let mu = -2.0;
        // Images differ a lot, draws of one image barely: few draws per image, many images.
        let mut between = Synthetic::new(5000, mu, 1.0, 0.1, 1);
        let est_b = sample_class(&plan(0.005, 5000), 5000, &mut |r, k, o| {
            between.draw(r, k, o)
        })
        .unwrap();
        // Images alike, draws noisy: more draws per image.
        let mut within = Synthetic::new(5000, mu, 0.05, 1.5, 1);
        let est_w = sample_class(&plan(0.005, 5000), 5000, &mut |r, k, o| {
            within.draw(r, k, o)
        })
        .unwrap();
        assert!(est_b.stderr <= 0.005 && est_w.stderr <= 0.005);
        assert!(
            est_b.samples_per_image <= 3,
            "between-dominated class used {} draws per image",
            est_b.samples_per_image
        );
        assert!(
            est_w.samples_per_image >= 4 * est_b.samples_per_image,
            "within-dominated class used {} draws per image against {}",
            est_w.samples_per_image,
            est_b.samples_per_image
        );
        assert!(est_b.images > est_w.images);
    }

    #[test]
    fn all_images_are_used_before_draws_go_beyond_the_optimum() {
        // 100 images only, a target the images alone cannot reach: every image is used and
        // draws per image rise to the cap or the target.
        let mut class = Synthetic::new(100, -2.0, 0.1, 2.0, 3);
        let est = sample_class(&plan(0.004, 100), 100, &mut |r, k, o| class.draw(r, k, o)).unwrap();
        assert_eq!(est.images, 100);
        assert!(est.samples_per_image > PILOT_SAMPLES);
        assert!(est.stderr <= 0.004 || est.samples_per_image == 100);
        // Work is far below 100 x 100 when the target is met early.
        assert!(class.draws_made <= 100 * est.samples_per_image);
    }

    #[test]
    fn a_relative_target_gives_classes_the_same_relative_precision() {
        // Two classes whose eKLD differs ~20x: with an absolute floor far below both, each stops
        // at about 8 % of its own mean, so the small one is not swamped by the large one's target.
        let plan = AdaptivePlan {
            target_relative: 0.08,
            ..plan(1e-9, 5000)
        };
        for (mu, seed) in [(-2.0, 5), (1.0, 6)] {
            let mut class = Synthetic::new(5000, mu, 0.6, 0.8, seed);
            let est = sample_class(&plan, 5000, &mut |r, k, o| class.draw(r, k, o)).unwrap();
            let relative = est.stderr / est.mean;
            assert!(
                (0.04..=0.08).contains(&relative),
                "mu {mu}: relative SE {relative} with {} images x {}",
                est.images,
                est.samples_per_image
            );
        }
    }

    #[test]
    fn draws_per_image_at_most_double_per_round_while_images_remain() {
        // Images nearly alike and draws very noisy: the pilot's between-image variance is
        // clamped at 0, which alone would send every image to the 100-draw cap at once.
        let mut class = Synthetic::new(100, 0.0, 0.01, 1.5, 7);
        let mut rounds: Vec<(Range<usize>, usize)> = Vec::new();
        let est = sample_class(&plan(0.02, 100), 100, &mut |r, k, o| {
            rounds.push((r.clone(), k));
            class.draw(r, k, o)
        })
        .unwrap();
        let mut per_image = 0;
        let mut images = 0;
        for (range, extra) in &rounds {
            if range.start == 0 {
                // Extra draws for the images already in use.
                let next = per_image + extra;
                assert!(
                    images == 100 || per_image == 0 || next <= 2 * per_image,
                    "draws per image went from {per_image} to {next} with {images} images"
                );
                per_image = next;
            } else {
                assert_eq!(
                    *extra, per_image,
                    "new images get the same draws as the others"
                );
            }
            images = images.max(range.end);
        }
        assert_eq!(est.samples_per_image, per_image);
    }

    #[test]
    fn a_stop_ends_sampling() {
        let mut class = Synthetic::new(100, -2.0, 0.5, 0.5, 4);
        let mut calls = 0;
        let got = sample_class(&plan(1e-9, 100), 100, &mut |r, k, o| {
            calls += 1;
            class.draw(r, k, o) && calls < 3
        });
        assert!(got.is_none());
        assert_eq!(calls, 3);
    }
}
