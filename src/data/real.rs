//! Real datasets read from files the user already has: where to look, loading, and a survey
//! for `invlab data`. Every problem is a `DataError` naming the file; nothing here panics.
//!
//! Layouts (under a dataset's root folder):
//! - MNIST, Fashion-MNIST, KMNIST: `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`
//!   (also in a `raw/` subfolder, as torchvision keeps them); KMNIST also as
//!   `kmnist-{train,test}-{imgs,labels}.npz`.
//! - Kuzushiji-49: `k49-{train,test}-{imgs,labels}.npz`.
//! - CIFAR-10: `cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin` (+ `batches.meta.txt`);
//!   CIFAR-100: `cifar-100-binary/{train,test}.bin` (+ `fine_label_names.txt`). The root may be
//!   the folder holding the batches folder or the batches folder itself.
//! - GTSRB: `GTSRB/Final_Training/Images/000CC/GT-000CC.csv` + `.ppm`, and
//!   `GTSRB/Final_Test/Images/*.ppm` with `GT-final_test.csv`; resized to 32x32.
//! - TinyImageNet-200: `wnids.txt`, `words.txt`, `train/<wnid>/images/*.JPEG`,
//!   `val/val_annotations.txt` + `val/images/*.JPEG` (the test split); 64x64.

use std::path::{Path, PathBuf};

use super::formats::cifar::{self, CifarKind};
use super::formats::{self, csv, idx, jpeg, npy, ppm, resize};
use super::{DataError, ImageSet, SourceData};
use crate::config::{serde_plain_name, DatasetName};

pub const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

pub const KMNIST_CLASSES: [&str; 10] = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"];

/// Kuzushiji-49 in the order of `k49_classmap.csv` (romanized; 48 is the iteration mark).
pub const K49_CLASSES: [&str; 49] = [
    "a", "i", "u", "e", "o", "ka", "ki", "ku", "ke", "ko", "sa", "shi", "su", "se", "so", "ta",
    "chi", "tsu", "te", "to", "na", "ni", "nu", "ne", "no", "ha", "hi", "fu", "he", "ho", "ma",
    "mi", "mu", "me", "mo", "ya", "yu", "yo", "ra", "ri", "ru", "re", "ro", "wa", "wi", "we", "wo",
    "n", "iter",
];

