//! State-machine tests: the App driven only through keys and synthetic engine events.

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::*;
use crate::command::Command;
use crate::history::load_history;
use invlab_core::fixtures;
use invlab_core::signal::Signal;
use invlab_engine::Event;

fn app() -> App {
    App::new(AppSetup::plain(PathBuf::from("/tmp/invlab-test-runs")))
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_event(AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(app: &mut App, c: char) -> Vec<Effect> {
    key(app, KeyCode::Char(c))
}

fn spawned(effects: &[Effect]) -> Vec<usize> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Spawn { slot, .. } => Some(*slot),
            _ => None,
        })
        .collect()
}

fn controls(effects: &[Effect]) -> Vec<(usize, Control)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Control { slot, control } => Some((*slot, *control)),
            _ => None,
        })
        .collect()
}

fn started(app: &mut App, slot: usize) {
    let config = app.run_by_slot(slot).unwrap().config.clone();
    let info = fixtures::run_info(&config, &format!("run{slot}"), PathBuf::from("/tmp/x"));
    app.on_event(AppEvent::Run {
        slot,
        event: Event::Started(Box::new(info)),
    });
}

fn finished(app: &mut App, slot: usize) -> Vec<Effect> {
    let info = app.run_by_slot(slot).unwrap().info.clone().unwrap();
    let m = fixtures::epoch(&info, info.total_epochs, 1.0);
    let inv = fixtures::invariance(&info, info.total_epochs, 1.0);
    app.on_event(AppEvent::Run {
        slot,
        event: Event::Finished(Box::new(fixtures::summary(&info, &m, &inv))),
    })
}

#[test]
fn starting_spawns_then_enqueues() {
    let mut app = app();
    let e = ch(&mut app, 's');
    assert_eq!(spawned(&e), vec![0]);
    assert_eq!(app.runs[0].status, RunStatus::Starting);
    // Enter also starts; with one active the second waits.
    let e = key(&mut app, KeyCode::Enter);
    assert!(spawned(&e).is_empty());
    assert_eq!(app.runs[1].status, RunStatus::Queued);
    started(&mut app, 0);
    assert_eq!(app.runs[0].status, RunStatus::Running);
    assert_eq!(app.runs[0].name, "run0");
}

#[test]
fn queue_advances_one_at_a_time_on_terminal_events() {
    let mut app = app();
    ch(&mut app, 's');
    ch(&mut app, 's');
    ch(&mut app, 's');
    started(&mut app, 0);
    let e = finished(&mut app, 0);
    assert_eq!(spawned(&e), vec![1]);
    assert_eq!(app.runs[0].status, RunStatus::Done);
    assert!(app.runs[0].summary.is_some());
    assert_eq!(app.runs[1].status, RunStatus::Starting);
    assert_eq!(app.runs[2].status, RunStatus::Queued);
    assert_eq!(app.selected, 1, "follows the newly started run");
    let e = app.on_event(AppEvent::Run {
        slot: 1,
        event: Event::Failed {
            message: "no data".into(),
        },
    });
    assert_eq!(spawned(&e), vec![2]);
    assert_eq!(app.runs[1].status, RunStatus::Failed("no data".into()));
    assert_eq!(app.runs[1].status.label(), "failed: no data");
}

#[test]
fn pause_and_resume_send_the_right_controls() {
    let mut app = app();
    ch(&mut app, 's');
    started(&mut app, 0);
    assert_eq!(controls(&ch(&mut app, 'p')), vec![(0, Control::Pause)]);
    app.on_event(AppEvent::Run {
        slot: 0,
        event: Event::Paused,
    });
    assert_eq!(app.runs[0].status, RunStatus::Paused);
    assert_eq!(controls(&ch(&mut app, 'p')), vec![(0, Control::Resume)]);
    app.on_event(AppEvent::Run {
        slot: 0,
        event: Event::Resumed,
    });
    assert_eq!(app.runs[0].status, RunStatus::Running);
    assert_eq!(controls(&ch(&mut app, 'p')), vec![(0, Control::Pause)]);
    // A second p before the worker pauses takes the request back.
    assert_eq!(controls(&ch(&mut app, 'p')), vec![(0, Control::Resume)]);
}

#[test]
fn pause_with_nothing_running_does_nothing() {
    let mut app = app();
    assert!(ch(&mut app, 'p').is_empty());
    assert!(app.message.as_ref().unwrap().error);
}

#[test]
fn stop_needs_confirmation() {
    let mut app = app();
    ch(&mut app, 's');
    started(&mut app, 0);
    assert!(ch(&mut app, 'x').is_empty());
    assert_eq!(app.prompt, Some(Prompt::ConfirmStop(0)));
    // No keeps it running.
    assert!(ch(&mut app, 'n').is_empty());
    assert_eq!(app.prompt, None);
    assert_eq!(app.runs[0].status, RunStatus::Running);
    ch(&mut app, 'x');
    // Other keys are swallowed while asking.
    assert!(ch(&mut app, 'p').is_empty());
    assert_eq!(controls(&ch(&mut app, 'y')), vec![(0, Control::Stop)]);
    assert_eq!(app.runs[0].status, RunStatus::Stopping);
    app.on_event(AppEvent::Run {
        slot: 0,
        event: Event::Stopped { epochs_done: 3 },
    });
    assert_eq!(app.runs[0].status, RunStatus::Stopped { epochs_done: 3 });
}

