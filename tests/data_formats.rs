//! Real dataset loaders: tiny fixtures of every format built here (valid and corrupt), the real
//! MNIST test split from `../shared/data/mnist-test` when present, Debian's Fashion-MNIST when
//! installed, and every config in `configs/`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::Write;
use std::path::{Path, PathBuf};

use invlab_core::config::{DatasetName, RunConfig};
use invlab_engine::data::real;
use invlab_engine::data::DataError;
use invlab_formats::{cifar, csv, idx, npy, ppm, resize, FUZZ_TARGETS};

// --- fixture builders -----------------------------------------------------------------------

fn idx_images(count: u32, rows: u32, cols: u32, seed: u8) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [2051u32, count, rows, cols] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    let n = (count * rows * cols) as usize;
    b.extend((0..n).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)));
    b
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&2049u32.to_be_bytes());
    b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    b.extend_from_slice(labels);
    b
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn labels_cycle(n: usize, classes: u8) -> Vec<u8> {
    (0..n).map(|i| (i % classes as usize) as u8).collect()
}

/// A complete tiny MNIST-style folder: 20 train and 10 test images of 28x28.
fn make_idx_root(dir: &Path, gzip: bool) {
    let files = [
        ("train-images-idx3-ubyte", idx_images(20, 28, 28, 1)),
        ("train-labels-idx1-ubyte", idx_labels(&labels_cycle(20, 10))),
        ("t10k-images-idx3-ubyte", idx_images(10, 28, 28, 2)),
        ("t10k-labels-idx1-ubyte", idx_labels(&labels_cycle(10, 10))),
    ];
    for (name, bytes) in files {
        if gzip {
            write(&dir.join(format!("{name}.gz")), &gz(&bytes));
        } else {
            write(&dir.join(name), &bytes);
        }
    }
}

fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8], version: u8) -> Vec<u8> {
    let shape_s = match shape {
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let fo = if fortran { "True" } else { "False" };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': {fo}, 'shape': {shape_s}, }}");
    let pre = if version == 1 { 10 } else { 12 };
    while (pre + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY".to_vec();
    b.push(version);
    b.push(0);
    if version == 1 {
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        b.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    b
}

fn npz_bytes(entry: &str, npy: &[u8], deflate: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    w.start_file(
        entry,
        zip::write::FileOptions::default().compression_method(method),
    )
    .unwrap();
    w.write_all(npy).unwrap();
    w.finish().unwrap().into_inner()
}

fn make_k49_root(dir: &Path, deflate: bool) {
    for (split, n) in [("train", 49 * 2), ("test", 49)] {
        let px: Vec<u8> = (0..n * 28 * 28).map(|i| i as u8).collect();
        let ys = labels_cycle(n, 49);
        write(
            &dir.join(format!("k49-{split}-imgs.npz")),
            &npz_bytes(
                "arr_0.npy",
                &npy_bytes("|u1", false, &[n, 28, 28], &px, 1),
                deflate,
            ),
        );
        write(
            &dir.join(format!("k49-{split}-labels.npz")),
            &npz_bytes("arr_0.npy", &npy_bytes("|u1", false, &[n], &ys, 1), deflate),
        );
    }
}

fn cifar_records(n: usize, cifar100: bool) -> Vec<u8> {
    let mut b = Vec::new();
    for i in 0..n {
        if cifar100 {
            b.push((i % 20) as u8);
            b.push((i % 100) as u8);
        } else {
            b.push((i % 10) as u8);
        }
        b.extend((0..3072).map(|p| ((p / 1024) * 80 + i) as u8));
    }
    b
}

fn ppm_bytes(w: usize, h: usize, comment: bool) -> Vec<u8> {
    let mut b = if comment {
        format!("P6\n# made by a test\n{w} {h}\n# another\n255\n").into_bytes()
    } else {
        format!("P6 {w} {h} 255\n").into_bytes()
    };
    for y in 0..h {
        for x in 0..w {
            b.extend_from_slice(&[(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 77]);
        }
    }
    b
}

fn gt_csv(rows: &[(&str, usize)]) -> String {
    let mut s = String::from("Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\r\n");
    for (f, c) in rows {
        s.push_str(&format!("{f};40;36;5;5;35;31;{c}\r\n"));
    }
    s
}

fn make_gtsrb_root(dir: &Path) {
    let base = dir.join("GTSRB");
    for class in [0usize, 14, 42] {
        let cdir = base.join(format!("Final_Training/Images/{class:05}"));
        let files: Vec<String> = (0..3).map(|i| format!("00000_{i:05}.ppm")).collect();
        for (i, f) in files.iter().enumerate() {
            write(&cdir.join(f), &ppm_bytes(40 + i * 7, 36 + i * 3, i == 1));
        }
        let rows: Vec<(&str, usize)> = files.iter().map(|f| (f.as_str(), class)).collect();
        write(
            &cdir.join(format!("GT-{class:05}.csv")),
            gt_csv(&rows).as_bytes(),
        );
    }
    let tdir = base.join("Final_Test/Images");
    for i in 0..4 {
        write(
            &tdir.join(format!("{i:05}.ppm")),
            &ppm_bytes(20 + i, 25, false),
        );
    }
    write(
        &dir.join("GT-final_test.csv"),
        gt_csv(&[
            ("00000.ppm", 1),
            ("00001.ppm", 2),
            ("00002.ppm", 42),
            ("00003.ppm", 0),
        ])
        .as_bytes(),
    );
}

fn jpeg_bytes(w: u16, h: u16, gray: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let enc = jpeg_encoder::Encoder::new(&mut out, 90);
    if gray {
        let px: Vec<u8> = (0..w as usize * h as usize)
            .map(|i| (i % 251) as u8)
            .collect();
        enc.encode(&px, w, h, jpeg_encoder::ColorType::Luma)
            .unwrap();
    } else {
        let px: Vec<u8> = (0..w as usize * h as usize * 3)
            .map(|i| (i % 253) as u8)
            .collect();
        enc.encode(&px, w, h, jpeg_encoder::ColorType::Rgb).unwrap();
    }
    out
}

fn make_tiny_root(dir: &Path) {
    let base = dir.join("tiny-imagenet-200");
    let wnids = ["n01443537", "n01629819", "n01641577"];
    write(
        &base.join("wnids.txt"),
        format!("{}\n", wnids.join("\n")).as_bytes(),
    );
    write(
        &base.join("words.txt"),
        b"n00001740\tentity\nn01443537\tgoldfish, Carassius auratus\nn01629819\tEuropean fire salamander, Salamandra salamandra\nn01641577\tbullfrog, Rana catesbeiana\n",
    );
    for (c, w) in wnids.iter().enumerate() {
        for i in 0..3 {
            let gray = c == 1 && i == 0;
            write(
                &base.join(format!("train/{w}/images/{w}_{i}.JPEG")),
                &jpeg_bytes(64, 64, gray),
            );
        }
        write(&base.join(format!("train/{w}/{w}_boxes.txt")), b"");
    }
    let mut ann = String::new();
    for i in 0..4 {
        let w = wnids[i % 3];
        ann.push_str(&format!("val_{i}.JPEG\t{w}\t0\t0\t63\t63\n"));
        write(
            &base.join(format!("val/images/val_{i}.JPEG")),
            &jpeg_bytes(64, 64, i == 2),
        );
    }
    write(&base.join("val/val_annotations.txt"), ann.as_bytes());
}

fn msg(e: &DataError) -> String {
    e.to_string()
}

#[track_caller]
fn assert_err_has(r: Result<impl std::fmt::Debug, DataError>, file: &str, needles: &[&str]) {
    let e = r.expect_err("expected an error");
    let m = msg(&e);
    assert!(
        e.path.to_string_lossy().contains(file),
        "error should name {file}, got path {}: {m}",
        e.path.display()
    );
    for n in needles {
        assert!(m.contains(n), "error should mention {n:?}: {m}");
    }
}

// --- IDX ----------------------------------------------------------------------------------

#[test]
fn idx_raw_and_gz_load_the_same() {
    let raw = tempfile::tempdir().unwrap();
    let gzd = tempfile::tempdir().unwrap();
    make_idx_root(raw.path(), false);
    make_idx_root(gzd.path(), true);
    let a = real::load(DatasetName::Mnist, raw.path()).unwrap();
    let b = real::load(DatasetName::Mnist, gzd.path()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.train.len(), 20);
    assert_eq!(a.test.len(), 10);
    assert_eq!(
        (a.train.channels, a.train.height, a.train.width),
        (1, 28, 28)
    );
    assert_eq!(a.train.images.len(), 20 * 784);
    assert_eq!(a.train.labels[13], 3);
    assert_eq!(a.num_classes, 10);
    let f = real::load(DatasetName::FashionMnist, raw.path()).unwrap();
    assert_eq!(f.class_names[9], "Ankle boot");
    let k = real::load(DatasetName::Kmnist, gzd.path()).unwrap();
    assert_eq!(
        k.class_names,
        ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    );
}

#[test]
fn idx_in_raw_subfolder_is_found() {
    let d = tempfile::tempdir().unwrap();
    make_idx_root(&d.path().join("raw"), true);
    assert!(real::looks_present(DatasetName::Mnist, d.path()));
    assert_eq!(
        real::load(DatasetName::Mnist, d.path())
            .unwrap()
            .train
            .len(),
        20
    );
}

#[test]
fn idx_wrong_magic_names_file_and_bytes() {
    let p = Path::new("/x/train-images-idx3-ubyte");
    let r = idx::parse_idx_images(&idx_labels(&[1, 2, 3]), p);
    let e = r.unwrap_err();
    assert_eq!(e.location, "byte 0");
    let m = msg(&e);
    assert!(m.contains("train-images-idx3-ubyte"), "{m}");
    assert!(
        m.contains("expected magic 2051 (IDX images), found 2049"),
        "{m}"
    );
    let e = idx::parse_idx_labels(&idx_images(1, 2, 2, 0), Path::new("l")).unwrap_err();
    assert!(
        msg(&e).contains("expected magic 2049 (IDX labels), found 2051"),
        "{e}"
    );
    let e = idx::parse_idx_images(b"\x00\x00", Path::new("short")).unwrap_err();
    assert!(msg(&e).contains("too short"), "{e}");
}

#[test]
fn idx_truncated_and_count_mismatch() {
    let p = Path::new("t10k-images-idx3-ubyte");
    let mut b = idx_images(20, 28, 28, 0);
    b.truncate(16 + 12345);
    let e = idx::parse_idx_images(&b, p).unwrap_err();
    assert!(
        msg(&e).contains(
            "header says 20 images of 28x28 = 15680 bytes after the 16-byte header, file has 12345 (truncated)"
        ),
        "{e}"
    );
    assert!(e.path.ends_with("t10k-images-idx3-ubyte"));
    // header count bigger than the data (never allocated from the header)
    let mut b = idx_images(2, 28, 28, 0);
    b[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = idx::parse_idx_images(&b, p).unwrap_err();
    assert!(msg(&e).contains("header says 4294967295 images"), "{e}");
    assert!(msg(&e).contains("truncated"), "{e}");
    // header size zero
    let b = idx_images(0, 0, 28, 0);
    assert!(msg(&idx::parse_idx_images(&b, p).unwrap_err()).contains("0x28"));
    // labels truncated
    let mut l = idx_labels(&[1; 100]);
    l.truncate(50);
    let e = idx::parse_idx_labels(&l, Path::new("lab")).unwrap_err();
    assert!(msg(&e).contains("header says 100 labels"), "{e}");
    assert!(msg(&e).contains("file has 42"), "{e}");
}

#[test]
fn idx_images_labels_count_mismatch_in_loader() {
    let d = tempfile::tempdir().unwrap();
    make_idx_root(d.path(), true);
    write(
        &d.path().join("t10k-labels-idx1-ubyte.gz"),
        &gz(&idx_labels(&[1; 9])),
    );
    assert_err_has(
        real::load(DatasetName::Mnist, d.path()),
        "t10k-labels-idx1-ubyte.gz",
        &["holds 9 labels", "10 images"],
    );
}

#[test]
fn idx_label_out_of_range() {
    let d = tempfile::tempdir().unwrap();
    make_idx_root(d.path(), false);
    let mut ls = labels_cycle(20, 10);
    ls[7] = 12;
    write(&d.path().join("train-labels-idx1-ubyte"), &idx_labels(&ls));
    let e = real::load(DatasetName::Mnist, d.path()).unwrap_err();
    assert!(e.path.ends_with("train-labels-idx1-ubyte"));
    assert_eq!(e.location, "byte 15");
    assert!(
        msg(&e).contains("label 12 at index 7 is out of range"),
        "{e}"
    );
}

#[test]
fn idx_truncated_gzip_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    make_idx_root(d.path(), true);
    let p = d.path().join("train-images-idx3-ubyte.gz");
    let b = std::fs::read(&p).unwrap();
    write(&p, &b[..b.len() / 2]);
    assert_err_has(
        real::load(DatasetName::Mnist, d.path()),
        "train-images-idx3-ubyte.gz",
        &["gzip stream is truncated or corrupt"],
    );
}

#[test]
fn idx_missing_train_file_is_named() {
    let d = tempfile::tempdir().unwrap();
    make_idx_root(d.path(), true);
    std::fs::remove_file(d.path().join("train-labels-idx1-ubyte.gz")).unwrap();
    assert_err_has(
        real::load(DatasetName::Mnist, d.path()),
        "train-labels-idx1-ubyte",
        &[
            "missing file",
            "train-labels-idx1-ubyte.gz or train-labels-idx1-ubyte",
        ],
    );
}

#[test]
fn missing_root_and_glyphs() {
    let d = tempfile::tempdir().unwrap();
    let nope = d.path().join("nope");
    assert_err_has(
        real::load(DatasetName::Cifar10, &nope),
        "nope",
        &["folder not found"],
    );
    assert!(real::load(DatasetName::Glyphs, d.path()).is_err());
    let e = real::load_auto(DatasetName::K49, Some(&nope)).unwrap_err();
    assert!(msg(&e).contains("looked in"), "{e}");
}

// --- real MNIST test split -------------------------------------------------------------------

fn shared_mnist() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist-test");
    p.join("t10k-images-idx3-ubyte.gz").is_file().then_some(p)
}

#[test]
fn real_mnist_test_split() {
    let Some(dir) = shared_mnist() else {
        invlab_core::fixtures::skip(
            "real_mnist_test_split",
            "../shared/data/mnist-test is absent",
        );
        return;
    };
    let set = real::idx::load_split(&dir, "t10k", 10).unwrap();
    assert_eq!(set.len(), 10_000);
    assert_eq!((set.channels, set.height, set.width), (1, 28, 28));
    let counts: Vec<usize> = set.indices_by_class(10).iter().map(Vec::len).collect();
    assert_eq!(
        counts,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // Only the test split is there: a full load names the missing training file.
    assert_err_has(
        real::load(DatasetName::Mnist, &dir),
        "train-images-idx3-ubyte",
        &["missing file"],
    );
}

#[test]
fn debian_fashion_mnist_when_installed() {
    let p = Path::new(real::DEBIAN_FASHION_MNIST);
    if !real::looks_present(DatasetName::FashionMnist, p) {
        invlab_core::fixtures::skip(
            "debian_fashion_mnist_when_installed",
            &format!(
                "{} is absent (apt-get install dataset-fashion-mnist)",
                p.display()
            ),
        );
        return;
    }
    let d = real::load(DatasetName::FashionMnist, p).unwrap();
    assert_eq!(d.train.len(), 60_000);
    assert_eq!(d.test.len(), 10_000);
    let counts: Vec<usize> = d.test.indices_by_class(10).iter().map(Vec::len).collect();
    assert_eq!(counts, [1000; 10]);
}

// --- NPY / NPZ (Kuzushiji-49) ---------------------------------------------------------------

#[test]
fn k49_deflated_and_stored() {
    for deflate in [true, false] {
        let d = tempfile::tempdir().unwrap();
        make_k49_root(d.path(), deflate);
        let s = real::load(DatasetName::K49, d.path()).unwrap();
        assert_eq!(s.train.len(), 98);
        assert_eq!(s.test.len(), 49);
        assert_eq!(s.num_classes, 49);
        assert_eq!(s.class_names.len(), 49);
        assert_eq!(s.train.labels[50], 1);
        assert_eq!(s.train.images[784 + 5], (784 + 5) as u8);
    }
}

#[test]
fn kmnist_npz_release() {
    let d = tempfile::tempdir().unwrap();
    for (split, n) in [("train", 20usize), ("test", 10)] {
        let px: Vec<u8> = (0..n * 784).map(|i| i as u8).collect();
        write(
            &d.path().join(format!("kmnist-{split}-imgs.npz")),
            &npz_bytes(
                "arr_0.npy",
                &npy_bytes("|u1", false, &[n, 28, 28], &px, 1),
                true,
            ),
        );
        write(
            &d.path().join(format!("kmnist-{split}-labels.npz")),
            &npz_bytes(
                "arr_0.npy",
                &npy_bytes("|u1", false, &[n], &labels_cycle(n, 10), 1),
                true,
            ),
        );
    }
    assert!(real::looks_present(DatasetName::Kmnist, d.path()));
    let s = real::load(DatasetName::Kmnist, d.path()).unwrap();
    assert_eq!((s.train.len(), s.test.len(), s.num_classes), (20, 10, 10));
    std::fs::remove_file(d.path().join("kmnist-test-labels.npz")).unwrap();
    assert_err_has(
        real::load(DatasetName::Kmnist, d.path()),
        "kmnist-test-labels.npz",
        &["missing file"],
    );
}

#[test]
fn npy_versions_and_header_forms() {
    for v in [1u8, 2, 3] {
        let b = npy_bytes("<u1", false, &[2, 3], &[1, 2, 3, 4, 5, 6], v);
        let a = npy::parse_npy(&b, Path::new("a.npy"), "").unwrap();
        assert_eq!(a.shape, [2, 3]);
        assert_eq!(a.data, [1, 2, 3, 4, 5, 6]);
    }
    // int64 labels are accepted for label arrays
    let ys: Vec<u8> = [3i64, 48].iter().flat_map(|v| v.to_le_bytes()).collect();
    let a = npy::parse_npy(&npy_bytes("<i8", false, &[2], &ys, 1), Path::new("l"), "").unwrap();
    assert_eq!(a.to_i64(), [3, 48]);
}

#[test]
fn npy_rejections_are_explained() {
    let p = Path::new("k49-train-imgs.npz");
    let e = npy::parse_npy(&npy_bytes("<f4", false, &[1], &[0; 4], 1), p, "arr_0.npy").unwrap_err();
    assert!(msg(&e).contains("unsupported dtype \"<f4\""), "{e}");
    assert!(e.location.starts_with("arr_0.npy"), "{}", e.location);
    let e = npy::parse_npy(&npy_bytes("|u1", true, &[2, 2], &[0; 4], 1), p, "").unwrap_err();
    assert!(msg(&e).contains("Fortran order"), "{e}");
    let e =
        npy::parse_npy(&npy_bytes("|u1", false, &[10, 28, 28], &[0; 100], 1), p, "").unwrap_err();
    assert!(msg(&e).contains("header says shape (10, 28, 28)"), "{e}");
    assert!(msg(&e).contains("truncated"), "{e}");
    let e = npy::parse_npy(b"PK\x03\x04 not npy at all", p, "").unwrap_err();
    assert!(msg(&e).contains("NPY magic"), "{e}");
    let mut b = npy_bytes("|u1", false, &[1], &[0], 1);
    b[6] = 9;
    assert!(msg(&npy::parse_npy(&b, p, "").unwrap_err()).contains("version 9.0"));
    let mut b = npy_bytes("|u1", false, &[1], &[0], 1);
    b[8] = 0xff;
    b[9] = 0xff;
    assert!(msg(&npy::parse_npy(&b, p, "").unwrap_err()).contains("header length 65535"));
}

#[test]
fn k49_wrong_dtype_in_npz_and_label_range() {
    let d = tempfile::tempdir().unwrap();
    make_k49_root(d.path(), true);
    // images stored as int16: rejected with the dtype named
    let data = vec![0u8; 2 * 49 * 28 * 28];
    write(
        &d.path().join("k49-test-imgs.npz"),
        &npz_bytes(
            "arr_0.npy",
            &npy_bytes("<i2", false, &[49, 28, 28], &data, 1),
            true,
        ),
    );
    assert_err_has(
        real::load(DatasetName::K49, d.path()),
        "k49-test-imgs.npz",
        &["dtype", "unsigned bytes"],
    );
    make_k49_root(d.path(), true);
    let mut ys = labels_cycle(49, 49);
    ys[3] = 49;
    write(
        &d.path().join("k49-test-labels.npz"),
        &npz_bytes("arr_0.npy", &npy_bytes("|u1", false, &[49], &ys, 1), false),
    );
    assert_err_has(
        real::load(DatasetName::K49, d.path()),
        "k49-test-labels.npz",
        &["label 49 at index 3"],
    );
    // label count mismatch
    write(
        &d.path().join("k49-test-labels.npz"),
        &npz_bytes(
            "arr_0.npy",
            &npy_bytes("|u1", false, &[48], &ys[..48], 1),
            false,
        ),
    );
    assert_err_has(
        real::load(DatasetName::K49, d.path()),
        "k49-test-labels.npz",
        &["(48,)", "49 images"],
    );
}

#[test]
fn npz_corrupt_archives() {
    let p = Path::new("k49-train-imgs.npz");
    let e = npy::parse_npz(b"definitely not a zip", p).unwrap_err();
    assert!(msg(&e).contains("not a readable .npz"), "{e}");
    let good = npz_bytes(
        "arr_0.npy",
        &npy_bytes("|u1", false, &[4, 28, 28], &[9; 4 * 784], 1),
        true,
    );
    let e = npy::parse_npz(&good[..good.len() - 30], p).unwrap_err();
    assert!(msg(&e).contains("k49-train-imgs.npz"), "{e}");
    let other = npz_bytes("x.txt", b"hello", false);
    let e = npy::parse_npz(&other, p).unwrap_err();
    assert!(msg(&e).contains("arr_0.npy"), "{e}");
    // corrupt the deflated payload: CRC or inflate error, never a panic
    let mut bad = good.clone();
    for b in bad.iter_mut().skip(60).take(40) {
        *b ^= 0x5a;
    }
    assert!(npy::parse_npz(&bad, p).is_err());
}

// --- CIFAR ----------------------------------------------------------------------------------

fn make_cifar10_root(dir: &Path, nested: bool) -> PathBuf {
    let d = if nested {
        dir.join("cifar-10-batches-bin")
    } else {
        dir.to_path_buf()
    };
    for i in 1..=5 {
        write(
            &d.join(format!("data_batch_{i}.bin")),
            &cifar_records(4, false),
        );
    }
    write(&d.join("test_batch.bin"), &cifar_records(3, false));
    write(
        &d.join("batches.meta.txt"),
        b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n\n",
    );
    d
}

#[test]
fn cifar10_nested_or_direct() {
    for nested in [true, false] {
        let d = tempfile::tempdir().unwrap();
        make_cifar10_root(d.path(), nested);
        let s = real::load(DatasetName::Cifar10, d.path()).unwrap();
        assert_eq!(s.train.len(), 20);
        assert_eq!(s.test.len(), 3);
        assert_eq!(
            (s.train.channels, s.train.height, s.train.width),
            (3, 32, 32)
        );
        assert_eq!(s.class_names[1], "automobile");
        // planar: channel 1 of image 2 is all 80 + 2
        assert!(s.train.image(2)[1024..2048].iter().all(|&v| v == 82));
        assert_eq!(s.train.labels[..5], [0, 1, 2, 3, 0]);
    }
}

#[test]
fn cifar10_errors() {
    let d = tempfile::tempdir().unwrap();
    let dir = make_cifar10_root(d.path(), true);
    let mut b = cifar_records(2, false);
    b.truncate(3073 + 100);
    write(&dir.join("data_batch_3.bin"), &b);
    assert_err_has(
        real::load(DatasetName::Cifar10, d.path()),
        "data_batch_3.bin",
        &["3173 bytes", "not a whole number of 3073-byte records"],
    );
    let mut b = cifar_records(2, false);
    b[3073] = 10;
    write(&dir.join("data_batch_3.bin"), &b);
    let e = real::load(DatasetName::Cifar10, d.path()).unwrap_err();
    assert_eq!(e.location, "byte 3073");
    assert!(msg(&e).contains("label 10 in record 1"), "{e}");
    std::fs::remove_file(dir.join("data_batch_3.bin")).unwrap();
    assert_err_has(
        real::load(DatasetName::Cifar10, d.path()),
        "data_batch_3.bin",
        &["missing file"],
    );
    make_cifar10_root(d.path(), true);
    write(&dir.join("batches.meta.txt"), b"cat\ndog\n");
    assert_err_has(
        real::load(DatasetName::Cifar10, d.path()),
        "batches.meta.txt",
        &["expected 10 class names", "found 2"],
    );
}

#[test]
fn cifar100_loads_and_checks_labels() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("cifar-100-binary");
    write(&dir.join("train.bin"), &cifar_records(5, true));
    write(&dir.join("test.bin"), &cifar_records(2, true));
    let s = real::load(DatasetName::Cifar100, d.path()).unwrap();
    assert_eq!((s.train.len(), s.test.len(), s.num_classes), (5, 2, 100));
    assert_eq!(s.class_names[99], "worm");
    assert_eq!(s.train.labels, [0, 1, 2, 3, 4]);
    // a CIFAR-10 file in CIFAR-100's place
    write(&dir.join("test.bin"), &cifar_records(2, false));
    assert_err_has(
        real::load(DatasetName::Cifar100, d.path()),
        "test.bin",
        &["3074-byte records"],
    );
    let mut b = cifar_records(2, true);
    b[3074 + 1] = 100;
    write(&dir.join("test.bin"), &b);
    assert_err_has(
        real::load(DatasetName::Cifar100, d.path()),
        "test.bin",
        &["fine label 100 in record 1"],
    );
    assert!(cifar::parse_cifar(&[], cifar::CifarKind::Cifar10, Path::new("e")).is_err());
}

// --- PPM / GTSRB ----------------------------------------------------------------------------

#[test]
fn ppm_parses_comments_and_rejects_bad_headers() {
    let img = ppm::parse_ppm(&ppm_bytes(5, 4, true), Path::new("a.ppm")).unwrap();
    assert_eq!((img.width, img.height, img.pixels.len()), (5, 4, 60));
    let p = Path::new("00000_00001.ppm");
    let cases: [(&[u8], &str); 6] = [
        (b"P3 2 2 255\n", "expected a binary PPM"),
        (b"P6 2 x 255\n", "expected the height"),
        (b"P6 2 2 65535\n", "maxval 65535"),
        (b"P6 0 2 255\n", "out of range"),
        (b"P6 2 2 255\n\x01\x02", "truncated"),
        (b"P6 2 2 255", "whitespace byte after the maxval"),
    ];
    for (bytes, needle) in cases {
        let e = ppm::parse_ppm(bytes, p).unwrap_err();
        assert!(
            msg(&e).contains(needle) && msg(&e).contains("00000_00001.ppm"),
            "{needle}: {e}"
        );
    }
}

#[test]
fn resize_keeps_constant_images_and_averages() {
    for (w, h) in [(40, 36), (15, 17), (32, 32), (250, 230), (1, 1)] {
        let src = vec![123u8; w * h * 3];
        let mut out = Vec::new();
        resize::resize_to_planar(&src, w, h, 3, 32, 32, &mut out);
        assert_eq!(out.len(), 3 * 32 * 32);
        assert!(out.iter().all(|&v| v == 123), "{w}x{h}");
    }
    // 64 -> 32 area average of a checkerboard column pattern is the mean
    let src: Vec<u8> = (0..64 * 64)
        .map(|i| if i % 2 == 0 { 0 } else { 200 })
        .collect();
    let mut out = Vec::new();
    resize::resize_to_planar(&src, 64, 64, 1, 32, 32, &mut out);
    assert!(out.iter().all(|&v| v == 100));
    for (s, d) in [(40, 32), (15, 32), (250, 32)] {
        for ws in resize::axis_weights(s, d) {
            let t: f32 = ws.iter().map(|w| w.1).sum();
            assert!((t - 1.0).abs() < 1e-4);
            assert!(ws.iter().all(|&(i, _)| i < s));
        }
    }
}

#[test]
fn gtsrb_loads_and_resizes() {
    let d = tempfile::tempdir().unwrap();
    make_gtsrb_root(d.path());
    let s = real::load(DatasetName::Gtsrb, d.path()).unwrap();
    assert_eq!((s.train.len(), s.test.len(), s.num_classes), (9, 4, 43));
    assert_eq!(
        (s.train.channels, s.train.height, s.train.width),
        (3, 32, 32)
    );
    assert_eq!(s.train.labels, [0, 0, 0, 14, 14, 14, 42, 42, 42]);
    assert_eq!(s.test.labels, [1, 2, 42, 0]);
    // blue channel is constant 77 after resizing
    assert!(s.train.image(4)[2048..].iter().all(|&v| v == 77));
    assert_eq!(s.class_names[14], "Stop");
    let sum = real::check(DatasetName::Gtsrb, d.path()).unwrap();
    assert_eq!((sum.train, sum.test), (9, 4));
}

#[test]
fn gtsrb_errors() {
    let d = tempfile::tempdir().unwrap();
    make_gtsrb_root(d.path());
    let c = d
        .path()
        .join("GTSRB/Final_Training/Images/00014/GT-00014.csv");
    write(
        &c,
        b"Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2\n00000_00000.ppm;1;1;0;0;1;1\n",
    );
    assert_err_has(
        real::load(DatasetName::Gtsrb, d.path()),
        "GT-00014.csv",
        &["no ClassId column", "line 1"],
    );
    write(
        &c,
        gt_csv(&[("00000_00000.ppm", 14), ("00000_00001.ppm", 43)]).as_bytes(),
    );
    assert_err_has(
        real::load(DatasetName::Gtsrb, d.path()),
        "GT-00014.csv",
        &["ClassId 43", "line 3"],
    );
    write(
        &c,
        b"Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n00000_00000.ppm;1;1\n",
    );
    assert_err_has(
        real::load(DatasetName::Gtsrb, d.path()),
        "GT-00014.csv",
        &["line 2", "3 column(s)"],
    );
    make_gtsrb_root(d.path());
    write(
        &d.path()
            .join("GTSRB/Final_Training/Images/00042/00000_00002.ppm"),
        b"P6\n40 36\n# no maxval\n",
    );
    assert_err_has(
        real::load(DatasetName::Gtsrb, d.path()),
        "00000_00002.ppm",
        &["maxval"],
    );
    make_gtsrb_root(d.path());
    std::fs::remove_file(d.path().join("GTSRB/Final_Test/Images/00002.ppm")).unwrap();
    assert_err_has(
        real::load(DatasetName::Gtsrb, d.path()),
        "00002.ppm",
        &["file not found"],
    );
    assert_err_has(
        real::check(DatasetName::Gtsrb, d.path()),
        "00002.ppm",
        &["file not found"],
    );
    std::fs::remove_file(d.path().join("GT-final_test.csv")).unwrap();
    assert_err_has(
        real::load(DatasetName::Gtsrb, d.path()),
        "GT-final_test.csv",
        &["missing file"],
    );
    let e = csv::parse_gt_csv("", Path::new("x.csv"), 43).unwrap_err();
    assert!(msg(&e).contains("empty"));
}

// --- JPEG / TinyImageNet ------------------------------------------------------------------

#[test]
fn tinyimagenet_loads_with_grayscale() {
    let d = tempfile::tempdir().unwrap();
    make_tiny_root(d.path());
    let s = real::load(DatasetName::Tinyimagenet, d.path()).unwrap();
    assert_eq!((s.train.len(), s.test.len(), s.num_classes), (9, 4, 3));
    assert_eq!(
        (s.train.channels, s.train.height, s.train.width),
        (3, 64, 64)
    );
    assert_eq!(
        s.class_names,
        ["goldfish", "European fire salamander", "bullfrog"]
    );
    assert_eq!(s.test.labels, [0, 1, 2, 0]);
    // the grayscale training image (class 1, first) has three equal planes
    let g = s.train.image(3);
    assert_eq!(g[..4096], g[4096..8192]);
    assert_eq!(g[..4096], g[8192..]);
    assert_eq!(
        real::check(DatasetName::Tinyimagenet, d.path())
            .unwrap()
            .train,
        9
    );
}

#[test]
fn tinyimagenet_errors() {
    let d = tempfile::tempdir().unwrap();
    make_tiny_root(d.path());
    let base = d.path().join("tiny-imagenet-200");
    write(
        &base.join("train/n01629819/images/n01629819_1.JPEG"),
        b"\xff\xd8\xff\xe0 garbage",
    );
    assert_err_has(
        real::load(DatasetName::Tinyimagenet, d.path()),
        "n01629819_1.JPEG",
        &["not a decodable JPEG"],
    );
    let j = jpeg_bytes(64, 64, false);
    write(
        &base.join("train/n01629819/images/n01629819_1.JPEG"),
        &j[..j.len() / 3],
    );
    assert!(real::load(DatasetName::Tinyimagenet, d.path()).is_err());
    make_tiny_root(d.path());
    write(
        &base.join("val/val_annotations.txt"),
        b"val_0.JPEG\tn99999999\t0\t0\t1\t1\n",
    );
    assert_err_has(
        real::load(DatasetName::Tinyimagenet, d.path()),
        "val_annotations.txt",
        &["n99999999", "line 1"],
    );
    write(&base.join("val/val_annotations.txt"), b"val_0.JPEG\n");
    assert_err_has(
        real::load(DatasetName::Tinyimagenet, d.path()),
        "val_annotations.txt",
        &["tab-separated"],
    );
    std::fs::remove_file(base.join("wnids.txt")).unwrap();
    assert_err_has(
        real::load(DatasetName::Tinyimagenet, d.path()),
        "wnids.txt",
        &["file not found"],
    );
}

// --- survey --------------------------------------------------------------------------------

#[test]
fn survey_reports_found_missing_and_invalid() {
    let d = tempfile::tempdir().unwrap();
    make_idx_root(&d.path().join("mnist"), true);
    make_cifar10_root(&d.path().join("cifar10"), true);
    std::fs::remove_file(d.path().join("cifar10/cifar-10-batches-bin/test_batch.bin")).unwrap();
    let st = real::survey(Some(d.path()));
    assert_eq!(st.len(), 8);
    let mnist = st.iter().find(|s| s.name == DatasetName::Mnist).unwrap();
    assert!(mnist.is_valid());
    let c10 = st.iter().find(|s| s.name == DatasetName::Cifar10).unwrap();
    assert!(c10.found.is_some() && !c10.is_valid());
    let table = real::render_survey(&st);
    println!("{table}");
    assert!(table.contains("mnist"));
    assert!(table.contains("test_batch.bin"));
    assert!(table.contains("looked in"));
    let roots = real::candidate_roots(DatasetName::FashionMnist, Some(Path::new("/cfg")));
    assert_eq!(roots[0], Path::new("/cfg"));
    assert!(roots.contains(&PathBuf::from(real::DEBIAN_FASHION_MNIST)));
}

// --- configs -------------------------------------------------------------------------------

#[test]
fn every_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().map(|x| x == "toml").unwrap_or(false) {
            RunConfig::load(&p, &[]).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(
        n >= 10,
        "expected the dataset configs in configs/, found {n}"
    );
}

// --- fuzz seeds (a fixed crash input joins them) -------------------------------------------

/// The format targets, and the config loader's (which lives in `invlab-core`).
fn all_fuzz_targets() -> Vec<(&'static str, invlab_formats::FuzzEntry)> {
    let mut all = FUZZ_TARGETS.to_vec();
    all.push(("config", invlab_core::config::fuzz_config));
    all
}

#[test]
fn fuzz_seeds_do_not_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    let base = root.join("fuzz/seeds");
    for t in std::fs::read_dir(&base).unwrap().flatten() {
        if !t.path().is_dir() {
            continue;
        }
        let target = t.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(t.path()).unwrap().flatten() {
            let data = std::fs::read(f.path()).unwrap();
            let run = all_fuzz_targets()
                .into_iter()
                .find(|(name, _)| *name == target)
                .unwrap_or_else(|| panic!("{}: no fuzz target named {target}", base.display()))
                .1;
            run(&data);
            n += 1;
        }
    }
    assert!(n >= 10, "expected the fuzz seeds, found {n} inputs");
    // Every target the fuzz crate builds has its entry here, and the other way round.
    let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
    let mut bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|b| b.lines().find_map(|l| l.strip_prefix("name = ")))
        .map(|n| n.trim_matches('"'))
        .collect();
    let mut entries: Vec<&str> = all_fuzz_targets().iter().map(|(n, _)| *n).collect();
    bins.sort();
    entries.sort();
    assert_eq!(bins, entries);
    // The seeds are valid files: spot-check that they parse.
    let seeds = root.join("fuzz/seeds");
    let b = std::fs::read(seeds.join("npy/deflated.npz")).unwrap();
    assert_eq!(npy::parse_npz(&b, Path::new("s")).unwrap().shape, [2, 2, 2]);
    let b = std::fs::read(seeds.join("ppm/comment.ppm")).unwrap();
    assert_eq!(ppm::parse_ppm(&b, Path::new("s")).unwrap().width, 3);
}

/// Bytes the calling thread has read through read(2) and kin (`/proc/thread-self/io`'s rchar).
fn thread_read_bytes() -> u64 {
    std::fs::read_to_string("/proc/thread-self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("rchar:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .expect("/proc/thread-self/io")
}

/// Peak resident memory of this process so far, in bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Hostile IDX files: a 1 GB sparse file with a wrong magic, a raw file far longer than its
/// header, and a gzip bomb (a valid header, then 200 MB of zeros from 200 kB of gzip). Each is
/// refused after reading about what its header implies, not the whole file.
#[test]
fn idx_readers_look_at_the_header_before_reading_or_decompressing_the_rest() {
    let d = tempfile::tempdir().unwrap();
    make_idx_root(d.path(), false);
    let images = d.path().join("train-images-idx3-ubyte");
    let before = peak_rss();

    // 1 GB of zeros (sparse): magic 0.
    let f = std::fs::File::create(&images).unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
    // (Read whole, it would raise the peak memory by 1 GB: checked at the end.)
    assert_err_has(
        real::load(DatasetName::Mnist, d.path()),
        "train-images-idx3-ubyte",
        &["expected magic 2051"],
    );

    // The right header for 20 images, then 1 GB more.
    let mut header = idx_images(20, 28, 28, 1);
    header.truncate(16);
    let f = std::fs::File::create(&images).unwrap();
    f.set_len(1 << 30).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&images)
        .unwrap()
        .write_all(&header)
        .unwrap();
    assert_err_has(
        real::load(DatasetName::Mnist, d.path()),
        "train-images-idx3-ubyte",
        &[
            "its header implies 15696 bytes",
            "longer than its header says",
        ],
    );
    std::fs::remove_file(&images).unwrap();

    // A gzip bomb behind a valid header.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&header).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        bomb.write_all(&zeros).unwrap();
    }
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    write(&d.path().join("train-images-idx3-ubyte.gz"), &bomb);
    assert_err_has(
        real::load(DatasetName::Mnist, d.path()),
        "train-images-idx3-ubyte.gz",
        &["decompresses past the 15696 bytes its header implies"],
    );
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < 100 << 20, "peak memory grew by {grown} bytes");
}

