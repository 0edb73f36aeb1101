//! GIT end to end on tiny CPU runs: the generator phase trains, caches and is reused; a stop in
//! the generator phase resumes exactly; generated images enter the batches after E1.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::*;
use invlab_core::config::{Augment, RunConfig};
use invlab_core::rundir::{RunDir, Status};
use invlab_engine::{Event, GeneratorRecord, RunRequest, Summary};
use tch::Tensor;

fn tiny_git(name: &str, cache: &std::path::Path) -> RunConfig {
    let mut c = tiny_config(name);
    c.data.transform = invlab_core::config::TransformKind::Bg;
    c.train.epochs = 3; // E1 = 1: epoch index 2 uses generated images
    c.method.augment = Augment::Git;
    let g = &mut c.git;
    g.dim = Some(4);
    g.res_blocks = Some(1);
    g.mlp_dim = Some(8);
    g.style_downsamples = Some(2);
    g.dis_dim = Some(4);
    g.dis_layers = Some(2);
    g.batch_size = Some(4);
    g.iterations = Some(6);
    g.sample_every = 1;
    g.cache_dir = Some(cache.to_path_buf());
    c
}

fn record(dir: &std::path::Path) -> GeneratorRecord {
    let text = std::fs::read_to_string(dir.join("generator.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn weights(path: &std::path::Path) -> Vec<(String, Tensor)> {
    let mut v = Tensor::load_multi(path).unwrap();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn finish(request: RunRequest) -> (Vec<Event>, Summary) {
    let (handle, rx) = spawn(request);
    let events = drain(&rx, 600);
    handle.join();
    match events.last() {
        Some(Event::Finished(s)) => (events.clone(), (**s).clone()),
        other => panic!("{other:?}"),
    }
}

fn key(s: &Summary) -> Vec<(f64, Option<f64>)> {
    s.classes.iter().map(|c| (c.accuracy, c.ekld)).collect()
}

#[test]
fn the_generator_is_trained_cached_reused_and_a_stopped_training_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let cache = tmp.path().join("cache");

    // A: trains the generator, shows its progress and samples, caches it.
    let (events, a) = finish(RunRequest::New {
        config: tiny_git("a", &cache),
        runs_dir: runs.clone(),
    });
    let progress: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Generator(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    assert!(progress.iter().all(|p| !p.from_cache && p.iterations == 6));
    assert_eq!(progress.last().unwrap().iteration, 6);
    assert!(progress.iter().any(|p| p.samples.is_some()));
    let rec_a = record(&runs.join("a"));
    assert!(rec_a.trained_here);
    // Generated images enter the batches after E1 (= 1) and not before, as the run's records
    // count them: remove the mixing (or never set the worker's generator) and this fails.
    let generated: Vec<Option<usize>> = RunDir {
        path: runs.join("a"),
    }
    .read_metrics()
    .iter()
    .map(|m| m.generated_images)
    .collect();
    assert_eq!(generated.len(), 3);
    assert_eq!(&generated[..2], &[Some(0), Some(0)], "{generated:?}");
    // gen_fraction of each batch: the default 0.5 of every batch of epoch 3.
    let images = a.classes.iter().map(|c| c.train_size).sum::<usize>();
    let got = generated[2].unwrap();
    assert!(
        got > images / 4 && got <= images,
        "{got} generated images in an epoch of {images}"
    );
    for f in [
        "generator.ot",
        "key.json",
        "losses.jsonl",
        "samples.png",
        "samples.json",
    ] {
        assert!(rec_a.cache_dir.join(f).is_file(), "cache entry lacks {f}");
    }
    let losses = std::fs::read_to_string(rec_a.cache_dir.join("losses.jsonl")).unwrap();
    assert_eq!(losses.lines().count(), 6);
    assert!(runs.join("a/generator-samples.png").is_file());
    // The lab reads the generator back with the run: its losses and the last grid it showed.
    let loaded = invlab_tui::history::load_run(&runs.join("a")).expect("run A reads back");
    assert_eq!(loaded.generator_losses.len(), 6);
    assert_eq!(loaded.generator.as_ref().unwrap().iteration, 6);
    let last_grid = progress
        .iter()
        .rev()
        .find_map(|p| p.samples.clone())
        .unwrap();
    assert_eq!(loaded.generator_samples.as_deref(), Some(&last_grid));
    assert!(
        !runs.join("a/generator-training.ot").exists(),
        "the training checkpoint is cleared"
    );
    // The coverage diagnostic: head and tail images, 64 generated styles and 64 true BG draws
    // each. The true draws read back as the transform's own levels (integers 0..=99); the
    // lab, the run directory and the event agree; the post-run step draws its figure.
    let coverage = events
        .iter()
        .find_map(|e| match e {
            Event::GeneratorCoverage(c) => Some((**c).clone()),
            _ => None,
        })
        .expect("a coverage event");
    assert_eq!(
        coverage.measure,
        invlab_core::nuisance_coverage::NuisanceMeasure::BackgroundLevel
    );
    let ends: Vec<_> = coverage.groups.iter().map(|g| g.end).collect();
    use invlab_core::nuisance_coverage::SizeEnd;
    assert_eq!(ends, [SizeEnd::Head, SizeEnd::Tail]);
    let sizes = &a.classes;
    for g in &coverage.groups {
        assert!(!g.classes.is_empty());
        assert_eq!(g.generated.len(), g.classes.len() * coverage.styles);
        assert_eq!(g.truth.len(), g.generated.len());
        assert!(g
            .truth
            .iter()
            .all(|v| v.fract() == 0.0 && (0.0..100.0).contains(v)));
        assert!(g.generated.iter().all(|v| v.is_finite()));
        for (&c, &n) in g.classes.iter().zip(&g.class_sizes) {
            assert_eq!(sizes[c].train_size, n);
        }
    }
    let head_min = coverage.groups[0].class_sizes.iter().min().unwrap();
    let tail_max = coverage.groups[1].class_sizes.iter().max().unwrap();
    assert!(head_min >= tail_max, "head {head_min} vs tail {tail_max}");
    assert_eq!(loaded.generator_coverage.as_deref(), Some(&coverage));
    invlab_report::write_run_figures(&runs.join("a")).unwrap();
    assert!(runs.join("a/generator-coverage.png").is_file());
    // `invlab eval` measures it again from the cached generator, into eval.json, and gives a
    // run that lacks its run-directory copy (made before the diagnostic) that copy.
    let copy = runs.join("a").join(invlab_core::nuisance_coverage::FILE);
    std::fs::remove_file(&copy).unwrap();
    let evaluated = invlab_engine::evaluation::evaluate(
        &invlab_engine::evaluation::EvalRequest {
            run_dir: runs.join("a"),
            name: None,
            overrides: Vec::new(),
            taus: Vec::new(),
            norm_taus: Vec::new(),
            device: None,
            skip_invariance: true,
            threads: None,
        },
        &|_| {},
        &|| false,
    )
    .unwrap();
    let again = evaluated
        .record
        .generator_coverage
        .expect("eval measures a GIT run's coverage");
    assert_eq!(again.groups.len(), 2);
    for (g, h) in again.groups.iter().zip(&coverage.groups) {
        assert_eq!((&g.classes, &g.truth), (&h.classes, &h.truth));
        let worst = g
            .generated
            .iter()
            .zip(&h.generated)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-3, "generated values differ by {worst}");
    }
    let restored: invlab_core::nuisance_coverage::NuisanceCoverage =
        serde_json::from_str(&std::fs::read_to_string(&copy).unwrap()).unwrap();
    assert_eq!(restored, again);

    // B: the same data and settings reuse the cached generator: no training, same results.
    let (events, b) = finish(RunRequest::New {
        config: tiny_git("b", &cache),
        runs_dir: runs.clone(),
    });
    let rec_b = record(&runs.join("b"));
    assert!(!rec_b.trained_here);
    assert_eq!(rec_b.key, rec_a.key);
    assert!(events
        .iter()
        .all(|e| !matches!(e, Event::Phase(invlab_engine::Phase::Generator))));
    assert_eq!(key(&a), key(&b), "the cached generator gives the same run");
    // The cached generator measures as the trained one did (same images, styles, draws).
    let read = |run: &str| {
        std::fs::read_to_string(runs.join(run).join("generator-coverage.json")).unwrap()
    };
    assert_eq!(read("b"), read("a"));

    // Another seed draws other data: another generator.
    let mut other = tiny_git("other-seed", &cache);
    other.seed = 11;
    let _ = finish(RunRequest::New {
        config: other,
        runs_dir: runs.clone(),
    });
    assert_ne!(record(&runs.join("other-seed")).key, rec_a.key);

    // C: a fresh cache; stopped in the generator phase, then resumed.
    let cache2 = tmp.path().join("cache2");
    let (handle, rx) = spawn(RunRequest::New {
        config: tiny_git("c", &cache2),
        runs_dir: runs.clone(),
    });
    wait_for(
        &rx,
        300,
        |e| matches!(e, Event::Generator(p) if p.iteration >= 2),
    );
    handle.stop();
    let end = wait_for(&rx, 120, |e| e.is_terminal());
    handle.join();
    assert_eq!(end, Event::Stopped { epochs_done: 0 });
    let state = RunDir::open(&runs.join("c")).unwrap().read_state().unwrap();
    assert_eq!(state.status, Status::Stopped);
    let stopped_at = state
        .generator_iteration
        .expect("generator iterations checkpointed");
    assert!((2..6).contains(&stopped_at), "stopped at {stopped_at}");
    assert!(runs.join("c/generator-training.ot").is_file());
    let (events, c) = finish(RunRequest::Resume {
        dir: runs.join("c"),
    });
    let first = events
        .iter()
        .find_map(|e| match e {
            Event::Generator(p) => Some(p.started_at),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        first, stopped_at,
        "the training continued from its checkpoint"
    );
    let rec_c = record(&runs.join("c"));
    assert_eq!(rec_c.key, rec_a.key);
    let (wa, wc) = (
        weights(&rec_a.cache_dir.join("generator.ot")),
        weights(&rec_c.cache_dir.join("generator.ot")),
    );
    assert_eq!(wa.len(), wc.len());
    for ((name, x), (_, y)) in wa.iter().zip(&wc) {
        assert!(
            x.equal(y),
            "{name}: the resumed training differs from the unbroken one"
        );
    }
    assert_eq!(key(&a), key(&c));

    // With its generator's cache entry gone, `invlab eval` still scores the run and says why
    // the coverage is missing, rather than leaving it out silently.
    std::fs::remove_dir_all(&rec_a.cache_dir).unwrap();
    let evaluated = invlab_engine::evaluation::evaluate(
        &invlab_engine::evaluation::EvalRequest {
            run_dir: runs.join("a"),
            name: Some("no-cache".into()),
            skip_invariance: true,
            ..Default::default()
        },
        &|_| {},
        &|| false,
    )
    .unwrap();
    assert!(evaluated.record.generator_coverage.is_none());
    let note = evaluated.record.generator_coverage_note.unwrap();
    assert!(note.contains("generator cache removed"), "{note}");
}

/// eKLD under the learned generator, end to end: a CE run (no GIT in its batches) whose eKLD
/// transform is `generator` trains a generator, then measures x' = G(x, random style). The same
/// run measured under rotation trains the very same classifier (same per-class accuracy) and
/// reports other eKLD values: the generator, not the dataset's transform, made the pairs.
#[test]
fn ekld_under_the_learned_generator_runs_through_the_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let mut learned = tiny_git("learned", &tmp.path().join("generators"));
    learned.method.augment = Augment::None;
    learned.train.epochs = 2;
    learned.eval.ekld_transform = invlab_core::config::EkldTransform::Generator;
    let mut rotated = learned.clone();
    rotated.name = "rotated".into();
    rotated.eval.ekld_transform = invlab_core::config::EkldTransform::Rot;
    let (events, by_generator) = finish(RunRequest::New {
        config: learned,
        runs_dir: runs.clone(),
    });
    assert!(
        events.iter().any(|e| matches!(e, Event::Generator(_))),
        "the generator trained"
    );
    let report = last_invariance(&events).unwrap();
    assert_eq!(
        report.transform,
        Some(invlab_core::config::EkldTransform::Generator)
    );
    assert!(report.ekld.iter().all(|e| e.is_finite() && *e >= 0.0));
    assert!(report.ekld.iter().any(|e| *e > 0.0), "{:?}", report.ekld);
    // No generated image entered a batch: GIT is off.
    let metrics = RunDir::open(&runs.join("learned")).unwrap().read_metrics();
    assert!(metrics.iter().all(|m| m.generated_images.unwrap_or(0) == 0));
    let (_, by_rotation) = finish(RunRequest::New {
        config: rotated,
        runs_dir: runs.clone(),
    });
    let accuracy = |s: &Summary| s.classes.iter().map(|c| c.accuracy).collect::<Vec<_>>();
    assert_eq!(accuracy(&by_generator), accuracy(&by_rotation));
    let ekld = |s: &Summary| s.classes.iter().map(|c| c.ekld).collect::<Vec<_>>();
    assert_ne!(ekld(&by_generator), ekld(&by_rotation));
}
