//! Turns a config into the run's long-tailed training set and balanced test set (untransformed;
//! the engine transforms them on the device).

use super::{glyphs, longtail, DataError, ImageSet, SourceData};

use crate::config::{DatasetName, RunConfig};

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
        let sizes = longtail::sizes_by_class(&config.data, glyphs::NUM_CLASSES, seed);
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
    let configured =
        (!config.data.root.is_empty()).then(|| std::path::PathBuf::from(&config.data.root));
    let source = super::real::load_auto(config.data.dataset, configured.as_deref())?;
    Ok(from_source(source, config))
}

/// Draws the long-tailed subset of a loaded dataset.
pub fn from_source(source: SourceData, config: &RunConfig) -> Prepared {
    let num_classes = source.num_classes;
    let sizes = longtail::sizes_by_class(&config.data, num_classes, config.seed);
    let pools = source.train.indices_by_class(num_classes);
    let mut chosen = Vec::new();
    for (class, pool) in pools.iter().enumerate() {
        chosen.extend(longtail::choose(pool, sizes[class], config.seed, class));
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
