//! Loading speed of the real-dataset loaders on synthetic full-size fixtures (and on the
//! Debian Fashion-MNIST package when installed). Prints wall and CPU time per load.
//!
//!     cargo run -p invlab-tools --bin load_bench
//!
//! (the dev profile: dependencies at opt-level 3, invlab itself at opt-level 1; `--release` is
//! faster still but rebuilds libtorch's bindings.)
#![allow(unsafe_code)] // getrusage through libc for CPU time.
#![allow(clippy::unwrap_used)] // a developer tool: a failed unwrap ends it with the reason

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use invlab_core::config::DatasetName;
use invlab_engine::data::real;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
        t(u.ru_utime) + t(u.ru_stime)
    }
}

fn time<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let (w, c) = (Instant::now(), cpu_seconds());
    let out = f();
    println!(
        "{label:<58} wall {:>6.3} s   cpu {:>6.3} s",
        w.elapsed().as_secs_f64(),
        cpu_seconds() - c
    );
    out
}

fn gz_file(path: &Path, bytes: &[u8]) {
    let f = std::fs::File::create(path).unwrap();
    let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap();
}

/// MNIST-like pixels: mostly zero background with a bright blob, so gzip ratios are realistic.
fn mnist_like(n: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 784);
    let mut s = seed.wrapping_mul(2654435761).max(1);
    for _ in 0..n {
        for y in 0..28i32 {
            for x in 0..28i32 {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let d = (x - 14).pow(2) + (y - 14).pow(2);
                out.push(if d < 60 { 128 + (s % 128) as u8 } else { 0 });
            }
        }
    }
    out
}

fn idx_images(n: usize, px: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + px.len());
    for v in [2051u32, n as u32, 28, 28] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(px);
    b
}