pub const CIFAR10_CLASSES: [&str; 10] = [
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

pub const CIFAR100_CLASSES: [&str; 100] = [
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

pub const GTSRB_CLASSES: [&str; 43] = [
    "Speed limit (20km/h)",
    "Speed limit (30km/h)",
    "Speed limit (50km/h)",
    "Speed limit (60km/h)",
    "Speed limit (70km/h)",
    "Speed limit (80km/h)",
    "End of speed limit (80km/h)",
    "Speed limit (100km/h)",
    "Speed limit (120km/h)",
    "No passing",
    "No passing for vehicles over 3.5 metric tons",
    "Right-of-way at the next intersection",
    "Priority road",
    "Yield",
    "Stop",
    "No vehicles",
    "Vehicles over 3.5 metric tons prohibited",
    "No entry",
    "General caution",
    "Dangerous curve to the left",
    "Dangerous curve to the right",
    "Double curve",
    "Bumpy road",
    "Slippery road",
    "Road narrows on the right",
    "Road work",
    "Traffic signals",
    "Pedestrians",
    "Children crossing",
    "Bicycles crossing",
    "Beware of ice/snow",
    "Wild animals crossing",
    "End of all speed and passing limits",
    "Turn right ahead",
    "Turn left ahead",
    "Ahead only",
    "Go straight or right",
    "Go straight or left",
    "Keep right",
    "Keep left",
    "Roundabout mandatory",
    "End of no passing",
    "End of no passing by vehicles over 3.5 metric tons",
];

/// Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// GTSRB images are resized (whole image, no ROI crop) to this side, as in the paper.
pub const GTSRB_SIDE: usize = 32;
/// TinyImageNet images are 64x64 (any other size is resized to it).
pub const TINY_SIDE: usize = 64;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn kebab(name: DatasetName) -> String {
    serde_plain_name(&name)
}

// ---------------------------------------------------------------------------------------------
// Where to look

/// Folders that may hold a dataset, in the order they are tried: the configured root, then
/// `<data dir>/datasets/<name>`, then (Fashion-MNIST) the Debian package's folder.
pub fn candidate_roots(name: DatasetName, configured: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut push = |p: PathBuf| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    if let Some(c) = configured {
        if !c.as_os_str().is_empty() {
            push(c.to_path_buf());
        }
    }
    if let Some(d) = crate::paths::data_dir() {
        push(d.join("datasets").join(kebab(name)));
    }
    if name == DatasetName::FashionMnist {
        push(PathBuf::from(DEBIAN_FASHION_MNIST));
    }
    out
}

/// Whether `root` holds (some of) the dataset's files: a cheap look at marker names only.
pub fn looks_present(name: DatasetName, root: &Path) -> bool {
    let any = |rels: &[&str]| rels.iter().any(|r| root.join(r).exists());
    match name {
        DatasetName::Glyphs => false,
        DatasetName::Kmnist if any(&["kmnist-train-imgs.npz", "kmnist-test-imgs.npz"]) => true,
        DatasetName::Mnist | DatasetName::FashionMnist | DatasetName::Kmnist => {
            [root.to_path_buf(), root.join("raw")].iter().any(|d| {
                ["train", "t10k"].iter().any(|s| {
                    ["images", "labels"]
                        .iter()
                        .any(|k| find_idx_file(d, s, k).is_some())
                })
            })
        }
        DatasetName::K49 => any(&[
            "k49-train-imgs.npz",
            "k49-test-imgs.npz",
            "k49-train-labels.npz",
            "k49-test-labels.npz",
        ]),
        DatasetName::Cifar10 => {
            any(&["cifar-10-batches-bin", "data_batch_1.bin", "test_batch.bin"])
        }
        DatasetName::Cifar100 => any(&["cifar-100-binary", "train.bin", "fine_label_names.txt"]),
        DatasetName::Gtsrb => any(&["GTSRB", "Final_Training", "Final_Test"]),
        DatasetName::Tinyimagenet => any(&["tiny-imagenet-200", "wnids.txt"]),
    }
}

/// The first candidate root that looks like it holds the dataset.
pub fn resolve_root(name: DatasetName, configured: Option<&Path>) -> Option<PathBuf> {
    candidate_roots(name, configured)
        .into_iter()
        .find(|r| looks_present(name, r))
}

/// Loads from the first candidate root that holds the dataset; when none does, the error names
/// every folder tried.
pub fn load_auto(name: DatasetName, configured: Option<&Path>) -> Result<SourceData, DataError> {
    match resolve_root(name, configured) {
        Some(root) => load(name, &root),
        None => {
            let tried = candidate_roots(name, configured);
            let first = tried.first().cloned().unwrap_or_default();
            Err(DataError::new(
                first,
                format!(
                    "no {} files found; looked in {}. Expected: {}",
                    kebab(name),
                    join_paths(&tried),
                    layout_hint(name)
                ),
            ))
        }
    }
}

fn join_paths(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line describing the files a dataset needs.
pub fn layout_hint(name: DatasetName) -> &'static str {
    match name {
        DatasetName::Glyphs => "nothing (generated in memory)",
        DatasetName::Mnist | DatasetName::FashionMnist | DatasetName::Kmnist => {
            "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]"
        }
        DatasetName::K49 => {
            "k49-train-imgs.npz, k49-train-labels.npz, k49-test-imgs.npz, k49-test-labels.npz"
        }
        DatasetName::Cifar10 => {
            "cifar-10-batches-bin/data_batch_1.bin .. data_batch_5.bin, test_batch.bin (the binary version)"
        }
        DatasetName::Cifar100 => "cifar-100-binary/train.bin, test.bin (the binary version)",
        DatasetName::Gtsrb => {
            "GTSRB/Final_Training/Images/000CC/GT-000CC.csv + .ppm, GTSRB/Final_Test/Images/*.ppm + GT-final_test.csv"
        }
        DatasetName::Tinyimagenet => {
            "tiny-imagenet-200/wnids.txt, words.txt, train/<wnid>/images/*.JPEG, val/val_annotations.txt, val/images/*.JPEG"
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Loads a real dataset from `root` (the folder holding its files).
pub fn load(name: DatasetName, root: &Path) -> Result<SourceData, DataError> {
    if name == DatasetName::Glyphs {
        return Err(DataError::new(
            root,
            "glyphs is the built-in generated dataset; it has no files to load",
        ));
    }
    if !root.is_dir() {
        let what = if root.exists() {
            "is not a folder"
        } else {
            "folder not found"
        };
        return Err(DataError::new(
            root,
            format!(
                "{what}; the {} root should hold {}",
                kebab(name),
                layout_hint(name)
            ),
        ));
    }
    match name {
        DatasetName::Glyphs => unreachable_glyphs(root),
        DatasetName::Mnist => load_idx_dataset(root, &MNIST_CLASSES),
        DatasetName::FashionMnist => load_idx_dataset(root, &FASHION_MNIST_CLASSES),
        DatasetName::Kmnist => load_kmnist(root),
        DatasetName::K49 => load_k49(root),
        DatasetName::Cifar10 => load_cifar10(root),
        DatasetName::Cifar100 => load_cifar100(root),
        DatasetName::Gtsrb => load_gtsrb(root),
        DatasetName::Tinyimagenet => load_tinyimagenet(root),
    }
}

fn unreachable_glyphs(root: &Path) -> Result<SourceData, DataError> {
    Err(DataError::new(root, "glyphs has no files to load"))
}

/// Runs the two splits' loads on two threads (they are independent and mostly CPU-bound:
/// gzip/deflate and image decoding).
fn both<A: Send, B: Send>(
    root: &Path,
    a: impl FnOnce() -> Result<A, DataError> + Send,
    b: impl FnOnce() -> Result<B, DataError> + Send,
) -> Result<(A, B), DataError> {
    std::thread::scope(|s| {
        let ha = s.spawn(a);
        let rb = b();
        let ra = ha
            .join()
            .unwrap_or_else(|_| Err(DataError::new(root, "a loader thread failed")));
        Ok((ra?, rb?))
    })
}

fn check_same_shape(train: &ImageSet, test: &ImageSet, test_path: &Path) -> Result<(), DataError> {
    if (train.channels, train.height, train.width) != (test.channels, test.height, test.width) {
        return Err(DataError::new(
            test_path,
            format!(
                "test images are {}x{}x{} but training images are {}x{}x{}",
                test.channels, test.height, test.width, train.channels, train.height, train.width
            ),
        ));
    }
    Ok(())
}

// --- IDX ---------------------------------------------------------------------------------------

/// Finds `<split>-<kind>-idx{1,3}-ubyte`, with or without `.gz` (also the `.idx3-ubyte` spelling
/// some downloads use).
pub fn find_idx_file(dir: &Path, split: &str, kind: &str) -> Option<PathBuf> {
    let d = if kind == "images" { 3 } else { 1 };
    let base = [
        format!("{split}-{kind}-idx{d}-ubyte"),
        format!("{split}-{kind}.idx{d}-ubyte"),
    ];
    base.iter()
        .flat_map(|b| [format!("{b}.gz"), b.clone()])
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

fn idx_path(dir: &Path, split: &str, kind: &str) -> Result<PathBuf, DataError> {
    find_idx_file(dir, split, kind).ok_or_else(|| {
        let d = if kind == "images" { 3 } else { 1 };
        let name = format!("{split}-{kind}-idx{d}-ubyte");
        DataError::new(
            dir.join(format!("{name}.gz")),
            format!(
                "missing file: expected {name}.gz or {name} in {}",
                dir.display()
            ),
        )
    })
}

/// The folder holding the IDX files: `root`, or `root/raw` when only that has them.
pub fn idx_dir(root: &Path) -> PathBuf {
    let has = |d: &Path| {
        ["train", "t10k"]
            .iter()
            .any(|s| find_idx_file(d, s, "images").is_some())
    };
    let raw = root.join("raw");
    if !has(root) && has(&raw) {
        raw
    } else {
        root.to_path_buf()
    }
}

/// Loads one IDX split (`split` = "train" or "t10k") from `dir`: images (1 channel) and labels,
/// with counts matched and labels checked against `num_classes`.
pub fn load_idx_split(dir: &Path, split: &str, num_classes: usize) -> Result<ImageSet, DataError> {
    let ip = idx_path(dir, split, "images")?;
    let lp = idx_path(dir, split, "labels")?;
    let (images, labels) = both(
        dir,
        || idx::parse_idx_images(&formats::read_maybe_gz(&ip)?, &ip),
        || idx::parse_idx_labels(&formats::read_maybe_gz(&lp)?, &lp),
    )?;
    idx_split_from_parts(images, &ip, labels, &lp, num_classes)
}

/// Combines parsed IDX images and labels into a set, checking they agree.
pub fn idx_split_from_parts(
    images: idx::IdxImages,
    images_path: &Path,
    labels: Vec<u8>,
    labels_path: &Path,
    num_classes: usize,
) -> Result<ImageSet, DataError> {
    if images.count != labels.len() {
        return Err(DataError::new(
            labels_path,
            format!(
                "holds {} labels but {} holds {} images; the two files must have the same count",
                labels.len(),
                images_path.display(),
                images.count
            ),
        ));
    }
    idx::check_labels(&labels, num_classes, labels_path, 8)?;
    Ok(ImageSet {
        images: images.pixels,
        labels: labels.into_iter().map(i64::from).collect(),
        channels: 1,
        height: images.rows,
        width: images.cols,
    })
}

fn load_idx_dataset(root: &Path, classes: &[&str]) -> Result<SourceData, DataError> {
    let dir = idx_dir(root);
    // Report a missing file before spending time decoding the other split.
    for s in ["train", "t10k"] {
        for k in ["images", "labels"] {
            idx_path(&dir, s, k)?;
        }
    }
    let n = classes.len();
    let (train, test) = both(
        root,
        || load_idx_split(&dir, "train", n),
        || load_idx_split(&dir, "t10k", n),
    )?;
    let tp = idx_path(&dir, "t10k", "images")?;
    check_same_shape(&train, &test, &tp)?;
    Ok(SourceData {
        train,
        test,
        num_classes: n,
        class_names: names(classes),
    })
}

// --- Kuzushiji-49 ------------------------------------------------------------------------------

/// Combines a parsed images array (N, H, W) of u8 and a labels array (N,) into a set.
pub fn k49_split_from_arrays(
    imgs: npy::NpyArray,
    imgs_path: &Path,
    labels: npy::NpyArray,
    labels_path: &Path,
    num_classes: usize,
) -> Result<ImageSet, DataError> {
    if imgs.dtype != npy::Dtype::U8 {
        return Err(DataError::new(
            imgs_path,
            format!(
                "images have dtype {:?}; expected unsigned bytes ('|u1')",
                imgs.dtype
            ),
        )
        .at("arr_0.npy"));
    }
    let (n, h, w) = match imgs.shape.as_slice() {
        &[n, h, w] if h > 0 && w > 0 => (n, h, w),
        &[n, 1, h, w] if h > 0 && w > 0 => (n, h, w),
        s => {
            return Err(DataError::new(
                imgs_path,
                format!(
                    "images have shape {}; expected (N, height, width)",
                    npy::shape_str(s)
                ),
            )
            .at("arr_0.npy"))
        }
    };
    let ys = match labels.shape.as_slice() {
        &[m] | &[m, 1] if m == n => labels.to_i64(),
        s => {
            return Err(DataError::new(
                labels_path,
                format!(
                    "labels have shape {}; expected ({n},) to match the {n} images in {}",
                    npy::shape_str(s),
                    imgs_path.display()
                ),
            )
            .at("arr_0.npy"))
        }
    };
    if let Some((i, &y)) = ys
        .iter()
        .enumerate()
        .find(|(_, &y)| y < 0 || y as usize >= num_classes)
    {
        return Err(DataError::new(
            labels_path,
            format!(
                "label {y} at index {i} is out of range: this dataset has classes 0..={}",
                num_classes - 1
            ),
        )
        .at("arr_0.npy"));
    }
    Ok(ImageSet {
        images: imgs.data,
        labels: ys,
        channels: 1,
        height: h,
        width: w,
    })
}

fn required(path: PathBuf, what: &str) -> Result<PathBuf, DataError> {
    if path.is_file() {
        Ok(path)
    } else {
        let msg = format!("missing file: expected {what} here");
        Err(DataError::new(path, msg))
    }
}

/// Loads one split of an `.npz` release (`prefix` "k49" or "kmnist", `split` "train" or
/// "test"): `<prefix>-<split>-imgs.npz` and `<prefix>-<split>-labels.npz`.
pub fn load_npz_split(
    root: &Path,
    prefix: &str,
    split: &str,
    num_classes: usize,
) -> Result<ImageSet, DataError> {
    let ip = required(
        root.join(format!("{prefix}-{split}-imgs.npz")),
        "the images",
    )?;
    let lp = required(
        root.join(format!("{prefix}-{split}-labels.npz")),
        "the labels",
    )?;
    let (imgs, labels) = both(
        root,
        || npy::parse_npz(&formats::read_file(&ip)?, &ip),
        || npy::parse_npz(&formats::read_file(&lp)?, &lp),
    )?;
    k49_split_from_arrays(imgs, &ip, labels, &lp, num_classes)
}

/// Loads one K49 split (`split` = "train" or "test").
pub fn load_k49_split(root: &Path, split: &str) -> Result<ImageSet, DataError> {
    load_npz_split(root, "k49", split, K49_CLASSES.len())
}

fn load_npz_dataset(root: &Path, prefix: &str, classes: &[&str]) -> Result<SourceData, DataError> {
    for s in ["train", "test"] {
        required(root.join(format!("{prefix}-{s}-imgs.npz")), "the images")?;
        required(root.join(format!("{prefix}-{s}-labels.npz")), "the labels")?;
    }
    let n = classes.len();
    let (train, test) = both(
        root,
        || load_npz_split(root, prefix, "train", n),
        || load_npz_split(root, prefix, "test", n),
    )?;
    check_same_shape(&train, &test, &root.join(format!("{prefix}-test-imgs.npz")))?;
    Ok(SourceData {
        train,
        test,
        num_classes: n,
        class_names: names(classes),
    })
}

fn load_k49(root: &Path) -> Result<SourceData, DataError> {
    load_npz_dataset(root, "k49", &K49_CLASSES)
}

/// KMNIST: the IDX release, or the `.npz` release (`kmnist-{train,test}-{imgs,labels}.npz`)
/// when the folder has no IDX files but has those.
fn load_kmnist(root: &Path) -> Result<SourceData, DataError> {
    let dir = idx_dir(root);
    let has_idx = ["train", "t10k"]
        .iter()
        .any(|s| find_idx_file(&dir, s, "images").is_some());
    if !has_idx && root.join("kmnist-train-imgs.npz").is_file() {
        load_npz_dataset(root, "kmnist", &KMNIST_CLASSES)
    } else {
        load_idx_dataset(root, &KMNIST_CLASSES)
    }
}

// --- CIFAR -------------------------------------------------------------------------------------

fn sub_or_root(root: &Path, sub: &str) -> PathBuf {
    let d = root.join(sub);
    if d.is_dir() {
        d
    } else {
        root.to_path_buf()
    }
}

fn load_cifar_files(files: &[PathBuf], kind: CifarKind) -> Result<ImageSet, DataError> {
    let mut set = ImageSet::new(3, 32, 32);
    for f in files {
        let bytes = formats::read_file(f)?;
        cifar::parse_cifar_into(&bytes, kind, f, &mut set)?;
    }
    Ok(set)
}

fn class_names_file(
    path: &Path,
    expected: usize,
    default: &[&str],
) -> Result<Vec<String>, DataError> {
    if path.is_file() {
        let bytes = formats::read_file(path)?;
        let text = String::from_utf8_lossy(&bytes);
        cifar::parse_names(&text, expected, path)
    } else {
        Ok(names(default))
    }
}

/// The folder holding the CIFAR-10 batch files.
pub fn cifar10_dir(root: &Path) -> PathBuf {
    sub_or_root(root, "cifar-10-batches-bin")
}

fn load_cifar10(root: &Path) -> Result<SourceData, DataError> {
    let dir = cifar10_dir(root);
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
        || load_cifar_files(&train, CifarKind::Cifar10),
        || load_cifar_files(&test, CifarKind::Cifar10),
    )?;
    Ok(SourceData {
        train,
        test,
        num_classes: 10,
        class_names,
    })
}

/// The folder holding the CIFAR-100 files.
pub fn cifar100_dir(root: &Path) -> PathBuf {
    sub_or_root(root, "cifar-100-binary")
}

fn load_cifar100(root: &Path) -> Result<SourceData, DataError> {
    let dir = cifar100_dir(root);
    let train = [required(
        dir.join("train.bin"),
        "the CIFAR-100 training file",
    )?];
    let test = [required(dir.join("test.bin"), "the CIFAR-100 test file")?];
    let class_names = class_names_file(&dir.join("fine_label_names.txt"), 100, &CIFAR100_CLASSES)?;
    let (train, test) = both(
        root,
        || load_cifar_files(&train, CifarKind::Cifar100),
        || load_cifar_files(&test, CifarKind::Cifar100),
    )?;
    Ok(SourceData {
        train,
        test,
        num_classes: 100,
        class_names,
    })
}

// --- Images decoded in parallel ----------------------------------------------------------------

/// Decodes one image file into its slot of the output buffer.
type DecodeInto = dyn Fn(&Path, &mut [u8]) -> Result<(), DataError> + Sync;

/// Decodes `jobs` (file, label) into one N x `item_len` buffer, using every core; each decoder
/// writes its image straight into its slot. The first error in job order is returned.
fn par_decode(
    jobs: &[(PathBuf, i64)],
    item_len: usize,
    decode: &DecodeInto,
) -> Result<(Vec<u8>, Vec<i64>), DataError> {
    let n = jobs.len();
    let mut out = vec![0u8; n * item_len];
    if n > 0 {
        let threads = std::thread::available_parallelism()
            .map(|t| t.get())
            .unwrap_or(1)
            .clamp(1, 16)
            .min(n);
        let per = n.div_ceil(threads);
        let results: Vec<Result<(), DataError>> = std::thread::scope(|s| {
            let handles: Vec<_> = out
                .chunks_mut(per * item_len)
                .zip(jobs.chunks(per))
                .map(|(buf, js)| {
                    s.spawn(move || {
                        for (slot, (p, _)) in buf.chunks_mut(item_len).zip(js) {
                            decode(p, slot)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(DataError::new(&jobs[0].0, "an image decoder thread failed"))
                    })
                })
                .collect()
        });
        for r in results {
            r?;
        }
    }
    Ok((out, jobs.iter().map(|(_, y)| *y).collect()))
}

// --- GTSRB -------------------------------------------------------------------------------------

/// The GTSRB folder holding `Final_Training` / `Final_Test`.
pub fn gtsrb_base(root: &Path) -> PathBuf {
    sub_or_root(root, "GTSRB")
}

fn read_text(path: &Path) -> Result<String, DataError> {
    let bytes = formats::read_file(path)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        DataError::new(
            dir,
            match e.kind() {
                std::io::ErrorKind::NotFound => "folder not found".to_string(),
                _ => format!("cannot list the folder: {e}"),
            },
        )
    })?;
    let mut out: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    out.sort();
    Ok(out)
}

/// The training images listed by the per-class CSVs: (ppm path, class).
pub fn gtsrb_train_jobs(base: &Path) -> Result<Vec<(PathBuf, i64)>, DataError> {
    let images = base.join("Final_Training").join("Images");
    let mut jobs = Vec::new();
    let class_dirs: Vec<PathBuf> = list_dir(&images)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if class_dirs.is_empty() {
        return Err(DataError::new(
            &images,
            "no class folders (00000 .. 00042) found",
        ));
    }
    for dir in class_dirs {
        let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let csv_path = dir.join(format!("GT-{name}.csv"));
        let csv_path = if csv_path.is_file() {
            csv_path
        } else {
            // Fall back to any GT-*.csv in the folder.
            list_dir(&dir)?
                .into_iter()
                .find(|p| {
                    p.file_name()
                        .map(|n| {
                            let n = n.to_string_lossy();
                            n.starts_with("GT-") && n.ends_with(".csv")
                        })
                        .unwrap_or(false)
                })
                .ok_or_else(|| {
                    DataError::new(
                        &csv_path,
                        "missing file: expected the class's annotation CSV",
                    )
                })?
        };
        let rows = csv::parse_gt_csv(&read_text(&csv_path)?, &csv_path, GTSRB_CLASSES.len())?;
        jobs.extend(
            rows.into_iter()
                .map(|r| (dir.join(r.filename), r.class_id as i64)),
        );
    }
    Ok(jobs)
}

/// The test images listed by `GT-final_test.csv`: (ppm path, class).
pub fn gtsrb_test_jobs(root: &Path, base: &Path) -> Result<Vec<(PathBuf, i64)>, DataError> {
    let images = base.join("Final_Test").join("Images");
    let spots = [
        root.to_path_buf(),
        base.to_path_buf(),
        base.join("Final_Test"),
        images.clone(),
    ];
    let csv_path = spots
        .iter()
        .map(|d| d.join("GT-final_test.csv"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            DataError::new(
                root.join("GT-final_test.csv"),
                format!(
                    "missing file: expected GT-final_test.csv (test labels) in one of {}",
                    join_paths(&spots)
                ),
            )
        })?;
    let rows = csv::parse_gt_csv(&read_text(&csv_path)?, &csv_path, GTSRB_CLASSES.len())?;
    Ok(rows
        .into_iter()
        .map(|r| (images.join(r.filename), r.class_id as i64))
        .collect())
}

/// Reads a PPM and resizes the whole image to `GTSRB_SIDE` square, planar RGB, into `slot`.
pub fn decode_ppm_into(path: &Path, slot: &mut [u8]) -> Result<(), DataError> {
    let bytes = formats::read_file(path)?;
    let img = ppm::parse_ppm(&bytes, path)?;
    let mut out = Vec::with_capacity(slot.len());
    resize::resize_to_planar(
        &img.pixels,
        img.width,
        img.height,
        3,
        GTSRB_SIDE,
        GTSRB_SIDE,
        &mut out,
    );
    slot.copy_from_slice(&out);
    Ok(())
}

fn set_from_jobs(
    jobs: &[(PathBuf, i64)],
    side: usize,
    decode: &DecodeInto,
) -> Result<ImageSet, DataError> {
    let (images, labels) = par_decode(jobs, 3 * side * side, decode)?;
    Ok(ImageSet {
        images,
        labels,
        channels: 3,
        height: side,
        width: side,
    })
}

fn load_gtsrb(root: &Path) -> Result<SourceData, DataError> {
    let base = gtsrb_base(root);
    let train_jobs = gtsrb_train_jobs(&base)?;
    let test_jobs = gtsrb_test_jobs(root, &base)?;
    let train = set_from_jobs(&train_jobs, GTSRB_SIDE, &decode_ppm_into)?;
    let test = set_from_jobs(&test_jobs, GTSRB_SIDE, &decode_ppm_into)?;
    Ok(SourceData {
        train,
        test,
        num_classes: GTSRB_CLASSES.len(),
        class_names: names(&GTSRB_CLASSES),
    })
}

// --- TinyImageNet ------------------------------------------------------------------------------

/// The folder holding `wnids.txt`.
pub fn tiny_base(root: &Path) -> PathBuf {
    sub_or_root(root, "tiny-imagenet-200")
}

/// Class ids from `wnids.txt` and their names from `words.txt` (first synonym; the id itself
/// when words.txt is absent or lacks it).
pub fn tiny_classes(base: &Path) -> Result<(Vec<String>, Vec<String>), DataError> {
    let wp = base.join("wnids.txt");
    let wnids: Vec<String> = read_text(&wp)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if wnids.is_empty() {
        return Err(DataError::new(
            &wp,
            "no class ids (expected one wnid per line)",
        ));
    }
    for (i, w) in wnids.iter().enumerate() {
        if w.contains(['/', '\\']) || w == ".." || w == "." {
            return Err(
                DataError::new(&wp, format!("bad class id {w:?}")).at(format!("line {}", i + 1))
            );
        }
        if wnids[..i].contains(w) {
            return Err(DataError::new(&wp, format!("class id {w} is listed twice"))
                .at(format!("line {}", i + 1)));
        }
    }
    let words = base.join("words.txt");
    let mut names: Vec<String> = wnids.clone();
    if words.is_file() {
        let text = read_text(&words)?;
        let index: std::collections::HashMap<&str, usize> = wnids
            .iter()
            .enumerate()
            .map(|(i, w)| (w.as_str(), i))
            .collect();
        for line in text.lines() {
            if let Some((id, syn)) = line.split_once('\t') {
                if let Some(&i) = index.get(id.trim()) {
                    let first = syn.split(',').next().unwrap_or("").trim();
                    if !first.is_empty() {
                        names[i] = first.to_string();
                    }
                }
            }
        }
    }
    Ok((wnids, names))
}

fn is_jpeg_name(p: &Path) -> bool {
    p.extension()
        .map(|e| e.eq_ignore_ascii_case("jpeg") || e.eq_ignore_ascii_case("jpg"))
        .unwrap_or(false)
}

/// Training images: every JPEG in `train/<wnid>/images/`, classes in wnids.txt order.
pub fn tiny_train_jobs(base: &Path, wnids: &[String]) -> Result<Vec<(PathBuf, i64)>, DataError> {
    let mut jobs = Vec::new();
    for (c, w) in wnids.iter().enumerate() {
        let dir = base.join("train").join(w).join("images");
        let files: Vec<PathBuf> = list_dir(&dir)?
            .into_iter()
            .filter(|p| is_jpeg_name(p))
            .collect();
        if files.is_empty() {
            return Err(DataError::new(&dir, "no JPEG images in this class folder"));
        }
        jobs.extend(files.into_iter().map(|p| (p, c as i64)));
    }
    Ok(jobs)
}

/// Validation images (the test split) from `val/val_annotations.txt`.
pub fn tiny_val_jobs(base: &Path, wnids: &[String]) -> Result<Vec<(PathBuf, i64)>, DataError> {
    let ap = base.join("val").join("val_annotations.txt");
    let text = read_text(&ap)?;
    let index: std::collections::HashMap<&str, usize> = wnids
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i))
        .collect();
    let images = base.join("val").join("images");
    let mut jobs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {}", i + 1);
        let mut f = line.split('\t');
        let (Some(file), Some(wnid)) = (f.next().map(str::trim), f.next().map(str::trim)) else {
            return Err(DataError::new(
                &ap,
                "expected tab-separated columns: file name, wnid, x0, y0, x1, y1",
            )
            .at(at()));
        };
        if file.is_empty() || file.contains(['/', '\\']) || file.contains("..") {
            return Err(DataError::new(&ap, format!("bad file name {file:?}")).at(at()));
        }
        let Some(&c) = index.get(wnid) else {
            return Err(
                DataError::new(&ap, format!("class id {wnid:?} is not in wnids.txt")).at(at()),
            );
        };
        jobs.push((images.join(file), c as i64));
    }
    if jobs.is_empty() {
        return Err(DataError::new(&ap, "no validation images listed"));
    }
    Ok(jobs)
}

/// Decodes a JPEG (grayscale replicated to RGB) to `TINY_SIDE` square planar RGB in `slot`.
pub fn decode_tiny_into(path: &Path, slot: &mut [u8]) -> Result<(), DataError> {
    let bytes = formats::read_file(path)?;
    let img = jpeg::decode_jpeg_rgb(&bytes, path)?;
    let mut out = Vec::with_capacity(slot.len());
    resize::resize_to_planar(
        &img.pixels,
        img.width,
        img.height,
        3,
        TINY_SIDE,
        TINY_SIDE,
        &mut out,
    );
    slot.copy_from_slice(&out);
    Ok(())
}

fn load_tinyimagenet(root: &Path) -> Result<SourceData, DataError> {
    let base = tiny_base(root);
    let (wnids, class_names) = tiny_classes(&base)?;
    let train_jobs = tiny_train_jobs(&base, &wnids)?;
    let test_jobs = tiny_val_jobs(&base, &wnids)?;
    let train = set_from_jobs(&train_jobs, TINY_SIDE, &decode_tiny_into)?;
    let test = set_from_jobs(&test_jobs, TINY_SIDE, &decode_tiny_into)?;
    Ok(SourceData {
        train,
        test,
        num_classes: wnids.len(),
        class_names,
    })
}

// ---------------------------------------------------------------------------------------------
// Survey (`invlab data`)

/// Sizes found by a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSummary {
    pub train: usize,
    pub test: usize,
    pub classes: usize,
    /// Channels, height, width of one image.
    pub shape: (usize, usize, usize),
}