#[test]
fn stop_on_a_queued_run_drops_it() {
    let mut app = app();
    ch(&mut app, 's');
    ch(&mut app, 's');
    assert_eq!(app.selected, 1);
    ch(&mut app, 'x');
    assert_eq!(app.prompt, None);
    assert_eq!(app.runs.len(), 1);
}

#[test]
fn quit_with_active_run_asks_then_stops_cleanly() {
    let mut app = app();
    ch(&mut app, 's');
    ch(&mut app, 's');
    started(&mut app, 0);
    assert!(ch(&mut app, 'q').is_empty());
    assert_eq!(app.prompt, Some(Prompt::ConfirmQuit));
    let e = ch(&mut app, 'y');
    assert_eq!(controls(&e), vec![(0, Control::Stop)]);
    assert!(!app.should_exit, "waits for the run to stop");
    assert_eq!(app.runs.len(), 1, "the queue is dropped");
    let e = app.on_event(AppEvent::Run {
        slot: 0,
        event: Event::Stopped { epochs_done: 1 },
    });
    assert!(e.is_empty());
    assert!(app.should_exit);
}

#[test]
fn quit_when_idle_exits_at_once() {
    let mut app = app();
    let e = ch(&mut app, 'q');
    assert!(e.is_empty());
    assert!(app.should_exit);
}

#[test]
fn ctrl_c_quits_without_asking() {
    let mut app = app();
    ch(&mut app, 's');
    started(&mut app, 0);
    let e = app.on_event(AppEvent::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(controls(&e), vec![(0, Control::Stop)]);
    assert!(app.quitting);
}

#[test]
fn duplicate_copies_config_into_form() {
    let mut app = app();
    app.form.config.seed = 7;
    app.form.config.data.imbalance = 50.0;
    app.form.config.name = "seven".into();
    ch(&mut app, 's');
    app.apply(Command::ResetForm);
    assert_eq!(app.form.config.seed, 0);
    app.focus = Pane::Runs;
    ch(&mut app, 'd');
    assert_eq!(app.form.config.seed, 7);
    assert_eq!(app.form.config.data.imbalance, 50.0);
    assert_eq!(app.form.config.name, "seven");
    assert_eq!(app.focus, Pane::Setup);
}

#[test]
fn compare_needs_two_marked_runs() {
    let mut app = app();
    ch(&mut app, 's');
    ch(&mut app, 's');
    app.focus = Pane::Runs;
    ch(&mut app, 'c');
    assert!(!app.compare);
    assert!(app.message.as_ref().unwrap().error);
    ch(&mut app, 'm');
    ch(&mut app, 'c');
    assert!(!app.compare);
    key(&mut app, KeyCode::Up);
    ch(&mut app, ' ');
    ch(&mut app, 'c');
    assert!(app.compare);
    // Unmarking one ends the comparison.
    ch(&mut app, 'm');
    assert!(!app.compare);
}

#[test]
fn key_releases_are_ignored() {
    let mut app = app();
    let mut k = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE);
    k.kind = KeyEventKind::Release;
    assert!(app.on_event(AppEvent::Key(k)).is_empty());
    assert!(app.runs.is_empty());
}

#[test]
fn help_opens_and_any_key_closes() {
    let mut app = app();
    ch(&mut app, '?');
    assert!(app.help);
    // While help is open, 's' does not start a run.
    ch(&mut app, 's');
    assert!(!app.help);
    assert!(app.runs.is_empty());
}

#[test]
fn tab_cycles_panes_and_arrows_edit_form() {
    let mut app = app();
    assert_eq!(app.focus, Pane::Setup);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Pane::Data);
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Pane::Invariance);
    key(&mut app, KeyCode::Tab);
    // Down to Dataset (Config, Name, Dataset), right cycles it.
    ch(&mut app, 'j');
    ch(&mut app, 'j');
    ch(&mut app, 'l');
    assert_eq!(
        app.form.config.data.dataset,
        invlab_core::config::DatasetName::Mnist
    );
    ch(&mut app, 'h');
    assert_eq!(
        app.form.config.data.dataset,
        invlab_core::config::DatasetName::Glyphs
    );
}

