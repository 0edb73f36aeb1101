//! The paper's class-agnostic nuisance transforms, batched on tensors (on the run's device).
//!
//! Parameters are drawn on the host from a seeded ChaCha stream, one per image, so a run is
//! reproducible on any device; the pixel work is a handful of batched libtorch ops.
//! Images are float tensors N x C x H x W holding 0..=255 values; outputs are rounded and
//! clamped back onto that u8 grid, as the reference's PIL / OpenCV pipeline produces.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use invlab_core::config::TransformKind;

/// Draws one parameter per image and applies `kind` to the whole batch.
pub fn apply(kind: TransformKind, images: &Tensor, rng: &mut ChaCha8Rng) -> Tensor {
    let n = images.size()[0] as usize;
    match kind {
        TransformKind::None => images.shallow_clone(),
        TransformKind::Rot => {
            let angles: Vec<f64> = (0..n).map(|_| rng.random_range(-180.0..180.0)).collect();
            rotate(images, &angles)
        }
        TransformKind::Bg => {
            let values: Vec<f64> = (0..n).map(|_| rng.random_range(0..100) as f64).collect();
            background(images, &values)
        }
        TransformKind::Dil => {
            let ops: Vec<Morph> = (0..n).map(|_| Morph::sample(rng)).collect();
            morphology(images, &ops)
        }
    }
}

/// Rotates each image counter-clockwise by its angle in degrees (as PIL's `rotate`), bicubic,
/// zero fill outside. Square images map exactly onto themselves at 0/90/180/270 degrees.
pub(crate) fn rotate(images: &Tensor, angles_deg: &[f64]) -> Tensor {
    let device = images.device();
    let size = images.size();
    let mut theta = Vec::with_capacity(angles_deg.len() * 6);
    for a in angles_deg {
        let (s, c) = a.to_radians().sin_cos();
        // Output (x, y) samples input R(-a) (x, y) in normalized coordinates (y points down).
        theta.extend_from_slice(&[c as f32, -s as f32, 0.0, s as f32, c as f32, 0.0]);
    }
    let theta = Tensor::from_slice(&theta)
        .view([angles_deg.len() as i64, 2, 3])
        .to_device(device);
    let grid = Tensor::affine_grid_generator(&theta, size.as_slice(), false);
    // interpolation_mode 2 = bicubic, padding_mode 0 = zeros.
    images
        .to_kind(Kind::Float)
        .grid_sampler(&grid, 2, 0, false)
        .round()
        .clamp(0.0, 255.0)
}

/// Sets every background pixel (0 in all channels) to the image's value.
pub fn background(images: &Tensor, values: &[f64]) -> Tensor {
    let device = images.device();
    let n = values.len() as i64;
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    let v = Tensor::from_slice(&v).view([n, 1, 1, 1]).to_device(device);
    let images = images.to_kind(Kind::Float);
    let is_background = images.eq(0.0).all_dims(1, true);
    images.where_self(&is_background.logical_not(), &v)
}

/// One image's morphological operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Morph {
    Dilate(i64),
    Erode(i64),
}

impl Morph {
    /// With p = 0.6 dilate with k ~ U{2,3,4}; else erode with k ~ U{1,2} (one iteration).
    pub(crate) fn sample(rng: &mut ChaCha8Rng) -> Morph {
        if rng.random_bool(0.6) {
            Morph::Dilate(rng.random_range(2..=4))
        } else {
            Morph::Erode(rng.random_range(1..=2))
        }
    }
}

/// Dilation / erosion with a k x k square kernel, anchored at k/2 like OpenCV's default.
/// Images are grouped by operation so each group is one pooling call.
pub(crate) fn morphology(images: &Tensor, ops: &[Morph]) -> Tensor {
    let device = images.device();
    let mut out = images.to_kind(Kind::Float).copy();
    let groups = [
        Morph::Dilate(2),
        Morph::Dilate(3),
        Morph::Dilate(4),
        Morph::Erode(1),
        Morph::Erode(2),
    ];
    for group in groups {
        let members: Vec<i64> = ops
            .iter()
            .enumerate()
            .filter(|(_, op)| **op == group)
            .map(|(i, _)| i as i64)
            .collect();
        if members.is_empty() {
            continue;
        }
        let index = Tensor::from_slice(&members).to_device(device);
        let selected = out.index_select(0, &index);
        let result = match group {
            Morph::Dilate(k) => max_filter(&selected, k),
            Morph::Erode(k) => -max_filter(&(-selected), k),
        };
        let _ = out.index_copy_(0, &index, &result);
    }
    out
}

/// out(y, x) = max over the k x k window whose anchor (k/2, k/2) sits on (y, x).
fn max_filter(images: &Tensor, k: i64) -> Tensor {
    if k <= 1 {
        return images.shallow_clone();
    }
    let before = k / 2;
    let after = k - 1 - before;
    // Pad with -inf-like values so the border never wins a max.
    let padded = images.constant_pad_nd([before, after, before, after]);
    let padded = padded.where_self(
        &pad_mask(images, before, after),
        &Tensor::from(-1e9f32).to_device(images.device()),
    );
    padded.max_pool2d([k, k], [1, 1], [0, 0], [1, 1], false)
}

