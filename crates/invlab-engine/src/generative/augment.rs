//! Using a trained generator in the classifier's batches (the paper's recipe): after E1
//! (0-based `epoch > E1`, as the paper's code), the last `gen_fraction` of every batch is
//! replaced by generated images: the content of a real training image drawn from an independent
//! order with the run's sampling rule, a random style ~ N(0, I), the content image's label.
//! Optionally (`weighted_gen`) a generated image is kept only with probability
//! max((K - n_c) / (K - n_min), 0), else the row keeps its real image, so that mainly tail
//! classes are augmented.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use super::munit::Generator;
use super::training::{from_unit, normal, to_unit};
use crate::{method, transforms};
use invlab_core::config::TransformKind;
use invlab_core::seed::{self, SeedPurpose};

/// Probability of keeping a generated image of each class (`weighted_gen` with K).
pub(crate) fn keep_probabilities(sizes: &[usize], k: f64) -> Vec<f64> {
    let n_min = sizes.iter().copied().min().unwrap_or(0) as f64;
    sizes
        .iter()
        .map(|&n| {
            if k <= n_min {
                // No class is smaller than K: nothing to augment.
                return 0.0;
            }
            ((k - n as f64) / (k - n_min)).max(0.0)
        })
        .collect()
}

/// Images generated with `generator` from the content of `images` (float 0..=255) and styles
/// drawn from `rng`; float 0..=255 out (not clamped, as the paper).
pub(crate) fn generate(generator: &Generator, images: &Tensor, rng: &mut ChaCha8Rng) -> Tensor {
    tch::no_grad(|| {
        let n = images.size()[0];
        let content = generator.content.forward(&to_unit(images));
        let style = normal(rng, n, generator.style_dim, images.device());
        from_unit(&generator.decode(&content, &style))
    })
}

/// What fills the mixed rows: the trained generator, or (GIT's oracle control,
/// `augment = "git-oracle"`) a fresh draw of the dataset's true transform of each content image,
/// which then comes from the untransformed training images.
pub(crate) enum Nuisance<'a> {
    Generator(&'a Generator),
    True(TransformKind),
}

impl Nuisance<'_> {
    /// The mixed rows made from `images` (float 0..=255) with draws from `rng`.
    fn apply(&self, images: &Tensor, rng: &mut ChaCha8Rng) -> Tensor {
        match self {
            Nuisance::Generator(g) => generate(g, images, rng),
            Nuisance::True(kind) => tch::no_grad(|| transforms::apply(*kind, images, rng)),
        }
    }
}

/// Where generated images come from within an epoch.
enum Source {
    /// Generate for each batch.
    PerBatch,
    /// Every generated row of the epoch, made at its start in large batches: row
    /// `batch * gen_rows(batch_size) + r` is the `r`-th generated row of batch `batch`. Each draw
    /// of the content order gets its own style, as per batch: a tail image drawn 100 times in an
    /// epoch (DRS) is seen in 100 variants, not one.
    Pool(Tensor),
}

/// The per-epoch state of the generator's use (the generator itself is lent to each call).
pub(crate) struct GitAugmenter {
    gen_fraction: f64,
    /// Per-class keep probability (`weighted_gen`), else every generated image is kept.
    keep: Option<Vec<f64>>,
    pool_mode: bool,
    e1: usize,
    seed: u64,
    batch_size: usize,
    epoch: usize,
    content_order: Vec<usize>,
    source: Source,
}

/// What a mixed batch holds.
pub(crate) struct Mixed {
    pub images: Tensor,
    pub labels: Tensor,
    /// Rows now holding generated images (the tests check it; training needs only the batch).
    #[cfg_attr(not(test), allow(dead_code))]
    pub generated: usize,
}

impl GitAugmenter {
    pub fn new(
        gen_fraction: f64,
        keep: Option<Vec<f64>>,
        pool_mode: bool,
        e1: usize,
        seed: u64,
        batch_size: usize,
    ) -> GitAugmenter {
        GitAugmenter {
            gen_fraction,
            keep,
            pool_mode,
            e1,
            seed,
            batch_size,
            epoch: usize::MAX,
            content_order: Vec::new(),
            source: Source::PerBatch,
        }
    }

    /// Whether generated images enter the batches of 0-based `epoch`.
    pub fn active(&self, epoch: usize) -> bool {
        epoch > self.e1
    }