#[test]
fn typing_a_field_and_an_invalid_start() {
    let mut app = app();
    // Epochs field.
    while app.form.current() != crate::form::Field::Epochs {
        ch(&mut app, 'j');
    }
    ch(&mut app, 'e');
    assert_eq!(app.key_mode(), KeyMode::Text);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    ch(&mut app, '3');
    // 's' is text here, not start.
    ch(&mut app, 's');
    assert!(app.runs.is_empty());
    key(&mut app, KeyCode::Enter);
    assert!(app.message.as_ref().unwrap().error, "3s is not a number");
    ch(&mut app, 'e');
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    ch(&mut app, '3');
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.form.config.train.epochs, 3);
    // Oracle with no transform is refused at start, naming the field.
    app.form.config.data.transform = invlab_core::config::TransformKind::None;
    app.form.config.method.augment = invlab_core::config::Augment::Oracle;
    assert!(ch(&mut app, 's').is_empty());
    assert!(app
        .message
        .as_ref()
        .unwrap()
        .text
        .contains("method.augment"));
}

#[test]
fn save_as_writes_toml_and_lists_it() {
    let mut app = app();
    ch(&mut app, 'w');
    assert_eq!(app.key_mode(), KeyMode::Text);
    for _ in 0.."default".len() {
        key(&mut app, KeyCode::Backspace);
    }
    for c in "k49-rot".chars() {
        ch(&mut app, c);
    }
    let e = key(&mut app, KeyCode::Enter);
    match e.as_slice() {
        [Effect::SaveConfig { path, text }] => {
            assert!(path.ends_with("configs/k49-rot.toml"));
            let back = RunConfig::from_toml_str(text, "saved", &[]).unwrap();
            assert_eq!(back, app.form.config);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(app.form.value(crate::form::Field::Config), "k49-rot");
}

#[test]
fn live_events_fill_the_panes_data() {
    let mut app = app();
    ch(&mut app, 's');
    started(&mut app, 0);
    let info = app.runs[0].info.clone().unwrap();
    app.on_event(AppEvent::Run {
        slot: 0,
        event: Event::Batch {
            epoch: 1,
            batch: 10,
            batches: 20,
            loss: 2.0,
        },
    });
    assert_eq!(app.runs[0].batch_losses, vec![(0.5, 2.0)]);
    let mut m = fixtures::epoch(&info, 1, 1.0);
    m.invariance = Some(fixtures::invariance(&info, 1, 1.0));
    app.on_event(AppEvent::Run {
        slot: 0,
        event: Event::Epoch(Box::new(m)),
    });
    assert_eq!(app.runs[0].epochs_done(), 1);
    assert!(app.runs[0].invariance.is_some());
    // 49 epochs left at 15 s each.
    assert_eq!(app.runs[0].eta_seconds(), Some(49.0 * 15.0));
}

#[test]
fn history_loads_finished_and_killed_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let config = RunConfig {
        train: invlab_core::config::TrainConfig {
            epochs: 4,
            ..Default::default()
        },
        ..Default::default()
    };
    // A finished run: every file.
    let done = tmp.path().join("20260101-000000-done");
    std::fs::create_dir_all(&done).unwrap();
    let info = fixtures::run_info(&config, "20260101-000000-done", done.clone());
    let mut lines = String::new();
    let mut last = None;
    for e in 1..=4 {
        let m = fixtures::epoch(&info, e, 1.0);
        lines.push_str(&serde_json::to_string(&m).unwrap());
        lines.push('\n');
        last = Some(m);
    }
    let inv = fixtures::invariance(&info, 4, 1.0);
    let summary = fixtures::summary(&info, last.as_ref().unwrap(), &inv);
    std::fs::write(done.join("config.toml"), config.to_toml().unwrap()).unwrap();
    std::fs::write(done.join("run.json"), serde_json::to_string(&info).unwrap()).unwrap();
    std::fs::write(done.join("metrics.jsonl"), &lines).unwrap();
    std::fs::write(
        done.join("summary.json"),
        serde_json::to_string(&summary).unwrap(),
    )
    .unwrap();
    let state = |status: &str, done: usize, updated: u64| {
        format!(
            r#"{{"status":"{status}","checkpoint_epoch":{done},"epochs_done":{done},"total_epochs":4,"message":"","updated":{updated}}}"#
        )
    };
    std::fs::write(done.join("state.json"), state("finished", 4, 100)).unwrap();
    // A killed run: two epochs, the last line cut short, no summary.
    let killed = tmp.path().join("20260102-000000-killed");
    std::fs::create_dir_all(&killed).unwrap();
    std::fs::write(killed.join("config.toml"), config.to_toml().unwrap()).unwrap();
    let partial: String =
        lines.lines().take(2).collect::<Vec<_>>().join("\n") + "\n{\"epoch\": 3, \"tot";
    std::fs::write(killed.join("metrics.jsonl"), partial).unwrap();
    // The process died while the state still said running.
    std::fs::write(killed.join("state.json"), state("running", 2, 200)).unwrap();
    // A failed run (named to sort first by name, but updated last).
    let failed = tmp.path().join("a-failed");
    std::fs::create_dir_all(&failed).unwrap();
    std::fs::write(failed.join("config.toml"), config.to_toml().unwrap()).unwrap();
    std::fs::write(
        failed.join("state.json"),
        state("failed", 0, 300).replace(r#""message":"""#, r#""message":"no data""#),
    )
    .unwrap();
    // Not a run at all.
    std::fs::create_dir_all(tmp.path().join("junk")).unwrap();

    let runs = load_history(tmp.path());
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[2].status, RunStatus::Failed("no data".into()));
    assert_eq!(runs[0].status, RunStatus::Done);
    assert_eq!(runs[0].epochs.len(), 4);
    assert!(runs[0].invariance.is_some(), "eKLD from the summary");
    assert_eq!(runs[0].train_sizes().unwrap(), info.train_sizes);
    assert_eq!(runs[1].status, RunStatus::Killed { epochs_done: 2 });
    assert!(runs[1].summary.is_none());

    let mut setup = AppSetup::plain(tmp.path().to_path_buf());
    setup.history = runs;
    let mut app = App::new(setup);
    assert_eq!(app.selected, 2);
    // New runs get fresh slots after the history.
    let e = ch(&mut app, 's');
    assert_eq!(spawned(&e), vec![3]);
    // Duplicate from history works too.
    app.selected = 0;
    app.form.config.seed = 99;
    ch(&mut app, 'd');
    assert_eq!(app.form.config.train.epochs, 4);
    assert_eq!(app.form.config.seed, 0);
}

#[test]
fn unknown_theme_is_reported_and_t_cycles() {
    let (themes, _) = crate::theme::load_all(None);
    let mut setup = AppSetup::plain(PathBuf::from("/tmp/none"));
    setup.themes = themes;
    setup.theme = Some("neon".into());
    let mut app = App::new(setup);
    assert!(app.message.as_ref().unwrap().text.contains("neon"));
    assert_eq!(app.theme().name, "dark");
    ch(&mut app, 't');
    assert_eq!(app.theme().name, "light");
}

#[test]
fn messages_fade_on_ticks_and_errors_last_longer() {
    let mut app = app();
    ch(&mut app, 't');
    assert!(app.message.is_some());
    for _ in 0..24 {
        app.on_event(AppEvent::Tick);
    }
    assert!(app.message.is_none());
    ch(&mut app, 'p'); // an error: nothing to pause
    for _ in 0..24 {
        app.on_event(AppEvent::Tick);
    }
    assert!(app.message.as_ref().unwrap().error);
}

#[test]
fn resume_a_stopped_run_from_its_directory() {
    let mut app = app();
    ch(&mut app, 's');
    started(&mut app, 0);
    ch(&mut app, 'x');
    ch(&mut app, 'y');
    app.on_event(AppEvent::Run {
        slot: 0,
        event: Event::Stopped { epochs_done: 2 },
    });
    let e = key(&mut app, KeyCode::Char('R'));
    match e.as_slice() {
        [Effect::Spawn {
            slot: 0,
            request: RunRequest::Resume { dir },
            ..
        }] => assert_eq!(dir, &PathBuf::from("/tmp/x")),
        other => panic!("{other:?}"),
    }
    assert_eq!(app.runs[0].status, RunStatus::Starting);
    // A finished run cannot be resumed.
    started(&mut app, 0);
    finished(&mut app, 0);
    assert!(key(&mut app, KeyCode::Char('R')).is_empty());
    assert!(app.message.as_ref().unwrap().error);
}

#[test]
fn x_on_a_finished_run_asks_then_trashes_its_directory() {
    let mut app = App::new(AppSetup::plain(PathBuf::from("/data/invlab/runs")));
    ch(&mut app, 's');
    started(&mut app, 0);
    finished(&mut app, 0);
    assert_eq!(app.runs[0].status, RunStatus::Done);
    assert!(ch(&mut app, 'x').is_empty());
    assert_eq!(app.prompt, Some(Prompt::ConfirmDelete(0)));
    // No keeps it.
    ch(&mut app, 'n');
    assert_eq!(app.prompt, None);
    ch(&mut app, 'x');
    let effects = ch(&mut app, 'y');
    match &effects[..] {
        [Effect::Trash { slot, dir, trash }] => {
            assert_eq!(*slot, 0);
            assert_eq!(dir, &PathBuf::from("/tmp/x"));
            assert_eq!(trash, &PathBuf::from("/data/invlab/trash"));
        }
        other => panic!("{other:?}"),
    }
    // The entry goes only once the move is done; a failed move keeps it and says why.
    assert_eq!(app.runs.len(), 1);
    app.on_event(AppEvent::Trashed {
        slot: 0,
        result: Err(crate::error::LabError::from(
            crate::error::FileError::Move {
                from: PathBuf::from("/tmp/x"),
                to: PathBuf::from("/data/invlab/trash/x"),
                source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
            },
        )),
    });
    assert_eq!(app.runs.len(), 1);
    assert!(app.message.as_ref().unwrap().error);
    app.on_event(AppEvent::Trashed {
        slot: 0,
        result: Ok(PathBuf::from("/data/invlab/trash/run0")),
    });
    assert!(app.runs.is_empty());
    assert!(app.message.as_ref().unwrap().text.contains("trash/run0"));
}

#[test]
fn e_evaluates_the_selected_runs_checkpoint_once_at_a_time() {
    let mut app = app();
    // Nothing selected yet.
    assert!(ch(&mut app, 'E').is_empty());
    assert!(app.message.as_ref().unwrap().error);
    ch(&mut app, 's');
    started(&mut app, 0);
    finished(&mut app, 0);
    let threads = app.threads_per_run();
    match ch(&mut app, 'E').as_slice() {
        [Effect::Evaluate {
            slot: 0,
            dir,
            threads: t,
        }] => {
            assert_eq!(dir, &PathBuf::from("/tmp/x"));
            assert_eq!(*t, threads);
        }
        other => panic!("{other:?}"),
    }
    assert!(app
        .message
        .as_ref()
        .unwrap()
        .text
        .contains("/tmp/x/eval-checkpoint"));
    // A second E while it runs is refused, naming why; so is trashing the run.
    assert!(ch(&mut app, 'E').is_empty());
    assert!(app.message.as_ref().unwrap().text.contains("already"));
    ch(&mut app, 'x');
    assert!(ch(&mut app, 'y').is_empty());
    assert!(app
        .message
        .as_ref()
        .unwrap()
        .text
        .contains("being evaluated"));
    // Its result is said (an error as an error), and E works again.
    app.on_event(AppEvent::Evaluated {
        slot: 0,
        result: Err(crate::error::LabError::from(
            invlab_engine::evaluation::EvalError::BadInput(
                "/tmp/x has no checkpoint to evaluate".into(),
            ),
        )),
    });
    let m = app.message.as_ref().unwrap();
    assert!(
        m.error && m.text.contains("evaluation: /tmp/x has no checkpoint"),
        "{}",
        m.text
    );
    assert!(app.evaluating.is_empty());
    assert_eq!(ch(&mut app, 'E').len(), 1);
    app.on_event(AppEvent::Evaluated {
        slot: 0,
        result: Ok("run0 epoch 2/2: balanced acc 0.500".into()),
    });
    let m = app.message.as_ref().unwrap();
    assert!(!m.error && m.text.contains("balanced acc 0.500"));
}

#[test]
fn x_on_an_active_run_still_asks_to_stop_and_a_stopped_one_can_go() {
    let mut app = app();
    ch(&mut app, 's');
    started(&mut app, 0);
    ch(&mut app, 'x');
    assert_eq!(app.prompt, Some(Prompt::ConfirmStop(0)));
    ch(&mut app, 'y');
    ch(&mut app, 'x');
    assert_eq!(app.prompt, None, "already stopping: nothing to ask");
    app.on_event(AppEvent::Run {
        slot: 0,
        event: Event::Stopped { epochs_done: 1 },
    });
    ch(&mut app, 'x');
    assert_eq!(app.prompt, Some(Prompt::ConfirmDelete(0)));
}

#[test]
fn the_trash_sits_beside_the_runs_folder() {
    let app = App::new(AppSetup::plain(PathBuf::from("runs")));
    assert_eq!(app.trash_dir(), PathBuf::from("trash"));
    let app = App::new(AppSetup::plain(PathBuf::from("/d/invlab/runs")));
    assert_eq!(app.trash_dir(), PathBuf::from("/d/invlab/trash"));
}

#[test]
fn a_shutdown_signal_stops_active_runs_then_exits() {
    let mut app = app();
    ch(&mut app, 's');
    ch(&mut app, 's');
    started(&mut app, 0);
    let effects = app.on_event(AppEvent::Shutdown(Signal::Term));
    assert_eq!(controls(&effects), vec![(0, Control::Stop)]);
    assert!(!app.should_exit);
    assert_eq!(app.runs.len(), 1, "the queue is dropped");
    assert!(app.message.as_ref().unwrap().text.contains("SIGTERM"));
    // A second signal sends no second stop.
    assert!(controls(&app.on_event(AppEvent::Shutdown(Signal::Term))).is_empty());
    let effects = app.on_event(AppEvent::Run {
        slot: 0,
        event: Event::Stopped { epochs_done: 1 },
    });
    assert!(app.should_exit);
    assert!(effects.is_empty());
    // With nothing running, a signal exits at once.
    let mut idle = self::app();
    assert!(idle.on_event(AppEvent::Shutdown(Signal::Hup)).is_empty());
    assert!(idle.should_exit);
}

#[test]
fn mouse_commands_focus_and_select() {
    let mut app = app();
    ch(&mut app, 's');
    ch(&mut app, 's');
    app.apply(Command::Focus(Pane::Runs));
    app.apply(Command::SelectRun(0));
    assert_eq!((app.focus, app.selected), (Pane::Runs, 0));
    app.apply(Command::SelectRun(9));
    assert_eq!(app.selected, 0, "out of range: ignored");
    app.apply(Command::SelectField(2));
    assert_eq!(app.form.field, 2);
}

#[test]
fn left_right_in_the_invariance_pane_move_the_class_cursor() {
    let mut app = app();
    ch(&mut app, 's');
    started(&mut app, 0);
    finished(&mut app, 0);
    app.focus = Pane::Invariance;
    assert_eq!(app.class_cursor, 0, "the largest class");
    key(&mut app, KeyCode::Right);
    assert_eq!(app.class_cursor, 0, "nothing larger");
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    assert_eq!(app.class_cursor, 2);
    for _ in 0..100 {
        key(&mut app, KeyCode::Left);
    }
    assert_eq!(app.class_cursor, 48, "stops at the smallest of 49");
    assert_eq!(app.selected, 0, "the run selection did not move");
}

fn build_requests(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::BuildPreview { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_data_preview_is_built_when_shown_debounced_and_cached() {
    use invlab_engine::data_preview::preview_key;
    let mut app = app();
    // Not shown: nothing is built.
    assert!(build_requests(&app.on_event(AppEvent::Tick)).is_empty());
    assert!(build_requests(&app.on_event(AppEvent::Tick)).is_empty());
    app.apply(Command::Focus(Pane::Data));
    assert!(matches!(app.preview_view(), PreviewView::Building(None)));
    // One quiet tick, then a request.
    assert!(build_requests(&app.on_event(AppEvent::Tick)).is_empty());
    let key = preview_key(&app.form.config);
    assert_eq!(
        build_requests(&app.on_event(AppEvent::Tick)),
        vec![key.clone()]
    );
    // One at a time.
    assert!(build_requests(&app.on_event(AppEvent::Tick)).is_empty());
    app.on_event(AppEvent::Preview {
        key: key.clone(),
        result: Err(crate::error::LabError::from(
            invlab_engine::data_preview::PreviewError::Data(invlab_engine::data::DataError::new(
                "/data/cifar-10",
                "no cifar-10 files found",
            )),
        )),
    });
    assert!(
        matches!(app.preview_view(), PreviewView::Failed(e) if e.to_string().contains("cifar"))
    );
    // A data change asks again after it settles; changing back shows the cached result.
    app.form.config.data.transform = invlab_core::config::TransformKind::Bg;
    let bg = preview_key(&app.form.config);
    assert_ne!(bg, key);
    assert!(build_requests(&app.on_event(AppEvent::Tick)).is_empty());
    app.form.config.data.transform = invlab_core::config::TransformKind::Dil;
    assert!(
        build_requests(&app.on_event(AppEvent::Tick)).is_empty(),
        "still changing"
    );
    let dil = preview_key(&app.form.config);
    assert_eq!(build_requests(&app.on_event(AppEvent::Tick)), vec![dil]);
    app.form.config.data.transform = invlab_core::config::TransformKind::Rot;
    assert!(matches!(app.preview_view(), PreviewView::Failed(_)));
    // Changing a non-data field does not touch the preview.
    app.form.config.train.epochs = 3;
    assert_eq!(preview_key(&app.form.config), key);
}

#[test]
fn a_finished_run_asks_for_its_figures_and_a_stopped_one_does_not() {
    let mut app = app();
    ch(&mut app, 's');
    started(&mut app, 0);
    let effects = finished(&mut app, 0);
    let figures: Vec<&PathBuf> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::WriteFigures { dir } => Some(dir),
            _ => None,
        })
        .collect();
    assert_eq!(figures, vec![&PathBuf::from("/tmp/x")]);

    ch(&mut app, 's');
    started(&mut app, 1);
    let effects = app.on_event(AppEvent::Run {
        slot: 1,
        event: Event::Stopped { epochs_done: 1 },
    });
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::WriteFigures { .. })));
}

