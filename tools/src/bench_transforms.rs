//! Times the transform stage of the full eKLD evaluation alone, exactly as the engine's eKLD
//! (`metrics::invariance`) batches it: per class, 40 held-out images each repeated 100 times
//! (4,000 a batch), transformed by `transforms::apply` with one seeded parameter per image.
//! Used by `bench/run.sh` to split invlab's eKLD time into transform and forward stages.
//!
//! cargo run --release -p invlab-tools --bin bench_transforms -- CONFIG OUT_JSON [KEY=VALUE]...
#![allow(clippy::unwrap_used)] // a developer tool: a failed unwrap ends it with the reason
use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use invlab_core::config::RunConfig;
use invlab_core::seed::{self, SeedPurpose};
use invlab_engine::data::prepare::prepare;
use invlab_engine::{metrics, transforms};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: bench_transforms CONFIG OUT_JSON [KEY=VALUE]...");
        std::process::exit(2);
    }
    let config = RunConfig::load(Path::new(&args[0]), &args[2..]).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let prepared = prepare(&config).expect("prepare data");
    let t = &prepared.test;
    let images = transforms::images_tensor(
        &t.images,
        t.len(),
        t.channels,
        t.height,
        t.width,
        Device::Cpu,
    );
    let mut pick_rng = seed::rng(config.seed, SeedPurpose::EkldImages);
    let chosen = metrics::pick_per_class(
        &t.labels,
        prepared.num_classes,
        config.eval.ekld_images_per_class,
        &mut pick_rng,
    );
    let samples = config.eval.ekld_samples as i64;
    let Some(kind) = config.ekld_transform().fixed_kind() else {
        eprintln!(
            "bench_transforms times the fixed nuisance transforms (rot, bg, dil), not a generator"
        );
        std::process::exit(2);
    };
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let _guard = tch::no_grad_guard();
    let per_chunk = (4096 / samples.max(1)).max(1) as usize;
    let mut transformed = 0i64;
    let start = Instant::now();
    for members in &chosen {
        for chunk in members.chunks(per_chunk) {
            let idx: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
            let base = images
                .index_select(0, &Tensor::from_slice(&idx))
                .to_kind(Kind::Float);
            let repeated = base.repeat_interleave_self_int(samples, 0, None);
            let moved = transforms::apply(kind, &repeated, &mut rng);
            transformed += moved.size()[0];
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let json = format!(
        "{{\"transformed\": {transformed}, \"seconds\": {seconds}, \"threads\": {}}}\n",
        tch::get_num_threads()
    );
    std::fs::write(&args[1], json).expect("write result");
    eprintln!("transformed {transformed} images in {seconds:.2} s");
}
