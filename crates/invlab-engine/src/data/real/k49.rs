//! Kuzushiji-49 (`k49-{train,test}-{imgs,labels}.npz`), and the `.npz` release format it shares
//! with KMNIST: images (N, H, W) `|u1` and labels (N,) in `arr_0.npy`.

use std::path::Path;

use super::common::{both, check_same_shape, names, required};
use crate::data::{DataError, ImageSet, SourceData};
use invlab_formats::npy;

pub(crate) const LAYOUT: &str =
    "k49-train-imgs.npz, k49-train-labels.npz, k49-test-imgs.npz, k49-test-labels.npz";

/// Kuzushiji-49 in the order of `k49_classmap.csv` (romanized; 48 is the iteration mark).
pub(crate) const K49_CLASSES: [&str; 49] = [
    "a", "i", "u", "e", "o", "ka", "ki", "ku", "ke", "ko", "sa", "shi", "su", "se", "so", "ta",
    "chi", "tsu", "te", "to", "na", "ni", "nu", "ne", "no", "ha", "hi", "fu", "he", "ho", "ma",
    "mi", "mu", "me", "mo", "ya", "yu", "yo", "ra", "ri", "ru", "re", "ro", "wa", "wi", "we", "wo",
    "n", "iter",
];

/// Combines a parsed images array (N, H, W) of u8 and a labels array (N,) into a set.
pub(crate) fn split_from_arrays(
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

/// Loads one split of an `.npz` release (`prefix` "k49" or "kmnist", `split` "train" or
/// "test"): `<prefix>-<split>-imgs.npz` and `<prefix>-<split>-labels.npz`.
pub(crate) fn load_npz_split(
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
    let (imgs, labels) = both(root, || npy::load_npz(&ip), || npy::load_npz(&lp))?;
    split_from_arrays(imgs, &ip, labels, &lp, num_classes)
}

/// Loads both splits of an `.npz` release (`prefix` "k49" or "kmnist") with these class names.
pub(crate) fn load_npz_release(
    root: &Path,
    prefix: &str,
    classes: &[&str],
) -> Result<SourceData, DataError> {
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

/// Loads Kuzushiji-49 from `root`.
pub fn load(root: &Path) -> Result<SourceData, DataError> {
    load_npz_release(root, "k49", &K49_CLASSES)
}

/// Whether `root` holds any file of the `<prefix>` `.npz` release.
pub fn looks_present(root: &Path, prefix: &str) -> bool {
    ["train", "test"].iter().any(|s| {
        ["imgs", "labels"]
            .iter()
            .any(|k| root.join(format!("{prefix}-{s}-{k}.npz")).exists())
    })
}