/// A run directory another process writes, with a heartbeat from `pid` on this host.
fn external_run(root: &std::path::Path, name: &str, pid: u32, epochs_done: usize) -> PathBuf {
    use invlab_core::heartbeat::{now_seconds, this_host, Heartbeat};
    use invlab_core::rundir::{RunDir, RunState, Status};
    let dir = RunDir {
        path: root.join(name),
    };
    std::fs::create_dir_all(&dir.path).unwrap();
    let config = invlab_core::config::RunConfig::default();
    dir.write_config(&config).unwrap();
    let info = fixtures::run_info(&config, name, dir.path.clone());
    let epochs: Vec<_> = (1..=epochs_done)
        .map(|e| fixtures::epoch(&info, e, 1.0))
        .collect();
    dir.write_metrics(&epochs).unwrap();
    dir.write_state(&RunState {
        status: Status::Running,
        checkpoint_epoch: epochs_done,
        epochs_done,
        generator_iteration: None,
        total_epochs: 10,
        message: String::new(),
        updated: 1,
        seconds: 0.0,
    })
    .unwrap();
    dir.write_heartbeat(&Heartbeat {
        pid,
        host: this_host(),
        phase: invlab_engine::Phase::Training,
        epoch: epochs_done + 1,
        total_epochs: 10,
        batch: 3,
        batches: 8,
        loss: Some(2.0),
        paused: false,
        updated: now_seconds(),
    })
    .unwrap();
    dir.path
}

