//! Long-tail methods as three independent choices: the loss, the class rule (how sampling and
//! loss weights depend on class size, and when), and the batch augmentation.
//! Formulas follow the papers and their reference code (Cao et al. 2019 for LDAM / DRW / DRS,
//! Cui et al. 2019 for effective numbers, Lin et al. 2017 for focal loss, Kang et al. 2020 for cRT).

use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Reduction, Tensor};

use crate::transforms;
use invlab_core::config::{Augment, Loss, MethodConfig, Rule, RunConfig};

/// Effective-number weights (1 - beta) / (1 - beta^n_c), normalised to sum to the class count.
pub(crate) fn effective_number_weights(sizes: &[usize], beta: f64) -> Vec<f64> {
    let raw: Vec<f64> = sizes
        .iter()
        .map(|&n| (1.0 - beta) / (1.0 - beta.powi(n.max(1) as i32)))
        .collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|w| w / total * sizes.len() as f64).collect()
}

/// Whether `epoch` (0-based) is past the first decay epoch, where deferred rules switch on.
fn deferred_on(epoch: usize, e1: usize) -> bool {
    epoch >= e1
}

/// Per-class loss weights for this epoch, or `None` for plain (unweighted) loss.
pub(crate) fn loss_weights(
    method: &MethodConfig,
    sizes: &[usize],
    epoch: usize,
    e1: usize,
) -> Option<Vec<f64>> {
    match method.rule {
        Rule::Reweight => Some(effective_number_weights(sizes, method.beta)),
        Rule::Drw if deferred_on(epoch, e1) => Some(effective_number_weights(sizes, method.beta)),
        _ => None,
    }
}

/// Per-class sampling weights (probability of one image of class c is proportional to w_c), or
/// `None` for plain shuffling. `crt_stage` is true during classifier re-training.
pub(crate) fn sampling_weights(
    method: &MethodConfig,
    sizes: &[usize],
    epoch: usize,
    e1: usize,
    crt_stage: bool,
) -> Option<Vec<f64>> {
    let balanced = || sizes.iter().map(|&n| 1.0 / n.max(1) as f64).collect();
    match method.rule {
        Rule::Resample => Some(balanced()),
        Rule::ResampleEffective => Some(effective_number_weights(sizes, method.beta)),
        Rule::Drs if deferred_on(epoch, e1) => Some(balanced()),
        Rule::Crt if crt_stage => Some(balanced()),
        _ => None,
    }
}

/// One epoch's image order: a shuffle, or `len` draws with replacement by class weight.
pub(crate) fn epoch_order(
    labels: &[i64],
    class_weights: Option<&[f64]>,
    by_class: &[Vec<usize>],
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    match class_weights {
        None => {
            let mut order: Vec<usize> = (0..labels.len()).collect();
            order.shuffle(rng);
            order
        }
        Some(w) => {
            // P(class c) = w_c n_c / sum; then uniform within the class.
            let class_mass: Vec<f64> = by_class
                .iter()
                .enumerate()
                .map(|(c, members)| w[c] * members.len() as f64)
                .collect();
            let classes = WeightedIndex::new(&class_mass).expect("some class has images");
            (0..labels.len())
                .map(|_| {
                    let members = &by_class[classes.sample(rng)];
                    members[rng.random_range(0..members.len())]
                })
                .collect()
        }
    }
}

/// LDAM margins: proportional to n_c^(-1/4), the largest equal to `max_margin`.
pub(crate) fn ldam_margins(sizes: &[usize], max_margin: f64) -> Vec<f64> {
    let raw: Vec<f64> = sizes
        .iter()
        .map(|&n| 1.0 / (n.max(1) as f64).powf(0.25))
        .collect();
    let max = raw.iter().cloned().fold(0.0, f64::max);
    raw.iter().map(|m| m * max_margin / max).collect()
}

/// log(n_c / sum_k n_k): the training set's class prior, for the prior-adjusted losses.
pub(crate) fn log_prior(train_sizes: &[usize]) -> Vec<f64> {
    let total: usize = train_sizes.iter().sum();
    train_sizes
        .iter()
        .map(|&n| (n.max(1) as f64 / total.max(1) as f64).ln())
        .collect()
}

