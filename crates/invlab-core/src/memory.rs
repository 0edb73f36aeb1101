//! What a config will ask of the machine's memory, before anything is allocated. A size the
//! form accepts (`data.max_per_class = 1000000` on the built-in dataset: 49 million images) must
//! fail as a run with a message, not abort the process when a 38 GB allocation fails. The
//! estimate is a lower bound of the big buffers: the training and test images as bytes and as
//! floats, a training batch's activations, and the largest eKLD forward batch.

use std::fmt;

use crate::config::{DatasetName, RunConfig};
use crate::longtail::sizes_by_class;

/// Feature maps per input pixel the models hold for a training batch (forward and backward).
/// A rough bound from the architectures (the small CNN's 32 channels at full resolution, and
/// their gradients), not a measurement: it only has to catch sizes that cannot fit at all.
const ACTIVATION_FACTOR: u64 = 64;

/// Images per eKLD forward pass at least (`metrics::FORWARD_BATCH` in the engine).
const FORWARD_BATCH: u64 = 256;

impl DatasetName {
    /// (channels, height = width) of the images as the engine holds them.
    pub fn geometry(self) -> (u64, u64) {
        match self {
            DatasetName::Glyphs
            | DatasetName::Mnist
            | DatasetName::FashionMnist
            | DatasetName::Kmnist
            | DatasetName::K49 => (1, 28),
            DatasetName::Cifar10 | DatasetName::Cifar100 | DatasetName::Gtsrb => (3, 32),
            DatasetName::Tinyimagenet => (3, 64),
        }
    }

    /// The most training images any class of the official files has (`None`: generated, no
    /// limit). A config may ask for more; it gets what there is.
    pub fn max_train_per_class(self) -> Option<u64> {
        match self {
            DatasetName::Glyphs => None,
            DatasetName::Mnist | DatasetName::FashionMnist | DatasetName::Kmnist => Some(7_000),
            DatasetName::K49 => Some(6_000),
            DatasetName::Cifar10 => Some(5_000),
            DatasetName::Cifar100 | DatasetName::Tinyimagenet => Some(500),
            DatasetName::Gtsrb => Some(2_250),
        }
    }
}

/// The big buffers of one run, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    pub train_images: u64,
    pub test_images: u64,
    /// Values per image (channels x height x width).
    pub pixels: u64,
    /// Training and test images as bytes and as 32-bit floats.
    pub dataset: u64,
    /// A training batch's activations.
    pub batch: u64,
    /// The largest eKLD forward pass (all samples of one image at least).
    pub ekld: u64,
}

impl MemoryEstimate {
    pub fn of(config: &RunConfig) -> MemoryEstimate {
        let d = &config.data;
        let classes = d.dataset.num_classes();
        let (channels, side) = d.dataset.geometry();
        let pixels = channels * side * side;
        let cap = d.dataset.max_train_per_class().unwrap_or(u64::MAX);
        let train_images: u64 = sizes_by_class(d, classes, config.seed)
            .into_iter()
            .map(|n| (n as u64).min(cap))
            .fold(0u64, u64::saturating_add);
        let test_images = (d.test_per_class as u64).saturating_mul(classes as u64);
        let per_image = pixels.saturating_mul(1 + 4);
        let dataset = train_images
            .saturating_add(test_images)
            .saturating_mul(per_image);
        let batch = (config.train.batch_size as u64)
            .saturating_mul(pixels)
            .saturating_mul(4 * ACTIVATION_FACTOR);
        let e = &config.eval;
        let samples = [e.ekld_samples, e.ekld_max_samples, e.live_samples]
            .into_iter()
            .max()
            .unwrap_or(1) as u64;
        // Input, transformed copy and the first feature maps of the largest forward pass.
        let ekld = samples
            .max(FORWARD_BATCH)
            .saturating_mul(pixels)
            .saturating_mul(4 * 3);
        MemoryEstimate {
            train_images,
            test_images,
            pixels,
            dataset,
            batch,
            ekld,
        }
    }