#[test]
fn watched_runs_appear_advance_and_can_be_stopped_but_not_resumed_here() {
    let tmp = tempfile::tempdir().unwrap();
    let mut watcher = invlab_core::watch::RunWatcher::new(vec![tmp.path().to_path_buf()]);
    let mut app = App::new(AppSetup::plain(tmp.path().to_path_buf()));
    // This lab's own run, live: the watcher must never overwrite it.
    ch(&mut app, 's');
    started(&mut app, 0);
    app.runs[0].dir = Some(tmp.path().join("mine"));
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let theirs = external_run(tmp.path(), "theirs", child.id(), 2);
    external_run(tmp.path(), "mine", child.id(), 5);

    app.on_event(AppEvent::Watched(std::sync::Arc::new(watcher.poll())));
    assert_eq!(app.runs.len(), 2, "theirs added, mine untouched");
    assert_eq!(app.runs[0].status, RunStatus::Running);
    assert!(
        app.runs[0].epochs.is_empty(),
        "mine keeps its own events' view"
    );
    let run = &app.runs[1];
    assert_eq!(run.name, "theirs");
    assert_eq!(
        run.status,
        RunStatus::Elsewhere {
            pid: Some(child.id()),
            host: invlab_core::heartbeat::this_host()
        }
    );
    assert_eq!(run.epochs.len(), 2);
    assert_eq!(
        run.batch.unwrap().batch,
        3,
        "batch-level progress from the heartbeat"
    );
    let slot = run.slot;

    // It advances: one more epoch on disk.
    let config = invlab_core::config::RunConfig::default();
    let info = fixtures::run_info(&config, "theirs", theirs.clone());
    let epochs: Vec<_> = (1..=3).map(|e| fixtures::epoch(&info, e, 1.0)).collect();
    invlab_core::rundir::RunDir {
        path: theirs.clone(),
    }
    .write_metrics(&epochs)
    .unwrap();
    app.selected = 1;
    app.on_event(AppEvent::Watched(std::sync::Arc::new(watcher.poll())));
    assert_eq!(app.runs[1].epochs.len(), 3);
    assert_eq!(app.runs[1].slot, slot, "same entry, same place");
    assert_eq!(app.selected, 1);

    // R is refused (it would train twice); x asks, then sends SIGTERM to its pid.
    assert!(ch(&mut app, 'R').is_empty());
    assert!(app
        .message
        .as_ref()
        .unwrap()
        .text
        .contains("belongs to process"));
    assert!(ch(&mut app, 'x').is_empty());
    assert_eq!(
        app.prompt,
        Some(Prompt::ConfirmTerminate {
            slot,
            pid: child.id()
        })
    );
    let e = ch(&mut app, 'y');
    assert!(
        matches!(e.as_slice(), [Effect::Terminate { slot: s, pid }] if *s == slot && *pid == child.id()),
        "{e:?}"
    );

    // Its process dies: the next poll calls it killed, and then R resumes it here.
    child.kill().unwrap();
    child.wait().unwrap();
    app.on_event(AppEvent::Watched(std::sync::Arc::new(watcher.poll())));
    assert_eq!(app.runs[1].status, RunStatus::Killed { epochs_done: 3 });
    // The directory goes away: so does the entry.
    std::fs::remove_dir_all(&theirs).unwrap();
    app.on_event(AppEvent::Watched(std::sync::Arc::new(watcher.poll())));
    assert_eq!(app.runs.len(), 1);
    assert_eq!(app.selected, 0);
}

