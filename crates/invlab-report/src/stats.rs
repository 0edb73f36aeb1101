//! Statistics over seeds, as a paper reports them: per series, mean ± sd and a 95 % Student-t
//! interval; between two series on the seeds they share, the paired difference (accuracy) or
//! the paired ratio (eKLD, averaged on the log scale) with its interval, and a two-sided sign
//! test. Everything here is plain arithmetic on `f64`s; which figures it is applied to is
//! `measures`' job.

/// Mean, standard deviation and 95 % interval of the mean of a sample (seeds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n - 1); `None` for one value.
    pub sd: Option<f64>,
    /// 95 % Student-t interval of the mean, mean ± t(0.975, n - 1) sd / sqrt(n); `None` for
    /// one value.
    pub interval: Option<(f64, f64)>,
}

impl Estimate {
    /// `None` for no values (or any non-finite one: a sample with a NaN has no mean).
    pub fn of(values: &[f64]) -> Option<Estimate> {
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Some(Estimate {
                n,
                mean,
                sd: None,
                interval: None,
            });
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        let half = t_975(n - 1) * sd / (n as f64).sqrt();
        Some(Estimate {
            n,
            mean,
            sd: Some(sd),
            interval: Some((mean - half, mean + half)),
        })
    }

    /// The same estimate with every figure mapped through `f` (an increasing function: a unit
    /// change or `exp` of a log-scale estimate). The sd is only meaningful for a linear `f`,
    /// so it is dropped unless `keep_sd`.
    fn map(self, f: impl Fn(f64) -> f64, keep_sd: bool) -> Estimate {
        Estimate {
            n: self.n,
            mean: f(self.mean),
            sd: if keep_sd { self.sd.map(&f) } else { None },
            interval: self.interval.map(|(lo, hi)| (f(lo), f(hi))),
        }
    }

    /// Scaled by a positive factor (fractions to percent).
    pub fn scaled(self, factor: f64) -> Estimate {
        self.map(|v| v * factor, true)
    }
}

/// How two series are compared on a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contrast {
    /// `candidate - baseline` per seed (accuracies, correlations).
    Difference,
    /// `candidate / baseline` per seed, averaged as a geometric mean: the interval is the
    /// t-interval of the mean log ratio, exponentiated (eKLD: a scale, positive).
    Ratio,
}

/// One measure compared between two series on the seeds both have.
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    pub contrast: Contrast,
    /// The seeds used, ascending, and the per-seed difference or ratio.
    pub seeds: Vec<u64>,
    pub per_seed: Vec<f64>,
    /// Mean difference, or geometric-mean ratio, with its 95 % interval (no sd for a ratio).
    pub estimate: Estimate,
    /// Seeds on which the candidate is above the baseline (difference > 0, ratio > 1), below
    /// it, and tied.
    pub above: usize,
    pub below: usize,
    /// Two-sided exact sign test over the untied seeds (1.0 when all tie).
    pub sign_test_p: f64,
}

/// Compares `(seed, baseline, candidate)` triples. Seeds where either value is missing (or,
/// for a ratio, not positive) are left out; `None` when none is left.
pub fn paired(contrast: Contrast, triples: &[(u64, Option<f64>, Option<f64>)]) -> Option<Paired> {
    let mut rows: Vec<(u64, f64)> = triples
        .iter()
        .filter_map(|&(seed, base, cand)| {
            let (b, c) = (base?, cand?);
            let value = match contrast {
                Contrast::Difference => c - b,
                Contrast::Ratio if b > 0.0 && c > 0.0 => c / b,
                Contrast::Ratio => return None,
            };
            value.is_finite().then_some((seed, value))
        })
        .collect();
    rows.sort_by_key(|&(seed, _)| seed);
    let per_seed: Vec<f64> = rows.iter().map(|&(_, v)| v).collect();
    let estimate = match contrast {
        Contrast::Difference => Estimate::of(&per_seed)?,
        Contrast::Ratio => {
            let logs: Vec<f64> = per_seed.iter().map(|r| r.ln()).collect();
            Estimate::of(&logs)?.map(f64::exp, false)
        }
    };
    let neutral = match contrast {
        Contrast::Difference => 0.0,
        Contrast::Ratio => 1.0,
    };
    let above = per_seed.iter().filter(|&&v| v > neutral).count();
    let below = per_seed.iter().filter(|&&v| v < neutral).count();
    Some(Paired {
        contrast,
        seeds: rows.iter().map(|&(s, _)| s).collect(),
        per_seed,
        estimate,
        above,
        below,
        sign_test_p: sign_test(above, below),
    })
}

