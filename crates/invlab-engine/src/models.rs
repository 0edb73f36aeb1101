//! Classifiers: a backbone that produces features and a head that produces logits, kept apart
//! so cRT can re-train the head alone and LDAM can use a normalized linear head.
//! Variables live under `backbone/...` and `head/...` in the run's `VarStore`.

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use invlab_core::config::Arch;

/// Which classifier head a model has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HeadKind {
    Linear,
    /// Cosine classifier for LDAM: outputs cos(x, w_c); its probabilities are softmax(s * cos).
    Cosine {
        scale: f64,
    },
}

/// The classifier head.
#[derive(Debug)]
pub enum Head {
    Linear(nn::Linear),
    /// normalize(x) . normalize(W) (Cao et al.'s NormedLinear), for LDAM.
    Cosine {
        weight: Tensor,
        scale: f64,
    },
}

impl Head {
    pub fn new(path: &nn::Path, features: i64, classes: i64, kind: HeadKind) -> Head {
        match kind {
            HeadKind::Cosine { scale } => {
                // As LDAM-DRW's NormedLinear: U(-1, 1), then every class column renormalised to
                // unit norm. The forward pass normalises anyway, but the effective angular
                // learning rate scales with 1/|w|^2: columns of norm ~6 would learn ~40x slower.
                let weight = path.var(
                    "weight",
                    &[features, classes],
                    nn::Init::Uniform { lo: -1.0, up: 1.0 },
                );
                tch::no_grad(|| {
                    let unit = unit_columns(&weight);
                    weight.shallow_clone().copy_(&unit);
                });
                Head::Cosine { weight, scale }
            }
            HeadKind::Linear => {
                let config = nn::LinearConfig {
                    ws_init: nn::init::DEFAULT_KAIMING_NORMAL,
                    ..Default::default()
                };
                Head::Linear(nn::linear(path, features, classes, config))
            }
        }
    }

    /// What the training loss consumes: logits, or cosines for the cosine head.
    pub fn forward(&self, features: &Tensor) -> Tensor {
        match self {
            Head::Linear(l) => features.apply(l),
            Head::Cosine { weight, .. } => normalize(features, 1).matmul(&unit_columns(weight)),
        }
    }

    /// Logits whose softmax is the model's predictive distribution: `forward` for a linear
    /// head, s * cos for the cosine head (the distribution the LDAM loss trains; softmax of bare
    /// cosines is near uniform and would make every model look invariant).
    pub fn logits(&self, features: &Tensor) -> Tensor {
        match self {
            Head::Linear(_) => self.forward(features),
            Head::Cosine { scale, .. } => self.forward(features) * *scale,
        }
    }
}

/// Each column of a (features x classes) weight scaled to unit L2 norm.
pub(crate) fn unit_columns(weight: &Tensor) -> Tensor {
    normalize(weight, 0)
}

fn normalize(x: &Tensor, dim: i64) -> Tensor {
    let norm = x.norm_scalaropt_dim(2, [dim], true).clamp_min(1e-12);
    x / norm
}

/// A convolutional feature extractor.
#[derive(Debug)]
pub struct Backbone {
    layers: nn::SequentialT,
    pub features: i64,
}

impl Backbone {
    pub(crate) fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        x.apply_t(&self.layers, train)
    }
}

/// The whole classifier.
#[derive(Debug)]
pub struct Classifier {
    pub backbone: Backbone,
    pub head: Head,
}

impl Classifier {
    /// Builds `arch` for `channels` x `size` x `size` inputs under `root/backbone` and `root/head`.
    pub fn new(
        root: &nn::Path,
        arch: Arch,
        channels: i64,
        size: i64,
        classes: i64,
        head: HeadKind,
    ) -> Classifier {
        let backbone = match arch {
            Arch::SmallCnn => small_cnn(&(root / "backbone"), channels, size),
            Arch::Resnet20 => cifar_resnet(&(root / "backbone"), channels, 3),
            Arch::Resnet32 => cifar_resnet(&(root / "backbone"), channels, 5),
        };
        let head = Head::new(&(root / "head"), backbone.features, classes, head);
        Classifier { backbone, head }
    }

    /// The training loss's input (see `Head::forward`).
    pub(crate) fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.head.forward(&self.backbone.forward_t(x, train))
    }

    /// Inference logits (see `Head::logits`): every evaluation, eKLD included, uses these.
    pub fn logits(&self, x: &Tensor) -> Tensor {
        self.head.logits(&self.backbone.forward_t(x, false))
    }
}

