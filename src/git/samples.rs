//! The generator's sample grid: rows of real training images from the largest class and from
//! tail classes; in each row the real image, then generated variants with random styles. The
//! same images and styles every time, so successive grids show the training's progress.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::augment::generate;
use super::munit::Generator;
use crate::picture::{grid, GridRow, GridStyle, Picture};
use crate::seed::derive_seed;

/// Plain data: no tensors, so it crosses threads in events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleGrid {
    pub channels: usize,
    pub size: usize,
    pub rows: Vec<SampleRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    /// e.g. `g07 (4800 images)`.
    pub label: String,
    /// C x H x W bytes each: the real image first, then the generated variants.
    pub images: Vec<Vec<u8>>,
}

/// Which training images the grid shows: two of the largest class, then one of each of the
/// smallest classes (up to `rows` in all).
pub(crate) fn pick_rows(
    by_class: &[Vec<usize>],
    sizes: &[usize],
    rows: usize,
) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..sizes.len())
        .filter(|&c| !by_class[c].is_empty())
        .collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
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
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, "git-samples"));
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

impl SampleGrid {
    /// The grid as a picture: a header, then one labelled row per real image.
    pub(crate) fn to_picture(&self) -> Picture {
        let columns = self.rows.first().map(|r| r.images.len()).unwrap_or(0);
        let mut headers = vec!["real".to_string()];
        headers.extend((1..columns).map(|k| format!("G{k}")));
        let rows: Vec<GridRow> = self
            .rows
            .iter()
            .map(|r| GridRow {
                label: r.label.clone(),
                cells: r
                    .images
                    .iter()
                    .map(|img| Picture::from_chw(self.channels, self.size, self.size, img))
                    .collect(),
            })
            .collect();
        grid(
            Some("GIT generator: real image, then generated variants (random styles)"),
            &headers,
            &rows,
            &GridStyle::default(),
        )
    }
}