    /// Draws the epoch's content order (the run's sampling rule, its own stream) and, in pool
    /// mode, generates every generated row of the epoch (one style per draw).
    pub(crate) fn start_epoch(
        &mut self,
        nuisance: &Nuisance,
        epoch: usize,
        train: &Tensor,
        labels: &[i64],
        sampling: Option<&[f64]>,
        by_class: &[Vec<usize>],
    ) {
        self.epoch = epoch;
        if !self.active(epoch) {
            return;
        }
        let mut rng = seed::rng(self.seed, SeedPurpose::GitContent { epoch });
        self.content_order = method::epoch_order(labels, sampling, by_class, &mut rng);
        self.source = if self.pool_mode {
            let mut rng = seed::rng(self.seed, SeedPurpose::GitPool { epoch });
            let len = self.content_order.len();
            let content: Vec<i64> = (0..len.div_ceil(self.batch_size))
                .flat_map(|batch| self.generated_positions(batch, self.batch_rows(batch)))
                .map(|p| self.content_order[p] as i64)
                .collect();
            let mut parts = Vec::new();
            for chunk in content.chunks(256) {
                let x = train
                    .index_select(0, &Tensor::from_slice(chunk).to_device(train.device()))
                    .to_kind(Kind::Float);
                parts.push(nuisance.apply(&x, &mut rng));
            }
            Source::Pool(if parts.is_empty() {
                Tensor::empty([0], (Kind::Float, train.device()))
            } else {
                Tensor::cat(&parts, 0)
            })
        } else {
            Source::PerBatch
        };
    }

    /// How many rows batch `batch` of the epoch's order has (the last one may be short).
    fn batch_rows(&self, batch: usize) -> usize {
        let len = self.content_order.len();
        self.batch_size
            .min(len.saturating_sub(batch * self.batch_size))
    }

    /// How many of a batch's `rows` are generated.
    fn gen_rows(&self, rows: usize) -> usize {
        (self.gen_fraction * rows as f64).floor() as usize
    }

    /// Positions in the epoch's content order that batch `batch` (of `rows` rows) generates
    /// from: the same positions as its own last `gen_rows` rows in the classifier's order.
    fn generated_positions(&self, batch: usize, rows: usize) -> std::ops::Range<usize> {
        let start = batch * self.batch_size + rows - self.gen_rows(rows);
        start..batch * self.batch_size + rows
    }

