//! `glyphs`: the built-in generated dataset. 49 classes of 28 x 28 grayscale stroke glyphs,
//! K49-like in spirit: each class is a fixed set of strokes drawn from a shared pool (so classes
//! resemble each other), and every image jitters the strokes, the pen and the placement.
//!
//! The dataset is fixed (like a real one): image `i` of class `c` is a pure function of
//! `(c, i)`. A run's seed only chooses which images and which transforms it uses.
//! Rasterising is batched on tensors: distance from every pixel to every stroke segment.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use super::longtail::derive_seed;
use super::ImageSet;

pub const NUM_CLASSES: usize = 49;
pub const SIZE: usize = 28;
/// Training images are indices below this; test images start here.
pub const TEST_OFFSET: usize = 1 << 20;
const DATASET_SEED: u64 = 0x6c79_7068_7331;
const STROKES_PER_CLASS: usize = 4;
const SEGMENTS_PER_STROKE: usize = 4;

type Point = (f64, f64);

/// A stroke is a polyline of `SEGMENTS_PER_STROKE + 1` points in [-1, 1]^2.
type Stroke = Vec<Point>;

/// The shared pool: lines, arcs and hooks at several places and orientations.
fn stroke_pool() -> Vec<Stroke> {
    let mut pool = Vec::new();
    let line = |a: Point, b: Point| -> Stroke {
        (0..=SEGMENTS_PER_STROKE)
            .map(|k| {
                let t = k as f64 / SEGMENTS_PER_STROKE as f64;
                (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
            })
            .collect()
    };
    let arc = |cx: f64, cy: f64, r: f64, from: f64, to: f64| -> Stroke {
        (0..=SEGMENTS_PER_STROKE)
            .map(|k| {
                let t = from + (to - from) * k as f64 / SEGMENTS_PER_STROKE as f64;
                (cx + r * t.cos(), cy + r * t.sin())
            })
            .collect()
    };
    for &y in &[-0.6, 0.0, 0.6] {
        pool.push(line((-0.7, y), (0.7, y)));
    }
    for &x in &[-0.6, 0.0, 0.6] {
        pool.push(line((x, -0.7), (x, 0.7)));
    }
    pool.push(line((-0.7, -0.7), (0.7, 0.7)));
    pool.push(line((-0.7, 0.7), (0.7, -0.7)));
    pool.push(line((-0.7, -0.7), (0.0, 0.7)));
    pool.push(line((0.0, -0.7), (0.7, 0.7)));
    use std::f64::consts::PI;
    for (cx, cy) in [
        (0.0, 0.0),
        (-0.35, -0.35),
        (0.35, 0.35),
        (-0.35, 0.35),
        (0.35, -0.35),
    ] {
        pool.push(arc(cx, cy, 0.35, 0.0, PI));
        pool.push(arc(cx, cy, 0.35, PI, 2.0 * PI));
    }
    pool.push(arc(0.0, 0.0, 0.6, 0.5 * PI, 1.5 * PI));
    pool.push(arc(0.0, 0.0, 0.6, -0.5 * PI, 0.5 * PI));
    // Hooks: a line with a bent end.
    pool.push(vec![
        (-0.5, -0.7),
        (-0.5, -0.1),
        (-0.5, 0.4),
        (-0.2, 0.7),
        (0.3, 0.6),
    ]);
    pool.push(vec![
        (0.5, 0.7),
        (0.5, 0.1),
        (0.5, -0.4),
        (0.2, -0.7),
        (-0.3, -0.6),
    ]);
    pool.push(vec![
        (-0.7, 0.2),
        (-0.2, 0.2),
        (0.2, 0.2),
        (0.5, 0.0),
        (0.6, -0.4),
    ]);
    pool
}

/// Each class's strokes (indices into the pool), distinct sets, fixed for the dataset.
fn class_strokes() -> Vec<Vec<usize>> {
    let pool = stroke_pool().len();
    let mut rng = ChaCha8Rng::seed_from_u64(DATASET_SEED);
    let mut classes: Vec<Vec<usize>> = Vec::new();
    while classes.len() < NUM_CLASSES {
        let mut all: Vec<usize> = (0..pool).collect();
        all.shuffle(&mut rng);
        let mut set = all[..STROKES_PER_CLASS].to_vec();
        set.sort();
        // Classes must differ in at least two strokes, so no class is a near-copy of another.
        let too_close = classes
            .iter()
            .any(|c| c.iter().filter(|s| set.contains(s)).count() > STROKES_PER_CLASS - 2);
        if !too_close {
            classes.push(set);
        }
    }
    classes
}

/// Names shown for the classes: `g00` .. `g48`.
pub fn class_names() -> Vec<String> {
    (0..NUM_CLASSES).map(|c| format!("g{c:02}")).collect()
}

/// The segments (and pen) of one image, jittered from its class prototype.
struct Sketch {
    segments: Vec<[f64; 4]>,
    half_width: f64,
    ink: f64,
}

fn sketch(prototype: &[Stroke], class: usize, index: usize) -> Sketch {
    let seed = derive_seed(DATASET_SEED, &format!("image-{class}-{index}"));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scale_x = rng.random_range(0.75..1.1);
    let scale_y = rng.random_range(0.75..1.1);
    let shear = rng.random_range(-0.25..0.25);
    let tilt: f64 = rng.random_range(-12.0f64..12.0).to_radians();
    let (s, c) = tilt.sin_cos();
    let shift = (rng.random_range(-0.15..0.15), rng.random_range(-0.15..0.15));
    // Sometimes a stroke is left out, as a hurried hand would.
    let dropped = if rng.random_bool(0.2) {
        Some(rng.random_range(0..prototype.len()))
    } else {
        None
    };
    let mut segments = Vec::new();
    for (k, stroke) in prototype.iter().enumerate() {
        let offset = (rng.random_range(-0.12..0.12), rng.random_range(-0.12..0.12));
        let points: Vec<Point> = stroke
            .iter()
            .map(|&(x, y)| {
                let x = x + offset.0 + rng.random_range(-0.07..0.07);
                let y = y + offset.1 + rng.random_range(-0.07..0.07);
                let (x, y) = (scale_x * (x + shear * y), scale_y * y);
                (c * x - s * y + shift.0, s * x + c * y + shift.1)
            })
            .collect();
        if Some(k) == dropped {
            continue;
        }
        for w in points.windows(2) {
            segments.push([w[0].0, w[0].1, w[1].0, w[1].1]);
        }
    }
    Sketch {
        segments,
        half_width: rng.random_range(0.5..1.3),
        ink: rng.random_range(170.0..255.0),
    }
}

/// Renders the given `(class, index)` images into an `ImageSet` (1 x 28 x 28, u8).
pub fn render(items: &[(usize, usize)]) -> ImageSet {
    let pool = stroke_pool();
    let classes = class_strokes();
    let mut out = ImageSet::new(1, SIZE, SIZE);
    out.images.reserve(items.len() * SIZE * SIZE);
    let max_segments = STROKES_PER_CLASS * SEGMENTS_PER_STROKE;
    // Pixel centres in the [-1, 1] frame, (1, 1, P, 2).
    let coords: Vec<f32> = (0..SIZE * SIZE)
        .flat_map(|p| {
            let (y, x) = (p / SIZE, p % SIZE);
            let to_unit = |v: usize| ((v as f64 + 0.5) / SIZE as f64 * 2.0 - 1.0) as f32;
            [to_unit(x), to_unit(y)]
        })
        .collect();
    let pixels = Tensor::from_slice(&coords).view([1, 1, (SIZE * SIZE) as i64, 2]);
    let px_per_unit = SIZE as f64 / 2.0;
    for chunk in items.chunks(2048) {
        let n = chunk.len();
        let mut seg = vec![0f32; n * max_segments * 4];
        let mut pen = vec![0f32; n * 2];
        for (i, &(class, index)) in chunk.iter().enumerate() {
            let prototype: Vec<Stroke> = classes[class % NUM_CLASSES]
                .iter()
                .map(|&s| pool[s].clone())
                .collect();
            let sk = sketch(&prototype, class, index);
            for j in 0..max_segments {
                // Unused slots are far-away points: they never reach a pixel.
                let s = sk.segments.get(j).copied().unwrap_or([9.0, 9.0, 9.0, 9.0]);
                for (k, v) in s.iter().enumerate() {
                    seg[(i * max_segments + j) * 4 + k] = *v as f32;
                }
            }
            pen[i * 2] = (sk.half_width / px_per_unit) as f32;
            pen[i * 2 + 1] = sk.ink as f32;
        }
        let seg = Tensor::from_slice(&seg).view([n as i64, max_segments as i64, 1, 4]);
        let a = seg.narrow(3, 0, 2);
        let b = seg.narrow(3, 2, 2);
        let ab = &b - &a;
        let ap = &pixels - &a;
        let len2 = (&ab * &ab)
            .sum_dim_intlist(3, false, Kind::Float)
            .clamp_min(1e-9);
        let t = ((&ap * &ab).sum_dim_intlist(3, false, Kind::Float) / len2).clamp(0.0, 1.0);
        let closest = &a + t.unsqueeze(3) * &ab;
        let dist = (&pixels - closest)
            .square()
            .sum_dim_intlist(3, false, Kind::Float)
            .sqrt()
            .amin(1, false); // (n, P), in unit coordinates
        let pen = Tensor::from_slice(&pen).view([n as i64, 2]);
        let half_width = pen.narrow(1, 0, 1);
        let ink = pen.narrow(1, 1, 1);
        // Anti-aliased pen: full ink inside the stroke, a one-pixel ramp at its edge.
        let coverage = ((half_width - dist) * px_per_unit + 0.5).clamp(0.0, 1.0);
        let img = (coverage * ink)
            .round()
            .clamp(0.0, 255.0)
            .to_kind(Kind::Uint8);
        let mut bytes = vec![0u8; n * SIZE * SIZE];
        img.to_device(Device::Cpu)
            .contiguous()
            .view([-1])
            .copy_data(&mut bytes, n * SIZE * SIZE);
        out.images.extend_from_slice(&bytes);
        out.labels.extend(chunk.iter().map(|&(c, _)| c as i64));
    }
    out
}

/// A class's training images `0..n`.
pub fn train_items(sizes: &[usize]) -> Vec<(usize, usize)> {
    sizes
        .iter()
        .enumerate()
        .flat_map(|(c, &n)| (0..n).map(move |i| (c, i)))
        .collect()
}

/// `per_class` test images of every class, disjoint from any training image.
pub fn test_items(per_class: usize) -> Vec<(usize, usize)> {
    (0..NUM_CLASSES)
        .flat_map(|c| (0..per_class).map(move |i| (c, TEST_OFFSET + i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_distinct_and_images_deterministic() {
        let classes = class_strokes();
        assert_eq!(classes.len(), NUM_CLASSES);
        let a = render(&[(3, 0), (3, 1), (40, 7)]);
        let b = render(&[(3, 0), (3, 1), (40, 7)]);
        assert_eq!(a, b);
        assert_ne!(a.image(0), a.image(1), "jitter differs per image");
        assert_eq!(a.labels, vec![3, 3, 40]);
        // Ink on a zero background: the BG transform needs true zeros.
        let img = a.image(0);
        let zeros = img.iter().filter(|&&p| p == 0).count();
        assert!(zeros > 400 && zeros < 770, "zeros {zeros}");
    }
}
