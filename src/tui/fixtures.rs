//! Synthetic engine events shaped like a real long-tailed run, for tests, snapshots and demos.
//! Accuracy rises and eKLD falls with class size, as the paper finds.

use std::path::PathBuf;

use crate::config::RunConfig;
use crate::data::longtail::sizes_by_class;
use crate::engine::records::GroupAccuracy;
use crate::engine::summary::group_means;
use crate::engine::{EpochMetrics, InvarianceReport, RunInfo, Summary};

pub(crate) fn run_info(config: &RunConfig, run_id: &str, dir: PathBuf) -> RunInfo {
    let c = config.data.dataset.num_classes();
    RunInfo {
        run_id: run_id.into(),
        dir,
        config: config.clone(),
        device: "cpu".into(),
        num_classes: c,
        class_names: (0..c).map(|i| format!("g{i:02}")).collect(),
        train_sizes: sizes_by_class(&config.data, c, config.seed),
        test_sizes: vec![config.data.test_per_class; c],
        total_epochs: config.train.epochs,
        resumed_at: None,
        invlab_version: env!("CARGO_PKG_VERSION").into(),
        invlab_commit: Some("0123456789ab".into()),
        libtorch_version: "test".into(),
        generator_key: None,
    }
}

/// Deterministic pseudo-noise in [-1, 1].
fn wobble(i: usize, salt: usize) -> f64 {
    let x = ((i * 7919 + salt * 104_729) % 1000) as f64 / 500.0;
    x - 1.0
}

pub fn invariance(info: &RunInfo, epoch: usize, strength: f64) -> InvarianceReport {
    let ekld: Vec<f64> = info
        .train_sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let l = (n as f64).log10();
            ((2.6 - 0.7 * l) * strength + 0.08 * wobble(i, 3)).max(0.01)
        })
        .collect();
    let consistency = ekld
        .iter()
        .map(|e| (1.0 - e / 3.0).clamp(0.0, 1.0))
        .collect();
    InvarianceReport {
        epoch,
        transform: "rot".into(),
        images_per_class: 20,
        samples: 20,
        ekld_stderr: vec![0.02; ekld.len()],
        consistency,
        spearman_size_ekld: Some(-0.8),
        ekld,
        seconds: 1.5,
        sampling: Default::default(),
    }
}

/// Metrics of epoch `epoch` (1-based) of a run that learns at `rate`.
pub fn epoch(info: &RunInfo, epoch: usize, rate: f64) -> EpochMetrics {
    let t = epoch as f64 / info.total_epochs as f64;
    let per_class: Vec<f64> = info
        .train_sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let l = (n as f64).log10() / 3.7;
            ((0.2 + 0.75 * l) * (1.0 - (-rate * 4.0 * t).exp()) + 0.04 * wobble(i, epoch))
                .clamp(0.0, 1.0)
        })
        .collect();
    let balanced = per_class.iter().sum::<f64>() / per_class.len() as f64;
    let [many, medium, few] = group_means(&per_class, &info.train_sizes);
    let total: usize = info.train_sizes.iter().sum();
    let test_acc = per_class
        .iter()
        .zip(&info.train_sizes)
        .map(|(a, &n)| a * n as f64)
        .sum::<f64>()
        / total as f64;
    EpochMetrics {
        epoch,
        total_epochs: info.total_epochs,
        stage: crate::engine::Stage::Train,
        lr: 0.1,
        train_loss: 2.5 * (-rate * 3.0 * t).exp() + 0.1,
        train_accuracy: test_acc.min(1.0),
        test_accuracy: balanced,
        balanced_accuracy: balanced,
        groups: GroupAccuracy { many, medium, few },
        per_class_accuracy: per_class,
        train_seconds: 12.0,
        eval_seconds: 3.0,
        invariance: None,
    }
}

pub fn summary(info: &RunInfo, last: &EpochMetrics, inv: &InvarianceReport) -> Summary {
    Summary::build(info, last, Some(inv), "finished", 300.0)
}