/// Two-sided exact sign test: the probability, under a fair coin, of a split at least as
/// uneven as `above` : `below`.
pub fn sign_test(above: usize, below: usize) -> f64 {
    let n = above + below;
    if n == 0 {
        return 1.0;
    }
    let k = above.min(below);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in logs (n may be in the hundreds).
    let ln_half_n = n as f64 * 0.5f64.ln();
    let tail: f64 = (0..=k).map(|i| (ln_choose(n, i) + ln_half_n).exp()).sum();
    (2.0 * tail).min(1.0)
}

fn ln_choose(n: usize, k: usize) -> f64 {
    (1..=k)
        .map(|i| ((n - k + i) as f64).ln() - (i as f64).ln())
        .sum()
}

/// The two-sided 95 % critical value of Student's t with `df` degrees of freedom,
/// t(0.975, df), found by bisection on the distribution function.
pub fn t_975(df: usize) -> f64 {
    t_quantile(0.975, df as f64)
}

/// The `p` quantile of Student's t (p in (0.5, 1)).
fn t_quantile(p: f64, df: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while t_cdf(hi, df) < p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Student's t distribution function at t >= 0: 1 - I_x(df / 2, 1 / 2) / 2 with
/// x = df / (df + t^2), I the regularised incomplete beta function.
fn t_cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    1.0 - 0.5 * regularized_incomplete_beta(0.5 * df, 0.5, x)
}