/// A zip bomb inside a `.npz`: a valid NPY header for 6 bytes, then 64 MB of zeros, deflated to
/// a few dozen kB. The entry is read no further than its header implies.
#[test]
fn an_npz_entry_is_read_no_further_than_its_npy_header_implies() {
    let mut bomb = npy_bytes("|u1", false, &[2, 3], &[1, 2, 3, 4, 5, 6], 1);
    bomb.extend(std::iter::repeat_n(0u8, 64 << 20));
    let npz = npz_bytes("arr_0.npy", &bomb, true);
    assert!(npz.len() < 1 << 20, "{} bytes", npz.len());
    let before = peak_rss();
    let e = npy::parse_npz(&npz, Path::new("k49-train-imgs.npz")).unwrap_err();
    assert!(
        msg(&e).contains("decompresses past the") && msg(&e).contains("its NPY header implies"),
        "{e}"
    );
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < 32 << 20, "peak memory grew by {grown} bytes");
    // The same array without the trailing zeros reads as before.
    let ok = npz_bytes(
        "arr_0.npy",
        &npy_bytes("|u1", false, &[2, 3], &[1, 2, 3, 4, 5, 6], 1),
        true,
    );
    assert_eq!(
        npy::parse_npz(&ok, Path::new("x.npz")).unwrap().shape,
        vec![2, 3]
    );
}

