//! Headless front end: runs configs (and sweep points) one after another through the same engine
//! as the lab, with progress on stderr and run directories as the results.
//!
//! `sweep` expands `--sweep` into points, `existing` decides what to do with a point whose
//! directory exists (`--continue`, `--index`), `signals` turns SIGTERM / SIGINT / SIGUSR1 into a
//! clean stop, `progress` prints.

mod existing;
mod progress;
mod signals;
mod sweep;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

pub(crate) use progress::{finished_line, Progress};
pub(crate) use signals::{signal_name, StopSignals};
pub(crate) use sweep::{sweep_points, Point};

use existing::Plan;
use invlab_core::config::RunConfig;
use invlab_engine::{self as engine, Event, RunRequest};

/// Exit codes, as documented in `--help`.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
/// Stopped by a signal (SIGTERM, SIGINT, SIGUSR1) with the run checkpointed and resumable: run
/// the command again (with `--resume DIR`, or the same `--index` / `--continue` command). The
/// value is sysexits' EX_TEMPFAIL, "try again later".
pub const EXIT_STOPPED: i32 = 75;

/// The result of one batch run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RunResult {
    Finished(PathBuf),
    Stopped(PathBuf),
    Failed(String),
}

/// Runs one request to its end, printing progress and (with `stream`) each epoch's metrics as
/// a JSON line on stdout. A stop signal (`signals`) is passed to the worker as `Control::Stop`.
pub(crate) fn run_one(
    request: RunRequest,
    signals: &StopSignals,
    stream: bool,
    progress: &mut Progress,
) -> RunResult {
    let (tx, rx) = mpsc::channel();
    let handle = engine::spawn(
        request,
        Box::new(move |e| {
            let _ = tx.send(e);
        }),
    );
    let mut name = String::from("run");
    let mut dir = PathBuf::new();
    let mut stop_sent = false;
    // The epoch under way and the run's length, for the progress bar.
    let (mut epoch, mut total_epochs) = (0, 0);
    let result = loop {
        if let (Some(sig), false) = (signals.received(), stop_sent) {
            handle.stop();
            stop_sent = true;
            progress.line(&format!(
                "[{name}] {}: stopping at the next batch boundary (a second signal ends at once)",
                signal_name(sig)
            ));
        }
        let event = match rx.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(e) => e,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break RunResult::Failed("the worker ended without a report".into())
            }
        };
        match event {
            Event::Started(info) => {
                name = info.run_id.clone();
                dir = info.dir.clone();
                total_epochs = info.total_epochs;
                epoch = info.resumed_at.unwrap_or(0) + 1;
                let sizes = &info.train_sizes;
                let (max, min) = (
                    sizes.iter().max().copied().unwrap_or(0),
                    sizes.iter().min().copied().unwrap_or(0),
                );
                progress.line(&format!(
                    "[{name}] {} classes, {} training images (n_max {max}, n_min {min}), {} test images; device {}; libtorch {}{}",
                    info.num_classes,
                    sizes.iter().sum::<usize>(),
                    info.test_sizes.iter().sum::<usize>(),
                    info.device,
                    info.libtorch_version,
                    info.resumed_at.map(|e| format!("; resuming after epoch {e}")).unwrap_or_default(),
                ));
                progress.line(&format!("[{name}] directory {}", info.dir.display()));
                progress.start(&name);
            }
            Event::Phase(phase) => progress.phase(phase, epoch, total_epochs),
            Event::Batch {
                epoch: e,
                batch,
                batches,
                loss,
            } => {
                epoch = e;
                progress.batch(e, total_epochs, batch, batches, loss);
            }
            Event::Generator(g) => progress.generator(&name, &g),
            Event::Epoch(m) => {
                epoch = m.epoch + 1;
                progress.epoch(&name, &m);
                if stream {
                    if let Ok(line) = serde_json::to_string(&*m) {
                        println!("{line}");
                    }
                }
            }
            Event::Paused => progress.line(&format!("[{name}] paused")),
            Event::Finished(s) => {
                // Figures are a post-run step of the front end. One that cannot be drawn is not
                // a failed run: the data behind it is already on disk.
                if let Err(e) = invlab_report::write_run_figures(&dir) {
                    progress.line(&format!("[{name}] figures not written: {e}"));
                }
                progress.clear();
                progress.line(&finished_line(&name, &s));
                break RunResult::Finished(dir.clone());
            }
            Event::Stopped { epochs_done } => {
                progress.clear();
                progress.line(&format!(
                    "[{name}] stopped with {epochs_done} epochs checkpointed; continue with: invlab --batch --resume {}",
                    dir.display()
                ));
                break RunResult::Stopped(dir.clone());
            }
            Event::Failed { message } => {
                progress.clear();
                progress.line(&format!("[{name}] failed: {message}"));
                break RunResult::Failed(message);
            }
            Event::Invariance(_) | Event::Resumed => {}
        }
    };
    handle.join();
    result
}