/// I_x(a, b) by its continued fraction (modified Lentz), on the side where it converges fast.
fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function, evaluated by Lentz's method.
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..500 {
        let m = m as f64;
        // The even step, then the odd one.
        for numerator in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + numerator * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + numerator / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(π x).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEF[0];
    for (i, c) in COEF.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Critical values from published t tables (and the normal limit).
    #[test]
    fn t_critical_values_match_the_tables() {
        for (df, want) in [
            (1, 12.706_204_7),
            (2, 4.302_652_7),
            (3, 3.182_446_3),
            (4, 2.776_445_1),
            (9, 2.262_157_2),
            (14, 2.144_786_7),
            (29, 2.045_229_6),
            (1000, 1.962_339_1),
        ] {
            let got = t_975(df);
            assert!((got - want).abs() < 1e-5, "df {df}: {got} vs {want}");
        }
    }

    #[test]
    fn ln_gamma_matches_factorials_and_the_half() {
        for (x, want) in [
            (1.0, 1.0f64),
            (5.0, 24.0),
            (10.0, 362_880.0),
            (0.5, std::f64::consts::PI.sqrt()),
        ] {
            assert!((ln_gamma(x) - want.ln()).abs() < 1e-12, "{x}");
        }
    }

    /// Mean, sd and interval of a small sample worked by hand: 1, 2, 3, 6 has mean 3,
    /// variance (4 + 1 + 0 + 9) / 3 = 14 / 3, and half-width t(0.975, 3) sd / 2.
    #[test]
    fn estimate_of_a_hand_worked_sample() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 6.0]).unwrap();
        let sd = (14.0f64 / 3.0).sqrt();
        assert_eq!(e.n, 4);
        assert!((e.mean - 3.0).abs() < 1e-12);
        assert!((e.sd.unwrap() - sd).abs() < 1e-12);
        let half = 3.182_446_3 * sd / 2.0;
        let (lo, hi) = e.interval.unwrap();
        assert!((lo - (3.0 - half)).abs() < 1e-6 && (hi - (3.0 + half)).abs() < 1e-6);
        // One value: a mean, no spread; none: nothing; a NaN: nothing.
        let one = Estimate::of(&[0.4]).unwrap();
        assert_eq!((one.sd, one.interval), (None, None));
        assert!(Estimate::of(&[]).is_none());
        assert!(Estimate::of(&[1.0, f64::NAN]).is_none());
    }

    /// The paired difference is taken per seed on the seeds both sides have, not between the
    /// two series' means: with a large seed effect shared by both sides, the unpaired
    /// interval spans zero and the paired one does not.
    #[test]
    fn paired_difference_uses_shared_seeds_and_removes_the_seed_effect() {
        let triples = [
            (0, Some(0.30), Some(0.32)),
            (1, Some(0.50), Some(0.53)),
            (2, Some(0.70), Some(0.71)),
            (3, Some(0.40), None), // the candidate has no seed 3
            (4, None, Some(0.90)), // nor the baseline seed 4
        ];
        let p = paired(Contrast::Difference, &triples).unwrap();
        assert_eq!(p.seeds, vec![0, 1, 2]);
        let want = [0.02, 0.03, 0.01];
        for (got, want) in p.per_seed.iter().zip(want) {
            assert!((got - want).abs() < 1e-12);
        }
        assert!((p.estimate.mean - 0.02).abs() < 1e-12);
        let (lo, hi) = p.estimate.interval.unwrap();
        // sd 0.01, t(0.975, 2) = 4.303: 0.02 ± 0.0248.
        assert!((lo - (0.02 - 4.302_652_7 * 0.01 / 3f64.sqrt())).abs() < 1e-6);
        assert!(hi > 0.04);
        let unpaired = Estimate::of(&[0.32 - 0.30, 0.53 - 0.30, 0.71 - 0.30]).unwrap();
        assert!(unpaired.interval.unwrap().1 > hi);
        assert_eq!((p.above, p.below), (3, 0));
        assert!((p.sign_test_p - 0.25).abs() < 1e-12);
    }

    /// A ratio is averaged on the log scale: ratios 2 and 1/2 average to 1, not 1.25, and
    /// the interval is symmetric in log.
    #[test]
    fn paired_ratio_is_a_geometric_mean_with_a_log_scale_interval() {
        let p = paired(
            Contrast::Ratio,
            &[
                (0, Some(1.0), Some(2.0)),
                (1, Some(2.0), Some(1.0)),
                (2, Some(0.0), Some(1.0)),
            ],
        )
        .unwrap();
        // Seed 2's baseline of 0 has no ratio.
        assert_eq!(p.seeds, vec![0, 1]);
        assert!((p.estimate.mean - 1.0).abs() < 1e-12);
        let (lo, hi) = p.estimate.interval.unwrap();
        assert!((lo * hi - 1.0).abs() < 1e-9, "{lo} {hi}");
        assert!(p.estimate.sd.is_none());
        assert_eq!((p.above, p.below), (1, 1));
        assert_eq!(p.sign_test_p, 1.0);
    }

    /// Exact binomial tails: 10 of 10 one way is 2 / 1024; 8 : 2 is 2 x 56 / 1024; ties are
    /// not counted; nothing untied is p = 1.
    #[test]
    fn sign_test_is_the_exact_binomial_tail() {
        assert!((sign_test(10, 0) - 2.0 / 1024.0).abs() < 1e-15);
        assert!((sign_test(2, 8) - 112.0 / 1024.0).abs() < 1e-12);
        assert_eq!(sign_test(5, 5), 1.0);
        assert_eq!(sign_test(0, 0), 1.0);
        assert!(sign_test(300, 200) < 1e-5);
    }
}
