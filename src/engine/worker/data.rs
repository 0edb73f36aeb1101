//! The run's images on its device: the training set (transformed once, as the paper), the test
//! set (transformed once, for accuracy), the untransformed test images (eKLD) and normalisation.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use super::super::error::{EngineError, EngineResult};
use crate::config::{RunConfig, TransformKind};
use crate::data::longtail::derive_seed;
use crate::data::prepare::Prepared;
use crate::data::ImageSet;
use crate::transforms;

/// The training set, test sets and normalisation, resident on the device.
pub(super) struct DeviceData {
    /// Transformed once, u8.
    pub train: Tensor,
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
    /// Float 0..=255 images → the classifier's input (per-channel standardised).
    pub fn normalize(&self, images: &Tensor) -> Tensor {
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

pub(super) fn upload(
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
    let train = transform_once(
        &to_device(&prepared.train, device),
        kind,
        derive_seed(config.seed, "train-transform"),
    );
    let test_raw = to_device(&prepared.test, device);
    let test = transform_once(&test_raw, kind, derive_seed(config.seed, "test-transform"));
    let c = prepared.train.channels as i64;
    let float = train.to_kind(Kind::Float) / 255.0;
    let mean = float.mean_dim([0i64, 2, 3].as_slice(), true, Kind::Float);
    let std = float
        .std_dim([0i64, 2, 3].as_slice(), true, true)
        .clamp_min(1e-3);
    Ok(DeviceData {
        train,
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