    pub fn total(&self) -> u64 {
        self.dataset
            .saturating_add(self.batch)
            .saturating_add(self.ekld)
    }

    /// `Err` when the estimate exceeds `available` bytes of the machine's memory.
    pub fn check(self, available: u64) -> Result<MemoryEstimate, TooBig> {
        self.check_at(MemoryPlace::Host, self.total(), available)
    }

    /// What a GPU run keeps on its device: the stored images as bytes (training, test, and
    /// the untransformed copies eKLD and Oracle draw from), a training batch's activations and
    /// the largest eKLD forward pass. Floats are made per batch there, not stored.
    pub fn on_device(&self) -> u64 {
        self.train_images
            .saturating_add(self.test_images)
            .saturating_mul(self.pixels)
            .saturating_mul(2)
            .saturating_add(self.batch)
            .saturating_add(self.ekld)
    }

    /// `Err` when what the run keeps on GPU `cuda:ordinal` exceeds its `free` bytes.
    pub fn check_gpu(self, ordinal: usize, free: u64) -> Result<MemoryEstimate, TooBig> {
        self.check_at(MemoryPlace::Gpu { ordinal }, self.on_device(), free)
    }

    fn check_at(self, place: MemoryPlace, needed: u64, available: u64) -> Result<Self, TooBig> {
        if needed > available {
            Err(TooBig {
                estimate: self,
                place,
                needed,
                available,
            })
        } else {
            Ok(self)
        }
    }
}

/// Whose memory an estimate was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryPlace {
    /// The machine's memory (`MemAvailable`).
    Host,
    /// A GPU's free memory, by its CUDA ordinal.
    Gpu { ordinal: usize },
}

/// A config that cannot fit in this machine's memory, or on its GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooBig {
    pub estimate: MemoryEstimate,
    pub place: MemoryPlace,
    /// Bytes the run needs there at least.
    pub needed: u64,
    /// Bytes available there.
    pub available: u64,
}

fn gb(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

impl fmt::Display for TooBig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.estimate;
        let images = match self.place {
            MemoryPlace::Host => e.dataset,
            MemoryPlace::Gpu { .. } => e.on_device() - e.batch - e.ekld,
        };
        let mut parts = vec![format!(
            "images {} ({} training + {} test of {} values)",
            gb(images),
            e.train_images,
            e.test_images,
            e.pixels
        )];
        if e.batch > self.available / 4 {
            parts.push(format!(
                "a training batch {} (train.batch_size)",
                gb(e.batch)
            ));
        }
        if e.ekld > self.available / 4 {
            parts.push(format!(
                "an eKLD forward pass {} (eval.ekld_samples, eval.ekld_max_samples, eval.live_samples)",
                gb(e.ekld)
            ));
        }
        let fix = if images >= e.batch.max(e.ekld) {
            "lower data.max_per_class or data.test_per_class"
        } else if e.batch >= e.ekld {
            "lower train.batch_size"
        } else {
            "lower eval.ekld_samples / eval.ekld_max_samples / eval.live_samples"
        };
        let (of, has) = match self.place {
            MemoryPlace::Host => ("of memory".to_string(), "this machine has".to_string()),
            MemoryPlace::Gpu { ordinal } => {
                (format!("on cuda:{ordinal}"), format!("cuda:{ordinal} has"))
            }
        };
        let place_fix = match self.place {
            MemoryPlace::Host => "",
            MemoryPlace::Gpu { .. } => ", or run on another device (device = ...)",
        };
        write!(
            f,
            "this config needs at least {} {of} ({}), and {has} {} available: {fix}{place_fix}",
            gb(self.needed),
            parts.join("; "),
            gb(self.available)
        )
    }
}

impl std::error::Error for TooBig {}

