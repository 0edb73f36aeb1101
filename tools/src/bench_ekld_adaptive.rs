//! Fixed against adaptive eKLD on one trained model: loads a finished run's checkpoint, checks
//! it reproduces the run's test accuracy (same data, same normalisation), then times the fixed
//! design (`ekld_images_per_class` x `ekld_samples`) and the adaptive one in alternating pairs
//! and writes times, median per-class standard errors, draws and the Spearman correlation
//! between the two per-class eKLD vectors as JSON.
//!
//! cargo run --release -p invlab-tools --bin bench_ekld_adaptive -- RUN_DIR OUT_JSON PAIRS [KEY=VALUE]...
#![allow(clippy::unwrap_used)] // a developer tool: a failed unwrap ends it with the reason
use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use invlab_core::config::{EkldTransform, Loss, RunConfig, TransformKind};
use invlab_core::seed::{self, SeedPurpose};
use invlab_engine::data::prepare::prepare;
use invlab_engine::metrics::adaptive::AdaptivePlan;
use invlab_engine::metrics::{self, ClassInvariance};
use invlab_engine::models::{Classifier, HeadKind};
use invlab_engine::transforms;

/// Transforms once per image in chunks of 4096 with one seeded stream, as the engine's data
/// upload does (the training set's statistics normalise the classifier's input).
fn transform_once(images: &Tensor, kind: TransformKind, seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = images.size()[0];
    let parts: Vec<Tensor> = (0..n)
        .step_by(4096)
        .map(|start| {
            let len = 4096.min(n - start);
            transforms::apply(
                kind,
                &images.narrow(0, start, len).to_kind(Kind::Float),
                &mut rng,
            )
        })
        .collect();
    Tensor::cat(&parts, 0)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: bench_ekld_adaptive RUN_DIR OUT_JSON PAIRS [KEY=VALUE]...");
        std::process::exit(2);
    }
    let run = Path::new(&args[0]);
    let pairs: usize = args[2].parse().expect("PAIRS is a number");
    let config = RunConfig::load(&run.join("config.toml"), &args[3..]).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let prepared = prepare(&config).expect("prepare data");
    let to_tensor = |s: &invlab_engine::data::ImageSet| {
        transforms::images_tensor(
            &s.images,
            s.len(),
            s.channels,
            s.height,
            s.width,
            Device::Cpu,
        )
    };
    let kind = config.data.transform;
    let train = transform_once(
        &to_tensor(&prepared.train),
        kind,
        seed::derive(config.seed, SeedPurpose::TrainTransform),
    ) / 255.0;
    let mean = train.mean_dim([0i64, 2, 3].as_slice(), true, Kind::Float);
    let std = train
        .std_dim([0i64, 2, 3].as_slice(), true, true)
        .clamp_min(1e-3);
    let test_raw = to_tensor(&prepared.test);
    let t = &prepared.test;
    let mut vs = VarStore::new(Device::Cpu);
    let head = if config.method.loss == Loss::Ldam {
        HeadKind::Cosine {
            scale: config.method.ldam_scale,
        }
    } else {
        HeadKind::Linear
    };
    let model = Classifier::new(
        &vs.root(),
        config.model.arch,
        t.channels as i64,
        t.height as i64,
        prepared.num_classes as i64,
        head,
    );
    vs.load(run.join("checkpoint.ot"))
        .expect("load checkpoint.ot");
    let logits_of = |x: &Tensor| model.logits(&((x / 255.0 - &mean) / &std));

    // The checkpoint must see the data it was trained on: its test accuracy must match.
    let test = transform_once(
        &test_raw,
        kind,
        seed::derive(config.seed, SeedPurpose::TestTransform),
    );
    let predictions = tch::no_grad(|| logits_of(&test).argmax(-1, false));
    let labels = Tensor::from_slice(&t.labels);
    let accuracy = f64::try_from(
        predictions
            .eq_tensor(&labels)
            .to_kind(Kind::Double)
            .mean(Kind::Double),
    )
    .unwrap_or(f64::NAN);
    eprintln!("test accuracy of the checkpoint: {accuracy:.4}");

    let transform_kind = match config.ekld_transform() {
        EkldTransform::Bg => TransformKind::Bg,
        EkldTransform::Dil => TransformKind::Dil,
        EkldTransform::Rot | EkldTransform::Auto => TransformKind::Rot,
        EkldTransform::Generator => {
            eprintln!("this benchmark uses the built-in transforms, not a generator");
            std::process::exit(2);
        }
    };
    let e = &config.eval;
    let pick = |per_class: usize| {
        let mut rng = seed::rng(config.seed, SeedPurpose::EkldImages);
        metrics::pick_per_class(&t.labels, prepared.num_classes, per_class, &mut rng)
    };
    let fixed_chosen = pick(e.ekld_images_per_class);
    let plan = AdaptivePlan::for_final(e);
    let adaptive_chosen = pick(plan.max_images);
    let run_fixed = |seed: u64| -> ClassInvariance {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut transform = |x: &Tensor| transforms::apply(transform_kind, x, &mut rng);
        metrics::invariance(
            &logits_of,
            &test_raw,
            &fixed_chosen,
            e.ekld_samples,
            &mut transform,
            &|| false,
        )
        .expect("never stopped")
    };
    let run_adaptive = |seed: u64| -> ClassInvariance {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut transform = |x: &Tensor| transforms::apply(transform_kind, x, &mut rng);
        metrics::invariance_adaptive(
            &logits_of,
            &test_raw,
            &adaptive_chosen,
            &plan,
            &mut transform,
            &|| false,
        )
        .expect("never stopped")
    };
    let (mut fixed_s, mut adaptive_s) = (Vec::new(), Vec::new());
    let (mut fixed, mut adaptive) = (None, None);
    for pair in 0..pairs {
        // Alternate which goes first, so drifting machine load hits both alike.
        for first in [pair % 2 == 0, pair % 2 == 1] {
            let t0 = Instant::now();
            if first {
                fixed = Some(run_fixed(100 + pair as u64));
                fixed_s.push(t0.elapsed().as_secs_f64());
            } else {
                adaptive = Some(run_adaptive(200 + pair as u64));
                adaptive_s.push(t0.elapsed().as_secs_f64());
            }
        }
        eprintln!(
            "pair {pair}: fixed {:.2} s, adaptive {:.2} s",
            fixed_s[pair], adaptive_s[pair]
        );
    }
    let (fixed, adaptive) = (fixed.expect("a pair ran"), adaptive.expect("a pair ran"));
    let ratios: Vec<f64> = fixed_s
        .iter()
        .zip(&adaptive_s)
        .map(|(f, a)| a / f)
        .collect();
    let draws = |inv: &ClassInvariance| -> usize {
        inv.images
            .iter()
            .zip(&inv.samples_per_image)
            .map(|(n, m)| n * (m + 1))
            .sum()
    };
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.6}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ints = |v: &[usize]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let json = format!(
        concat!(
            "{{\"test_accuracy\": {acc}, \"threads\": {threads}, \"target_stderr\": {target},\n",
            " \"fixed_design\": \"{fi} x {fs}\", \"fixed_seconds\": [{fsec}], \"adaptive_seconds\": [{asec}],\n",
            " \"time_ratio_adaptive_over_fixed\": [{ratios}], \"median_time_ratio\": {mratio},\n",
            " \"fixed_median_stderr\": {fse}, \"adaptive_median_stderr\": {ase},\n",
            " \"fixed_forwards\": {fd}, \"adaptive_forwards\": {ad},\n",
            " \"spearman_fixed_adaptive\": {rho},\n",
            " \"fixed_ekld\": [{fe}], \"adaptive_ekld\": [{ae}],\n",
            " \"fixed_stderr\": [{fses}], \"adaptive_stderr\": [{ases}],\n",
            " \"adaptive_images\": [{ai}], \"adaptive_samples_per_image\": [{am}]}}\n"
        ),
        acc = accuracy,
        threads = tch::get_num_threads(),
        target = plan.target_stderr,
        fi = e.ekld_images_per_class,
        fs = e.ekld_samples,
        fsec = list(&fixed_s),
        asec = list(&adaptive_s),
        ratios = list(&ratios),
        mratio = median(&ratios),
        fse = median(&fixed.ekld_stderr),
        ase = median(&adaptive.ekld_stderr),
        fd = draws(&fixed),
        ad = draws(&adaptive),
        rho = metrics::spearman(&fixed.ekld, &adaptive.ekld).unwrap_or(f64::NAN),
        fe = list(&fixed.ekld),
        ae = list(&adaptive.ekld),
        fses = list(&fixed.ekld_stderr),
        ases = list(&adaptive.ekld_stderr),
        ai = ints(&adaptive.images),
        am = ints(&adaptive.samples_per_image),
    );
    std::fs::write(&args[1], &json).expect("write result");
    eprint!("{json}");
}