/// The training loss on a batch's logits.
pub(crate) struct LossFn {
    loss: Loss,
    gamma: f64,
    scale: f64,
    margins: Option<Tensor>,
    /// tau x log prior per class (Balanced Softmax: tau = 1), added to the logits in training.
    prior_shift: Option<Tensor>,
}

impl LossFn {
    pub fn new(method: &MethodConfig, sizes: &[usize], device: tch::Device) -> LossFn {
        let margins = (method.loss == Loss::Ldam).then(|| {
            let m: Vec<f32> = ldam_margins(sizes, method.ldam_max_margin)
                .into_iter()
                .map(|x| x as f32)
                .collect();
            Tensor::from_slice(&m).to_device(device)
        });
        let tau = match method.loss {
            Loss::BalancedSoftmax => Some(1.0),
            Loss::LogitAdjusted => Some(method.la_tau),
            _ => None,
        };
        // `sizes` are the training set's class counts (the worker passes `train_sizes`).
        let prior_shift = tau.map(|tau| {
            let shift: Vec<f32> = log_prior(sizes)
                .into_iter()
                .map(|l| (tau * l) as f32)
                .collect();
            Tensor::from_slice(&shift).to_device(device)
        });
        LossFn {
            loss: method.loss,
            gamma: method.focal_gamma,
            scale: method.ldam_scale,
            margins,
            prior_shift,
        }
    }

    /// Mean loss over the batch; `weights` are per-class loss weights (a tensor on the device).
    pub(crate) fn compute(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        weights: Option<&Tensor>,
    ) -> Tensor {
        match self.loss {
            Loss::Ce => logits.cross_entropy_loss(targets, weights, Reduction::Mean, -100, 0.0),
            Loss::BalancedSoftmax | Loss::LogitAdjusted => {
                let shift = self.prior_shift.as_ref().expect("the class prior");
                (logits + shift.unsqueeze(0)).cross_entropy_loss(
                    targets,
                    weights,
                    Reduction::Mean,
                    -100,
                    0.0,
                )
            }
            Loss::Focal => {
                // As the LDAM-DRW reference: p = exp(-CE_i) with the (weighted) per-sample CE.
                let ce = logits.cross_entropy_loss(targets, weights, Reduction::None, -100, 0.0);
                let p = (-&ce).exp();
                ((-p + 1.0).pow_tensor_scalar(self.gamma) * ce).mean(Kind::Float)
            }
            Loss::Ldam => {
                let margins = self.margins.as_ref().expect("LDAM margins");
                let classes = logits.size()[1];
                let onehot = targets.one_hot(classes).to_kind(Kind::Bool);
                let m = margins.index_select(0, targets).unsqueeze(1);
                let adjusted = logits.where_self(&onehot.logical_not(), &(logits - m));
                (adjusted * self.scale).cross_entropy_loss(
                    targets,
                    weights,
                    Reduction::Mean,
                    -100,
                    0.0,
                )
            }
        }
    }
}

/// A training batch's images (float 0..=255, before normalisation). `stored` is the batch as the
/// training set holds it (transformed once, as the paper builds its datasets); `base` the same
/// images untransformed, needed by Oracle, which draws a fresh nuisance transform of the base
/// image for every image and batch (re-transforming `stored` would compose two transforms:
/// dilate after dilate, a second background fill that finds no zero pixel, double interpolation).
/// Then CIFAR-style crop + flip when configured.
pub(crate) fn training_images(
    config: &RunConfig,
    stored: &Tensor,
    base: Option<&Tensor>,
    rng: &mut ChaCha8Rng,
) -> Tensor {
    let mut x = match config.method.augment {
        Augment::Oracle => {
            let base = base.expect("Oracle needs the untransformed training images");
            transforms::apply(config.data.transform, base, rng)
        }
        // GIT's generated images are mixed in by the engine, which owns the generator.
        Augment::None | Augment::Git | Augment::GitOracle => stored.shallow_clone(),
    };
    if config.train.crop_flip {
        x = crop_flip(&x, rng);
    }
    x
}

