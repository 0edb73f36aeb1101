//! CIFAR-10 (`cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin`, `batches.meta.txt`) and
//! CIFAR-100 (`cifar-100-binary/{train,test}.bin`, `fine_label_names.txt`), the binary
//! versions. The root may be the folder holding the batches folder or that folder itself.

use std::path::{Path, PathBuf};

use super::common::{both, names, required, sub_or_root};
use crate::data::{DataError, ImageSet, SourceData};
use invlab_formats;
use invlab_formats::cifar::{self as cifar_format, CifarKind};

pub(crate) const CIFAR10_LAYOUT: &str =
    "cifar-10-batches-bin/data_batch_1.bin .. data_batch_5.bin, test_batch.bin (the binary version)";
pub(crate) const CIFAR100_LAYOUT: &str =
    "cifar-100-binary/train.bin, test.bin (the binary version)";

pub(crate) const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

pub(crate) const CIFAR100_CLASSES: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// Reads record files of one kind into one set.
fn load_files(files: &[PathBuf], kind: CifarKind) -> Result<ImageSet, DataError> {
    let mut set = ImageSet::new(3, 32, 32);
    for f in files {
        let bytes = invlab_formats::read_file(f)?;
        cifar_format::parse_cifar_into(&bytes, kind, f, &mut set)?;
    }
    Ok(set)
}

/// Class names from the release's names file, or the built-in list when it is absent.
fn class_names_file(
    path: &Path,
    expected: usize,
    default: &[&str],
) -> Result<Vec<String>, DataError> {
    if path.is_file() {
        let bytes = invlab_formats::read_file(path)?;
        let text = String::from_utf8_lossy(&bytes);
        cifar_format::parse_names(&text, expected, path)
    } else {
        Ok(names(default))
    }
}

/// The folder holding the CIFAR-10 batch files.
pub(crate) fn cifar10_folder(root: &Path) -> PathBuf {
    sub_or_root(root, "cifar-10-batches-bin")
}

/// Loads CIFAR-10 (binary version) from `root`.
pub(crate) fn load_cifar10(root: &Path) -> Result<SourceData, DataError> {
    let dir = cifar10_folder(root);
    let train: Vec<PathBuf> = (1..=5)
        .map(|i| {
            required(
                dir.join(format!("data_batch_{i}.bin")),
                "a CIFAR-10 training batch",
            )
        })
        .collect::<Result<_, _>>()?;
    let test = [required(
        dir.join("test_batch.bin"),
        "the CIFAR-10 test batch",
    )?];
    let class_names = class_names_file(&dir.join("batches.meta.txt"), 10, &CIFAR10_CLASSES)?;
    let (train, test) = both(
        root,
        || load_files(&train, CifarKind::Cifar10),
        || load_files(&test, CifarKind::Cifar10),
    )?;
    Ok(SourceData {
        train,
        test,
        num_classes: 10,
        class_names,
    })
}

/// The folder holding the CIFAR-100 files.
pub(crate) fn cifar100_folder(root: &Path) -> PathBuf {
    sub_or_root(root, "cifar-100-binary")
}

/// Loads CIFAR-100 (binary version, fine labels) from `root`.
pub(crate) fn load_cifar100(root: &Path) -> Result<SourceData, DataError> {
    let dir = cifar100_folder(root);
    let train = [required(
        dir.join("train.bin"),
        "the CIFAR-100 training file",
    )?];
    let test = [required(dir.join("test.bin"), "the CIFAR-100 test file")?];
    let class_names = class_names_file(&dir.join("fine_label_names.txt"), 100, &CIFAR100_CLASSES)?;
    let (train, test) = both(
        root,
        || load_files(&train, CifarKind::Cifar100),
        || load_files(&test, CifarKind::Cifar100),
    )?;
    Ok(SourceData {
        train,
        test,
        num_classes: 100,
        class_names,
    })
}

/// Whether `root` holds the CIFAR-10 batches folder or its files.
pub(crate) fn cifar10_present(root: &Path) -> bool {
    ["cifar-10-batches-bin", "data_batch_1.bin", "test_batch.bin"]
        .iter()
        .any(|r| root.join(r).exists())
}

/// Whether `root` holds the CIFAR-100 folder or its files.
pub(crate) fn cifar100_present(root: &Path) -> bool {
    ["cifar-100-binary", "train.bin", "fine_label_names.txt"]
        .iter()
        .any(|r| root.join(r).exists())
}
