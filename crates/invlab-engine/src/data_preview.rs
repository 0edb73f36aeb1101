//! Pictures of a config's dataset, as a researcher checks it before training: images of the
//! largest and the smallest classes after the nuisance transform, one base image under fresh
//! draws of the transform eKLD measures, and the class-size profile.
//!
//! `build` prepares the data and runs the transforms (libtorch, CPU): call it on a background
//! OS thread, never on the UI thread or the async runtime. The result is plain data. Every
//! draw follows from `seed::derive(config.seed, SeedPurpose::Preview)`.

use std::time::Instant;

use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind};

use crate::data::{glyphs, ImageSet};
use crate::transforms;
use invlab_core::config::{
    serde_plain_name, DataConfig, DatasetName, EkldTransform, RunConfig, TransformKind,
};
use invlab_core::picture::{self, GridRow, GridStyle, Picture};
use invlab_core::seed::{self, SeedPurpose};

/// Classes shown at each end of the tail.
pub const CLASSES_SHOWN: usize = 3;
/// Images shown per class.
pub const IMAGES_PER_CLASS: usize = 6;
/// Fresh transforms of the base image.
pub const FRESH_DRAWS: usize = 7;

/// One class and some of its training images.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassPictures {
    pub class: usize,
    pub name: String,
    pub train_size: usize,
    pub images: Vec<Picture>,
}

/// What the data pane and `invlab data --preview` show.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPreview {
    pub dataset: DatasetName,
    /// The nuisance transform applied to the training images.
    pub transform: TransformKind,
    /// The transform eKLD measures invariance to (drawn fresh in `variants`).
    pub ekld_transform: TransformKind,
    /// eKLD measures against the run's trained generator, which does not exist before the run:
    /// `variants` then shows `ekld_transform` (the dataset's nuisance) in its place.
    pub ekld_by_generator: bool,
    pub num_classes: usize,
    /// Training images per class, largest first.
    pub sizes_by_rank: Vec<usize>,
    /// The largest classes, largest first, images after the nuisance transform.
    pub largest: Vec<ClassPictures>,
    /// The smallest classes, smallest last.
    pub smallest: Vec<ClassPictures>,
    /// `images[0]` is an untransformed training image; the rest are fresh draws of
    /// `ekld_transform` applied to it.
    pub variants: ClassPictures,
    pub seconds: f64,
}

impl DataPreview {
    pub fn train_total(&self) -> usize {
        self.sizes_by_rank.iter().sum()
    }
}

/// The fixed transform the preview draws fresh variants of: the eKLD transform, or, when eKLD
/// measures against a trained generator (not available before the run), the dataset's own
/// nuisance transform, else rotation.
pub fn variant_transform(config: &RunConfig) -> TransformKind {
    config
        .ekld_transform()
        .fixed_kind()
        .unwrap_or(match config.data.transform {
            TransformKind::None => TransformKind::Rot,
            t => t,
        })
}

/// The caption of the fresh-draws row: what eKLD measures, or, for generator eKLD, that the row
/// shows a stand-in.
pub fn variants_caption(p: &DataPreview) -> String {
    let name = transform_name(p.ekld_transform);
    if p.ekld_by_generator {
        format!("one image, fresh {name} draws (eKLD here measures the run's trained generator; not available before the run)")
    } else {
        format!("one image, fresh {name} draws (the transform eKLD measures)")
    }
}

/// What the preview depends on: the data section, the seed and the eKLD transform.
#[derive(serde::Serialize)]
struct PreviewKey<'a> {
    data: &'a DataConfig,
    seed: u64,
    ekld_transform: EkldTransform,
}

/// The preview's cache key: the JSON of what it depends on (the data section as a run
/// directory records it, the seed and the resolved eKLD transform).
pub fn preview_key(config: &RunConfig) -> String {
    let key = PreviewKey {
        data: &config.data,
        seed: config.seed,
        ekld_transform: config.ekld_transform(),
    };
    // Only a `data.root` that is not UTF-8 fails, and the form's settings come from TOML.
    serde_json::to_string(&key).unwrap_or_else(|e| format!("unkeyed data settings ({e})"))
}

