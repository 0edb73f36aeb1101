//! Turns a config into the run's long-tailed training set and its test set (untransformed; the
//! engine transforms them on the device). The built-in set's test split is balanced; real
//! datasets keep their official test split, as the paper does.

use super::{glyphs, DataError, ImageSet, SourceData};

use invlab_core::config::{DatasetName, RunConfig};

/// A run's data before transforms.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub train: ImageSet,
    pub test: ImageSet,
    pub num_classes: usize,
    pub class_names: Vec<String>,
    /// Indexed by class label.
    pub train_sizes: Vec<usize>,
    pub test_sizes: Vec<usize>,
}

fn counts(labels: &[i64], num_classes: usize) -> Vec<usize> {
    let mut n = vec![0; num_classes];
    for &y in labels {
        if let Some(slot) = n.get_mut(y as usize) {
            *slot += 1;
        }
    }
    n
}

/// Builds the run's data from the config and its seed.
pub fn prepare(config: &RunConfig) -> Result<Prepared, DataError> {
    let seed = config.seed;
    if config.data.dataset == DatasetName::Glyphs {
        let sizes = invlab_core::longtail::sizes_by_class(&config.data, glyphs::NUM_CLASSES, seed);
        // The generated pool is unbounded: image i of class c exists for every i, so the
        // first n_c images are as random a choice as any.
        let train = glyphs::render(&glyphs::train_items(&sizes));
        let test = glyphs::render(&glyphs::test_items(config.data.test_per_class));
        let test_sizes = counts(&test.labels, glyphs::NUM_CLASSES);
        return Ok(Prepared {
            train,
            test,
            num_classes: glyphs::NUM_CLASSES,
            class_names: glyphs::class_names(),
            train_sizes: sizes,
            test_sizes,
        });
    }
    let source = super::real::load_auto(config.data.dataset, config.data.root.as_deref())?;
    Ok(from_source(source, config))
}

/// Draws the long-tailed subset of a loaded dataset.
pub(crate) fn from_source(source: SourceData, config: &RunConfig) -> Prepared {
    let num_classes = source.num_classes;
    let sizes = invlab_core::longtail::sizes_by_class(&config.data, num_classes, config.seed);
    let pools = source.train.indices_by_class(num_classes);
    let mut chosen = Vec::new();
    for (class, pool) in pools.iter().enumerate() {
        chosen.extend(invlab_core::longtail::choose(
            pool,
            sizes[class],
            config.data.pick,
            config.seed,
            class,
        ));
    }
    let train = source.train.select(&chosen);
    let train_sizes = counts(&train.labels, num_classes);
    let test_sizes = counts(&source.test.labels, num_classes);
    Prepared {
        train,
        test: source.test,
        num_classes,
        class_names: source.class_names,
        train_sizes,
        test_sizes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use invlab_core::config::{ClassOrder, Pick, Profile};

    /// Three classes of six images each; pixel value = index in the file.
    fn source() -> SourceData {
        let mut train = ImageSet::new(1, 1, 1);
        for i in 0..18u8 {
            train.images.push(i);
            train.labels.push(i64::from(i % 3));
        }
        SourceData {
            test: train.clone(),
            train,
            num_classes: 3,
            class_names: vec!["a".into(), "b".into(), "c".into()],
        }
    }

    #[test]
    fn identity_order_and_first_pick_take_the_first_images_class_0_largest() {
        let mut config = RunConfig::default();
        config.data.profile = Profile::Exp;
        config.data.imbalance = 4.0;
        config.data.max_per_class = 4;
        config.data.class_order = ClassOrder::Identity;
        config.data.pick = Pick::First;
        let p = from_source(source(), &config);
        assert_eq!(p.train_sizes, vec![4, 2, 1]);
        // File order within each class: class 0 holds images 0, 3, 6, 9.
        assert_eq!(p.train.images, vec![0, 3, 6, 9, 1, 4, 2]);
        // Seeded choices differ from the first images for some seed.
        config.data.pick = Pick::Seeded;
        let differs = (0..10).any(|seed| {
            config.seed = seed;
            from_source(source(), &config).train.images != vec![0, 3, 6, 9, 1, 4, 2]
        });
        assert!(differs);
    }
}