#[test]
fn j_runs_more_at_a_time_and_splits_the_cores() {
    let mut setup = AppSetup::plain(PathBuf::from("/tmp/invlab-test-runs"));
    setup.cores = 4;
    let mut app = App::new(setup);
    ch(&mut app, 's');
    let e = ch(&mut app, 's');
    assert!(spawned(&e).is_empty(), "one at a time: the second waits");
    let e = ch(&mut app, 'J');
    assert_eq!(app.max_parallel, 2);
    // The queued run starts at once, with half the cores.
    assert_eq!(spawned(&e), vec![1]);
    assert!(matches!(e[0], Effect::Spawn { threads: 2, .. }));
    assert!(app
        .message
        .as_ref()
        .unwrap()
        .text
        .contains("2 runs at a time, 2 threads each"));
    ch(&mut app, 'J');
    ch(&mut app, 'J');
    assert_eq!(app.max_parallel, 4);
    ch(&mut app, 'J');
    assert_eq!(app.max_parallel, 1, "back to one after the cores");
}

#[test]
fn slash_filters_the_run_list_by_name_and_config_field() {
    let mut setup = AppSetup::plain(PathBuf::from("/tmp/invlab-test-runs"));
    for (i, (name, rule)) in [
        ("k49-erm-seed0", invlab_core::config::Rule::None),
        ("k49-drs-seed0", invlab_core::config::Rule::Drs),
        ("glyphs-drs-seed1", invlab_core::config::Rule::Drs),
        ("k49-drs-seed1", invlab_core::config::Rule::Drs),
    ]
    .into_iter()
    .enumerate()
    {
        let mut config = invlab_core::config::RunConfig::default();
        config.method.rule = rule;
        config.seed = i as u64;
        let mut entry = RunEntry::new(i, name.into(), config);
        entry.status = RunStatus::Done;
        entry.from_history = true;
        setup.history.push(entry);
    }
    let mut app = App::new(setup);
    app.focus = Pane::Runs;
    ch(&mut app, '/');
    assert_eq!(app.key_mode(), KeyMode::Text);
    for c in "method.rule=drs k49".chars() {
        ch(&mut app, c);
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.visible_runs(), vec![1, 3]);
    assert_eq!(app.selected, 3, "the selection stays on a shown run");
    assert!(app
        .message
        .as_ref()
        .unwrap()
        .text
        .starts_with("2 of 4 runs match"));
    // Up skips the hidden glyphs run.
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected, 1);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected, 1);
    // A typo in a field is refused, and the old filter stays.
    ch(&mut app, '/');
    for _ in 0..30 {
        key(&mut app, KeyCode::Backspace);
    }
    for c in "rule=drs".chars() {
        ch(&mut app, c);
    }
    key(&mut app, KeyCode::Enter);
    assert!(app.message.as_ref().unwrap().error);
    assert_eq!(app.visible_runs(), vec![1, 3]);
    // An empty filter lists everything again.
    ch(&mut app, '/');
    for _ in 0..30 {
        key(&mut app, KeyCode::Backspace);
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.visible_runs(), vec![0, 1, 2, 3]);
}

