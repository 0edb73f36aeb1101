//! Long-tailed class sizes (exponential, Zipf, step) and seeded subset selection.

use rand::seq::SliceRandom;

use crate::config::{ClassOrder, DataConfig, Pick, Profile};
use crate::seed::{self, SeedPurpose};

/// Training images per class *rank* (rank 0 = largest), as SPEC defines each profile.
pub fn sizes_by_rank(data: &DataConfig, num_classes: usize) -> Vec<usize> {
    let n_max = data.max_per_class;
    let floor = data.min_per_class.max(1);
    let c_total = num_classes.max(1);
    (0..num_classes)
        .map(|c| {
            let n = match data.profile {
                Profile::Balanced => n_max,
                Profile::Exp => {
                    if c_total == 1 {
                        n_max
                    } else {
                        let exponent = -(c as f64) / ((c_total - 1) as f64);
                        (n_max as f64 * data.imbalance.powf(exponent)).floor() as usize
                    }
                }
                // pmf(c+1; a) / pmf(1; a) = (c+1)^(-a): the zeta normaliser cancels.
                Profile::Zipf => {
                    (n_max as f64 / ((c + 1) as f64).powf(data.zipf_a)).floor() as usize
                }
                Profile::Step => {
                    if c < c_total.div_ceil(2) {
                        n_max
                    } else {
                        (n_max as f64 / data.imbalance).floor() as usize
                    }
                }
            };
            // The Zipf floor is the paper's; elsewhere it only guards against empty classes.
            if data.profile == Profile::Zipf {
                n.max(floor)
            } else {
                n.max(1)
            }
        })
        .collect()
}

/// Class labels by rank, `order[rank] = class`: a seeded permutation, or label order.
pub fn class_order(order: ClassOrder, num_classes: usize, seed: u64) -> Vec<usize> {
    let mut classes: Vec<usize> = (0..num_classes).collect();
    if order == ClassOrder::Seeded {
        classes.shuffle(&mut seed::rng(seed, SeedPurpose::ClassOrder));
    }
    classes
}

/// Training size of each class label.
pub fn sizes_by_class(data: &DataConfig, num_classes: usize, seed: u64) -> Vec<usize> {
    let by_rank = sizes_by_rank(data, num_classes);
    let order = class_order(data.class_order, num_classes, seed);
    let mut sizes = vec![0; num_classes];
    for (rank, &class) in order.iter().enumerate() {
        sizes[class] = by_rank[rank];
    }
    sizes
}

/// Picks `n` of a class's `pool` (indices into the source set, in file order): seeded, or the
/// first `n`. When `n` exceeds the pool, base images are reused in further passes (shuffled when
/// seeded; each copy later gets its own transform).
pub fn choose(pool: &[usize], n: usize, pick: Pick, seed: u64, class: usize) -> Vec<usize> {
    if pool.is_empty() {
        return Vec::new();
    }
    let mut rng = seed::rng(seed, SeedPurpose::Choose { class });
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut pass = pool.to_vec();
        if pick == Pick::Seeded {
            pass.shuffle(&mut rng);
        }
        let take = (n - out.len()).min(pass.len());
        out.extend_from_slice(&pass[..take]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(profile: Profile) -> DataConfig {
        DataConfig {
            profile,
            ..DataConfig::default()
        }
    }

    #[test]
    fn exponential_matches_cao_et_al() {
        let d = DataConfig {
            profile: Profile::Exp,
            imbalance: 100.0,
            max_per_class: 5000,
            ..DataConfig::default()
        };
        let sizes = sizes_by_rank(&d, 10);
        // CIFAR-10-LT, rho 100: the published per-class counts.
        assert_eq!(
            sizes,
            vec![5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
        );
    }

    #[test]
    fn zipf_matches_paper_k49() {
        let sizes = sizes_by_rank(&data(Profile::Zipf), 49);
        assert_eq!(&sizes[..6], &[4800, 1200, 533, 300, 192, 133]);
        assert!(sizes[31..].iter().all(|&n| n == 5));
        assert_eq!(sizes[30], 5); // 4800 / 31^2 = 4.99 -> floor 5
        assert_eq!(sizes.iter().sum::<usize>(), 7822);
    }

    #[test]
    fn step_halves() {
        let d = DataConfig {
            profile: Profile::Step,
            imbalance: 10.0,
            max_per_class: 500,
            ..DataConfig::default()
        };
        assert_eq!(sizes_by_rank(&d, 5), vec![500, 500, 500, 50, 50]);
    }

    #[test]
    fn order_is_seeded_or_identity() {
        let seeded = |seed| class_order(ClassOrder::Seeded, 49, seed);
        assert_eq!(seeded(7), seeded(7));
        assert_ne!(seeded(7), seeded(8));
        let mut o = seeded(7);
        o.sort();
        assert_eq!(o, (0..49).collect::<Vec<_>>());
        assert_eq!(
            class_order(ClassOrder::Identity, 10, 7),
            (0..10).collect::<Vec<_>>()
        );
        // Identity order with the exponential profile: CIFAR-10-LT exactly as Cao et al.
        let d = DataConfig {
            profile: Profile::Exp,
            imbalance: 100.0,
            max_per_class: 5000,
            class_order: ClassOrder::Identity,
            ..DataConfig::default()
        };
        assert_eq!(
            sizes_by_class(&d, 10, 123),
            vec![5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
        );
    }

    #[test]
    fn choose_reuses_when_pool_is_small() {
        let pool = [3, 4, 5];
        let picked = choose(&pool, 7, Pick::Seeded, 1, 0);
        assert_eq!(picked.len(), 7);
        for p in &pool {
            assert!(picked.iter().filter(|&&x| x == *p).count() >= 2);
        }
        assert_eq!(picked, choose(&pool, 7, Pick::Seeded, 1, 0));
    }

    #[test]
    fn first_pick_keeps_file_order() {
        let pool = [10, 11, 12, 13, 14];
        assert_eq!(choose(&pool, 3, Pick::First, 9, 2), vec![10, 11, 12]);
        assert_eq!(
            choose(&pool, 7, Pick::First, 9, 2),
            vec![10, 11, 12, 13, 14, 10, 11]
        );
        assert_ne!(choose(&pool, 3, Pick::Seeded, 9, 2), vec![10, 11, 12]);
    }
}
