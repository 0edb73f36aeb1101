//! The runtime: carries out the App's `Effect`s. It owns the runs' `RunHandle`s and starts
//! the threads that do slow work off the UI thread (run workers, data previews, figures,
//! config saves, moves to the trash); each reports back through the `AppEvent` channel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use invlab_core::config::RunConfig;
use invlab_engine::RunHandle;

use crate::app::Effect;
use crate::error::{FileError, LabError};
use crate::event::AppEvent;

/// Carries out the App's effects: run workers, controls, file writes, trash, previews.
pub struct Runtime {
    tx: UnboundedSender<AppEvent>,
    handles: HashMap<usize, RunHandle>,
    /// Checkpoint evaluations in flight: set the flag to stop one (between forward batches).
    evaluations: Vec<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Runtime {
    pub fn new(tx: UnboundedSender<AppEvent>) -> Runtime {
        Runtime {
            tx,
            handles: HashMap::new(),
            evaluations: Vec::new(),
        }
    }

    pub fn execute(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Spawn {
                    slot,
                    request,
                    threads,
                    device,
                } => {
                    tracing::info!(slot, threads, "starting a run");
                    let tx = self.tx.clone();
                    // Called on the worker thread: an unbounded send never blocks it.
                    let sink: invlab_engine::EventSink = Box::new(move |event| {
                        let _ = tx.send(AppEvent::Run { slot, event });
                    });
                    // `auto`: the run's own config picks the device; the slot sets the threads.
                    let placed = invlab_engine::Slot {
                        device: device.unwrap_or(invlab_core::device::DeviceRequest::Auto),
                        threads,
                    };
                    self.handles.insert(
                        slot,
                        invlab_engine::spawn_on(request, Some(placed), None, sink),
                    );
                }
                Effect::Control { slot, control } => {
                    tracing::info!(slot, ?control, "control");
                    if let Some(h) = self.handles.get(&slot) {
                        h.send(control);
                    }
                }
                Effect::SaveConfig { path, text } => {
                    let tx = self.tx.clone();
                    spawn_named("invlab-save", move || {
                        let result = save_config(&path, &text).map_err(LabError::from);
                        let _ = tx.send(AppEvent::Saved(result));
                    });
                }
                Effect::Trash { slot, dir, trash } => {
                    let tx = self.tx.clone();
                    spawn_named("invlab-trash", move || {
                        let result = move_to_trash(&dir, &trash).map_err(LabError::from);
                        tracing::info!(slot, ?result, "trash {}", dir.display());
                        let _ = tx.send(AppEvent::Trashed { slot, result });
                    });
                }
                Effect::BuildPreview { key, config } => spawn_preview(self.tx.clone(), key, config),
                Effect::WriteFigures { dir } => spawn_figures(dir),
                Effect::Evaluate { slot, dir, threads } => {
                    let tx = self.tx.clone();
                    let stop = Arc::new(AtomicBool::new(false));
                    let flag = stop.clone();
                    let spawned = std::thread::Builder::new()
                        .name("invlab-eval".into())
                        .spawn(move || {
                            let result = evaluate(dir, threads, &flag);
                            tracing::info!(slot, ?result, "evaluation");
                            let _ = tx.send(AppEvent::Evaluated { slot, result });
                        });
                    match spawned {
                        Ok(handle) => self.evaluations.push((stop, handle)),
                        Err(e) => {
                            let _ = self.tx.send(AppEvent::Evaluated {
                                slot,
                                result: Err(LabError::Thread {
                                    what: "evaluation",
                                    reason: e.to_string(),
                                }),
                            });
                        }
                    }
                }
                Effect::Terminate { slot, pid } => {
                    let tx = self.tx.clone();
                    spawn_named("invlab-terminate", move || {
                        let sent = terminate(pid);
                        tracing::info!(slot, pid, sent, "SIGTERM to a watched run's process");
                        let _ = tx.send(AppEvent::Terminated { slot, pid, sent });
                    });
                }
            }
        }
        self.handles.retain(|_, h| !h.is_finished());
        self.evaluations.retain(|(_, h)| !h.is_finished());
    }

    /// True while a worker (or an evaluation) thread is alive.
    pub(crate) fn has_workers(&self) -> bool {
        self.handles.values().any(|h| !h.is_finished())
            || self.evaluations.iter().any(|(_, h)| !h.is_finished())
    }

    /// Sends `Stop` to every worker and waits (bounded) for them to end.
    pub fn shutdown(&mut self, limit: Duration) {
        let start = std::time::Instant::now();
        for h in self.handles.values() {
            h.stop();
        }
        for (stop, _) in &self.evaluations {
            stop.store(true, Ordering::Relaxed);
        }
        while self.has_workers() && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
        for (slot, h) in self.handles.drain() {
            if h.is_finished() {
                h.join();
            } else {
                tracing::warn!(slot, "worker still running at exit");
            }
        }
    }
}

/// `invlab eval RUN` with its defaults, figures included; a line saying what it found.
fn evaluate(dir: PathBuf, threads: usize, stop: &AtomicBool) -> Result<String, LabError> {
    let request = invlab_engine::evaluation::EvalRequest {
        run_dir: dir,
        threads: Some(threads),
        ..Default::default()
    };
    let output =
        invlab_engine::evaluation::evaluate(&request, &|_| {}, &|| stop.load(Ordering::Relaxed))?;
    invlab_report::finish_eval_folder(&output.dir, &output.record, &output.confusion)?;
    Ok(invlab_report::eval_line(&output.record, &output.dir))
}