#[test]
fn a_paste_is_one_event_into_the_open_field_capped_and_never_commands() {
    let mut app = app();
    // Nothing open: ignored, no run started by the `s` inside.
    let e = app.on_event(AppEvent::Paste("sssss\nxq".into()));
    assert!(e.is_empty());
    assert!(app.runs.is_empty());
    assert!(app
        .message
        .as_ref()
        .unwrap()
        .text
        .contains("pasted text ignored"));
    // Into a field: the first line, control characters dropped, capped.
    ch(&mut app, '/');
    app.on_event(AppEvent::Paste("k49\tdrs\nsecond line".into()));
    assert_eq!(app.prompt, Some(Prompt::Filter("k49drs".into())));
    app.on_event(AppEvent::Paste("x".repeat(10_000)));
    match &app.prompt {
        Some(Prompt::Filter(buf)) => assert_eq!(buf.chars().count(), apply::MAX_TEXT_CHARS),
        other => panic!("{other:?}"),
    }
    assert!(app.message.as_ref().unwrap().text.contains("cut at 200"));
    // Typing stops at the limit too.
    ch(&mut app, 'y');
    match &app.prompt {
        Some(Prompt::Filter(buf)) => assert!(!buf.ends_with('y')),
        other => panic!("{other:?}"),
    }
}