/// What `invlab data` reports for one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetStatus {
    pub name: DatasetName,
    /// Folders tried, in order.
    pub looked: Vec<PathBuf>,
    /// The first folder that holds the dataset's files, if any.
    pub found: Option<PathBuf>,
    /// The check of the found folder (None when nothing was found).
    pub check: Option<Result<DatasetSummary, DataError>>,
}

impl DatasetStatus {
    pub fn is_valid(&self) -> bool {
        matches!(self.check, Some(Ok(_)))
    }
}

/// Checks a dataset folder. Small formats (IDX, NPZ, CIFAR) are loaded in full; for GTSRB and
/// TinyImageNet the index files are read, every listed image's presence is checked, and the
/// first image of each split is decoded (a full decode takes tens of seconds).
pub fn check(name: DatasetName, root: &Path) -> Result<DatasetSummary, DataError> {
    let listed = |jobs: &[(PathBuf, i64)]| -> Result<(), DataError> {
        if let Some((p, _)) = jobs.iter().find(|(p, _)| !p.is_file()) {
            return Err(DataError::new(
                p,
                "file not found (listed in the annotations)",
            ));
        }
        Ok(())
    };
    match name {
        DatasetName::Gtsrb => {
            let base = gtsrb_base(root);
            let tr = gtsrb_train_jobs(&base)?;
            let te = gtsrb_test_jobs(root, &base)?;
            listed(&tr)?;
            listed(&te)?;
            let mut slot = vec![0u8; 3 * GTSRB_SIDE * GTSRB_SIDE];
            for jobs in [&tr, &te] {
                if let Some((p, _)) = jobs.first() {
                    decode_ppm_into(p, &mut slot)?;
                }
            }
            Ok(DatasetSummary {
                train: tr.len(),
                test: te.len(),
                classes: GTSRB_CLASSES.len(),
                shape: (3, GTSRB_SIDE, GTSRB_SIDE),
            })
        }
        DatasetName::Tinyimagenet => {
            let base = tiny_base(root);
            let (wnids, _) = tiny_classes(&base)?;
            let tr = tiny_train_jobs(&base, &wnids)?;
            let te = tiny_val_jobs(&base, &wnids)?;
            listed(&te)?;
            let mut slot = vec![0u8; 3 * TINY_SIDE * TINY_SIDE];
            for jobs in [&tr, &te] {
                if let Some((p, _)) = jobs.first() {
                    decode_tiny_into(p, &mut slot)?;
                }
            }
            Ok(DatasetSummary {
                train: tr.len(),
                test: te.len(),
                classes: wnids.len(),
                shape: (3, TINY_SIDE, TINY_SIDE),
            })
        }
        _ => {
            let d = load(name, root)?;
            Ok(DatasetSummary {
                train: d.train.len(),
                test: d.test.len(),
                classes: d.num_classes,
                shape: (d.train.channels, d.train.height, d.train.width),
            })
        }
    }
}