/// Whether the run keeps the untransformed training images: Oracle's batches and GIT's oracle
/// control draw fresh transforms of them; GIT's coverage diagnostic measures the nuisance
/// against them.
pub(crate) fn needs_base_images(config: &RunConfig) -> bool {
    match config.method.augment {
        Augment::Oracle | Augment::GitOracle => true,
        Augment::Git => {
            invlab_core::nuisance_coverage::NuisanceMeasure::of(config.data.transform).is_some()
        }
        Augment::None => false,
    }
}

/// Random crop (zero padding 4) and horizontal flip, one draw per image, batched by gather.
fn crop_flip(images: &Tensor, rng: &mut ChaCha8Rng) -> Tensor {
    let size = images.size();
    let (n, c, h, w) = (size[0], size[1], size[2], size[3]);
    let device = images.device();
    let pad = 4;
    let padded = images.constant_pad_nd([pad, pad, pad, pad]);
    let oy: Vec<i64> = (0..n).map(|_| rng.random_range(0..=2 * pad)).collect();
    let ox: Vec<i64> = (0..n).map(|_| rng.random_range(0..=2 * pad)).collect();
    let flip: Vec<bool> = (0..n).map(|_| rng.random_bool(0.5)).collect();
    let rows = Tensor::from_slice(&oy).to_device(device).view([n, 1])
        + Tensor::arange(h, (Kind::Int64, device)).view([1, h]);
    let cols = Tensor::from_slice(&ox).to_device(device).view([n, 1])
        + Tensor::arange(w, (Kind::Int64, device)).view([1, w]);
    let by_rows = padded.gather(
        2,
        &rows
            .view([n, 1, h, 1])
            .expand([n, c, h, w + 2 * pad], false),
        false,
    );
    let cropped = by_rows.gather(
        3,
        &cols.view([n, 1, 1, w]).expand([n, c, h, w], false),
        false,
    );
    let flip = Tensor::from_slice(&flip)
        .to_device(device)
        .view([n, 1, 1, 1]);
    cropped.flip([3]).where_self(&flip, &cropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use tch::Device;

    fn method(loss: Loss, rule: Rule) -> MethodConfig {
        MethodConfig {
            loss,
            rule,
            ..MethodConfig::default()
        }
    }

    /// Glyph-like base images: sparse ink on a zero background.
    fn base_images(n: i64) -> Tensor {
        let _torch = crate::torch_seed::hold_torch_seed(5);
        let ink = Tensor::randint_low(1, 256, [n, 1, 28, 28], (Kind::Float, Device::Cpu));
        ink.where_self(
            &Tensor::rand([n, 1, 28, 28], (Kind::Float, Device::Cpu)).gt(0.7),
            &Tensor::from(0f32),
        )
    }

    #[test]
    fn oracle_bg_fills_the_base_images_background_afresh_every_batch() {
        let mut config = RunConfig::default();
        config.data.transform = invlab_core::config::TransformKind::Bg;
        config.method.augment = Augment::Oracle;
        let base = base_images(16);
        // The stored set is the base with its own background, as the dataset holds it.
        let stored = transforms::apply(
            config.data.transform,
            &base,
            &mut ChaCha8Rng::seed_from_u64(9),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let a = training_images(&config, &stored, Some(&base), &mut rng);
        let b = training_images(&config, &stored, Some(&base), &mut rng);
        let background = base.eq(0.0);
        let mut differs = 0;
        for i in 0..16 {
            for batch in [&a, &b] {
                let (out, bg) = (batch.get(i), background.get(i));
                let values = out.masked_select(&bg);
                let (lo, hi) = (
                    f64::try_from(values.min()).unwrap(),
                    f64::try_from(values.max()).unwrap(),
                );
                assert_eq!(lo, hi, "image {i}: one background value per image");
                assert!((0.0..=99.0).contains(&lo), "image {i}: background {lo}");
                let ink = bg.logical_not();
                assert!(out
                    .masked_select(&ink)
                    .equal(&base.get(i).masked_select(&ink)));
            }
            let bg = background.get(i);
            let va = f64::try_from(a.get(i).masked_select(&bg).max()).unwrap();
            let vb = f64::try_from(b.get(i).masked_select(&bg).max()).unwrap();
            differs += usize::from(va != vb);
        }
        // Fresh draws per batch: two batches agree on an image's value 1 time in 100.
        assert!(differs >= 12, "only {differs} of 16 backgrounds redrawn");
        config.method.augment = Augment::None;
        assert!(training_images(&config, &stored, Some(&base), &mut rng).equal(&stored));
    }

    #[test]
    fn oracle_dil_is_exactly_one_morphology_of_the_base_image() {
        use transforms::{morphology, Morph};
        let mut config = RunConfig::default();
        config.data.transform = invlab_core::config::TransformKind::Dil;
        config.method.augment = Augment::Oracle;
        let n = 24;
        let base = base_images(n);
        let stored = morphology(&base, &vec![Morph::Dilate(4); n as usize]);
        let out = training_images(
            &config,
            &stored,
            Some(&base),
            &mut ChaCha8Rng::seed_from_u64(2),
        );
        let ops = [
            Morph::Dilate(2),
            Morph::Dilate(3),
            Morph::Dilate(4),
            Morph::Erode(1),
            Morph::Erode(2),
        ];
        let candidates: Vec<Tensor> = ops
            .iter()
            .map(|&op| morphology(&base, &vec![op; n as usize]))
            .collect();
        let mut used = std::collections::HashSet::new();
        for i in 0..n {
            let matches: Vec<usize> = (0..ops.len())
                .filter(|&k| candidates[k].get(i).equal(&out.get(i)))
                .collect();
            assert!(
                !matches.is_empty(),
                "image {i} is no single morphology of its base"
            );
            used.insert(matches[0]);
        }
        assert!(used.len() >= 3, "several operations drawn: {used:?}");
    }

    #[test]
    fn crop_flip_keeps_shape_and_only_moves_pixels() {
        let x = Tensor::arange(2 * 3 * 8 * 8, (Kind::Float, Device::Cpu)).view([2, 3, 8, 8]);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let y = crop_flip(&x, &mut rng);
        assert_eq!(y.size(), vec![2, 3, 8, 8]);
        // Every output value is either padding (0) or a value of the same image.
        for i in 0..2 {
            let xi = x.get(i);
            let yi = y.get(i);
            let nonzero = yi.masked_select(&yi.ne(0.0));
            let lo = f64::try_from(xi.min()).unwrap();
            let hi = f64::try_from(xi.max()).unwrap();
            assert!(
                f64::try_from(nonzero.min()).unwrap() >= lo.max(1.0) - 1e-6 || nonzero.numel() == 0
            );
            assert!(f64::try_from(nonzero.max()).unwrap() <= hi);
        }
    }

    /// Each output image is exactly one crop of the 4-padded image (offsets 0..=8 each way),
    /// flipped or not, and the crops and flips vary from image to image: the identity, a
    /// constant offset or a transform that never flips would fail.
    #[test]
    fn crop_flip_is_a_random_padded_crop_and_a_coin_flip_per_image() {
        let n = 64;
        let x = (Tensor::arange(n * 8 * 8, (Kind::Float, Device::Cpu)) + 1.0).view([n, 1, 8, 8]);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let y = crop_flip(&x, &mut rng);
        let padded = x.constant_pad_nd([4, 4, 4, 4]);
        let mut found = Vec::new();
        for i in 0..n {
            let yi = y.get(i);
            let hit = (0..=8i64)
                .flat_map(|oy| (0..=8i64).flat_map(move |ox| [(oy, ox, false), (oy, ox, true)]))
                .find(|&(oy, ox, flip)| {
                    let crop = padded.get(i).narrow(1, oy, 8).narrow(2, ox, 8);
                    let crop = if flip { crop.flip([2]) } else { crop };
                    crop.equal(&yi)
                });
            found.push(hit.unwrap_or_else(|| panic!("image {i} is no padded crop of its input")));
        }
        let flipped = found.iter().filter(|f| f.2).count();
        assert!((16..=48).contains(&flipped), "{flipped} of {n} flipped");
        let offsets: std::collections::HashSet<(i64, i64)> =
            found.iter().map(|&(oy, ox, _)| (oy, ox)).collect();
        assert!(offsets.len() > 20, "only {} distinct crops", offsets.len());
    }

    /// Cui et al.'s class-balanced weights, (1 - beta) / (1 - beta^n), normalised to sum to the
    /// class count. The expected values were computed independently (Python floats, this
    /// formula written out by hand), not by the code under test.
    #[test]
    fn effective_numbers_match_cui_et_al() {
        let close = |got: &[f64], want: &[f64]| {
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(want) {
                assert!((a - b).abs() < 1e-12, "{got:?} vs {want:?}");
            }
        };
        close(
            &effective_number_weights(&[5000, 500, 50], 0.9999),
            &[0.03410736180099411, 0.2751672254368821, 2.6907254127621236],
        );
        close(
            &effective_number_weights(&[1000, 100, 10], 0.99),
            &[0.2301471597560314, 0.3630109846269648, 2.406841855617004],
        );
    }

    #[test]
    fn deferred_rules_switch_at_e1() {
        let sizes = [100, 10];
        // Effective-number weights at beta = 0.9999 (computed independently, as above).
        let cui = Some(vec![0.18256270693871587, 1.817437293061284]);
        let close = |got: Option<Vec<f64>>, want: &Option<Vec<f64>>| match (got, want) {
            (Some(g), Some(w)) => g.iter().zip(w).all(|(a, b)| (a - b).abs() < 1e-12),
            (g, w) => g.is_none() && w.is_none(),
        };
        let drw = method(Loss::Ce, Rule::Drw);
        assert_eq!(drw.beta, 0.9999);
        assert_eq!(loss_weights(&drw, &sizes, 29, 30), None);
        assert!(close(loss_weights(&drw, &sizes, 30, 30), &cui));
        assert!(close(loss_weights(&drw, &sizes, 45, 30), &cui));
        // Reweight is on from the start; neither touches sampling.
        let reweight = method(Loss::Ce, Rule::Reweight);
        assert!(close(loss_weights(&reweight, &sizes, 0, 30), &cui));
        assert_eq!(sampling_weights(&drw, &sizes, 45, 30, false), None);
        assert_eq!(sampling_weights(&reweight, &sizes, 45, 30, false), None);
        let drs = method(Loss::Ce, Rule::Drs);
        assert_eq!(sampling_weights(&drs, &sizes, 29, 30, false), None);
        assert_eq!(
            sampling_weights(&drs, &sizes, 30, 30, false),
            Some(vec![0.01, 0.1])
        );
        assert_eq!(loss_weights(&drs, &sizes, 30, 30), None);
        let crt = method(Loss::Ce, Rule::Crt);
        assert_eq!(sampling_weights(&crt, &sizes, 100, 30, false), None);
        assert_eq!(
            sampling_weights(&crt, &sizes, 0, 30, true),
            Some(vec![0.01, 0.1])
        );
        let effective = method(Loss::Ce, Rule::ResampleEffective);
        assert!(close(
            sampling_weights(&effective, &sizes, 0, 30, false),
            &cui
        ));
    }

    /// Draws `epochs` epochs over classes of `sizes` images with `weights` and returns how
    /// often each class was drawn.
    fn class_counts(sizes: &[usize], weights: &[f64], epochs: usize) -> Vec<f64> {
        let labels: Vec<i64> = sizes
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c as i64, n))
            .collect();
        let mut by_class = vec![Vec::new(); sizes.len()];
        for (i, &y) in labels.iter().enumerate() {
            by_class[y as usize].push(i);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = vec![0f64; sizes.len()];
        for _ in 0..epochs {
            for i in epoch_order(&labels, Some(weights), &by_class, &mut rng) {
                counts[labels[i] as usize] += 1.0;
            }
        }
        counts
    }

    /// Effective-number resampling draws class c with probability w_c n_c / sum_k w_k n_k:
    /// at beta = 0.99 over 1000 / 100 / 10 images that is 0.7922 / 0.1250 / 0.0828 (computed
    /// independently), not the 0.901 / 0.090 / 0.009 of plain shuffling.
    #[test]
    fn effective_number_resampling_draws_classes_in_cui_proportions() {
        let sizes = [1000usize, 100, 10];
        let mut cfg = method(Loss::Ce, Rule::ResampleEffective);
        cfg.beta = 0.99;
        let w = sampling_weights(&cfg, &sizes, 0, 0, false).unwrap();
        let counts = class_counts(&sizes, &w, 20);
        let total: f64 = counts.iter().sum();
        let p = [0.7921994782225777, 0.12495357879514707, 0.08284694298227518];
        let chi2: f64 = counts
            .iter()
            .zip(p)
            .map(|(c, p)| (c - p * total).powi(2) / (p * total))
            .sum();
        // 2 degrees of freedom: P(chi2 > 13.8) = 0.001.
        assert!(chi2 < 13.8, "counts {counts:?}, chi2 {chi2}");
    }

    #[test]
    fn balanced_sampling_draws_classes_uniformly() {
        // Classes of 1000, 100 and 10 images; class-balanced draws each about 1/3 of the time.
        let sizes = [1000usize, 100, 10];
        let labels: Vec<i64> = sizes
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c as i64, n))
            .collect();
        let mut by_class = vec![Vec::new(); 3];
        for (i, &y) in labels.iter().enumerate() {
            by_class[y as usize].push(i);
        }
        let w = sampling_weights(&method(Loss::Ce, Rule::Resample), &sizes, 0, 0, false).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut counts = [0f64; 3];
        for _ in 0..20 {
            for i in epoch_order(&labels, Some(&w), &by_class, &mut rng) {
                counts[labels[i] as usize] += 1.0;
            }
        }
        let total: f64 = counts.iter().sum();
        let expected = total / 3.0;
        let chi2: f64 = counts
            .iter()
            .map(|c| (c - expected).powi(2) / expected)
            .sum();
        // 2 degrees of freedom: P(chi2 > 13.8) = 0.001.
        assert!(chi2 < 13.8, "counts {counts:?}, chi2 {chi2}");
    }

    /// Balanced Softmax and the logit-adjusted loss against their formulas written out by hand:
    /// loss_i = -log( pi_y^tau e^{z_y} / sum_k pi_k^tau e^{z_k} ), pi the training prior.
    #[test]
    fn prior_adjusted_losses_match_their_formulas() {
        let z = [[2.0f64, 0.5, -1.0], [0.1, 0.2, 0.3], [-0.5, 1.5, 0.0]];
        let y = [0usize, 2, 1];
        let sizes = [60usize, 30, 10];
        let by_hand = |tau: f64| -> f64 {
            let total: f64 = sizes.iter().map(|&n| n as f64).sum();
            let prior: Vec<f64> = sizes.iter().map(|&n| n as f64 / total).collect();
            let mut sum = 0.0;
            for (row, &target) in z.iter().zip(&y) {
                let terms: Vec<f64> = row
                    .iter()
                    .zip(&prior)
                    .map(|(zk, pk)| pk.powf(tau) * zk.exp())
                    .collect();
                sum += -(terms[target] / terms.iter().sum::<f64>()).ln();
            }
            sum / 3.0
        };
        let logits = Tensor::from_slice(&z.concat())
            .view([3, 3])
            .to_kind(Kind::Float);
        let targets = Tensor::from_slice(&[0i64, 2, 1]);
        let loss = |loss: Loss, tau: f64| {
            let mut m = method(loss, Rule::None);
            m.la_tau = tau;
            let l = LossFn::new(&m, &sizes, Device::Cpu).compute(&logits, &targets, None);
            f64::try_from(l).unwrap()
        };
        assert!((loss(Loss::BalancedSoftmax, 7.0) - by_hand(1.0)).abs() < 1e-5);
        assert!((loss(Loss::LogitAdjusted, 2.0) - by_hand(2.0)).abs() < 1e-5);
        assert!((loss(Loss::LogitAdjusted, 0.0) - loss(Loss::Ce, 0.0)).abs() < 1e-6);
        // The adjustment matters here: the head class's prior raises the tail's loss.
        assert!((by_hand(1.0) - by_hand(0.0)).abs() > 0.1);
        let expected = [0.6f64.ln(), 0.3f64.ln(), 0.1f64.ln()];
        for (a, b) in log_prior(&sizes).iter().zip(expected) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn ldam_margins_follow_the_quarter_power() {
        let m = ldam_margins(&[10000, 625, 16], 0.5);
        assert!((m[2] - 0.5).abs() < 1e-12);
        assert!((m[1] - 0.5 * (16f64 / 625.0).powf(0.25)).abs() < 1e-12);
        assert!((m[0] - 0.5 * (16f64 / 10000.0).powf(0.25)).abs() < 1e-12);
    }

    #[test]
    fn ldam_with_zero_margin_and_unit_scale_is_ce_and_focal_gamma_zero_is_ce() {
        let _torch = crate::torch_seed::hold_torch_seed(0);
        let logits = Tensor::randn([16, 5], (Kind::Float, Device::Cpu));
        let targets = Tensor::randint(5, [16], (Kind::Int64, Device::Cpu));
        let sizes = [50, 40, 30, 20, 10];
        let ce = LossFn::new(&method(Loss::Ce, Rule::None), &sizes, Device::Cpu)
            .compute(&logits, &targets, None);
        let mut ldam_cfg = method(Loss::Ldam, Rule::None);
        ldam_cfg.ldam_max_margin = 0.0;
        ldam_cfg.ldam_scale = 1.0;
        let ldam = LossFn::new(&ldam_cfg, &sizes, Device::Cpu).compute(&logits, &targets, None);
        let mut focal_cfg = method(Loss::Focal, Rule::None);
        focal_cfg.focal_gamma = 0.0;
        let focal = LossFn::new(&focal_cfg, &sizes, Device::Cpu).compute(&logits, &targets, None);
        let ce = f64::try_from(ce).unwrap();
        assert!((ce - f64::try_from(ldam).unwrap()).abs() < 1e-6);
        assert!((ce - f64::try_from(focal).unwrap()).abs() < 1e-6);
    }

    #[test]
    fn ldam_subtracts_the_margin_from_the_true_logit_only() {
        let logits = Tensor::from_slice(&[1.0f32, 2.0, 3.0]).view([1, 3]);
        let targets = Tensor::from_slice(&[2i64]);
        let mut cfg = method(Loss::Ldam, Rule::None);
        cfg.ldam_scale = 2.0;
        let sizes = [10, 10, 10]; // all margins 0.5
        let got =
            f64::try_from(LossFn::new(&cfg, &sizes, Device::Cpu).compute(&logits, &targets, None))
                .unwrap();
        let z = [2.0f64, 4.0, 5.0]; // s * (1, 2, 3 - 0.5)
        let expected = -(z[2] - z.iter().map(|v| v.exp()).sum::<f64>().ln());
        assert!((got - expected).abs() < 1e-5);
    }

    /// Log-sum-exp by hand, for the expected values below.
    fn lse(z: &[f64]) -> f64 {
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
    }

    /// Focal at gamma = 1 (the preset's), where it differs from CE: the mean over samples of
    /// (1 - p_t)^gamma * CE_t, p_t = exp(-CE_t), computed by hand; with class weights, as the
    /// LDAM-DRW reference, CE_t is the weighted per-sample CE (w_t * CE_t).
    #[test]
    fn focal_with_gamma_one_matches_the_hand_computed_loss() {
        let rows = [[2.0f64, 0.5, -1.0], [0.1, 0.2, 0.3]];
        let targets = [0i64, 2];
        let logits =
            Tensor::from_slice(&rows.concat().iter().map(|&v| v as f32).collect::<Vec<_>>())
                .view([2, 3]);
        let t = Tensor::from_slice(&targets);
        let mut cfg = method(Loss::Focal, Rule::None);
        cfg.focal_gamma = 1.0;
        let weights = [0.5f64, 1.0, 2.0];
        let loss = LossFn::new(&cfg, &[10, 10, 10], Device::Cpu);
        for weighted in [false, true] {
            let w = Tensor::from_slice(&weights.map(|v| v as f32));
            let got = f64::try_from(loss.compute(&logits, &t, weighted.then_some(&w))).unwrap();
            let expected = rows
                .iter()
                .zip(targets)
                .map(|(z, y)| {
                    let wy = if weighted { weights[y as usize] } else { 1.0 };
                    let ce = wy * (lse(z) - z[y as usize]);
                    (1.0 - (-ce).exp()) * ce
                })
                .sum::<f64>()
                / 2.0;
            assert!(
                (got - expected).abs() < 1e-5,
                "weighted {weighted}: {got} vs {expected}"
            );
            // And it is not CE here (unweighted: 0.34 against 0.62).
            if !weighted {
                let ce = f64::try_from(logits.cross_entropy_loss(
                    &t,
                    None::<&Tensor>,
                    Reduction::Mean,
                    -100,
                    0.0,
                ))
                .unwrap();
                assert!(
                    (got - ce).abs() > 0.2,
                    "focal equals CE at gamma 1? {got} vs {ce}"
                );
            }
        }
    }

    /// LDAM with unequal class sizes: each sample's own class margin, C / n^(1/4) scaled so the
    /// smallest class gets max_margin, subtracted from its true logit; with DRW's effective-number
    /// weights, the weighted mean (PyTorch's: sum w_t l_t / sum w_t).
    #[test]
    fn ldam_uses_each_classes_margin_with_unequal_sizes_and_drw_weights() {
        let sizes = [10_000usize, 625, 16];
        let margins = [
            0.5 * 16f64.powf(0.25) / 10_000f64.powf(0.25),
            0.5 * 2.0 / 5.0,
            0.5,
        ];
        for (got, want) in ldam_margins(&sizes, 0.5).iter().zip(margins) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        let rows = [[1.0f64, 2.0, 3.0], [0.5, -0.5, 1.5], [2.0, 1.0, 0.0]];
        let targets = [0i64, 1, 2];
        let logits =
            Tensor::from_slice(&rows.concat().iter().map(|&v| v as f32).collect::<Vec<_>>())
                .view([3, 3]);
        let t = Tensor::from_slice(&targets);
        let mut cfg = method(Loss::Ldam, Rule::Drw);
        cfg.ldam_scale = 30.0;
        let loss = LossFn::new(&cfg, &sizes, Device::Cpu);
        let weights = effective_number_weights(&sizes, cfg.beta);
        let w = Tensor::from_slice(&weights.iter().map(|&v| v as f32).collect::<Vec<_>>());
        let per_sample = |y: usize, z: &[f64; 3]| {
            let mut z = *z;
            z[y] -= margins[y];
            let z: Vec<f64> = z.iter().map(|v| v * 30.0).collect();
            lse(&z) - z[y]
        };
        for weighted in [false, true] {
            let got = f64::try_from(loss.compute(&logits, &t, weighted.then_some(&w))).unwrap();
            let (num, den) = rows.iter().zip(targets).fold((0.0, 0.0), |(n, d), (z, y)| {
                let wy = if weighted { weights[y as usize] } else { 1.0 };
                (n + wy * per_sample(y as usize, z), d + wy)
            });
            let expected = num / den;
            assert!(
                (got - expected).abs() < 1e-3 * expected.abs().max(1.0),
                "weighted {weighted}: {got} vs {expected}"
            );
        }
        // A wrong margin lookup (every sample with the largest class's margin) would differ.
        let uniform: f64 = rows
            .iter()
            .zip(targets)
            .map(|(z, y)| {
                let mut z = *z;
                z[y as usize] -= margins[0];
                let z: Vec<f64> = z.iter().map(|v| v * 30.0).collect();
                lse(&z) - z[y as usize]
            })
            .sum::<f64>()
            / 3.0;
        let got = f64::try_from(loss.compute(&logits, &t, None)).unwrap();
        assert!((got - uniform).abs() > 1.0, "{got} vs {uniform}");
    }
}