/// True inside the original image, false on the padding ring.
fn pad_mask(images: &Tensor, before: i64, after: i64) -> Tensor {
    let size = images.size();
    let (h, w) = (size[2], size[3]);
    let ones = Tensor::ones([1, 1, h, w], (Kind::Bool, images.device()));
    ones.constant_pad_nd([before, after, before, after])
}

/// Moves a host image buffer (N x C x H x W u8) onto `device` as a u8 tensor.
pub fn images_tensor(
    data: &[u8],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    device: Device,
) -> Tensor {
    Tensor::from_slice(data)
        .view([n as i64, c as i64, h as i64, w as i64])
        .to_device(device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn random_images(n: i64, seed: i64) -> Tensor {
        let _torch = crate::torch_seed::hold_torch_seed(seed as u64);
        // Sparse ink on a zero background, like glyphs.
        let ink = Tensor::randint(256, [n, 1, 28, 28], (Kind::Float, Device::Cpu));
        let keep = Tensor::rand([n, 1, 28, 28], (Kind::Float, Device::Cpu)).gt(0.7);
        ink.where_self(&keep, &Tensor::from(0f32))
    }

    #[test]
    fn rotation_by_zero_is_identity() {
        let x = random_images(4, 1);
        let y = rotate(&x, &[0.0; 4]);
        assert_eq!(f64::try_from((y - &x).abs().max()).unwrap(), 0.0);
    }

    #[test]
    fn rotation_by_90_is_a_transpose_flip() {
        let x = random_images(3, 2);
        let y = rotate(&x, &[90.0; 3]);
        // Counter-clockwise by 90 degrees: out[i][j] = in[j][W-1-i].
        let expected = x.transpose(2, 3).flip([2]);
        assert!(f64::try_from((y - expected).abs().max()).unwrap() < 1e-3);
    }

    #[test]
    fn background_changes_only_zero_pixels_by_one_value_per_image() {
        let x = random_images(8, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let y = apply(TransformKind::Bg, &x, &mut rng);
        for i in 0..8 {
            let (xi, yi) = (x.get(i), y.get(i));
            let ink = xi.ne(0.0);
            // Ink untouched.
            assert!(yi.masked_select(&ink).equal(&xi.masked_select(&ink)));
            // Background all one value in 0..=99.
            let bg = yi.masked_select(&ink.logical_not());
            let (lo, hi) = (
                f64::try_from(bg.min()).unwrap(),
                f64::try_from(bg.max()).unwrap(),
            );
            assert_eq!(lo, hi);
            assert!((0.0..=99.0).contains(&lo));
        }
    }

    #[test]
    fn dilation_never_removes_ink_and_erosion_never_adds() {
        let x = random_images(6, 4);
        for k in 2..=4 {
            let d = morphology(&x, &[Morph::Dilate(k); 6]);
            assert!(bool::try_from(d.ge_tensor(&x).all()).unwrap(), "dilate {k}");
        }
        for k in 1..=2 {
            let e = morphology(&x, &[Morph::Erode(k); 6]);
            assert!(bool::try_from(e.le_tensor(&x).all()).unwrap(), "erode {k}");
        }
        let same = morphology(&x, &[Morph::Erode(1); 6]);
        assert!(same.equal(&x));
    }

    #[test]
    fn dilation_matches_opencv_anchor() {
        // A single pixel at (10, 10) dilated by a 2x2 kernel anchored at (1, 1) covers
        // (10..=11, 10..=11), as cv2.dilate does.
        let x = Tensor::zeros([1, 1, 28, 28], (Kind::Float, Device::Cpu));
        let _ = x.get(0).get(0).get(10).get(10).fill_(200.0);
        let d = morphology(&x, &[Morph::Dilate(2)]);
        let ones: Vec<(i64, i64)> = (0..28)
            .flat_map(|y| (0..28).map(move |x| (y, x)))
            .filter(|&(y, x)| f64::try_from(d.get(0).get(0).get(y).get(x)).unwrap() > 0.0)
            .collect();
        assert_eq!(ones, vec![(10, 10), (10, 11), (11, 10), (11, 11)]);
    }

    #[test]
    fn draws_are_seeded() {
        let x = random_images(5, 5);
        let a = apply(TransformKind::Rot, &x, &mut ChaCha8Rng::seed_from_u64(9));
        let b = apply(TransformKind::Rot, &x, &mut ChaCha8Rng::seed_from_u64(9));
        let c = apply(TransformKind::Rot, &x, &mut ChaCha8Rng::seed_from_u64(10));
        assert!(a.equal(&b));
        assert!(!a.equal(&c));
    }
}