/// Stores a convolution's weight channels-last (same values, NHWC strides): libtorch then
/// runs the convolution through oneDNN's channels-last kernels and its output, and so the next
/// layer's input, is channels-last too.
///
/// The strides are written out rather than obtained by permute + contiguous: for one input
/// channel (a grey image's first convolution) the permuted tensor already counts as
/// contiguous, so that kept the NCHW strides (9, 9, 3, 1), which libtorch's layout heuristic
/// reads as NCHW: the first convolution's 32-channel output, the largest activation, then
/// went through the slow NCHW max-pool (41 % of a profiled run).
fn store_channels_last(conv: &mut nn::Conv2D) {
    tch::no_grad(|| {
        let mut channels_last = Tensor::empty_strided(
            conv.ws.size(),
            channels_last_strides(&conv.ws.size()),
            (conv.ws.kind(), conv.ws.device()),
        );
        channels_last.copy_(&conv.ws);
        conv.ws.set_data(&channels_last);
    });
}

/// NHWC strides of an (N, C, H, W) tensor, as libtorch's channels-last format writes them.
fn channels_last_strides(size: &[i64]) -> Vec<i64> {
    let (c, h, w) = (size[1], size[2], size[3]);
    vec![c * h * w, 1, w * c, c]
}

/// A bias-free ResNet convolution, stored channels-last.
fn resnet_conv(path: nn::Path, input: i64, output: i64, stride: i64) -> nn::Conv2D {
    let mut conv = nn::conv2d(path, input, output, 3, conv_config(stride, 1));
    store_channels_last(&mut conv);
    conv
}

fn conv_config(stride: i64, padding: i64) -> nn::ConvConfig {
    nn::ConvConfig {
        stride,
        padding,
        bias: false,
        ws_init: nn::init::DEFAULT_KAIMING_NORMAL,
        ..Default::default()
    }
}

/// PyTorch's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases
/// (tch's default Kaiming gain is larger, which makes this BN-free net collapse to the majority
/// class under a long tail at lr 0.05).
fn torch_default(fan_in: i64) -> nn::Init {
    let bound = 1.0 / (fan_in as f64).sqrt();
    nn::Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// conv32-pool-conv64-pool-fc128: fast on CPU.
///
/// Two choices for speed that leave the function unchanged: each pool comes before its ReLU
/// (ReLU is monotone, so max-then-ReLU equals ReLU-then-max, forward and gradient, on a quarter
/// of the elements), and the convolution weights are stored channels-last, so the activations
/// are too: libtorch's channels-last max-pool is vectorised over channels, its NCHW one is not
/// (max-pool was 16 % of a default epoch's profile).
fn small_cnn(path: &nn::Path, channels: i64, size: i64) -> Backbone {
    let conv = |p: nn::Path, i: i64, o| {
        let mut conv = nn::conv2d(
            p,
            i,
            o,
            3,
            nn::ConvConfig {
                padding: 1,
                ws_init: torch_default(i * 9),
                bs_init: torch_default(i * 9),
                ..Default::default()
            },
        );
        store_channels_last(&mut conv);
        conv
    };
    let flat = 64 * (size / 4) * (size / 4);
    let fc = nn::LinearConfig {
        ws_init: torch_default(flat),
        bs_init: Some(torch_default(flat)),
        bias: true,
    };
    let layers = nn::seq_t()
        .add(conv(path / "conv1", channels, 32))
        .add_fn(|x| x.max_pool2d_default(2).relu())
        .add(conv(path / "conv2", 32, 64))
        .add_fn(|x| x.max_pool2d_default(2).relu())
        // Back to NCHW order: the fully connected weights index features as C x H x W.
        .add_fn(|x| x.flatten(1, -1))
        .add(nn::linear(path / "fc", flat, 128, fc))
        .add_fn(|x| x.relu());
    Backbone {
        layers,
        features: 128,
    }
}

/// A CIFAR-style basic block with the parameter-free "option A" shortcut (He et al.; as in
/// Cao et al.'s ResNet-32): stride-2 subsampling and zero-padded channels.
#[derive(Debug)]
struct BasicBlock {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    stride: i64,
    pad_channels: i64,
}

impl BasicBlock {
    fn new(path: &nn::Path, input: i64, output: i64, stride: i64) -> BasicBlock {
        BasicBlock {
            conv1: resnet_conv(path / "conv1", input, output, stride),
            bn1: nn::batch_norm2d(path / "bn1", output, Default::default()),
            conv2: resnet_conv(path / "conv2", output, output, 1),
            bn2: nn::batch_norm2d(path / "bn2", output, Default::default()),
            stride,
            pad_channels: output - input,
        }
    }
}

impl ModuleT for BasicBlock {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        // ReLU and the residual sum in place: batch norm's backward needs its input, not its
        // output, so overwriting the output saves an allocation and a pass over memory.
        let mut out = x
            .apply(&self.conv1)
            .apply_t(&self.bn1, train)
            .relu_()
            .apply(&self.conv2)
            .apply_t(&self.bn2, train);
        let shortcut = if self.stride != 1 || self.pad_channels != 0 {
            let sub = x
                .slice(2, 0, None, self.stride)
                .slice(3, 0, None, self.stride);
            let p = self.pad_channels / 2;
            sub.constant_pad_nd([0, 0, 0, 0, p, self.pad_channels - p])
        } else {
            x.shallow_clone()
        };
        out += shortcut;
        out.relu_()
    }
}

