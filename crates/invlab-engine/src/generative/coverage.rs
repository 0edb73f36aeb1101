//! GIT's generator coverage diagnostic (`invlab_core::nuisance_coverage`): the nuisance of
//! generated variants against fresh true transforms of the same head and tail images, each
//! measured on the batch by the same tensor statistic. The generator gets what it gets in
//! training (the stored training image, transformed once); the true transform gets the
//! untransformed image; both are measured against the untransformed image (its background
//! pixels, its ink), which is the glyph without any nuisance.

use tch::{Kind, Tensor};

use super::augment::generate;
use super::munit::Generator;
use crate::transforms;
use invlab_core::config::TransformKind;
use invlab_core::nuisance_coverage::{
    pick_images, CoverageGroup, NuisanceCoverage, NuisanceMeasure,
};
use invlab_core::seed::{self, SeedPurpose};

/// Variants per image, and images per end (head, tail).
pub const STYLES: usize = 64;
pub const IMAGES_PER_END: usize = 16;
/// Images generated (or transformed) at once.
const CHUNK: i64 = 512;
/// A pixel holds ink from this value up (the glyphs' strokes are near 255, their anti-aliased
/// edges in between).
const INK: f64 = 128.0;

/// The measure of each image of `images` (N x C x H x W, float 0..=255) against `reference`
/// (the same shape: the untransformed images they stand for). NaN where the reference gives
/// the measure nothing to read (no background pixel; no ink).
pub fn nuisance_values(measure: NuisanceMeasure, reference: &Tensor, images: &Tensor) -> Vec<f64> {
    let values = tch::no_grad(|| {
        let reference = reference.to_kind(Kind::Float);
        let images = images.to_kind(Kind::Float);
        match measure {
            NuisanceMeasure::BackgroundLevel => {
                let channels = reference.size()[1] as f64;
                let background = reference.eq(0.0).all_dims(1, true).to_kind(Kind::Float);
                let sum =
                    (&images * &background).sum_dim_intlist(&[1i64, 2, 3][..], false, Kind::Double);
                let count =
                    background.sum_dim_intlist(&[1i64, 2, 3][..], false, Kind::Double) * channels;
                sum / count
            }
            NuisanceMeasure::InkAreaRatio => {
                let ink = |x: &Tensor| {
                    x.ge(INK)
                        .any_dim(1, false)
                        .sum_dim_intlist(&[1i64, 2][..], false, Kind::Double)
                };
                ink(&images) / ink(&reference)
            }
        }
    });
    let values = values.to_device(tch::Device::Cpu).view([-1]);
    let n = values.numel();
    // 0 / 0 is NaN already; x / 0 (ink from nothing) is infinite: unreadable too.
    Vec::<f64>::try_from(values)
        .unwrap_or_else(|_| vec![f64::NAN; n])
        .into_iter()
        .map(|v| if v.is_finite() { v } else { f64::NAN })
        .collect()
}