/// Surveys every real dataset. `config_root`, when given, is tried first for each dataset,
/// both as the dataset's own folder and as a parent of folders named like `fashion-mnist`.
pub fn survey(config_root: Option<&Path>) -> Vec<DatasetStatus> {
    DatasetName::ALL
        .iter()
        .copied()
        .filter(|&n| n != DatasetName::Glyphs)
        .map(|name| {
            let mut looked = Vec::new();
            if let Some(r) = config_root {
                looked.push(r.join(kebab(name)));
            }
            for p in candidate_roots(name, config_root) {
                if !looked.contains(&p) {
                    looked.push(p);
                }
            }
            let found = looked.iter().find(|r| looks_present(name, r)).cloned();
            let check = found.as_ref().map(|r| check(name, r));
            DatasetStatus {
                name,
                looked,
                found,
                check,
            }
        })
        .collect()
}

/// The survey as a plain-text table: one row per dataset, with the folder used (or those
/// tried) and, for an invalid dataset, the problem on the next line.
pub fn render_survey(statuses: &[DatasetStatus]) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "dataset".into(),
        "found".into(),
        "valid".into(),
        "train".into(),
        "test".into(),
        "classes".into(),
        "folder".into(),
    ]];
    let mut notes: Vec<Option<String>> = vec![None];
    rows.push([
        "glyphs".into(),
        "built-in".into(),
        "yes".into(),
        "-".into(),
        "-".into(),
        "-".into(),
        "generated in memory, no files needed".into(),
    ]);
    notes.push(None);
    for s in statuses {
        let name = kebab(s.name);
        let dash = || "-".to_string();
        match (&s.found, &s.check) {
            (Some(root), Some(Ok(sum))) => {
                rows.push([
                    name,
                    "yes".into(),
                    "yes".into(),
                    sum.train.to_string(),
                    sum.test.to_string(),
                    sum.classes.to_string(),
                    root.display().to_string(),
                ]);
                notes.push(None);
            }
            (Some(root), Some(Err(e))) => {
                rows.push([
                    name,
                    "yes".into(),
                    "NO".into(),
                    dash(),
                    dash(),
                    dash(),
                    root.display().to_string(),
                ]);
                notes.push(Some(format!("error: {e}")));
            }
            _ => {
                rows.push([
                    name,
                    "no".into(),
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                    format!("looked in: {}", join_paths(&s.looked)),
                ]);
                notes.push(Some(format!("expected: {}", layout_hint(s.name))));
            }
        }
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (r, note) in rows.iter().zip(notes) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            if i == 6 {
                line.push_str(c);
            } else if (3..6).contains(&i) {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
                line.push_str("  ");
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if let Some(n) = note {
            out.push_str(&" ".repeat(widths[0] + 2));
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}
