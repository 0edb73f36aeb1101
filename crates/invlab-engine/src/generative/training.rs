//! Training the MUNIT model on the run's (transformed, long-tailed) training set, as the GIT
//! paper: both "domains" are that same set, each drawn class-balanced (probability 1/n_c per
//! image); every iteration one discriminator update, then one generator update; LSGAN, image
//! reconstruction, style and content reconstruction losses; Adam. Every draw of iteration `i`
//! comes from a stream seeded by (run seed, i), so a resumed training continues exactly.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::nn::{Module, VarStore};
use tch::{Device, Kind, Tensor};

use super::adam::Adam;
use super::munit::{Discriminator, Generator};
use crate::torch_seed::with_torch_seed;
use invlab_core::generator::GeneratorSpec;
use invlab_core::generator::Losses;
use invlab_core::seed::{self, SeedPurpose};

/// Standard normal draws from a seeded stream (Box-Muller), as a (rows, cols) tensor.
pub(crate) fn normal(rng: &mut ChaCha8Rng, rows: i64, cols: i64, device: Device) -> Tensor {
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| {
            let u1: f64 = rng.random_range(f64::EPSILON..1.0);
            let u2: f64 = rng.random();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        })
        .collect();
    Tensor::from_slice(&values)
        .view([rows, cols])
        .to_device(device)
}

/// u8-valued images (N x C x H x W) → the generator's [-1, 1].
pub(crate) fn to_unit(images: &Tensor) -> Tensor {
    images.to_kind(Kind::Float) / 127.5 - 1.0
}

/// The generator's [-1, 1] → float 0..=255 images, as the classifier's pipeline takes them.
pub(crate) fn from_unit(images: &Tensor) -> Tensor {
    (images + 1.0) * 127.5
}

/// The two generators and discriminators with their optimizers.
pub(crate) struct MunitTraining {
    pub spec: GeneratorSpec,
    pub gen_vs: VarStore,
    pub dis_vs: VarStore,
    pub gen_a: Generator,
    gen_b: Generator,
    dis_a: Discriminator,
    dis_b: Discriminator,
    gen_opt: Adam,
    dis_opt: Adam,
    /// Iterations done.
    pub iteration: usize,
    seed: u64,
}