/// Memory the system could give this process now (Linux: `MemAvailable`), in bytes.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> RunConfig {
        RunConfig::from_toml_str(text, "test", &[]).unwrap()
    }

    #[test]
    fn the_estimate_counts_what_the_config_asks_for() {
        // The built-in default: 7,822 training images, 49 x 100 test images of 28 x 28.
        let e = MemoryEstimate::of(&RunConfig::default());
        assert_eq!((e.pixels, e.test_images), (784, 4_900));
        let sizes: u64 = sizes_by_class(&RunConfig::default().data, 49, 0)
            .iter()
            .map(|&n| n as u64)
            .sum();
        assert_eq!(e.train_images, sizes);
        assert_eq!(e.dataset, (sizes + 4_900) * 784 * 5);
        assert!(
            e.total() < 1_000_000_000,
            "the default fits anywhere: {e:?}"
        );
        // Real data caps what a class can give.
        let k49 = MemoryEstimate::of(&config(
            "[data]\ndataset = \"k49\"\nprofile = \"balanced\"\nmax_per_class = 1000000\n",
        ));
        assert_eq!(k49.train_images, 49 * 6_000);
    }

    #[test]
    fn the_hostile_sizes_are_refused_with_the_field_to_change() {
        // 49 million generated images: 38.4 GB as bytes alone.
        let huge = MemoryEstimate::of(&config(
            "[data]\nprofile = \"balanced\"\nmax_per_class = 1000000\n",
        ));
        assert_eq!(huge.train_images, 49_000_000);
        let e = huge.check(24 << 30).unwrap_err().to_string();
        // (49,000,000 + 4,900) images x 784 values x (1 + 4) bytes.
        assert!(e.contains("needs at least 192.1 GB"), "{e}");
        assert!(
            e.contains("49000000 training + 4900 test of 784 values"),
            "{e}"
        );
        assert!(e.contains("lower data.max_per_class"), "{e}");
        assert!(e.contains("available"), "{e}");
        // 1e8 eKLD samples of one image: one forward pass of 100 million images.
        let ekld = MemoryEstimate::of(&config(
            "[eval]\nekld_sampling = \"fixed\"\nekld_samples = 100000000\nekld_images_per_class = 1000\n",
        ));
        let e = ekld.check(24 << 30).unwrap_err().to_string();
        assert!(e.contains("an eKLD forward pass"), "{e}");
        assert!(e.contains("lower eval.ekld_samples"), "{e}");
        // A huge batch.
        let batch = MemoryEstimate::of(&config("[train]\nbatch_size = 10000000\n"));
        assert!(batch
            .check(24 << 30)
            .unwrap_err()
            .to_string()
            .contains("lower train.batch_size"));
        assert!(MemoryEstimate::of(&RunConfig::default())
            .check(24 << 30)
            .is_ok());
        assert!(available().is_some_and(|b| b > 0));
    }

    #[test]
    fn a_gpu_run_is_checked_against_the_gpu_with_what_it_keeps_there() {
        // All of K49 balanced (294,000 + 4,900 images of 784 values), stored as bytes twice
        // (transformed and untransformed), plus the batch and eKLD buffers.
        let k49 = MemoryEstimate::of(&config(
            "[data]\ndataset = \"k49\"\nprofile = \"balanced\"\nmax_per_class = 6000\n",
        ));
        let images = (294_000 + 4_900) * 784 * 2;
        assert_eq!(k49.on_device(), images + k49.batch + k49.ekld);
        assert!(k49.on_device() < k49.total(), "floats are not stored there");
        assert!(k49.check_gpu(0, 8 << 30).is_ok());
        let e = k49.check_gpu(1, 200 << 20).unwrap_err();
        assert_eq!(e.place, MemoryPlace::Gpu { ordinal: 1 });
        let text = e.to_string();
        assert!(text.contains("needs at least 0.5 GB on cuda:1"), "{text}");
        assert!(text.contains("cuda:1 has 0.2 GB available"), "{text}");
        assert!(
            text.contains("images 0.5 GB (294000 training + 4900 test"),
            "{text}"
        );
        assert!(text.contains("lower data.max_per_class"), "{text}");
        assert!(text.contains("or run on another device"), "{text}");
        // The host's message is unchanged in form.
        let host = k49.check(100 << 20).unwrap_err().to_string();
        assert!(
            host.contains("of memory") && host.contains("this machine has"),
            "{host}"
        );
    }
}