/// An `.npz` is opened, not read whole: the zip reader seeks to the central directory at the
/// end and then to the entry. A 1 GB sparse file that is not a zip is refused, and a small
/// archive behind a 1 GB hole (zip allows data before the archive) loads, each for a few kB of
/// reads; a FIFO in a file's place is named, never waited on.
#[test]
fn an_npz_file_is_opened_at_its_directory_not_read_whole() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("k49-train-imgs.npz");
    let before = thread_read_bytes();

    let f = std::fs::File::create(&path).unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
    let e = npy::load_npz(&path).unwrap_err();
    assert!(
        msg(&e).contains("k49-train-imgs.npz") && msg(&e).contains("not a readable .npz"),
        "{e}"
    );

    let archive = npz_bytes(
        "arr_0.npy",
        &npy_bytes("|u1", false, &[2, 3], &[1, 2, 3, 4, 5, 6], 1),
        true,
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&archive).unwrap();
    drop(f);
    let a = npy::load_npz(&path).unwrap();
    assert_eq!(a.shape, vec![2, 3]);
    assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
    // Bytes this thread read through read(2), over both loads: a few kB, not 2 GB. (Per
    // thread, so tests running beside it do not count; peak memory is per process.)
    let read = thread_read_bytes().saturating_sub(before);
    assert!(read < 1 << 20, "{read} bytes read");

    std::fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&path).status();
    if made.is_ok_and(|s| s.success()) {
        let e = npy::load_npz(&path).unwrap_err();
        assert!(msg(&e).contains("is a FIFO, not a regular file"), "{e}");
    } else {
        invlab_core::fixtures::skip(
            "an_npz_file_is_opened_at_its_directory_not_read_whole",
            "the FIFO case: mkfifo is not available",
        );
    }
}