fn idx_labels(n: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + n);
    b.extend_from_slice(&2049u32.to_be_bytes());
    b.extend_from_slice(&(n as u32).to_be_bytes());
    b.extend((0..n).map(|i| (i * 7 % 10) as u8));
    b
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    println!(
        "threads available: {:?}",
        std::thread::available_parallelism()
    );

    // MNIST-size IDX (gz): 60000 + 10000 images.
    let mnist = d.join("mnist");
    std::fs::create_dir_all(&mnist).unwrap();
    for (split, n) in [("train", 60_000), ("t10k", 10_000)] {
        gz_file(
            &mnist.join(format!("{split}-images-idx3-ubyte.gz")),
            &idx_images(n, &mnist_like(n, n as u32)),
        );
        gz_file(
            &mnist.join(format!("{split}-labels-idx1-ubyte.gz")),
            &idx_labels(n),
        );
    }
    let s = time("MNIST-size IDX, gzip (60000 + 10000 images)", || {
        real::load(DatasetName::Mnist, &mnist).unwrap()
    });
    assert_eq!(s.train.len(), 60_000);

    // CIFAR-10-size binary: 5 x 10000 + 10000 records.
    let cifar = d.join("cifar10/cifar-10-batches-bin");
    std::fs::create_dir_all(&cifar).unwrap();
    let batch: Vec<u8> = (0..10_000usize)
        .flat_map(|i| {
            std::iter::once((i % 10) as u8).chain((0..3072).map(move |p| (p * 31 + i) as u8))
        })
        .collect();
    for i in 1..=5 {
        std::fs::write(cifar.join(format!("data_batch_{i}.bin")), &batch).unwrap();
    }
    std::fs::write(cifar.join("test_batch.bin"), &batch).unwrap();
    let s = time("CIFAR-10-size binary (50000 + 10000 images)", || {
        real::load(DatasetName::Cifar10, &d.join("cifar10")).unwrap()
    });
    assert_eq!(s.train.len(), 50_000);
    drop(s);

    // Kuzushiji-49-size NPZ (deflated): 232365 + 38547 images.
    let k49 = d.join("k49");
    std::fs::create_dir_all(&k49).unwrap();
    for (split, n) in [("train", 232_365usize), ("test", 38_547)] {
        let npy = |descr: &str, shape: String, data: &[u8]| {
            let mut h =
                format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
            while (10 + h.len() + 1) % 64 != 0 {
                h.push(' ');
            }
            h.push('\n');
            let mut b = b"\x93NUMPY\x01\x00".to_vec();
            b.extend_from_slice(&(h.len() as u16).to_le_bytes());
            b.extend_from_slice(h.as_bytes());
            b.extend_from_slice(data);
            b
        };
        let zip = |name: &str, bytes: &[u8]| {
            let f = std::fs::File::create(k49.join(name)).unwrap();
            let mut w = zip::ZipWriter::new(f);
            let opts = zip::write::FileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(true);
            w.start_file("arr_0.npy", opts).unwrap();
            w.write_all(bytes).unwrap();
            w.finish().unwrap();
        };
        let labels: Vec<u8> = (0..n).map(|i| (i % 49) as u8).collect();
        zip(
            &format!("k49-{split}-imgs.npz"),
            &npy("|u1", format!("({n}, 28, 28)"), &mnist_like(n, 7)),
        );
        zip(
            &format!("k49-{split}-labels.npz"),
            &npy("|u1", format!("({n},)"), &labels),
        );
    }
    let s = time("Kuzushiji-49-size NPZ, deflated (232365 + 38547)", || {
        real::load(DatasetName::K49, &k49).unwrap()
    });
    assert_eq!(s.test.len(), 38_547);
    drop(s);

    // Real Fashion-MNIST, when the Debian package is installed.
    let fm = Path::new(real::DEBIAN_FASHION_MNIST);
    if real::looks_present(DatasetName::FashionMnist, fm) {
        let s = time("Fashion-MNIST, real files (Debian package)", || {
            real::load(DatasetName::FashionMnist, fm).unwrap()
        });
        assert_eq!(s.train.len(), 60_000);
    } else {
        println!("Fashion-MNIST (Debian package): not installed, skipped");
    }

    // Per-image formats: 2000 GTSRB-like PPMs (30..70 px) and 2000 TinyImageNet-like JPEGs.
    let g = d.join("gtsrb/GTSRB/Final_Training/Images/00000");
    std::fs::create_dir_all(&g).unwrap();
    let mut csv = String::from("Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n");
    for i in 0..2000usize {
        let (w, h) = (30 + i % 40, 30 + i % 37);
        let mut b = format!("P6\n{w} {h}\n255\n").into_bytes();
        b.extend((0..w * h * 3).map(|p| (p + i) as u8));
        std::fs::write(g.join(format!("{i:05}.ppm")), b).unwrap();
        csv.push_str(&format!("{i:05}.ppm;{w};{h};5;5;20;20;0\n"));
    }
    std::fs::write(g.join("GT-00000.csv"), csv).unwrap();
    let t = d.join("gtsrb/GTSRB/Final_Test/Images");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::copy(g.join("00000.ppm"), t.join("00000.ppm")).unwrap();
    std::fs::write(
        d.join("gtsrb/GT-final_test.csv"),
        "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n00000.ppm;30;30;5;5;20;20;0\n",
    )
    .unwrap();
    let s = time("GTSRB-like PPM, 2001 images resized to 32x32", || {
        real::load(DatasetName::Gtsrb, &d.join("gtsrb")).unwrap()
    });
    assert_eq!(s.train.len(), 2000);

    // TinyImageNet-like: 2 classes x 1000 64x64 JPEGs (every 10th grayscale), 10 val images.
    let tiny = d.join("tiny");
    let wnids = ["n00000001", "n00000002"];
    std::fs::create_dir_all(tiny.join("val/images")).unwrap();
    std::fs::write(tiny.join("wnids.txt"), wnids.join("\n")).unwrap();
    let jpeg = |i: usize| {
        let mut out = Vec::new();
        let enc = jpeg_encoder::Encoder::new(&mut out, 90);
        if i.is_multiple_of(10) {
            let px: Vec<u8> = (0..64 * 64).map(|p| ((p / 64) * 3 + i) as u8).collect();
            enc.encode(&px, 64, 64, jpeg_encoder::ColorType::Luma)
                .unwrap();
        } else {
            let px: Vec<u8> = (0..64 * 64 * 3)
                .map(|p| ((p / 192) * 2 + p % 3 * 50 + i) as u8)
                .collect();
            enc.encode(&px, 64, 64, jpeg_encoder::ColorType::Rgb)
                .unwrap();
        }
        out
    };
    for w in wnids {
        let dir = tiny.join("train").join(w).join("images");
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..1000 {
            std::fs::write(dir.join(format!("{w}_{i}.JPEG")), jpeg(i)).unwrap();
        }
    }
    let mut ann = String::new();
    for i in 0..10 {
        std::fs::write(tiny.join(format!("val/images/val_{i}.JPEG")), jpeg(i)).unwrap();
        ann.push_str(&format!("val_{i}.JPEG\t{}\t0\t0\t63\t63\n", wnids[i % 2]));
    }
    std::fs::write(tiny.join("val/val_annotations.txt"), ann).unwrap();
    let s = time("TinyImageNet-like JPEG, 2010 images of 64x64", || {
        real::load(DatasetName::Tinyimagenet, &tiny).unwrap()
    });
    assert_eq!(s.train.len(), 2000);
}