/// ResNet-(6n+2): n = 3 gives ResNet-20, n = 5 ResNet-32.
fn cifar_resnet(path: &nn::Path, channels: i64, n: usize) -> Backbone {
    let mut layers = nn::seq_t()
        .add(resnet_conv(path / "conv1", channels, 16, 1))
        .add(nn::batch_norm2d(path / "bn1", 16, Default::default()))
        .add_fn(|x| x.shallow_clone().relu_());
    let mut input = 16;
    for (stage, width) in [16i64, 32, 64].into_iter().enumerate() {
        for block in 0..n {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let p = path / format!("layer{}", stage + 1) / block.to_string();
            layers = layers.add(BasicBlock::new(&p, input, width, stride));
            input = width;
        }
    }
    let layers = layers.add_fn(|x| x.mean_dim([2i64, 3].as_slice(), false, Kind::Float));
    Backbone {
        layers,
        features: 64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device};

    #[test]
    fn shapes_and_parameter_counts() {
        let _torch = crate::torch_seed::hold_torch_seed(0);
        for (arch, channels, size, expected_params) in [
            (Arch::SmallCnn, 1, 28, None),
            // ResNet-20 has ~0.27 M parameters, ResNet-32 ~0.46 M (He et al.).
            (Arch::Resnet20, 3, 32, Some((260_000, 280_000))),
            (Arch::Resnet32, 3, 32, Some((455_000, 475_000))),
            (Arch::Resnet20, 1, 28, None),
        ] {
            let vs = VarStore::new(Device::Cpu);
            let model = Classifier::new(&vs.root(), arch, channels, size, 10, HeadKind::Linear);
            let x = Tensor::zeros([2, channels, size, size], (Kind::Float, Device::Cpu));
            assert_eq!(model.forward_t(&x, false).size(), vec![2, 10]);
            if let Some((lo, hi)) = expected_params {
                let count: i64 = vs
                    .trainable_variables()
                    .iter()
                    .map(|t| t.numel() as i64)
                    .sum();
                assert!(count > lo && count < hi, "{arch:?}: {count}");
            }
        }
    }

    #[test]
    fn the_small_cnn_runs_channels_last_and_computes_the_plain_layout_function() {
        let _torch = crate::torch_seed::hold_torch_seed(3);
        let vs = VarStore::new(Device::Cpu);
        let model = Classifier::new(&vs.root(), Arch::SmallCnn, 1, 28, 10, HeadKind::Linear);
        let weights = vs.variables();
        let conv2 = &weights["backbone.conv2.weight"];
        // (64, 32, 3, 3) stored channels-last: the input-channel stride is 1.
        assert_eq!(conv2.stride(), vec![32 * 9, 1, 3 * 32, 32]);
        // And the first convolution's, with its one input channel: (32, 1, 3, 3) as
        // (9, 1, 3, 1), which libtorch reads as channels-last (the permute + contiguous idiom
        // left it at the NCHW (9, 9, 3, 1)).
        let conv1 = &weights["backbone.conv1.weight"];
        assert_eq!(conv1.stride(), vec![9, 1, 3, 1]);
        let x = Tensor::rand([5, 1, 28, 28], (Kind::Float, Device::Cpu));
        // So the first activation, the largest, is channels-last (its max-pool the fast one).
        let first = x.conv2d(
            conv1,
            Some(&weights["backbone.conv1.bias"]),
            [1, 1],
            [1, 1],
            [1, 1],
            1,
        );
        assert_eq!(first.stride(), vec![32 * 28 * 28, 1, 28 * 32, 32]);
        let features = model.backbone.forward_t(&x, false);
        // The same network by hand, every tensor in the plain NCHW layout, ReLU before pool.
        let plain = |name: &str| weights[name].contiguous();
        let conv = |x: &Tensor, layer: &str| {
            x.conv2d(
                &plain(&format!("backbone.{layer}.weight")),
                Some(&plain(&format!("backbone.{layer}.bias"))),
                [1, 1],
                [1, 1],
                [1, 1],
                1,
            )
        };
        let h = conv(&x, "conv1").relu().max_pool2d_default(2);
        let h = conv(&h, "conv2").relu().max_pool2d_default(2);
        let expected = h
            .flatten(1, -1)
            .linear(
                &plain("backbone.fc.weight"),
                Some(&plain("backbone.fc.bias")),
            )
            .relu();
        let diff = f64::try_from((features - expected).abs().max()).unwrap();
        assert!(diff < 1e-5, "max difference {diff}");
    }

    #[test]
    fn the_resnets_run_channels_last_and_compute_the_plain_layout_function() {
        let _torch = crate::torch_seed::hold_torch_seed(5);
        let vs = VarStore::new(Device::Cpu);
        let model = Classifier::new(&vs.root(), Arch::Resnet20, 1, 28, 10, HeadKind::Linear);
        let weights = vs.variables();
        let conv = &weights["backbone.layer2.0.conv2.weight"];
        // (32, 32, 3, 3) stored channels-last: the input-channel stride is 1.
        assert_eq!(conv.stride(), vec![32 * 9, 1, 3 * 32, 32]);
        let x = Tensor::rand([4, 1, 28, 28], (Kind::Float, Device::Cpu));
        let channels_last = model.backbone.forward_t(&x, false);
        assert!(channels_last.abs().sum(Kind::Float).double_value(&[]) > 0.0);
        // The same weights in the plain NCHW layout give the same features.
        tch::no_grad(|| {
            for (_, w) in weights.iter() {
                let mut w = w.shallow_clone();
                w.set_data(&w.contiguous());
            }
        });
        assert!(conv.is_contiguous());
        let plain = model.backbone.forward_t(&x, false);
        let diff = f64::try_from((channels_last - plain).abs().max()).unwrap();
        assert!(diff < 1e-4, "max difference {diff}");
        // Training: the in-place ReLUs and residual sums leave autograd what it needs (it
        // errors on a saved tensor modified in place), and every convolution gets a gradient.
        let loss = model.forward_t(&x, true).square().mean(Kind::Float);
        loss.backward();
        let convs: Vec<_> = weights.iter().filter(|(n, _)| n.contains("conv")).collect();
        // The stem and two per block in 3 stages x 3 blocks.
        assert_eq!(convs.len(), 1 + 2 * 9);
        for (name, w) in convs {
            let grad = w.grad();
            assert!(grad.defined(), "{name}");
            assert!(
                grad.abs().sum(Kind::Float).double_value(&[]) > 0.0,
                "{name}"
            );
        }
    }

    #[test]
    fn cosine_head_starts_with_unit_columns_and_scales_its_logits() {
        let _torch = crate::torch_seed::hold_torch_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let head = HeadKind::Cosine { scale: 30.0 };
        let model = Classifier::new(&vs.root(), Arch::SmallCnn, 1, 28, 5, head);
        let Head::Cosine { weight, .. } = &model.head else {
            panic!("a cosine head")
        };
        // LDAM-DRW's init: every class column has unit norm (not ~sqrt(features / 3)).
        let norms = weight.norm_scalaropt_dim(2, [0i64].as_slice(), false);
        assert_eq!(norms.size(), vec![5]);
        let dev = f64::try_from((norms - 1.0).abs().max()).unwrap();
        assert!(dev < 1e-5, "column norms off by {dev}");
        let x = Tensor::rand([3, 1, 28, 28], (Kind::Float, Device::Cpu));
        let cos = model.forward_t(&x, false);
        let max = f64::try_from(cos.abs().max()).unwrap();
        assert!(max <= 1.0 + 1e-5);
        // Cosines by hand, from the features and the weight.
        let features = model.backbone.forward_t(&x, false);
        let f = &features / features.norm_scalaropt_dim(2, [1i64].as_slice(), true);
        let w = weight / weight.norm_scalaropt_dim(2, [0i64].as_slice(), true);
        let by_hand = f.matmul(&w);
        assert!(f64::try_from((&cos - &by_hand).abs().max()).unwrap() < 1e-5);
        // Inference logits are s * cos: what the LDAM loss's softmax sees.
        let logits = model.logits(&x);
        assert!(f64::try_from((logits - by_hand * 30.0).abs().max()).unwrap() < 1e-4);
        // A linear head's logits are its forward pass.
        let vs = VarStore::new(Device::Cpu);
        let linear = Classifier::new(&vs.root(), Arch::SmallCnn, 1, 28, 5, HeadKind::Linear);
        assert!(linear.logits(&x).equal(&linear.forward_t(&x, false)));
    }
}