fn transform_images(set: &ImageSet, kind: TransformKind, rng: &mut ChaCha8Rng) -> ImageSet {
    if set.is_empty() || kind == TransformKind::None {
        return set.clone();
    }
    let x = transforms::images_tensor(
        &set.images,
        set.len(),
        set.channels,
        set.height,
        set.width,
        Device::Cpu,
    )
    .to_kind(Kind::Float);
    let y = transforms::apply(kind, &x, rng)
        .round()
        .clamp(0.0, 255.0)
        .to_kind(Kind::Uint8)
        .flatten(0, -1);
    let mut out = set.clone();
    out.images = Vec::<u8>::try_from(&y).expect("a u8 tensor converts to bytes");
    out
}

fn pictures(set: &ImageSet) -> Vec<Picture> {
    (0..set.len())
        .map(|i| Picture::from_image_set(set, i))
        .collect()
}

/// The training set's facts and a way to fetch a class's first images (as the run keeps them).
enum Source {
    /// The built-in set: image `i` of class `c` is a pure function of `(c, i)`, and a run keeps
    /// images `0..n_c`, so only the shown ones are rendered (the whole set takes seconds).
    Glyphs {
        sizes: Vec<usize>,
    },
    Prepared(Box<crate::data::prepare::Prepared>),
}

impl Source {
    fn load(config: &RunConfig) -> Result<(Source, Vec<String>), PreviewError> {
        if config.data.dataset == DatasetName::Glyphs {
            let sizes = invlab_core::longtail::sizes_by_class(
                &config.data,
                glyphs::NUM_CLASSES,
                config.seed,
            );
            return Ok((Source::Glyphs { sizes }, glyphs::class_names()));
        }
        let prepared = crate::data::prepare::prepare(config)?;
        let names = prepared.class_names.clone();
        Ok((Source::Prepared(Box::new(prepared)), names))
    }

    fn sizes(&self) -> &[usize] {
        match self {
            Source::Glyphs { sizes } => sizes,
            Source::Prepared(p) => &p.train_sizes,
        }
    }

    /// Class `c`'s first `k` training images (in the training set's order).
    fn first_images(&self, c: usize, k: usize) -> ImageSet {
        match self {
            Source::Glyphs { sizes } => {
                let items: Vec<(usize, usize)> = (0..k.min(sizes[c])).map(|i| (c, i)).collect();
                glyphs::render(&items)
            }
            Source::Prepared(p) => {
                let picked: Vec<usize> = p
                    .train
                    .labels
                    .iter()
                    .enumerate()
                    .filter(|(_, &y)| y as usize == c)
                    .map(|(i, _)| i)
                    .take(k)
                    .collect();
                p.train.select(&picked)
            }
        }
    }
}