/// The whole `--batch` invocation. Returns the process exit code.
pub fn main(cli: &crate::cli::Cli, runs_dir: &Path) -> i32 {
    let signals = StopSignals::install().unwrap_or_else(|e| {
        eprintln!("invlab: {e}; that signal will end the process without a clean stop");
        StopSignals::default()
    });
    let mut progress = Progress::stderr();
    if let Some(dir) = &cli.resume {
        let _lock = match existing::lock_dir(dir) {
            Ok(lock) => lock,
            Err(e) => {
                eprintln!("invlab: {e}");
                return EXIT_FAILED;
            }
        };
        let request = RunRequest::Resume { dir: dir.clone() };
        return match run_one(request, &signals, cli.stream, &mut progress) {
            RunResult::Finished(d) => {
                println!("{}", d.display());
                0
            }
            RunResult::Stopped(_) => EXIT_STOPPED,
            RunResult::Failed(_) => EXIT_FAILED,
        };
    }
    if cli.configs.is_empty() {
        eprintln!("invlab: --batch needs at least one CONFIG file (e.g. configs/default.toml)");
        return EXIT_USAGE;
    }
    let points = match sweep_points(&cli.configs, &cli.overrides, &cli.sweeps) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("invlab: {e}");
            return EXIT_USAGE;
        }
    };
    if cli.list {
        for (i, p) in points.iter().enumerate() {
            println!("{i}\t{}\t{}", p.config.display(), p.overrides.join(" "));
        }
        return 0;
    }
    let selected: Vec<&Point> = match cli.index {
        Some(i) if i >= points.len() => {
            eprintln!(
                "invlab: --index {i} is out of range: there are {} sweep points (0..{})",
                points.len(),
                points.len() - 1
            );
            return EXIT_USAGE;
        }
        Some(i) => vec![&points[i]],
        None => points.iter().collect(),
    };
    // Validate everything before the first run starts, so a typo never costs a finished run.
    let mut configs = Vec::new();
    for p in &selected {
        match RunConfig::load(&p.config, &p.overrides) {
            Ok(c) => configs.push(c),
            Err(e) => {
                eprintln!("invlab: {e}");
                return EXIT_USAGE;
            }
        }
    }
    // A job-array task (or a requeued job) continues its own run directories.
    let continue_existing = cli.continue_existing || cli.index.is_some();
    let mut code = 0;
    for config in configs {
        if let Some(sig) = signals.received() {
            eprintln!(
                "invlab: {} received; not starting {}",
                signal_name(sig),
                config.name
            );
            return EXIT_STOPPED;
        }
        let name = config.name.clone();
        let mut _claim = None;
        let request = if continue_existing {
            match existing::claim(runs_dir, &config) {
                Ok(claim) => {
                    let request = match &claim.plan {
                        Plan::Start => RunRequest::New {
                            config,
                            runs_dir: runs_dir.to_path_buf(),
                        },
                        Plan::Resume(dir) => {
                            progress.line(&format!(
                                "[{name}] continuing the unfinished run in {}",
                                dir.display()
                            ));
                            RunRequest::Resume { dir: dir.clone() }
                        }
                        Plan::AlreadyFinished(dir) => {
                            progress.line(&format!(
                                "[{name}] already finished in {}; skipped (move it away to run it again)",
                                dir.display()
                            ));
                            println!("{}", dir.display());
                            continue;
                        }
                    };
                    _claim = Some(claim);
                    request
                }
                Err(e) => {
                    eprintln!("invlab: {e}");
                    code = EXIT_FAILED;
                    continue;
                }
            }
        } else {
            RunRequest::New {
                config,
                runs_dir: runs_dir.to_path_buf(),
            }
        };
        match run_one(request, &signals, cli.stream, &mut progress) {
            RunResult::Finished(d) => println!("{}", d.display()),
            RunResult::Stopped(_) => return EXIT_STOPPED,
            RunResult::Failed(_) => code = EXIT_FAILED,
        }
    }
    code
}