/// `--devices cuda:0,cuda:1` in the lab: each new run goes to the device with the fewest of the
/// lab's active runs, and a freed device is used again.
#[test]
fn the_lab_spreads_runs_over_its_devices() {
    use invlab_core::device::DeviceRequest;
    let mut setup = AppSetup::plain(PathBuf::from("/tmp/invlab-test-runs"));
    setup.devices = vec![DeviceRequest::Cuda(Some(0)), DeviceRequest::Cuda(Some(1))];
    setup.jobs = 3;
    setup.cores = 6;
    let mut app = App::new(setup);
    let placed = |e: &[Effect]| -> Vec<Option<DeviceRequest>> {
        e.iter()
            .filter_map(|e| match e {
                Effect::Spawn { device, .. } => Some(*device),
                _ => None,
            })
            .collect()
    };
    let mut devices = Vec::new();
    for _ in 0..3 {
        devices.extend(placed(&ch(&mut app, 's')));
    }
    assert_eq!(
        devices,
        vec![
            Some(DeviceRequest::Cuda(Some(0))),
            Some(DeviceRequest::Cuda(Some(1))),
            Some(DeviceRequest::Cuda(Some(0)))
        ]
    );
    // The run on cuda:1 ends: the next run goes there (cuda:0 still has two).
    started(&mut app, 1);
    finished(&mut app, 1);
    let e = ch(&mut app, 's');
    assert_eq!(placed(&e), vec![Some(DeviceRequest::Cuda(Some(1)))]);
    // Without --devices a run keeps its config's device.
    let mut plain = App::new(AppSetup::plain(PathBuf::from("/tmp/x")));
    assert_eq!(placed(&ch(&mut plain, 's')), vec![None]);
}
