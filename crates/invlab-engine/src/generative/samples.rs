//! The generator's sample grid: rows of real training images from the largest class and from
//! tail classes; in each row the real image, then generated variants with random styles. The
//! same images and styles every time, so successive grids show the training's progress.

use tch::{Device, Kind, Tensor};

use super::augment::generate;
use super::munit::Generator;
use invlab_core::generator::{SampleGrid, SampleRow};
use invlab_core::seed::{self, SeedPurpose};
use invlab_core::summary::classes_largest_first;

/// Which training images the grid shows: two of the largest class, then one of each of the
/// smallest classes (up to `rows` in all).
pub(crate) fn pick_rows(
    by_class: &[Vec<usize>],
    sizes: &[usize],
    rows: usize,
) -> Vec<(usize, usize)> {
    let order = classes_largest_first(by_class, sizes);
    let mut picked = Vec::new();
    if let Some(&head) = order.first() {
        for &i in by_class[head].iter().take(2) {
            picked.push((head, i));
        }
    }
    for &c in order.iter().rev() {
        if picked.len() >= rows {
            break;
        }
        if picked.iter().all(|&(pc, _)| pc != c) {
            picked.push((c, by_class[c][0]));
        }
    }
    picked
}

fn to_bytes(images: &Tensor) -> Vec<Vec<u8>> {
    let n = images.size()[0];
    (0..n)
        .map(|i| {
            let img = images
                .get(i)
                .round()
                .clamp(0.0, 255.0)
                .to_kind(Kind::Uint8)
                .to_device(Device::Cpu)
                .contiguous();
            let len = img.numel();
            let mut bytes = vec![0u8; len];
            img.view([-1]).copy_data(&mut bytes, len);
            bytes
        })
        .collect()
}

/// The grid for `picked` (class, image index) rows with `variants` generated columns.
pub(crate) fn sample_grid(
    generator: &Generator,
    train: &Tensor,
    picked: &[(usize, usize)],
    labels: &[String],
    variants: usize,
    seed: u64,
) -> SampleGrid {
    let size = train.size();
    let device = train.device();
    let mut rng = seed::rng(seed, SeedPurpose::GitSamples);
    let rows = picked
        .iter()
        .zip(labels)
        .map(|(&(_, i), label)| {
            let real = train.get(i as i64).unsqueeze(0).to_kind(Kind::Float);
            let repeated = real.repeat([variants as i64, 1, 1, 1]);
            let generated = generate(generator, &repeated.to_device(device), &mut rng);
            let mut images = to_bytes(&real);
            images.extend(to_bytes(&generated));
            SampleRow {
                label: label.clone(),
                images,
            }
        })
        .collect();
    SampleGrid {
        channels: size[1] as usize,
        size: size[2] as usize,
        rows,
    }
}