/// The diagnostic of `generator` on training images (`train`: as stored, transformed once;
/// `base`: untransformed; N x C x H x W bytes or floats on the run's device), `None` for a
/// transform without a measure.
pub(crate) fn measure(
    generator: &Generator,
    train: &Tensor,
    base: &Tensor,
    train_by_class: &[Vec<usize>],
    train_sizes: &[usize],
    transform: TransformKind,
    seed: u64,
) -> Option<NuisanceCoverage> {
    let measure = NuisanceMeasure::of(transform)?;
    // Images the measure can read: judged on the untransformed image itself.
    let readable = |i: usize| {
        let image = base.get(i as i64).unsqueeze(0);
        nuisance_values(measure, &image, &image)[0].is_finite()
    };
    let mut styles_rng = seed::rng(seed, SeedPurpose::GitCoverageStyles);
    let mut truth_rng = seed::rng(seed, SeedPurpose::GitCoverageTruth);
    let groups = pick_images(train_by_class, train_sizes, IMAGES_PER_END, &readable)
        .into_iter()
        .map(|(end, picked)| {
            let mut generated = Vec::with_capacity(picked.len() * STYLES);
            let mut truth = Vec::with_capacity(picked.len() * STYLES);
            if !picked.is_empty() {
                let index: Vec<i64> = picked.iter().map(|&(_, i)| i as i64).collect();
                let index = Tensor::from_slice(&index).to_device(train.device());
                let repeated = |images: &Tensor| {
                    images
                        .index_select(0, &index)
                        .to_kind(Kind::Float)
                        .repeat_interleave_self_int(STYLES as i64, 0, None)
                };
                let (stored, untransformed) = (repeated(train), repeated(base));
                let total = stored.size()[0];
                let mut start = 0;
                while start < total {
                    let rows = CHUNK.min(total - start);
                    let reference = untransformed.narrow(0, start, rows);
                    let made = generate(generator, &stored.narrow(0, start, rows), &mut styles_rng);
                    generated.extend(nuisance_values(measure, &reference, &made));
                    let drawn =
                        tch::no_grad(|| transforms::apply(transform, &reference, &mut truth_rng));
                    truth.extend(nuisance_values(measure, &reference, &drawn));
                    start += rows;
                }
            }
            CoverageGroup {
                end,
                classes: picked.iter().map(|&(c, _)| c).collect(),
                class_sizes: picked.iter().map(|&(c, _)| train_sizes[c]).collect(),
                generated,
                truth,
            }
        })
        .collect();
    Some(NuisanceCoverage {
        transform,
        measure,
        styles: STYLES,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::{background, morphology, Morph};

    /// 3 x 1 x 4 x 4 content: a 2 x 2 ink square (255) on 0, a single ink pixel, all ink.
    fn content() -> Tensor {
        let mut v = vec![0f32; 3 * 16];
        for (y, x) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
            v[y * 4 + x] = 255.0;
        }
        v[16 + 5] = 200.0;
        for p in &mut v[32..] {
            *p = 255.0;
        }
        Tensor::from_slice(&v).view([3, 1, 4, 4])
    }

    #[test]
    fn the_background_level_reads_back_the_level_the_transform_set() {
        let x = content();
        let levels = [37.0, 99.0, 5.0];
        let y = background(&x, &levels);
        let got = nuisance_values(NuisanceMeasure::BackgroundLevel, &x, &y);
        assert_eq!(&got[..2], &[37.0, 99.0]);
        // No background pixel: nothing to read.
        assert!(got[2].is_nan());
        // An image whose background was left at 0 reads 0; ink does not count.
        let same = nuisance_values(NuisanceMeasure::BackgroundLevel, &x, &x);
        assert_eq!(&same[..2], &[0.0, 0.0]);
        // Applied through the transform's own draws, every image reads its drawn level:
        // the same stream drawn by hand gives the levels.
        let mut rng = seed::rng(3, SeedPurpose::GitCoverageTruth);
        let drawn = transforms::apply(TransformKind::Bg, &x.narrow(0, 0, 2), &mut rng);
        let mut again = seed::rng(3, SeedPurpose::GitCoverageTruth);
        use rand::Rng;
        let expected: Vec<f64> = (0..2).map(|_| again.random_range(0..100) as f64).collect();
        assert_eq!(
            nuisance_values(NuisanceMeasure::BackgroundLevel, &x.narrow(0, 0, 2), &drawn),
            expected
        );
    }

    #[test]
    fn the_ink_ratio_counts_pixels_gained_or_lost_by_the_morphology() {
        let x = content();
        // The 2 x 2 square dilated by 3 x 3 (anchor 1): 4 x 4 = 16 pixels; the single pixel
        // dilated by 3: 9 pixels.
        let dilated = morphology(&x, &[Morph::Dilate(3), Morph::Dilate(3), Morph::Dilate(3)]);
        let got = nuisance_values(NuisanceMeasure::InkAreaRatio, &x, &dilated);
        assert_eq!(&got[..2], &[16.0 / 4.0, 9.0]);
        assert_eq!(got[2], 1.0);
        // Erosion by 2 removes the single pixel (ratio 0) and shrinks the square to 1 pixel.
        let eroded = morphology(&x, &[Morph::Erode(2), Morph::Erode(2), Morph::Erode(2)]);
        let got = nuisance_values(NuisanceMeasure::InkAreaRatio, &x, &eroded);
        assert_eq!(&got[..2], &[1.0 / 4.0, 0.0]);
        // No ink in the content: unreadable.
        let blank = Tensor::zeros([1, 1, 4, 4], (Kind::Float, tch::Device::Cpu));
        assert!(
            nuisance_values(NuisanceMeasure::InkAreaRatio, &blank, &x.narrow(0, 0, 1))[0].is_nan()
        );
    }
}