/// The store's variables in name order (a fixed order for optimizers and seeded fills).
pub(crate) fn sorted_params(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The first `n` rows and the rest.
fn halves(t: &Tensor, n: i64) -> (Tensor, Tensor) {
    let rest = t.size()[0] - n;
    (t.narrow(0, 0, n), t.narrow(0, n, rest))
}

/// Mean absolute difference.
fn l1(a: &Tensor, b: &Tensor) -> Tensor {
    (a - b).abs().mean(Kind::Float)
}

impl MunitTraining {
    /// Fresh networks (seeded) for `channels`-channel images.
    pub fn new(spec: &GeneratorSpec, channels: i64, seed: u64, device: Device) -> MunitTraining {
        let gen_vs = VarStore::new(device);
        let dis_vs = VarStore::new(device);
        let (gen_a, gen_b, dis_a, dis_b) =
            with_torch_seed(seed::derive(seed, SeedPurpose::GitInit), || {
                (
                    Generator::new(&(gen_vs.root() / "a"), spec, channels),
                    Generator::new(&(gen_vs.root() / "b"), spec, channels),
                    Discriminator::new(&(dis_vs.root() / "a"), spec, channels),
                    Discriminator::new(&(dis_vs.root() / "b"), spec, channels),
                )
            });
        let betas = (spec.beta1, spec.beta2);
        let gen_opt = Adam::new(sorted_params(&gen_vs), spec.lr, betas, spec.weight_decay);
        let dis_opt = Adam::new(sorted_params(&dis_vs), spec.lr, betas, spec.weight_decay);
        MunitTraining {
            spec: spec.clone(),
            gen_vs,
            dis_vs,
            gen_a,
            gen_b,
            dis_a,
            dis_b,
            gen_opt,
            dis_opt,
            iteration: 0,
            seed,
        }
    }

    /// A class-balanced batch (each class equally likely, then an image of it uniformly),
    /// flipped at random when the spec says so, in [-1, 1].
    fn draw_batch(&self, images: &Tensor, by_class: &[Vec<usize>], rng: &mut ChaCha8Rng) -> Tensor {
        let classes: Vec<&Vec<usize>> = by_class.iter().filter(|m| !m.is_empty()).collect();
        let idx: Vec<i64> = (0..self.spec.batch_size)
            .map(|_| {
                let members = classes[rng.random_range(0..classes.len())];
                members[rng.random_range(0..members.len())] as i64
            })
            .collect();
        let device = images.device();
        let x = to_unit(&images.index_select(0, &Tensor::from_slice(&idx).to_device(device)));
        if !self.spec.flip {
            return x;
        }
        let flips: Vec<bool> = (0..idx.len()).map(|_| rng.random_bool(0.5)).collect();
        let flips = Tensor::from_slice(&flips)
            .to_device(device)
            .view([idx.len() as i64, 1, 1, 1]);
        x.flip([3]).where_self(&flips, &x)
    }

    /// One iteration on `images` (u8-valued, N x C x H x W, on the device).
    pub(crate) fn step(&mut self, images: &Tensor, by_class: &[Vec<usize>]) -> Losses {
        let spec = &self.spec;
        let mut rng = seed::rng(
            self.seed,
            SeedPurpose::GitIter {
                iteration: self.iteration,
            },
        );
        let x_a = self.draw_batch(images, by_class, &mut rng);
        let x_b = self.draw_batch(images, by_class, &mut rng);
        let n = x_a.size()[0];
        let device = x_a.device();
        let style_dim = self.gen_a.style_dim;
        // Learning rate: x gamma every lr_step iterations.
        let decays = (self.iteration / spec.lr_step.max(1)) as i32;
        let lr = spec.lr * spec.lr_gamma.powi(decays);
        self.gen_opt.lr = lr;
        self.dis_opt.lr = lr;

        // Discriminator update: real images against translations with random styles.
        let s_a = normal(&mut rng, n, style_dim, device);
        let s_b = normal(&mut rng, n, style_dim, device);
        let (fake_ba, fake_ab) = tch::no_grad(|| {
            let c_a = self.gen_a.content.forward(&x_a);
            let c_b = self.gen_b.content.forward(&x_b);
            (self.gen_a.decode(&c_b, &s_a), self.gen_b.decode(&c_a, &s_b))
        });
        // Fake and real images through each discriminator as one batch: it sees every image
        // on its own (no batch statistics), so this is the same function with half the ops.
        let lsgan_d = |dis: &Discriminator, fake: &Tensor, real: &Tensor| {
            let (on_fake, on_real) = halves(&dis.forward(&Tensor::cat(&[fake, real], 0)), n);
            on_fake.square().mean(Kind::Float) + (on_real - 1.0).square().mean(Kind::Float)
        };
        let dis_loss = (lsgan_d(&self.dis_a, &fake_ba, &x_a)
            + lsgan_d(&self.dis_b, &fake_ab, &x_b))
            * spec.gan_weight;
        self.dis_opt.zero_grad();
        dis_loss.backward();
        self.dis_opt.step();

        // Generator update.
        let s_a = normal(&mut rng, n, style_dim, device);
        let s_b = normal(&mut rng, n, style_dim, device);
        let (c_a, s_a_own) = self.gen_a.encode(&x_a);
        let (c_b, s_b_own) = self.gen_b.encode(&x_b);
        // Each generator decodes its reconstruction and its translation as one batch (the
        // decoder's norms are per sample: AdaIN, layer norm).
        let (recon_a, x_ba) = halves(
            &self.gen_a.decode(
                &Tensor::cat(&[&c_a, &c_b], 0),
                &Tensor::cat(&[&s_a_own, &s_a], 0),
            ),
            n,
        );
        let (recon_b, x_ab) = halves(
            &self.gen_b.decode(
                &Tensor::cat(&[&c_b, &c_a], 0),
                &Tensor::cat(&[&s_b_own, &s_b], 0),
            ),
            n,
        );
        let (c_b_again, s_a_again) = self.gen_a.encode(&x_ba);
        let (c_a_again, s_b_again) = self.gen_b.encode(&x_ab);
        let recon_x = l1(&recon_a, &x_a) + l1(&recon_b, &x_b);
        let recon_s_a = l1(&s_a_again, &s_a);
        let recon_s_b = l1(&s_b_again, &s_b);
        let recon_s = &recon_s_a + &recon_s_b;
        let recon_c = l1(&c_b_again, &c_b) + l1(&c_a_again, &c_a);
        let gan = (self.dis_a.forward(&x_ba) - 1.0).square().mean(Kind::Float)
            + (self.dis_b.forward(&x_ab) - 1.0).square().mean(Kind::Float);
        let gen_loss = &gan * spec.gan_weight
            + &recon_x * spec.recon_x_weight
            + &recon_s * spec.recon_s_weight
            + &recon_c * spec.recon_c_weight;
        self.gen_opt.zero_grad();
        gen_loss.backward();
        self.gen_opt.step();
        // The discriminator's gradients from the generator's loss are not its own.
        self.dis_opt.zero_grad();

        self.iteration += 1;
        let value = |t: &Tensor| f64::try_from(t).unwrap_or(f64::NAN);
        Losses {
            iteration: self.iteration,
            dis: value(&dis_loss),
            gan: value(&gan),
            recon_x: value(&recon_x),
            recon_s: value(&recon_s),
            recon_c: value(&recon_c),
            recon_s_a: Some(value(&recon_s_a)),
            recon_s_b: Some(value(&recon_s_b)),
        }
    }

    /// Everything a resumed training needs, as named tensors.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = Vec::new();
        for (name, t) in sorted_params(&self.gen_vs) {
            out.push((format!("gen/{name}"), t));
        }
        for (name, t) in sorted_params(&self.dis_vs) {
            out.push((format!("dis/{name}"), t));
        }
        out.extend(self.gen_opt.state("gen_opt/"));
        out.extend(self.dis_opt.state("dis_opt/"));
        out.push(("iteration".into(), Tensor::from(self.iteration as i64)));
        out
    }

    /// Restores what `state` saved.
    pub(crate) fn load_state(
        &mut self,
        saved: &[(String, Tensor)],
    ) -> Result<(), super::StateError> {
        let device = self.gen_vs.device();
        let find = |name: &str| {
            saved
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.to_device(device))
                .ok_or_else(|| super::StateError::Missing {
                    what: "the generator checkpoint",
                    name: name.to_string(),
                })
        };
        for (prefix, vs) in [("gen", &self.gen_vs), ("dis", &self.dis_vs)] {
            for (name, mut t) in sorted_params(vs) {
                let value = find(&format!("{prefix}/{name}"))?;
                tch::no_grad(|| t.copy_(&value));
            }
        }
        self.gen_opt.load_state("gen_opt/", saved, device)?;
        self.dis_opt.load_state("dis_opt/", saved, device)?;
        self.iteration = i64::try_from(find("iteration")?)? as usize;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use invlab_core::config::GeneratorPreset;

    /// 24 images in 3 classes: a bar whose brightness and background vary per image.
    fn tiny_set() -> (Tensor, Vec<Vec<usize>>) {
        let mut data = Vec::new();
        for i in 0..24u8 {
            let bg = (i * 3) % 60;
            let ink = 160 + (i % 5) * 20;
            for y in 0..8 {
                for x in 0..8 {
                    let class = (i % 3) as usize;
                    data.push(if x == 2 + class * 2 || y == 1 + class * 2 {
                        ink
                    } else {
                        bg
                    });
                }
            }
        }
        let images = Tensor::from_slice(&data).view([24, 1, 8, 8]);
        let by_class = (0..3)
            .map(|c| (0..24).filter(|i| i % 3 == c).collect())
            .collect();
        (images, by_class)
    }

    fn tiny_spec() -> GeneratorSpec {
        GeneratorSpec {
            dim: 8,
            res_blocks: 1,
            mlp_dim: 16,
            style_downsamples: 2,
            dis_dim: 8,
            dis_layers: 2,
            batch_size: 8,
            lr: 1e-3,
            flip: false,
            ..GeneratorSpec::preset(GeneratorPreset::Small)
        }
    }

    #[test]
    fn image_reconstruction_loss_falls_over_200_iterations() {
        let (images, by_class) = tiny_set();
        let mut t = MunitTraining::new(&tiny_spec(), 1, 5, Device::Cpu);
        let losses: Vec<Losses> = (0..200).map(|_| t.step(&images, &by_class)).collect();
        let mean = |s: &[Losses]| s.iter().map(|l| l.recon_x).sum::<f64>() / s.len() as f64;
        let (first, last) = (mean(&losses[..20]), mean(&losses[180..]));
        assert!(last < 0.5 * first, "recon_x {first:.3} -> {last:.3}");
        assert!(losses
            .iter()
            .all(|l| l.dis.is_finite() && l.gan.is_finite()));
        assert_eq!(t.iteration, 200);
        // The style loss is logged per domain too, and the logged sum is the two domains'.
        for l in &losses {
            let (a, b) = (l.recon_s_a.unwrap(), l.recon_s_b.unwrap());
            assert!(a > 0.0 && b > 0.0, "{l:?}");
            assert!(
                (a + b - l.recon_s).abs() < 1e-5 * l.recon_s.max(1.0),
                "{l:?}"
            );
        }
    }

    /// The iteration as written before the fused batches (each decode and each discriminator
    /// pass on its own): the reference `step` must match up to float rounding.
    fn unfused_step(t: &mut MunitTraining, images: &Tensor, by_class: &[Vec<usize>]) -> Losses {
        let spec = t.spec.clone();
        let mut rng = seed::rng(
            t.seed,
            SeedPurpose::GitIter {
                iteration: t.iteration,
            },
        );
        let x_a = t.draw_batch(images, by_class, &mut rng);
        let x_b = t.draw_batch(images, by_class, &mut rng);
        let (n, device, style_dim) = (x_a.size()[0], x_a.device(), t.gen_a.style_dim);
        let s_a = normal(&mut rng, n, style_dim, device);
        let s_b = normal(&mut rng, n, style_dim, device);
        let (fake_ba, fake_ab) = tch::no_grad(|| {
            let c_a = t.gen_a.content.forward(&x_a);
            let c_b = t.gen_b.content.forward(&x_b);
            (t.gen_a.decode(&c_b, &s_a), t.gen_b.decode(&c_a, &s_b))
        });
        let lsgan_d = |dis: &Discriminator, fake: &Tensor, real: &Tensor| {
            dis.forward(fake).square().mean(Kind::Float)
                + (dis.forward(real) - 1.0).square().mean(Kind::Float)
        };
        let dis_loss = (lsgan_d(&t.dis_a, &fake_ba, &x_a) + lsgan_d(&t.dis_b, &fake_ab, &x_b))
            * spec.gan_weight;
        t.dis_opt.zero_grad();
        dis_loss.backward();
        t.dis_opt.step();
        let s_a = normal(&mut rng, n, style_dim, device);
        let s_b = normal(&mut rng, n, style_dim, device);
        let (c_a, s_a_own) = t.gen_a.encode(&x_a);
        let (c_b, s_b_own) = t.gen_b.encode(&x_b);
        let recon_a = t.gen_a.decode(&c_a, &s_a_own);
        let recon_b = t.gen_b.decode(&c_b, &s_b_own);
        let x_ba = t.gen_a.decode(&c_b, &s_a);
        let x_ab = t.gen_b.decode(&c_a, &s_b);
        let (c_b_again, s_a_again) = t.gen_a.encode(&x_ba);
        let (c_a_again, s_b_again) = t.gen_b.encode(&x_ab);
        let recon_x = l1(&recon_a, &x_a) + l1(&recon_b, &x_b);
        let recon_s = l1(&s_a_again, &s_a) + l1(&s_b_again, &s_b);
        let recon_c = l1(&c_b_again, &c_b) + l1(&c_a_again, &c_a);
        let gan = (t.dis_a.forward(&x_ba) - 1.0).square().mean(Kind::Float)
            + (t.dis_b.forward(&x_ab) - 1.0).square().mean(Kind::Float);
        let gen_loss = &gan * spec.gan_weight
            + &recon_x * spec.recon_x_weight
            + &recon_s * spec.recon_s_weight
            + &recon_c * spec.recon_c_weight;
        t.gen_opt.zero_grad();
        gen_loss.backward();
        t.gen_opt.step();
        t.dis_opt.zero_grad();
        t.iteration += 1;
        let value = |x: &Tensor| f64::try_from(x).unwrap();
        Losses {
            iteration: t.iteration,
            dis: value(&dis_loss),
            gan: value(&gan),
            recon_x: value(&recon_x),
            recon_s: value(&recon_s),
            recon_c: value(&recon_c),
            recon_s_a: None,
            recon_s_b: None,
        }
    }

    #[test]
    fn the_fused_batches_give_the_unfused_iterations_losses_and_weights() {
        let (images, by_class) = tiny_set();
        // The small preset's shapes (two downsamplings, the 3-layer critic) on 16 x 16 images.
        let images = images.view([24, 1, 8, 8]).repeat([1, 1, 2, 2]);
        let spec = GeneratorSpec {
            flip: true,
            ..GeneratorSpec::preset(GeneratorPreset::Small)
        };
        let mut fused = MunitTraining::new(&spec, 1, 3, Device::Cpu);
        let mut reference = MunitTraining::new(&spec, 1, 3, Device::Cpu);
        let initial: Vec<(String, Tensor)> = fused
            .state()
            .into_iter()
            .map(|(n, t)| (n, t.copy()))
            .collect();
        reference.load_state(&initial).unwrap();
        // Adam's first steps are nearly sign(gradient) * lr, so a rounding difference in a
        // near-zero gradient moves a weight by up to 2 lr: the two trainings then drift apart
        // slowly (on this tiny set ~0.5 % by iteration 7). One iteration from the same weights
        // must agree to rounding (losses and every gradient); the next three to 1 %.
        for iteration in 1..=4 {
            let (a, b) = (
                fused.step(&images, &by_class),
                unfused_step(&mut reference, &images, &by_class),
            );
            let tolerance = if iteration == 1 { 1e-5 } else { 1e-2 };
            for (name, x, y) in [
                ("dis", a.dis, b.dis),
                ("gan", a.gan, b.gan),
                ("recon_x", a.recon_x, b.recon_x),
                ("recon_s", a.recon_s, b.recon_s),
                ("recon_c", a.recon_c, b.recon_c),
            ] {
                assert!(x > 0.0 && x.is_finite(), "{name} {x}");
                assert!(
                    (x - y).abs() <= tolerance * y.abs(),
                    "iteration {iteration}: {name} {x} (fused) against {y}"
                );
            }
            if iteration == 1 {
                // The generator's gradients of the first iteration (the discriminator's are
                // zeroed at its end).
                let grads = |t: &MunitTraining| -> Vec<(String, Tensor)> {
                    sorted_params(&t.gen_vs)
                        .into_iter()
                        .map(|(n, p)| (n, p.grad().copy()))
                        .collect()
                };
                let (ga, gb) = (grads(&fused), grads(&reference));
                assert!(!ga.is_empty());
                for ((name, x), (_, y)) in ga.iter().zip(&gb) {
                    // Biases before an instance norm have a gradient of zero up to rounding.
                    let scale = f64::try_from(y.abs().max()).unwrap();
                    let diff = f64::try_from((x - y).abs().max()).unwrap();
                    assert!(
                        diff <= 1e-3 * scale + 1e-6,
                        "{name}: gradients differ by {diff:e} (largest {scale:e})"
                    );
                }
            }
        }
    }

    #[test]
    fn a_resumed_training_continues_exactly() {
        let (images, by_class) = tiny_set();
        let spec = tiny_spec();
        let copy = |state: Vec<(String, Tensor)>| -> Vec<(String, Tensor)> {
            state.into_iter().map(|(n, t)| (n, t.copy())).collect()
        };
        let mut unbroken = MunitTraining::new(&spec, 1, 9, Device::Cpu);
        // Both trainings start from the same weights whatever other test threads draw from
        // libtorch's global generator meanwhile (initialisation is not what this test checks).
        let initial = copy(unbroken.state());
        for _ in 0..6 {
            unbroken.step(&images, &by_class);
        }
        let mut first = MunitTraining::new(&spec, 1, 9, Device::Cpu);
        first.load_state(&initial).unwrap();
        for _ in 0..3 {
            first.step(&images, &by_class);
        }
        let saved = copy(first.state());
        let mut resumed = MunitTraining::new(&spec, 1, 9, Device::Cpu);
        resumed.load_state(&saved).unwrap();
        assert_eq!(resumed.iteration, 3);
        for _ in 0..3 {
            resumed.step(&images, &by_class);
        }
        for ((name, a), (_, b)) in unbroken.state().iter().zip(resumed.state().iter()) {
            assert!(a.equal(b), "{name} differs after resuming");
        }
    }
}
