//! The TUI driving the real engine: queue two tiny runs, let the event loop (on an in-memory
//! terminal) run them one at a time to the end, then read them back as history.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use invlab::tui::app::{App, AppSetup, RunStatus};
use invlab::tui::command::Command;
use invlab::tui::history::load_history;
use invlab::tui::{event_loop, Runtime};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

#[test]
fn tui_runs_a_queue_on_the_engine_and_reads_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let mut setup = AppSetup::plain(tmp.path().join("runs"));
    setup.default_config = common::tiny_config("tui-a");
    let mut app = App::new(setup);
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::new(tx);
    let effects = app.apply(Command::Start);
    runtime.execute(&mut app, effects);
    app.form.config.name = "tui-b".into();
    app.form.config.method.rule = invlab::config::Rule::Drs;
    let effects = app.apply(Command::Start);
    assert!(effects.is_empty(), "the second run waits in the queue");
    runtime.execute(&mut app, effects);
    assert_eq!(app.runs[1].status, RunStatus::Queued);

    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let start = Instant::now();
    let mut saw_both_active = false;
    let mut last_frame = String::new();
    event_loop(&mut terminal, &mut app, &rx, &mut runtime, |app, buf| {
        saw_both_active |= app.active_count() > 1;
        last_frame = buf.content.iter().map(|c| c.symbol()).collect();
        let done = app
            .runs
            .iter()
            .all(|r| !r.status.is_active() && r.status != RunStatus::Queued);
        !done && start.elapsed() < Duration::from_secs(240)
    })
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
