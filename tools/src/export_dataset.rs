//! Exports a run's data as NumPy `.npy` files for the Python reference benchmarks
//! (`bench/`): the prepared long-tailed training set transformed once per image exactly as the
//! engine does it (same seeds), and the untransformed held-out images the final eKLD uses.
//!
//! cargo run --release -p invlab-tools --bin export_dataset -- CONFIG OUT_DIR [KEY=VALUE]...
//!
//! Writes OUT_DIR/train_x.npy (u8 N x C x H x W), train_y.npy (i64 N),
//! ekld_x.npy (u8, untransformed, classes x images_per_class), ekld_y.npy (i64).
#![allow(clippy::unwrap_used)] // a developer tool: a failed unwrap ends it with the reason
use std::io::Write;
use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use invlab_core::config::RunConfig;
use invlab_core::seed::{self, SeedPurpose};
use invlab_engine::data::prepare::prepare;
use invlab_engine::{metrics, transforms};

fn npy(path: &Path, descr: &str, shape: &[usize], bytes: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut f = std::fs::File::create(path).expect("create npy file");
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(bytes).unwrap();
}

fn i64_bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: export_dataset CONFIG OUT_DIR [KEY=VALUE]...");
        std::process::exit(2);
    }
    let config = RunConfig::load(Path::new(&args[0]), &args[2..]).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let out = PathBuf::from(&args[1]);
    std::fs::create_dir_all(&out).expect("create output dir");
    let prepared = prepare(&config).expect("prepare data");
    let set = &prepared.train;
    let (n, c, h, w) = (set.len(), set.channels, set.height, set.width);

    // The training set, transformed once as the engine's `transform_once` does (4096 a chunk,
    // one ChaCha8 stream seeded from the run's seed).
    let images = transforms::images_tensor(&set.images, n, c, h, w, Device::Cpu);
    let mut rng = seed::rng(config.seed, SeedPurpose::TrainTransform);
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n as i64 {
        let len = 4096.min(n as i64 - start);
        let part = transforms::apply(
            config.data.transform,
            &images.narrow(0, start, len).to_kind(Kind::Float),
            &mut rng,
        );
        parts.push(part.to_kind(Kind::Uint8));
        start += len;
    }
    let train = Tensor::cat(&parts, 0).contiguous();
    let bytes = Vec::<u8>::try_from(train.view([-1])).expect("train bytes");
    npy(&out.join("train_x.npy"), "|u1", &[n, c, h, w], &bytes);
    npy(
        &out.join("train_y.npy"),
        "<i8",
        &[n],
        &i64_bytes(&set.labels),
    );

    // The final eKLD's held-out images, chosen as the engine chooses them.
    let mut pick_rng = seed::rng(config.seed, SeedPurpose::EkldImages);
    let chosen = metrics::pick_per_class(
        &prepared.test.labels,
        prepared.num_classes,
        config.eval.ekld_images_per_class,
        &mut pick_rng,
    );
    let mut ex = Vec::new();
    let mut ey = Vec::new();
    for members in &chosen {
        for &i in members {
            ex.extend_from_slice(prepared.test.image(i));
            ey.push(prepared.test.labels[i]);
        }
    }
    npy(&out.join("ekld_x.npy"), "|u1", &[ey.len(), c, h, w], &ex);
    npy(&out.join("ekld_y.npy"), "<i8", &[ey.len()], &i64_bytes(&ey));
    println!(
        "train {n} x {c} x {h} x {w}, eKLD base {} images, {} classes -> {}",
        ey.len(),
        prepared.num_classes,
        out.display()
    );
}