    /// Replaces the last `gen_fraction` of batch `batch` (images float 0..=255, labels) with
    /// generated images, from the epoch `start_epoch` prepared. Before E1+1 it returns the
    /// batch unchanged.
    pub fn mix(
        &self,
        nuisance: &Nuisance,
        batch: usize,
        images: &Tensor,
        labels: &Tensor,
        train: &Tensor,
        train_labels: &Tensor,
    ) -> Mixed {
        let unchanged = || Mixed {
            images: images.shallow_clone(),
            labels: labels.shallow_clone(),
            generated: 0,
        };
        if !self.active(self.epoch) {
            return unchanged();
        }
        let b = images.size()[0];
        let gen_rows = self.gen_rows(b as usize) as i64;
        if gen_rows == 0 {
            return unchanged();
        }
        let real_rows = b - gen_rows;
        let device = images.device();
        let content: Vec<i64> = self
            .generated_positions(batch, b as usize)
            .map(|p| self.content_order[p % self.content_order.len()] as i64)
            .collect();
        let content = Tensor::from_slice(&content).to_device(device);
        let mut rng = seed::rng(
            self.seed,
            SeedPurpose::GitBatch {
                epoch: self.epoch,
                batch,
            },
        );
        let pool_start = (batch * self.gen_rows(self.batch_size)) as i64;
        let generated = match &self.source {
            // A batch the pool was not made for (never in training) is generated on the spot.
            Source::Pool(pool)
                if b as usize == self.batch_rows(batch)
                    && pool_start + gen_rows <= pool.size()[0] =>
            {
                pool.narrow(0, pool_start, gen_rows)
            }
            _ => {
                let x = train.index_select(0, &content).to_kind(Kind::Float);
                nuisance.apply(&x, &mut rng)
            }
        };
        let gen_labels = train_labels.index_select(0, &content);
        // weighted_gen: a row keeps its generated image with its class's probability.
        let keep: Vec<bool> = match &self.keep {
            None => vec![true; gen_rows as usize],
            Some(p) => Vec::<i64>::try_from(gen_labels.to_device(Device::Cpu))
                .unwrap_or_default()
                .iter()
                .map(|&y| rng.random_bool(p[y as usize].clamp(0.0, 1.0)))
                .collect(),
        };
        let kept = keep.iter().filter(|&&k| k).count();
        let keep = Tensor::from_slice(&keep).to_device(device);
        let real_tail = images.narrow(0, real_rows, gen_rows);
        let real_tail_labels = labels.narrow(0, real_rows, gen_rows);
        let tail = generated.where_self(&keep.view([gen_rows, 1, 1, 1]), &real_tail);
        let tail_labels = gen_labels.where_self(&keep, &real_tail_labels);
        Mixed {
            images: Tensor::cat(&[images.narrow(0, 0, real_rows), tail], 0),
            labels: Tensor::cat(&[labels.narrow(0, 0, real_rows), tail_labels], 0),
            generated: kept,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use invlab_core::config::GeneratorPreset;
    use invlab_core::generator::GeneratorSpec;
    use tch::nn::VarStore;

    fn tiny_generator(vs: &VarStore) -> Generator {
        let spec = GeneratorSpec {
            dim: 4,
            res_blocks: 1,
            mlp_dim: 8,
            ..GeneratorSpec::preset(GeneratorPreset::Small)
        };
        // Creating it draws from libtorch's global generator: under the tests' hold, so that a
        // run another test starts meanwhile is not disturbed.
        let g = {
            let _torch = crate::torch_seed::hold_torch_seed(0);
            Generator::new(&vs.root(), &spec, 1)
        };
        // Weights from a fixed stream, not libtorch's global generator (shared by tests running
        // in parallel): a test's generator is the same on every run.
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(17);
        tch::no_grad(|| {
            for (_, mut var) in crate::generative::training::sorted_params(vs) {
                let values = normal(&mut rng, var.numel() as i64, 1, Device::Cpu) * 0.3;
                var.copy_(&values.view(var.size().as_slice()));
            }
        });
        g
    }

    /// 40 training images of 4 classes (sizes 20, 10, 6, 4): image `i` is `4 * i` plus a fixed
    /// stripe pattern, so a batch row tells which training image it holds, and the content
    /// encoder sees structure (instance norm maps a constant image to zero content, whose
    /// decodings can coincide across styles).
    fn train_set() -> (Tensor, Vec<i64>, Vec<Vec<usize>>) {
        let sizes = [20usize, 10, 6, 4];
        let labels: Vec<i64> = sizes
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c as i64, n))
            .collect();
        let stripes = (Tensor::arange(8, (Kind::Float, Device::Cpu)) * 9.0).view([1, 1, 1, 8]);
        let images = (Tensor::arange(40, (Kind::Float, Device::Cpu)).view([40, 1, 1, 1]) * 4.0
            + stripes)
            .expand([40, 1, 8, 8], false)
            .to_kind(Kind::Uint8);
        let mut by_class = vec![Vec::new(); 4];
        for (i, &y) in labels.iter().enumerate() {
            by_class[y as usize].push(i);
        }
        (images, labels, by_class)
    }

