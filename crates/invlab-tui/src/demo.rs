//! A demo session for snapshots and screenshots: an `App` with a finished, a live and a queued
//! run, and a data preview with made-up pictures (no libtorch).

use std::path::PathBuf;

use invlab_core::config::RunConfig;
use invlab_core::fixtures::{epoch, invariance, run_info, summary, wobble};

/// An App mid-session: a finished run (ERM), a live run (CE-DRS) at `live_epoch` of 50 with a
/// batch in flight, and a queued run; a CPU-only sampler reading. For snapshots and screenshots.
pub fn demo_app(live_epoch: usize) -> crate::app::App {
    use crate::app::{App, AppSetup};
    use crate::command::Command;
    use crate::event::AppEvent;
    use invlab_engine::Event;
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
    app.form.config.method.rule = invlab_core::config::Rule::Drs;
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
    send(&mut app, 1, Event::Phase(invlab_engine::Phase::Training));
    // Run 2: queued.
    app.form.config.name = "k49rot-ldam".into();
    app.form.config.method.loss = invlab_core::config::Loss::Ldam;
    app.form.config.method.rule = invlab_core::config::Rule::Drw;
    app.apply(Command::Start);
    app.selected = 1;
    app.message = None;
    app.on_event(AppEvent::System(crate::sampler::SystemSample {
        gpus: Vec::new(),
        no_gpu_reason: Some("NVML: driver not loaded".into()),
        host: crate::sampler::HostSample {
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
pub fn demo_preview(config: &RunConfig) -> invlab_engine::data_preview::DataPreview {
    use invlab_core::longtail::sizes_by_rank;
    use invlab_core::picture::Picture;
    use invlab_engine::data_preview::{
        ClassPictures, DataPreview, CLASSES_SHOWN, FRESH_DRAWS, IMAGES_PER_CLASS,
    };
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
        ekld_transform: invlab_engine::data_preview::variant_transform(config),
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
