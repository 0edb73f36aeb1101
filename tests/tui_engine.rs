//! The TUI's runtime shell driving the real engine on an in-memory terminal: a queue of two
//! tiny runs run one at a time to the end and read back as history; a shutdown signal stops
//! the active run cleanly (state.json "stopped", resumable) and ends the loop.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::io;
use std::time::{Duration, Instant};

use futures_util::stream::{self, Stream, StreamExt};
use invlab_core::rundir::{RunDir, Status};
use invlab_tui::app::{App, AppSetup, RunStatus};
use invlab_tui::command::Command;
use invlab_tui::history::load_history;
use invlab_tui::ui::Graphics;
use invlab_tui::{event_loop, Runtime, Sources};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event as ct;
use ratatui::Terminal;
use tokio::sync::mpsc::unbounded_channel;

fn no_input() -> impl Stream<Item = io::Result<ct::Event>> + Unpin {
    stream::pending()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn tui_runs_a_queue_on_the_engine_and_reads_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let mut setup = AppSetup::plain(tmp.path().join("runs"));
    setup.default_config = common::tiny_config("tui-a");
    let mut app = App::new(setup);
    let (tx, mut rx) = unbounded_channel();
    let mut runtime = Runtime::new(tx);
    let effects = app.apply(Command::Start);
    runtime.execute(effects);
    app.form.config.name = "tui-b".into();
    app.form.config.method.rule = invlab_core::config::Rule::Drs;
    let effects = app.apply(Command::Start);
    assert!(effects.is_empty(), "the second run waits in the queue");
    runtime.execute(effects);
    assert_eq!(app.runs[1].status, RunStatus::Queued);

    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let start = Instant::now();
    let mut saw_both_active = false;
    let mut last_frame = String::new();
    let sources = Sources {
        input: no_input(),
        signals: stream::pending(),
    };
    tokio_rt()
        .block_on(event_loop(
            &mut terminal,
            &mut app,
            &mut rx,
            sources,
            &mut runtime,
            &mut Graphics::halfblocks(),
            |app, buf| {
                saw_both_active |= app.active_count() > 1;
                last_frame = buf.content.iter().map(|c| c.symbol()).collect();
                let done = app
                    .runs
                    .iter()
                    .all(|r| !r.status.is_active() && r.status != RunStatus::Queued);
                !done && start.elapsed() < Duration::from_secs(240)
            },
        ))
        .unwrap();
    runtime.shutdown(Duration::from_secs(30));
    assert!(!saw_both_active, "one run at a time");
    for run in &app.runs {
        assert_eq!(
            run.status,
            RunStatus::Done,
            "{}: {:?}",
            run.name,
            run.status
        );
        assert_eq!(run.epochs_done(), 2);
        assert!(run.invariance.is_some());
    }
    assert!(last_frame.contains("done"));

    let history = load_history(&tmp.path().join("runs"));
    let names: Vec<&str> = history.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"tui-a") && names.contains(&"tui-b"));
    for run in &history {
        assert_eq!(run.status, RunStatus::Done);
        assert_eq!(run.epochs.len(), 2);
        assert!(run.train_sizes().is_some() && run.invariance.is_some());
    }
}

#[test]
fn a_shutdown_signal_stops_the_active_run_cleanly_and_ends_the_loop() {
    let tmp = tempfile::tempdir().unwrap();
    let mut setup = AppSetup::plain(tmp.path().join("runs"));
    let mut config = common::tiny_config("tui-signal");
    config.train.epochs = 50; // far longer than the test: the signal must end it
    config.train.decay_epochs = [40, 45];
    setup.default_config = config;
    let mut app = App::new(setup);
    let (tx, mut rx) = unbounded_channel();
    let mut runtime = Runtime::new(tx);
    let effects = app.apply(Command::Start);
    runtime.execute(effects);

    // SIGTERM arrives once the run has trained a few batches.
    let (signal_tx, signal_rx) = unbounded_channel::<invlab_core::signal::Signal>();
    let signals = stream::unfold(signal_rx, |mut rx| async move {
        rx.recv().await.map(|s| (s, rx))
    })
    .boxed();
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let start = Instant::now();
    let mut sent_at = None;
    let mut told = false;
    tokio_rt()
        .block_on(event_loop(
            &mut terminal,
            &mut app,
            &mut rx,
            Sources {
                input: no_input(),
                signals,
            },
            &mut runtime,
            &mut Graphics::halfblocks(),
            |app, buf| {
                let text: String = buf.content.iter().map(|c| c.symbol()).collect();
                told |= text.contains("SIGTERM: stopping");
                let training = app.runs[0].batch.is_some();
                if training && sent_at.is_none() {
                    signal_tx.send(invlab_core::signal::Signal::Term).unwrap();
                    sent_at = Some(Instant::now());
                }
                start.elapsed() < Duration::from_secs(120)
            },
        ))
        .unwrap();
    let stopped_after = sent_at.expect("the run trained").elapsed();
    assert!(
        stopped_after < Duration::from_secs(60),
        "the loop ended {stopped_after:?} after the signal"
    );
    assert!(app.should_exit, "the loop ended because the App exited");
    assert!(
        matches!(app.runs[0].status, RunStatus::Stopped { .. }),
        "{:?}",
        app.runs[0].status
    );
    assert!(told, "the user is told why");
    runtime.shutdown(Duration::from_secs(10));
    let dir = app.runs[0].dir.clone().unwrap();
    let state = RunDir::open(&dir).unwrap().read_state().unwrap();
    assert_eq!(state.status, Status::Stopped);
}
