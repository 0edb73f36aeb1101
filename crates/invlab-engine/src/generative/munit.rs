//! A MUNIT-style image-to-image model (Huang et al., "Multimodal Unsupervised Image-to-Image
//! Translation", ECCV 2018), written from the paper: a content encoder (convolutions with
//! instance norm, downsampling, residual blocks), a style encoder (convolutions, downsampling,
//! global average pooling, no normalisation), a decoder (residual blocks whose AdaIN parameters
//! an MLP makes from the style code; nearest upsampling + 5x5 convolutions with layer norm; tanh
//! output) and an LSGAN discriminator (4x4 stride-2 convolutions, leaky ReLU). Images in [-1, 1].

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use invlab_core::generator::GeneratorSpec;

const EPS: f64 = 1e-5;

/// Per-sample, per-channel normalisation over H x W (biased variance), no affine part. libtorch's
/// fused kernel (one op forward, one backward) rather than mean / var / sub / div: the small
/// generator's tensors are tiny, so its iteration time is mostly per-op overhead.
pub(crate) fn instance_norm(x: &Tensor) -> Tensor {
    x.instance_norm::<Tensor>(None, None, None, None, true, 0.0, EPS, false)
}

/// Adaptive instance normalisation: instance-normalise, then scale by `gamma` and shift by
/// `beta`, both (B, C) from the style code. Computed as batch norm over the (1, B x C, H, W)
/// view, whose per-"channel" affine parameters are then each sample's own gamma and beta.
pub(crate) fn adain(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Tensor {
    let size = x.size();
    x.reshape([1, size[0] * size[1], size[2], size[3]])
        .batch_norm(
            Some(gamma.reshape([-1])),
            Some(beta.reshape([-1])),
            None::<Tensor>,
            None,
            true,
            0.0,
            EPS,
            false,
        )
        .view(size.as_slice())
}

/// MUNIT's layer norm: per sample, mean and (unbiased) standard deviation over C x H x W, then
/// a per-channel affine map whose scale starts U(0, 1).
#[derive(Debug)]
struct LayerNorm {
    gamma: Tensor,
    beta: Tensor,
}

impl LayerNorm {
    fn new(path: &nn::Path, channels: i64) -> LayerNorm {
        LayerNorm {
            gamma: path.var("gamma", &[channels], nn::Init::Uniform { lo: 0.0, up: 1.0 }),
            beta: path.zeros("beta", &[channels]),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let n = x.size()[0];
        let flat = x.view([n, -1]);
        let mean = flat.mean_dim(1, true, Kind::Float).view([n, 1, 1, 1]);
        let std = flat.std_dim(1, true, true).view([n, 1, 1, 1]);
        let c = x.size()[1];
        (x - mean) / (std + EPS) * self.gamma.view([1, c, 1, 1]) + self.beta.view([1, c, 1, 1])
    }
}

/// A reflect-padded convolution; generator weights Kaiming-normal, biases 0.
fn gen_conv(path: nn::Path, input: i64, output: i64, k: i64, stride: i64) -> nn::Conv2D {
    nn::conv2d(
        path,
        input,
        output,
        k,
        nn::ConvConfig {
            stride,
            padding: (k - 1) / 2,
            padding_mode: nn::PaddingMode::Reflect,
            ws_init: nn::init::DEFAULT_KAIMING_NORMAL,
            bs_init: nn::Init::Const(0.0),
            ..Default::default()
        },
    )
}

/// 4x4 stride-2 convolution with padding 1 (reflect): halves the size, as MUNIT's.
fn down_conv(path: nn::Path, input: i64, output: i64, ws_init: nn::Init) -> nn::Conv2D {
    nn::conv2d(
        path,
        input,
        output,
        4,
        nn::ConvConfig {
            stride: 2,
            padding: 1,
            padding_mode: nn::PaddingMode::Reflect,
            ws_init,
            bs_init: nn::Init::Const(0.0),
            ..Default::default()
        },
    )
}

fn gen_linear(path: nn::Path, input: i64, output: i64) -> nn::Linear {
    nn::linear(
        path,
        input,
        output,
        nn::LinearConfig {
            ws_init: nn::init::DEFAULT_KAIMING_NORMAL,
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        },
    )
}

#[derive(Debug)]
struct ResBlock {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
}

impl ResBlock {
    fn new(path: &nn::Path, channels: i64) -> ResBlock {
        ResBlock {
            conv1: gen_conv(path / "conv1", channels, channels, 3, 1),
            conv2: gen_conv(path / "conv2", channels, channels, 3, 1),
        }
    }

    /// x + norm(conv(relu(norm(conv(x))))), with instance norm or AdaIN.
    fn forward(&self, x: &Tensor, norm: impl Fn(&Tensor, usize) -> Tensor) -> Tensor {
        let h = norm(&x.apply(&self.conv1), 0).relu();
        x + norm(&h.apply(&self.conv2), 1)
    }
}

/// Image → spatial content code (C = dim * 2^downsamples, size / 2^downsamples).
#[derive(Debug)]
pub struct ContentEncoder {
    first: nn::Conv2D,
    downs: Vec<nn::Conv2D>,
    blocks: Vec<ResBlock>,
}

impl ContentEncoder {
    fn new(path: &nn::Path, spec: &GeneratorSpec, channels: i64) -> ContentEncoder {
        let mut dim = spec.dim as i64;
        let first = gen_conv(path / "first", channels, dim, 7, 1);
        let downs = (0..spec.downsamples)
            .map(|i| {
                let conv = down_conv(
                    path / format!("down{i}"),
                    dim,
                    dim * 2,
                    nn::init::DEFAULT_KAIMING_NORMAL,
                );
                dim *= 2;
                conv
            })
            .collect();
        let blocks = (0..spec.res_blocks)
            .map(|i| ResBlock::new(&(path / format!("res{i}")), dim))
            .collect();
        ContentEncoder {
            first,
            downs,
            blocks,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = instance_norm(&x.apply(&self.first)).relu();
        for d in &self.downs {
            h = instance_norm(&h.apply(d)).relu();
        }
        for b in &self.blocks {
            h = b.forward(&h, |t, _| instance_norm(t));
        }
        h
    }
}

/// Image → style code (B, style_dim). No normalisation: the style is what normalisation removes.
#[derive(Debug)]
pub struct StyleEncoder {
    first: nn::Conv2D,
    downs: Vec<nn::Conv2D>,
    last: nn::Conv2D,
}

impl StyleEncoder {
    fn new(path: &nn::Path, spec: &GeneratorSpec, channels: i64) -> StyleEncoder {
        let mut dim = spec.dim as i64;
        let first = gen_conv(path / "first", channels, dim, 7, 1);
        let downs = (0..spec.style_downsamples)
            .map(|i| {
                // Channels double for the first two downsamplings, then stay (as MUNIT).
                let out = if i < 2 { dim * 2 } else { dim };
                let conv = down_conv(
                    path / format!("down{i}"),
                    dim,
                    out,
                    nn::init::DEFAULT_KAIMING_NORMAL,
                );
                dim = out;
                conv
            })
            .collect();
        let last = gen_conv(path / "last", dim, spec.style_dim as i64, 1, 1);
        StyleEncoder { first, downs, last }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.apply(&self.first).relu();
        for d in &self.downs {
            h = h.apply(d).relu();
        }
        let pooled = h.adaptive_avg_pool2d([1, 1]);
        pooled.apply(&self.last).flatten(1, -1)
    }
}

/// Content code + AdaIN parameters → image in [-1, 1].
#[derive(Debug)]
pub struct Decoder {
    blocks: Vec<ResBlock>,
    ups: Vec<(nn::Conv2D, LayerNorm)>,
    last: nn::Conv2D,
    channels: i64,
}

impl Decoder {
    fn new(path: &nn::Path, spec: &GeneratorSpec, output: i64) -> Decoder {
        let mut dim = (spec.dim << spec.downsamples) as i64;
        let channels = dim;
        let blocks = (0..spec.res_blocks)
            .map(|i| ResBlock::new(&(path / format!("res{i}")), dim))
            .collect();
        let ups = (0..spec.downsamples)
            .map(|i| {
                let conv = gen_conv(path / format!("up{i}"), dim, dim / 2, 5, 1);
                let norm = LayerNorm::new(&(path / format!("norm{i}")), dim / 2);
                dim /= 2;
                (conv, norm)
            })
            .collect();
        let last = gen_conv(path / "last", dim, output, 7, 1);
        Decoder {
            blocks,
            ups,
            last,
            channels,
        }
    }

    /// AdaIN parameters this decoder takes: beta then gamma for each of its AdaIN layers.
    fn adain_params(&self) -> i64 {
        self.blocks.len() as i64 * 2 * 2 * self.channels
    }

    /// `params`: (B, adain_params), for each AdaIN layer in order its beta (C) then gamma (C).
    pub fn forward(&self, content: &Tensor, params: &Tensor) -> Tensor {
        let c = self.channels;
        let layer = |block: usize, k: usize| {
            let offset = ((block * 2 + k) as i64) * 2 * c;
            (params.narrow(1, offset, c), params.narrow(1, offset + c, c))
        };
        let mut h = content.shallow_clone();
        for (i, b) in self.blocks.iter().enumerate() {
            h = b.forward(&h, |t, k| {
                let (beta, gamma) = layer(i, k);
                adain(t, &gamma, &beta)
            });
        }
        for (conv, norm) in &self.ups {
            let size = h.size();
            let up = h.upsample_nearest2d([size[2] * 2, size[3] * 2], None, None);
            h = norm.forward(&up.apply(conv)).relu();
        }
        h.apply(&self.last).tanh()
    }
}

/// The style code → the decoder's AdaIN parameters.
#[derive(Debug)]
struct Mlp {
    layers: [nn::Linear; 3],
}

impl Mlp {
    fn forward(&self, style: &Tensor) -> Tensor {
        let h = style.apply(&self.layers[0]).relu();
        let h = h.apply(&self.layers[1]).relu();
        h.apply(&self.layers[2])
    }
}

/// One MUNIT generator: encoders, decoder and the style MLP.
#[derive(Debug)]
pub struct Generator {
    pub content: ContentEncoder,
    pub style: StyleEncoder,
    pub decoder: Decoder,
    mlp: Mlp,
    pub style_dim: i64,
}

impl Generator {
    pub fn new(path: &nn::Path, spec: &GeneratorSpec, channels: i64) -> Generator {
        let content = ContentEncoder::new(&(path / "content"), spec, channels);
        let style = StyleEncoder::new(&(path / "style"), spec, channels);
        let decoder = Decoder::new(&(path / "decoder"), spec, channels);
        let (s, m) = (spec.style_dim as i64, spec.mlp_dim as i64);
        let mlp = Mlp {
            layers: [
                gen_linear(path / "mlp0", s, m),
                gen_linear(path / "mlp1", m, m),
                gen_linear(path / "mlp2", m, decoder.adain_params()),
            ],
        };
        Generator {
            content,
            style,
            decoder,
            mlp,
            style_dim: s,
        }
    }

    /// (content code, style code) of images in [-1, 1].
    pub fn encode(&self, x: &Tensor) -> (Tensor, Tensor) {
        (self.content.forward(x), self.style.forward(x))
    }

    /// An image from a content code and a style code (B, style_dim).
    pub(crate) fn decode(&self, content: &Tensor, style: &Tensor) -> Tensor {
        self.decoder.forward(content, &self.mlp.forward(style))
    }
}

/// The LSGAN discriminator: a patch map of realness scores.
#[derive(Debug)]
pub(crate) struct Discriminator {
    convs: Vec<nn::Conv2D>,
    last: nn::Conv2D,
}

impl Discriminator {
    /// Weights N(0, 0.02), biases 0 (MUNIT re-initialises its discriminators so).
    pub fn new(path: &nn::Path, spec: &GeneratorSpec, channels: i64) -> Discriminator {
        let init = nn::Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        };
        let mut dim = spec.dis_dim as i64;
        let mut input = channels;
        let mut convs = Vec::new();
        for i in 0..spec.dis_layers {
            convs.push(down_conv(path / format!("conv{i}"), input, dim, init));
            input = dim;
            dim *= 2;
        }
        let last = nn::conv2d(
            path / "last",
            input,
            1,
            1,
            nn::ConvConfig {
                ws_init: init,
                bs_init: nn::Init::Const(0.0),
                ..Default::default()
            },
        );
        Discriminator { convs, last }
    }
}

impl Module for Discriminator {
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.shallow_clone();
        for c in &self.convs {
            let y = h.apply(c);
            h = y.maximum(&(&y * 0.2));
        }
        h.apply(&self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use invlab_core::config::GeneratorPreset;
    use tch::nn::VarStore;
    use tch::Device;

    fn tiny_spec() -> GeneratorSpec {
        GeneratorSpec {
            dim: 4,
            res_blocks: 1,
            mlp_dim: 8,
            dis_dim: 4,
            dis_layers: 3,
            ..GeneratorSpec::preset(GeneratorPreset::Small)
        }
    }

    #[test]
    fn encoders_decoder_and_discriminator_have_the_papers_shapes() {
        let _torch = crate::torch_seed::hold_torch_seed(0);
        for (spec, channels, size) in [
            (tiny_spec(), 1, 28),
            (tiny_spec(), 3, 32),
            (GeneratorSpec::preset(GeneratorPreset::Paper), 1, 28),
        ] {
            let vs = VarStore::new(Device::Cpu);
            let g = Generator::new(&vs.root(), &spec, channels);
            let d = Discriminator::new(&vs.root(), &spec, channels);
            let x = Tensor::rand([2, channels, size, size], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
            let (content, style) = g.encode(&x);
            let down = size >> spec.downsamples;
            let width = (spec.dim << spec.downsamples) as i64;
            assert_eq!(content.size(), vec![2, width, down, down]);
            assert_eq!(style.size(), vec![2, spec.style_dim as i64]);
            let y = g.decode(&content, &style);
            assert_eq!(y.size(), x.size());
            // tanh output: the generator's range is [-1, 1].
            assert!(f64::try_from(y.abs().max()).unwrap() <= 1.0);
            let patches = d.forward(&x);
            assert_eq!(patches.size()[..2], [2, 1]);
        }
        // The paper's K49 generator has its published size: about 15 M parameters.
        let vs = VarStore::new(Device::Cpu);
        let _ = Generator::new(
            &vs.root(),
            &GeneratorSpec::preset(GeneratorPreset::Paper),
            1,
        );
        let params: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum();
        assert!((14_000_000..16_000_000).contains(&params), "{params}");
    }

    #[test]
    fn adain_matches_its_formula_on_a_hand_made_tensor() {
        // One sample, two channels of 2x2.
        let x =
            Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 14.0]).view([1, 2, 2, 2]);
        let gamma = Tensor::from_slice(&[2.0f32, 0.5]).view([1, 2]);
        let beta = Tensor::from_slice(&[1.0f32, -3.0]).view([1, 2]);
        let got: Vec<f32> = Vec::try_from(adain(&x, &gamma, &beta).view([-1])).unwrap();
        let channel = |v: [f64; 4], g: f64, b: f64| {
            let mean = v.iter().sum::<f64>() / 4.0;
            let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 4.0; // biased
            v.map(|a| g * (a - mean) / (var + 1e-5).sqrt() + b)
        };
        let mut expected = channel([1.0, 2.0, 3.0, 4.0], 2.0, 1.0).to_vec();
        expected.extend(channel([10.0, 10.0, 10.0, 14.0], 0.5, -3.0));
        for (g, e) in got.iter().zip(&expected) {
            assert!((*g as f64 - e).abs() < 1e-4, "{got:?} vs {expected:?}");
        }
        // Per sample: a second sample with other statistics is normalised on its own.
        let two = Tensor::cat(&[&x, &(&x * 3.0 + 7.0)], 0);
        let g2 = gamma.repeat([2, 1]);
        let b2 = beta.repeat([2, 1]);
        let both = adain(&two, &g2, &b2);
        assert!(f64::try_from((both.get(0) - both.get(1)).abs().max()).unwrap() < 1e-3);
    }

    /// The composite formula the fused kernels replace, for the gradient check below.
    fn adain_by_formula(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Tensor {
        let dims = [2i64, 3];
        let mean = x.mean_dim(dims.as_slice(), true, Kind::Float);
        let var = x.var_dim(dims.as_slice(), false, true);
        let s = x.size();
        (x - mean) / (var + EPS).sqrt() * gamma.view([s[0], s[1], 1, 1])
            + beta.view([s[0], s[1], 1, 1])
    }

    #[test]
    fn adain_gives_each_sample_its_own_style_and_the_formulas_gradients() {
        let _torch = crate::torch_seed::hold_torch_seed(3);
        let x = (Tensor::randn([3, 4, 5, 5], (Kind::Double, Device::Cpu)) * 2.0 + 1.0)
            .set_requires_grad(true);
        let gamma = Tensor::randn([3, 4], (Kind::Double, Device::Cpu)).set_requires_grad(true);
        let beta = Tensor::randn([3, 4], (Kind::Double, Device::Cpu)).set_requires_grad(true);
        let weights = Tensor::randn([3, 4, 5, 5], (Kind::Double, Device::Cpu));
        let grads = |f: &dyn Fn(&Tensor, &Tensor, &Tensor) -> Tensor| {
            let out = f(&x, &gamma, &beta);
            let g = Tensor::run_backward(
                &[(&out * &weights).sum(Kind::Double)],
                &[&x, &gamma, &beta],
                false,
                false,
            );
            (out.detach(), g)
        };
        let (fused, fused_grads) = grads(&adain);
        let (formula, formula_grads) = grads(&adain_by_formula);
        let diff = f64::try_from((&fused - &formula).abs().max()).unwrap();
        // libtorch's batch-norm kernel accumulates its statistics its own way: ~1e-8 apart
        // in double; a wrong formula (say the unbiased variance) is off by ~1e-2 here.
        assert!(diff < 1e-6, "{diff}");
        for (a, b) in fused_grads.iter().zip(&formula_grads) {
            let diff = f64::try_from((a - b).abs().max()).unwrap();
            assert!(diff < 1e-6, "{diff}");
        }
        // Instance norm is AdaIN with gamma 1 and beta 0.
        let plain = instance_norm(&x.detach());
        let ones = Tensor::ones([3, 4], (Kind::Double, Device::Cpu));
        let zeros = Tensor::zeros([3, 4], (Kind::Double, Device::Cpu));
        let expected = adain_by_formula(&x.detach(), &ones, &zeros);
        assert!(f64::try_from((plain - expected).abs().max()).unwrap() < 1e-6);
    }

    #[test]
    fn layer_norm_uses_the_unbiased_deviation_over_the_whole_sample() {
        let _torch = crate::torch_seed::hold_torch_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let norm = LayerNorm::new(&vs.root(), 2);
        tch::no_grad(|| {
            let _ = norm.gamma.shallow_clone().fill_(1.0);
        });
        let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 6.0]).view([1, 2, 1, 2]);
        let got: Vec<f32> = Vec::try_from(norm.forward(&x).view([-1])).unwrap();
        let v = [1.0f64, 2.0, 3.0, 6.0];
        let mean = 3.0;
        let std = (v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        for (g, a) in got.iter().zip(v) {
            assert!((*g as f64 - (a - mean) / (std + 1e-5)).abs() < 1e-4);
        }
    }
}
