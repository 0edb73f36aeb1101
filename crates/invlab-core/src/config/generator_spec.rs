//! GIT's generator sizes and training settings: a preset (`git.generator`), with every value
//! overridable from `[git]`. Part of the config layer, because validating a config needs them.

use serde::{Deserialize, Serialize};

use super::{GeneratorPreset, GitConfig};

/// Everything that shapes a trained generator (it is part of the cache key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorSpec {
    pub preset: GeneratorPreset,
    pub dim: usize,
    pub downsamples: usize,
    pub res_blocks: usize,
    pub mlp_dim: usize,
    pub style_dim: usize,
    pub style_downsamples: usize,
    pub dis_dim: usize,
    pub dis_layers: usize,
    pub batch_size: usize,
    pub iterations: usize,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub weight_decay: f64,
    /// lr x `lr_gamma` every `lr_step` iterations (MUNIT: x0.5 every 100k).
    pub lr_step: usize,
    pub lr_gamma: f64,
    pub gan_weight: f64,
    pub recon_x_weight: f64,
    pub recon_s_weight: f64,
    pub recon_c_weight: f64,
    /// Random horizontal flips of the training images (the paper's K49 MUNIT pipeline).
    pub flip: bool,
    /// libtorch's intra-op threads while the generator trains on a CPU; 0 keeps libtorch's
    /// default (one per core). The thread count changes the float summation order, so it is
    /// part of what shapes the generator.
    #[serde(default)]
    pub cpu_threads: usize,
}

impl GeneratorSpec {
    /// The preset's values.
    pub fn preset(preset: GeneratorPreset) -> GeneratorSpec {
        let paper = GeneratorSpec {
            preset,
            dim: 64,
            downsamples: 2,
            res_blocks: 4,
            mlp_dim: 256,
            style_dim: 8,
            style_downsamples: 4,
            dis_dim: 64,
            dis_layers: 4,
            batch_size: 1,
            iterations: 10_000,
            lr: 1e-4,
            beta1: 0.5,
            beta2: 0.999,
            weight_decay: 1e-4,
            lr_step: 100_000,
            lr_gamma: 0.5,
            gan_weight: 1.0,
            recon_x_weight: 10.0,
            recon_s_weight: 1.0,
            recon_c_weight: 1.0,
            flip: true,
            cpu_threads: 0,
        };
        match preset {
            GeneratorPreset::Paper => paper,
            // Sized by measurement on a 2-core CPU (docs/generative.md): the same architecture and
            // losses, 8x narrower, 2 residual blocks, 2 style downsamplings, 3 discriminator
            // layers; 1,000 iterations of 8 images see about as many images (8,000) as the
            // paper's 10,000 iterations of 1, in under 4 minutes on a 2-core CPU (~0.22 s an
            // iteration; 1,200 took 5.5 min before the fused norms). Dim 16 at batch 16 cost
            // ~0.8 s an iteration on a busy 2-core machine. Learning rate 1e-3: the paper's
            // Adam moves each weight by at most lr x iterations = 1e-4 x 10,000 = 1; at 2e-4
            // these 1,000 iterations moved a fifth of that and left BG samples grid-like
            // (recon-x over the last 100 iterations 0.216 against 0.167 at 1e-3, BG seed 0;
            // BG few-shot eKLD 0.90x CE-DRS's over seeds 0-2 against 0.71x; docs/generative.md).
            GeneratorPreset::Small => GeneratorSpec {
                dim: 8,
                res_blocks: 2,
                mlp_dim: 32,
                style_downsamples: 2,
                dis_dim: 8,
                dis_layers: 3,
                batch_size: 8,
                iterations: 1000,
                lr: 1e-3,
                // Its tensors are too small for a second thread to pay: one thread took 277 ms
                // an iteration against 552 ms with two (2-core machine, busy; docs/generative.md).
                cpu_threads: 1,
                ..paper
            },
        }
    }

    /// The preset with the config's overrides.
    pub fn resolve(git: &GitConfig) -> GeneratorSpec {
        let mut s = GeneratorSpec::preset(git.preset);
        let set = |slot: &mut usize, value: Option<usize>| {
            if let Some(v) = value {
                *slot = v;
            }
        };
        set(&mut s.dim, git.dim);
        set(&mut s.downsamples, git.downsamples);
        set(&mut s.res_blocks, git.res_blocks);
        set(&mut s.mlp_dim, git.mlp_dim);
        set(&mut s.style_dim, git.style_dim);
        set(&mut s.style_downsamples, git.style_downsamples);
        set(&mut s.dis_dim, git.dis_dim);
        set(&mut s.dis_layers, git.dis_layers);
        set(&mut s.batch_size, git.batch_size);
        set(&mut s.iterations, git.iterations);
        set(&mut s.cpu_threads, git.cpu_threads);
        for (slot, value) in [
            (&mut s.lr, git.lr),
            (&mut s.gan_weight, git.gan_weight),
            (&mut s.recon_x_weight, git.recon_x_weight),
            (&mut s.recon_s_weight, git.recon_s_weight),
            (&mut s.recon_c_weight, git.recon_c_weight),
        ] {
            if let Some(v) = value {
                *slot = v;
            }
        }
        s
    }

    /// Range checks, as (field, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let positive = [
            ("dim", self.dim),
            ("downsamples", self.downsamples),
            ("mlp_dim", self.mlp_dim),
            ("style_dim", self.style_dim),
            ("dis_dim", self.dis_dim),
            ("dis_layers", self.dis_layers),
            ("batch_size", self.batch_size),
            ("iterations", self.iterations),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err((field, "must be at least 1".into()));
            }
        }
        if self.downsamples > 4 {
            return Err((
                "downsamples",
                format!(
                    "at most 4 (28x28 images shrink to 1x1), got {}",
                    self.downsamples
                ),
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(("lr", format!("must be > 0, got {}", self.lr)));
        }
        for (field, w) in [
            ("gan_weight", self.gan_weight),
            ("recon_x_weight", self.recon_x_weight),
            ("recon_s_weight", self.recon_s_weight),
            ("recon_c_weight", self.recon_c_weight),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err((field, format!("must be a number >= 0, got {w}")));
            }
        }
        Ok(())
    }

    /// Whether images of `size` x `size` pass through the content path and back unchanged in
    /// size (each downsampling halves, each upsampling doubles).
    pub fn fits(&self, size: i64) -> Result<(), SizeMismatch> {
        let factor = 1i64 << self.downsamples;
        if size % factor != 0 {
            return Err(SizeMismatch {
                downsamples: self.downsamples,
                size,
            });
        }
        Ok(())
    }
}

/// Images whose size the generator's downsamplings do not divide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the generator's {downsamples} downsamplings need the image size to be a multiple of {}, got {size}",
    1i64 << downsamples
)]
pub struct SizeMismatch {
    pub downsamples: usize,
    pub size: i64,
}