/// Why a data preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The config file given to `invlab data --preview`.
    #[error(transparent)]
    Config(#[from] invlab_core::config::ConfigError),
    /// The data loader's error, naming the file or folder.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error("the training set is empty")]
    EmptyTrainingSet,
    #[error("writing {}: {source}", path.display())]
    Writing {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Builds the preview (prepares a real dataset's data: seconds for large ones).
pub fn build(config: &RunConfig) -> Result<DataPreview, PreviewError> {
    let start = Instant::now();
    let (source, class_names) = Source::load(config)?;
    let sizes = source.sizes().to_vec();
    let num_classes = sizes.len();
    let mut by_rank: Vec<usize> = (0..num_classes).collect();
    by_rank.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let shown = CLASSES_SHOWN.min(num_classes / 2).max(1);
    let largest: Vec<usize> = by_rank.iter().copied().take(shown).collect();
    let smallest: Vec<usize> = by_rank
        .iter()
        .rev()
        .copied()
        .filter(|c| !largest.contains(c))
        .take(shown)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let name = |c: usize| class_names.get(c).cloned().unwrap_or_default();

    let mut rng = seed::rng(config.seed, SeedPurpose::Preview);
    let mut group = |classes: &[usize]| -> Vec<ClassPictures> {
        classes
            .iter()
            .map(|&c| {
                let set = source.first_images(c, IMAGES_PER_CLASS);
                let set = transform_images(&set, config.data.transform, &mut rng);
                ClassPictures {
                    class: c,
                    name: name(c),
                    train_size: sizes[c],
                    images: pictures(&set),
                }
            })
            .collect()
    };
    let largest_pictures = group(&largest);
    let smallest_pictures = group(&smallest);

    let ekld_transform = variant_transform(config);
    let base_class = by_rank[0];
    let base = source.first_images(base_class, 1);
    if base.is_empty() {
        return Err(PreviewError::EmptyTrainingSet);
    }
    let repeated = base.select(&[0; FRESH_DRAWS]);
    let drawn = transform_images(&repeated, ekld_transform, &mut rng);
    let mut images = pictures(&base);
    images.extend(pictures(&drawn));
    let variants = ClassPictures {
        class: base_class,
        name: name(base_class),
        train_size: sizes[base_class],
        images,
    };
    Ok(DataPreview {
        dataset: config.data.dataset,
        transform: config.data.transform,
        ekld_transform,
        ekld_by_generator: config.ekld_transform() == invlab_core::config::EkldTransform::Generator,
        num_classes,
        sizes_by_rank: by_rank.iter().map(|&c| sizes[c]).collect(),
        largest: largest_pictures,
        smallest: smallest_pictures,
        variants,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// "ka (c12) n=4800": how a class is labelled.
pub fn class_label(c: &ClassPictures) -> String {
    format!("{} (c{}) n={}", c.name, c.class, c.train_size)
}

/// Upper-case name of a transform ("ROT", or "none").
pub fn transform_name(t: TransformKind) -> String {
    match t {
        TransformKind::None => "none".into(),
        other => serde_plain_name(&other).to_uppercase(),
    }
}

/// The class-size profile as bars, log scale (largest class left).
pub fn profile_picture(sizes_by_rank: &[usize], width: usize, height: usize) -> Picture {
    let style = GridStyle::default();
    let mut out = Picture::filled(width, height, 3, style.background);
    let max = sizes_by_rank.iter().copied().max().unwrap_or(1).max(2) as f64;
    let n = sizes_by_rank.len().max(1);
    let bar = (width / n).max(1);
    for (i, &size) in sizes_by_rank.iter().enumerate() {
        // log10(n) / log10(n_max): a class of one image still shows a sliver.
        let h =
            (((size.max(1) as f64).ln() / max.ln()) * (height as f64 - 1.0)).round() as usize + 1;
        let colour = match invlab_core::summary::SizeGroup::of(size) {
            invlab_core::summary::SizeGroup::Many => [95, 175, 255],
            invlab_core::summary::SizeGroup::Medium => [215, 175, 95],
            invlab_core::summary::SizeGroup::Few => [255, 135, 95],
        };
        let x = i * width / n;
        out.fill_rect(
            x,
            height - h.min(height),
            bar.saturating_sub(1).max(1),
            h,
            colour,
        );
    }
    out
}

/// The whole preview as one picture (for `invlab data --preview --out FILE.png`).
pub fn to_picture(p: &DataPreview) -> Picture {
    let style = GridStyle {
        scale: 2,
        ..GridStyle::default()
    };
    let rows = |classes: &[ClassPictures]| -> Vec<GridRow> {
        classes
            .iter()
            .map(|c| GridRow {
                label: class_label(c),
                cells: c.images.clone(),
            })
            .collect()
    };
    let title = format!(
        "{}: {} classes, {} training images; nuisance transform {}",
        serde_plain_name(&p.dataset),
        p.num_classes,
        p.train_total(),
        transform_name(p.transform)
    );
    let largest = picture::grid(
        Some("largest classes: training images after the nuisance transform"),
        &[],
        &rows(&p.largest),
        &style,
    );
    let smallest = picture::grid(Some("smallest classes"), &[], &rows(&p.smallest), &style);
    let mut columns = vec!["base".to_string()];
    columns.extend((1..p.variants.images.len()).map(|i| format!("{i}")));
    let variants = picture::grid(
        Some(&variants_caption(p)),
        &columns,
        &[GridRow {
            label: class_label(&p.variants),
            cells: p.variants.images.clone(),
        }],
        &style,
    );
    let width = [largest.width, smallest.width, variants.width]
        .into_iter()
        .max()
        .unwrap_or(200);
    let bars = profile_picture(&p.sizes_by_rank, width.saturating_sub(2 * style.gap), 64);
    let max = p.sizes_by_rank.first().copied().unwrap_or(0);
    let min = p.sizes_by_rank.last().copied().unwrap_or(0);
    let profile = picture::grid(
        Some(&format!(
            "class sizes by rank, log scale: n_max {max} .. n_min {min}"
        )),
        &[],
        &[GridRow {
            label: String::new(),
            cells: vec![bars],
        }],
        &GridStyle {
            scale: 1,
            ..style.clone()
        },
    );
    let mut header = Picture::filled(width, picture::GLYPH + 2 * style.gap, 3, style.background);
    header.draw_text(style.gap, style.gap, &title, style.text);
    picture::stack(
        &[header, largest, smallest, variants, profile],
        0,
        style.background,
    )
}

/// `invlab data --preview`: loads `config` (default: `configs/default.toml`, else the
/// built-in default), with `root` as `data.root` if given, builds the preview and writes it to
/// `out` as PNG. Returns a one-line account for the user.
pub fn write_png(
    config: Option<&std::path::Path>,
    root: Option<&std::path::Path>,
    out: &std::path::Path,
) -> Result<String, PreviewError> {
    let mut config = match config {
        Some(path) => RunConfig::load(path, &[])?,
        None => invlab_core::config::default_config(std::path::Path::new("configs")),
    };
    if let Some(root) = root {
        config.data.root = Some(root.to_path_buf());
    }
    let preview = build(&config)?;
    to_picture(&preview)
        .write_png(out)
        .map_err(|source| PreviewError::Writing {
            path: out.to_path_buf(),
            source,
        })?;
    Ok(format!(
        "{}: {} classes, {} training images (n_max {} .. n_min {}), transform {}; preview in {:.1} s",
        serde_plain_name(&preview.dataset),
        preview.num_classes,
        preview.train_total(),
        preview.sizes_by_rank.first().copied().unwrap_or(0),
        preview.sizes_by_rank.last().copied().unwrap_or(0),
        transform_name(preview.transform),
        preview.seconds
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use invlab_core::config::Profile;

    fn tiny(transform: TransformKind) -> RunConfig {
        let mut c = RunConfig::default();
        c.data.transform = transform;
        c.data.profile = Profile::Zipf;
        c.data.max_per_class = 40;
        c.data.min_per_class = 2;
        c.data.test_per_class = 1;
        c
    }

    #[test]
    fn the_preview_key_is_the_serialized_data_settings() {
        let c = tiny(TransformKind::Rot);
        let key = preview_key(&c);
        let json: serde_json::Value = serde_json::from_str(&key).unwrap();
        assert_eq!(json["data"], serde_json::to_value(&c.data).unwrap());
        assert_eq!(
            (json["seed"].as_u64(), json["ekld_transform"].as_str()),
            (Some(0), Some("rot"))
        );
        // Settings outside the data section leave the key alone; data settings change it.
        let mut other = c.clone();
        other.train.epochs += 1;
        assert_eq!(preview_key(&other), key);
        other.data.root = Some("/data/k49".into());
        assert_ne!(preview_key(&other), key);
        other = c.clone();
        other.eval.ekld_transform = invlab_core::config::EkldTransform::Bg;
        assert_ne!(preview_key(&other), key);
    }

    #[test]
    fn largest_and_smallest_classes_with_fresh_draws_seeded() {
        let config = tiny(TransformKind::Rot);
        let p = build(&config).unwrap();
        assert_eq!(p.num_classes, 49);
        assert_eq!(p.sizes_by_rank.len(), 49);
        assert!(p.sizes_by_rank.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(p.largest.len(), CLASSES_SHOWN);
        assert_eq!(p.smallest.len(), CLASSES_SHOWN);
        assert_eq!(p.largest[0].train_size, 40);
        assert_eq!(p.largest[0].images.len(), IMAGES_PER_CLASS);
        // A two-image class shows both.
        assert_eq!(p.smallest.last().unwrap().train_size, 2);
        assert_eq!(p.smallest.last().unwrap().images.len(), 2);
        assert_eq!(p.variants.images.len(), 1 + FRESH_DRAWS);
        let v = &p.variants.images;
        assert!(v[1..].iter().all(|img| img != &v[0]), "every draw rotates");
        assert_ne!(v[1], v[2], "fresh draws differ");
        // Seeded: the same config gives the same pictures; another seed other draws.
        let again = build(&config).unwrap();
        assert_eq!(again.variants, p.variants);
        assert_eq!(again.largest, p.largest);
        let mut other = config.clone();
        other.seed += 1;
        assert_ne!(build(&other).unwrap().variants.images[1..], v[1..]);
    }

    #[test]
    fn no_transform_shows_the_images_as_they_are_and_rot_draws() {
        let config = tiny(TransformKind::None);
        let p = build(&config).unwrap();
        assert_eq!(p.ekld_transform, TransformKind::Rot);
        let prepared = crate::data::prepare::prepare(&config).unwrap();
        let c = p.largest[0].class;
        let first = prepared.train.indices_by_class(49)[c][0];
        assert_eq!(
            p.largest[0].images[0],
            Picture::from_image_set(&prepared.train, first)
        );
    }

    #[test]
    fn generator_ekld_says_the_draws_shown_stand_in_for_the_generator() {
        let mut config = tiny(TransformKind::Bg);
        let plain = build(&config).unwrap();
        assert!(!plain.ekld_by_generator);
        assert!(variants_caption(&plain).contains("the transform eKLD measures"));
        config.eval.ekld_transform = invlab_core::config::EkldTransform::Generator;
        let p = build(&config).unwrap();
        assert!(p.ekld_by_generator);
        assert_eq!(
            p.ekld_transform,
            TransformKind::Bg,
            "the dataset's nuisance stands in"
        );
        let caption = variants_caption(&p);
        assert!(caption.contains("trained generator"), "{caption}");
        assert!(
            !caption.contains("the transform eKLD measures"),
            "{caption}"
        );
    }

    #[test]
    fn a_missing_real_dataset_is_a_clear_error() {
        let mut config = tiny(TransformKind::Rot);
        config.data.dataset = DatasetName::Cifar10;
        config.data.root = Some("/nonexistent/invlab-cifar".into());
        let e = build(&config).unwrap_err();
        assert!(matches!(e, PreviewError::Data(_)), "{e:?}");
        let e = e.to_string();
        assert!(
            e.contains("/nonexistent/invlab-cifar") || e.contains("cifar"),
            "{e}"
        );
    }

    #[test]
    fn the_png_picture_holds_every_section() {
        let p = build(&tiny(TransformKind::Bg)).unwrap();
        let pic = to_picture(&p);
        assert_eq!(pic.channels, 3);
        // 28-px images at scale 2 in rows of 3 classes, twice, plus variants and bars.
        assert!(pic.height > 2 * 3 * 56 + 56 + 64, "{}", pic.height);
        assert!(pic.width >= 8 * 56, "{}", pic.width);
        let bars = profile_picture(&[100, 10, 1], 30, 20);
        // The largest class's bar is full height, the smallest a sliver.
        assert_ne!(bars.rgb(1, 0), bars.rgb(29, 0));
        assert_ne!(bars.rgb(21, 19), GridStyle::default().background);
        assert_eq!(bars.rgb(21, 10), GridStyle::default().background);
    }
}