/// An App mid-session: a finished run (ERM), a live run (CE-DRS) at `live_epoch` of 50 with a
/// batch in flight, and a queued run; a CPU-only sampler reading. For snapshots and screenshots.
pub(crate) fn demo_app(live_epoch: usize) -> super::app::App {
    use super::app::{App, AppSetup};
    use super::command::Command;
    use super::event::AppEvent;
    use crate::engine::Event;
    let mut app = App::new(AppSetup::plain(PathBuf::from("/tmp/invlab-demo-runs")));
    let send = |app: &mut App, slot: usize, event: Event| {
        app.on_event(AppEvent::Run { slot, event });
    };
    // Run 0: ERM, finished.
    app.form.config.name = "k49rot-erm".into();
    app.apply(Command::Start);
    let info0 = run_info(&app.runs[0].config, "k49rot-erm", "/tmp/r0".into());
    send(&mut app, 0, Event::Started(Box::new(info0.clone())));
    for e in 1..=50 {
        let mut m = epoch(&info0, e, 0.9);
        if e % 5 == 0 {
            m.invariance = Some(invariance(&info0, e, 1.0));
        }
        send(&mut app, 0, Event::Epoch(Box::new(m)));
    }
    let last = epoch(&info0, 50, 0.9);
    let inv = invariance(&info0, 50, 1.0);
    send(
        &mut app,
        0,
        Event::Finished(Box::new(summary(&info0, &last, &inv))),
    );
    // Run 1: CE-DRS, live.
    app.form.config.name = "k49rot-drs".into();
    app.form.config.method.rule = crate::config::Rule::Drs;
    app.apply(Command::Start);
    let info1 = run_info(&app.runs[1].config, "k49rot-drs", "/tmp/r1".into());
    send(&mut app, 1, Event::Started(Box::new(info1.clone())));
    for e in 1..=live_epoch {
        for b in 1..=4 {
            send(
                &mut app,
                1,
                Event::Batch {
                    epoch: e,
                    batch: b * 15,
                    batches: 62,
                    loss: 2.6 * (-(e as f64 + b as f64 / 4.0) / 12.0).exp()
                        + 0.15
                        + 0.05 * wobble(e * 4 + b, 9),
                },
            );
        }
        let mut m = epoch(&info1, e, 1.1);
        if e % 5 == 0 {
            m.invariance = Some(invariance(&info1, e, 0.8));
        }
        send(&mut app, 1, Event::Epoch(Box::new(m)));
    }
    send(
        &mut app,
        1,
        Event::Batch {
            epoch: live_epoch + 1,
            batch: 31,
            batches: 62,
            loss: 0.4,
        },
    );
    send(&mut app, 1, Event::Phase(crate::engine::Phase::Training));
    // Run 2: queued.
    app.form.config.name = "k49rot-ldam".into();
    app.form.config.method.loss = crate::config::Loss::Ldam;
    app.form.config.method.rule = crate::config::Rule::Drw;
    app.apply(Command::Start);
    app.selected = 1;
    app.message = None;
    app.on_event(AppEvent::Gpu(super::gpu::GpuSample {
        gpus: Vec::new(),
        no_gpu_reason: Some("NVML: driver not loaded".into()),
        host: super::gpu::HostSample {
            cpu_percent: 97.0,
            cores: 2,
            process_memory: 1_288_490_189,
            total_memory: 8_589_934_592,
        },
    }));
    app
}

/// A data preview of `config` with made-up 28x28 pictures (no libtorch): class `c`'s image `i`
/// is a striped pattern, so snapshots are stable and cheap.
pub(crate) fn demo_preview(config: &RunConfig) -> super::preview::DataPreview {
    use super::preview::{
        ClassPictures, DataPreview, CLASSES_SHOWN, FRESH_DRAWS, IMAGES_PER_CLASS,
    };
    use crate::data::longtail::sizes_by_rank;
    use crate::picture::Picture;
    let c = config.data.dataset.num_classes();
    let sizes = sizes_by_rank(&config.data, c);
    let image = |class: usize, i: usize| {
        let mut p = Picture::filled(28, 28, 1, [0, 0, 0]);
        for y in 0..28 {
            for x in 0..28 {
                if (x * (class + 1) + y * (i + 2)) % 9 < 2 {
                    p.set(x, y, [255, 255, 255]);
                }
            }
        }
        p
    };
    let class = |rank: usize, count: usize| ClassPictures {
        class: rank,
        name: format!("g{rank:02}"),
        train_size: sizes[rank],
        images: (0..count).map(|i| image(rank, i)).collect(),
    };
    DataPreview {
        dataset: config.data.dataset,
        transform: config.data.transform,
        ekld_transform: super::preview::variant_transform(config),
        ekld_by_generator: false,
        num_classes: c,
        largest: (0..CLASSES_SHOWN)
            .map(|r| class(r, IMAGES_PER_CLASS))
            .collect(),
        smallest: (c - CLASSES_SHOWN..c)
            .map(|r| class(r, IMAGES_PER_CLASS.min(sizes[r])))
            .collect(),
        variants: class(0, 1 + FRESH_DRAWS),
        sizes_by_rank: sizes,
        seconds: 0.4,
    }
}
