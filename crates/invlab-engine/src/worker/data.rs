//! The run's images on its device: the training set (transformed once, as the paper), the test
//! set (transformed once, for accuracy), the untransformed test images (eKLD) and normalisation.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use crate::data::prepare::Prepared;
use crate::data::ImageSet;
use crate::error::{EngineError, EngineResult};
use crate::{method, transforms};
use invlab_core::config::{Augment, RunConfig, TransformKind};
use invlab_core::seed::{self, SeedPurpose};

/// The training set, test sets and normalisation, resident on the device.
pub(crate) struct DeviceData {
    /// Transformed once, u8.
    pub train: Tensor,
    /// Untransformed, u8: kept when the method draws fresh transforms of the base images
    /// (Oracle, GIT's oracle control) or measures against them (GIT's coverage diagnostic).
    pub train_raw: Option<Tensor>,
    pub train_labels: Vec<i64>,
    pub train_by_class: Vec<Vec<usize>>,
    /// Transformed once, u8 (test accuracy).
    pub test: Tensor,
    pub test_labels: Vec<i64>,
    /// Untransformed, u8 (eKLD).
    pub test_raw: Tensor,
    pub mean: Tensor,
    pub std: Tensor,
    pub channels: i64,
    pub size: i64,
}

impl DeviceData {
    /// A training batch's images (float 0..=255, before normalisation) for the method: the
    /// stored images, or fresh transforms of the base images (see `method::training_images`).
    pub(crate) fn training_batch(
        &self,
        config: &RunConfig,
        idx: &Tensor,
        rng: &mut ChaCha8Rng,
    ) -> Tensor {
        let stored = self.train.index_select(0, idx).to_kind(Kind::Float);
        let base = self
            .train_raw
            .as_ref()
            .filter(|_| config.method.augment == Augment::Oracle)
            .map(|raw| raw.index_select(0, idx).to_kind(Kind::Float));
        method::training_images(config, &stored, base.as_ref(), rng)
    }

    /// Float 0..=255 images → the classifier's input (per-channel standardised).
    pub(crate) fn normalize(&self, images: &Tensor) -> Tensor {
        (images.to_kind(Kind::Float) / 255.0 - &self.mean) / &self.std
    }
}

/// Transforms a u8 image set once per image, in chunks, with a fresh parameter each.
fn transform_once(images: &Tensor, kind: TransformKind, seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = images.size()[0];
    let mut parts = Vec::new();
    let chunk = 4096;
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let part = transforms::apply(
            kind,
            &images.narrow(0, start, len).to_kind(Kind::Float),
            &mut rng,
        );
        parts.push(part.to_kind(Kind::Uint8));
        start += len;
    }
    if parts.is_empty() {
        images.shallow_clone()
    } else {
        Tensor::cat(&parts, 0)
    }
}

fn to_device(set: &ImageSet, device: Device) -> Tensor {
    transforms::images_tensor(
        &set.images,
        set.len(),
        set.channels,
        set.height,
        set.width,
        device,
    )
}

pub(crate) fn upload(
    prepared: &Prepared,
    config: &RunConfig,
    device: Device,
) -> EngineResult<DeviceData> {
    let kind = config.data.transform;
    if prepared.train.is_empty() {
        return Err(EngineError::Unusable("the training set is empty".into()));
    }
    if prepared.train.height != prepared.train.width {
        return Err(EngineError::Unusable(format!(
            "images must be square, got {}x{}",
            prepared.train.height, prepared.train.width
        )));
    }
    let train_raw = to_device(&prepared.train, device);
    let train = transform_once(
        &train_raw,
        kind,
        seed::derive(config.seed, SeedPurpose::TrainTransform),
    );
    let test_raw = to_device(&prepared.test, device);
    let test = transform_once(
        &test_raw,
        kind,
        seed::derive(config.seed, SeedPurpose::TestTransform),
    );
    let c = prepared.train.channels as i64;
    let float = train.to_kind(Kind::Float) / 255.0;
    let mean = float.mean_dim([0i64, 2, 3].as_slice(), true, Kind::Float);
    let std = float
        .std_dim([0i64, 2, 3].as_slice(), true, true)
        .clamp_min(1e-3);
    Ok(DeviceData {
        train,
        train_raw: method::needs_base_images(config).then_some(train_raw),
        train_labels: prepared.train.labels.clone(),
        train_by_class: prepared.train.indices_by_class(prepared.num_classes),
        test,
        test_labels: prepared.test.labels.clone(),
        test_raw,
        mean,
        std,
        channels: c,
        size: prepared.train.height as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use invlab_core::config::{Augment, Profile};

    fn tiny(transform: TransformKind, augment: Augment) -> RunConfig {
        let mut c = RunConfig::default();
        c.data.transform = transform;
        c.data.profile = Profile::Zipf;
        c.data.max_per_class = 12;
        c.data.min_per_class = 2;
        c.data.test_per_class = 2;
        c.method.augment = augment;
        c
    }

    #[test]
    fn oracle_batches_transform_the_untransformed_training_images() {
        let config = tiny(TransformKind::Bg, Augment::Oracle);
        let prepared = crate::data::prepare::prepare(&config).unwrap();
        let data = upload(&prepared, &config, Device::Cpu).unwrap();
        let raw = data
            .train_raw
            .as_ref()
            .expect("Oracle keeps the base images");
        let n = raw.size()[0];
        // The base images are the prepared (untransformed) ones; the stored set is transformed.
        assert!(raw.equal(&to_device(&prepared.train, Device::Cpu)));
        assert!(!data.train.equal(raw));
        let idx = Tensor::arange(n, (Kind::Int64, Device::Cpu));
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let batch = data.training_batch(&config, &idx, &mut rng);
        let stored = data.train.to_kind(Kind::Float);
        let mut redrawn = 0;
        for i in 0..n {
            let bg = raw.get(i).eq(0);
            let values = batch.get(i).masked_select(&bg);
            let (lo, hi) = (
                f64::try_from(values.min()).unwrap(),
                f64::try_from(values.max()).unwrap(),
            );
            assert_eq!(lo, hi, "image {i}: one background value");
            assert!((0.0..=99.0).contains(&lo));
            let stored_value = f64::try_from(stored.get(i).masked_select(&bg).max()).unwrap();
            redrawn += usize::from(stored_value != lo);
        }
        assert!(redrawn as f64 > 0.9 * n as f64, "{redrawn} of {n} redrawn");

        // Without Oracle the batch is the stored set and no base copy is kept.
        let config = tiny(TransformKind::Bg, Augment::None);
        let data = upload(&prepared, &config, Device::Cpu).unwrap();
        assert!(data.train_raw.is_none());
        let batch = data.training_batch(&config, &idx, &mut rng);
        assert!(batch.equal(&data.train.to_kind(Kind::Float)));
    }
}