/// Sends SIGTERM to `pid` on this host; true when the process existed and took the signal.
fn terminate(pid: u32) -> bool {
    use sysinfo::{Pid, ProcessesToUpdate, Signal, System};
    let pid = Pid::from_u32(pid);
    let Ok(mut system) = System::new() else {
        return false;
    };
    system.refresh_processes(ProcessesToUpdate::Some(&[pid]), true);
    system
        .process(pid)
        .and_then(|p| p.kill_with(Signal::Term))
        .unwrap_or(false)
}

/// Moves a run directory into `trash` (created if missing), under a fresh name when one of
/// the same name is there already. A rename, never a delete: the run can be brought back.
pub(crate) fn move_to_trash(dir: &Path, trash: &Path) -> Result<PathBuf, FileError> {
    let name = dir
        .file_name()
        .ok_or_else(|| FileError::NotARunDirectory(dir.to_path_buf()))?;
    std::fs::create_dir_all(trash).map_err(|source| FileError::Io {
        action: "create",
        path: trash.to_path_buf(),
        source,
    })?;
    let mut target = trash.join(name);
    let mut n = 2;
    while target.exists() {
        target = trash.join(format!("{}-{n}", name.to_string_lossy()));
        n += 1;
    }
    std::fs::rename(dir, &target).map_err(|source| FileError::Move {
        from: dir.to_path_buf(),
        to: target.clone(),
        source,
    })?;
    Ok(target)
}

/// Writes a config file atomically (its folder created if missing; an existing file is
/// replaced whole or not at all): the path written, or why not.
fn save_config(path: &Path, text: &str) -> Result<PathBuf, FileError> {
    let saving = |source| FileError::Io {
        action: "save",
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(saving)?;
    }
    invlab_core::atomic::write_atomic(path, text.as_bytes()).map_err(saving)?;
    Ok(path.to_path_buf())
}

/// Runs `job` on a named OS thread; a thread that cannot start is logged.
fn spawn_named(name: &str, job: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(job) {
        tracing::error!("cannot start the {name} thread: {e}");
    }
}

/// Draws a finished run's figures on their own OS thread (rendering SVG and PNG takes a moment).
/// A figure that cannot be drawn is not a failed run: the data behind it is on disk.
fn spawn_figures(dir: PathBuf) {
    spawn_named("invlab-figures", move || {
        if let Err(e) = invlab_report::write_run_figures(&dir) {
            tracing::warn!("figures for {} not written: {e}", dir.display());
        }
    });
}

/// Builds a data preview on its own OS thread (it prepares data and runs libtorch
/// transforms) and reports it as `AppEvent::Preview`.
fn spawn_preview(tx: UnboundedSender<AppEvent>, key: String, config: Box<RunConfig>) {
    spawn_named("invlab-preview", move || {
        let result = std::panic::catch_unwind(|| invlab_engine::data_preview::build(&config))
            .map_err(|_| LabError::Panicked("building the preview"))
            .and_then(|built| built.map_err(LabError::from))
            .map(Arc::new);
        if let Err(e) = &result {
            tracing::warn!("data preview: {e}");
        }
        let _ = tx.send(AppEvent::Preview { key, result });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trashing_moves_the_directory_under_a_fresh_name() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        let trash = tmp.path().join("trash");
        for _ in 0..2 {
            std::fs::create_dir_all(runs.join("r1")).unwrap();
            std::fs::write(runs.join("r1/summary.json"), "{}").unwrap();
            move_to_trash(&runs.join("r1"), &trash).unwrap();
            assert!(!runs.join("r1").exists());
        }
        assert!(trash.join("r1/summary.json").exists());
        assert!(trash.join("r1-2/summary.json").exists(), "no overwrite");
        let e = move_to_trash(&runs.join("gone"), &trash).unwrap_err();
        assert!(matches!(e, FileError::Move { .. }), "{e:?}");
        assert!(e.to_string().contains("gone"), "{e}");
    }

    #[test]
    fn saves_and_trash_moves_report_back_from_their_threads() {
        let tmp = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut runtime = Runtime::new(tx);
        let path = tmp.path().join("configs/a.toml");
        runtime.execute(vec![Effect::SaveConfig {
            path: path.clone(),
            text: "x = 1".into(),
        }]);
        match rx.blocking_recv() {
            Some(AppEvent::Saved(Ok(p))) => assert_eq!(p, path),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x = 1");
        std::fs::create_dir_all(tmp.path().join("runs/r1")).unwrap();
        runtime.execute(vec![Effect::Trash {
            slot: 3,
            dir: tmp.path().join("runs/r1"),
            trash: tmp.path().join("trash"),
        }]);
        match rx.blocking_recv() {
            Some(AppEvent::Trashed {
                slot: 3,
                result: Ok(to),
            }) => {
                assert_eq!(to, tmp.path().join("trash/r1"))
            }
            other => panic!("{other:?}"),
        }
    }
}