    #[test]
    fn keep_probabilities_follow_the_formula() {
        let sizes = [500, 120, 40, 5];
        let p = keep_probabilities(&sizes, 100.0);
        let expected = [0.0, 0.0, (100.0 - 40.0) / 95.0, 1.0];
        for (a, b) in p.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{p:?}");
        }
        assert_eq!(keep_probabilities(&sizes, 5.0), vec![0.0; 4]);
    }

    #[test]
    fn mixing_replaces_exactly_the_generated_share_after_e1_and_nothing_before() {
        let vs = VarStore::new(Device::Cpu);
        let g = tiny_generator(&vs);
        let (train, labels, by_class) = train_set();
        let labels_t = Tensor::from_slice(&labels);
        let e1 = 3;
        let batch_size = 16;
        for pool in [false, true] {
            let mut git = GitAugmenter::new(0.5, None, pool, e1, 7, batch_size);
            for epoch in [0, e1, e1 + 1, e1 + 5] {
                git.start_epoch(
                    &Nuisance::Generator(&g),
                    epoch,
                    &train,
                    &labels,
                    None,
                    &by_class,
                );
                let idx = Tensor::arange(batch_size as i64, (Kind::Int64, Device::Cpu));
                let x = train.index_select(0, &idx).to_kind(Kind::Float);
                let y = labels_t.index_select(0, &idx);
                let mixed = git.mix(&Nuisance::Generator(&g), 0, &x, &y, &train, &labels_t);
                let rows_changed = (0..batch_size as i64)
                    .filter(|&r| !mixed.images.get(r).equal(&x.get(r)))
                    .count();
                if epoch > e1 {
                    assert_eq!(mixed.generated, 8, "epoch {epoch}, pool {pool}");
                    assert_eq!(rows_changed, 8, "the last half is generated");
                    assert!(mixed.images.narrow(0, 0, 8).equal(&x.narrow(0, 0, 8)));
                    // Each generated row carries its content image's label.
                    let content: Vec<i64> = (8..16)
                        .map(|r| git.content_order[r as usize] as i64)
                        .collect();
                    let expected = labels_t.index_select(0, &Tensor::from_slice(&content));
                    assert!(mixed.labels.narrow(0, 8, 8).equal(&expected));
                } else {
                    assert_eq!((mixed.generated, rows_changed), (0, 0), "epoch {epoch}");
                    assert!(mixed.labels.equal(&y));
                }
            }
            // An odd batch: floor(0.5 * 7) = 3 rows.
            let idx = Tensor::arange(7, (Kind::Int64, Device::Cpu));
            let x = train.index_select(0, &idx).to_kind(Kind::Float);
            let mixed = git.mix(
                &Nuisance::Generator(&g),
                2,
                &x,
                &labels_t.index_select(0, &idx),
                &train,
                &labels_t,
            );
            assert_eq!(mixed.generated, 3);
        }
    }

    #[test]
    fn the_pool_holds_one_fresh_variant_per_generated_draw_of_the_epoch() {
        let vs = VarStore::new(Device::Cpu);
        let g = tiny_generator(&vs);
        let (train, labels, by_class) = train_set();
        let labels_t = Tensor::from_slice(&labels);
        // Class-balanced draws (as DRS after E1): the 4-image class is drawn about 10 times.
        let balanced = [1.0 / 20.0, 1.0 / 10.0, 1.0 / 6.0, 1.0 / 4.0];
        let (epoch, batch_size) = (4, 16);
        let mut git = GitAugmenter::new(0.5, None, true, 0, 11, batch_size);
        git.start_epoch(
            &Nuisance::Generator(&g),
            epoch,
            &train,
            &labels,
            Some(&balanced),
            &by_class,
        );
        // 40 rows in batches of 16, 16 and 8: the last 8, 8 and 4 rows are generated.
        let positions: Vec<usize> = (8..16).chain(24..32).chain(36..40).collect();
        let mut generated = Vec::new();
        for (batch, rows) in [(0usize, 16i64), (1, 16), (2, 8)] {
            let idx = Tensor::arange_start(
                batch as i64 * 16,
                batch as i64 * 16 + rows,
                (Kind::Int64, Device::Cpu),
            );
            let x = train.index_select(0, &idx).to_kind(Kind::Float);
            let mixed = git.mix(
                &Nuisance::Generator(&g),
                batch,
                &x,
                &labels_t.index_select(0, &idx),
                &train,
                &labels_t,
            );
            generated.push(mixed.images.narrow(0, rows / 2, rows / 2));
        }
        let generated = Tensor::cat(&generated, 0);
        // The same images as generating the epoch's generated draws, in order, with the pool's
        // stream: the right content images, each with its own style.
        let content: Vec<i64> = positions
            .iter()
            .map(|&p| git.content_order[p] as i64)
            .collect();
        let x = train
            .index_select(0, &Tensor::from_slice(&content))
            .to_kind(Kind::Float);
        let mut rng = seed::rng(11, SeedPurpose::GitPool { epoch });
        assert!(generated.equal(&generate(&g, &x, &mut rng)));
        // An image drawn twice is seen in two variants (one per training image would repeat).
        let mut repeats = 0;
        for i in 0..content.len() {
            for j in i + 1..content.len() {
                if content[i] == content[j] {
                    repeats += 1;
                    let (a, b) = (generated.get(i as i64), generated.get(j as i64));
                    assert!(
                        (a - b).abs().max().double_value(&[]) > 1e-3,
                        "draws {i} and {j}"
                    );
                }
            }
        }
        assert!(
            repeats > 0,
            "the test needs an image drawn twice: {content:?}"
        );
    }

    #[test]
    fn weighted_mixing_keeps_generated_images_with_their_class_probability() {
        let vs = VarStore::new(Device::Cpu);
        let g = tiny_generator(&vs);
        let (train, labels, by_class) = train_set();
        let labels_t = Tensor::from_slice(&labels);
        let sizes = [20usize, 10, 6, 4];
        let p = keep_probabilities(&sizes, 12.0); // [0, 2/8, 6/8, 1]
        let mut git = GitAugmenter::new(1.0, Some(p.clone()), true, 0, 3, 40);
        let (mut offered, mut kept) = ([0f64; 4], [0f64; 4]);
        for epoch in 1..=60 {
            git.start_epoch(
                &Nuisance::Generator(&g),
                epoch,
                &train,
                &labels,
                None,
                &by_class,
            );
            let x = train.to_kind(Kind::Float);
            let mixed = git.mix(
                &Nuisance::Generator(&g),
                0,
                &x,
                &labels_t,
                &train,
                &labels_t,
            );
            for r in 0..40 {
                let c = labels[git.content_order[r]] as usize;
                offered[c] += 1.0;
                // A kept row differs from the real image at that row (content images differ).
                let generated = !mixed.images.get(r as i64).equal(&x.get(r as i64));
                kept[c] += f64::from(u8::from(generated));
            }
        }
        for c in 0..4 {
            let rate = kept[c] / offered[c];
            let sd = (p[c] * (1.0 - p[c]) / offered[c]).sqrt();
            assert!(
                (rate - p[c]).abs() <= 4.0 * sd + 0.02,
                "class {c}: {rate} vs {}",
                p[c]
            );
        }
    }

    #[test]
    fn the_oracle_control_fills_gits_rows_with_the_true_transform_of_the_base_image() {
        let (train, labels, by_class) = train_set();
        let labels_t = Tensor::from_slice(&labels);
        // Base images with a zero background, as the untransformed training set has.
        let raw = Tensor::zeros([40, 1, 8, 8], (Kind::Uint8, Device::Cpu));
        let _ = raw.narrow(2, 2, 4).narrow(3, 2, 4).fill_(200);
        let (e1, batch_size, epoch) = (0, 16, 2);
        let oracle = Nuisance::True(TransformKind::Bg);
        let mut git = GitAugmenter::new(0.5, None, false, e1, 5, batch_size);
        git.start_epoch(&oracle, epoch, &raw, &labels, None, &by_class);
        let idx = Tensor::arange(batch_size as i64, (Kind::Int64, Device::Cpu));
        let x = train.index_select(0, &idx).to_kind(Kind::Float);
        let y = labels_t.index_select(0, &idx);
        let mixed = git.mix(&oracle, 0, &x, &y, &raw, &labels_t);
        assert_eq!(mixed.generated, 8);
        // The real half is untouched; the mixed half is BG of the content images' base images,
        // drawn from the batch's own stream, with their labels: GIT's rows and draws.
        assert!(mixed.images.narrow(0, 0, 8).equal(&x.narrow(0, 0, 8)));
        let content: Vec<i64> = (8..16).map(|r| git.content_order[r] as i64).collect();
        let content = Tensor::from_slice(&content);
        let base = raw.index_select(0, &content).to_kind(Kind::Float);
        let mut rng = seed::rng(5, SeedPurpose::GitBatch { epoch, batch: 0 });
        let expected = transforms::apply(TransformKind::Bg, &base, &mut rng);
        assert!(mixed.images.narrow(0, 8, 8).equal(&expected));
        assert!(mixed
            .labels
            .narrow(0, 8, 8)
            .equal(&labels_t.index_select(0, &content)));
        // A fresh background: its pixels outside the glyph are one non-zero-mean level, not
        // the base image's zeros.
        let background = mixed.images.narrow(0, 8, 8).narrow(2, 0, 1);
        assert!(background.sum(Kind::Float).double_value(&[]) > 0.0);
    }
}
