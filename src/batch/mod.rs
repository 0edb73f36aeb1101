//! Headless front end: runs configs (and sweep points) through the same engine as the lab, as
//! many at a time as the scheduler's slots allow (`--jobs`, `--devices`, `--per-device`,
//! `--threads`), with progress on stderr and run directories as the results.
//!
//! `sweep` expands `--sweep` into points, `existing` decides what to do with a point whose
//! directory exists (`--continue`, `--index`) and locks it, `job` follows one run's events,
//! `signals` turns SIGTERM / SIGINT / SIGUSR1 into a clean stop, `progress` prints.

mod existing;
mod job;
mod output;
mod progress;
mod signals;
mod sweep;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) use progress::{finished_line, Progress};
pub(crate) use signals::{signal_name, StopSignals};
pub(crate) use sweep::{sweep_points, Point};

use crate::error::CliError;
use existing::Plan;
use invlab_core::config::RunConfig;
use invlab_core::device::DeviceRequest;
use invlab_core::lock::RunLock;
use invlab_core::schedule::{self, Scheduler, Slot, SlotRequest};
use invlab_engine::{self as engine, Event, RunRequest};
use job::Job;

/// The result of one batch run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RunResult {
    Finished(PathBuf),
    Stopped(PathBuf),
    Failed(String),
}

/// One piece of work for the scheduler.
#[derive(Debug)]
enum Work {
    /// A sweep point's config; `continue_existing` claims its directory first.
    Config {
        config: Box<RunConfig>,
        continue_existing: bool,
    },
    /// `--resume DIR`.
    Resume(PathBuf),
}

/// What the whole invocation came to.
#[derive(Debug, Default)]
struct Tally {
    failed: usize,
    stopped: usize,
}

/// Runs every piece of work on the slots, `slots.len()` at a time, until all have ended or a
/// stop signal drains the runs under way (the queued ones are then not started).
fn run_all(
    work: Vec<Work>,
    slots: Vec<Slot>,
    runs_dir: &Path,
    signals: &StopSignals,
    stream: bool,
    progress: &mut Progress,
) -> Tally {
    let (tx, rx) = mpsc::channel::<(usize, Event)>();
    let mut scheduler = Scheduler::new(slots, work.into_iter().enumerate());
    let mut jobs: Vec<Job> = Vec::new();
    let mut tally = Tally::default();
    let mut stopping = false;
    loop {
        if let (Some(sig), false) = (signals.received(), stopping) {
            stopping = true;
            let dropped = scheduler.cancel_queued();
            for job in &mut jobs {
                job.stop(progress, signal_name(sig));
            }
            if dropped > 0 {
                progress.line(&format!(
                    "invlab: {}: {dropped} queued run(s) not started",
                    signal_name(sig)
                ));
            }
        }
        // After a stop the queue is empty, so nothing more starts.
        while let Some((slot_index, slot, (id, work))) = scheduler.assign() {
            match start(id, work, slot, runs_dir, &tx, progress) {
                Ok(Some(job)) => jobs.push(job.on_slot(slot_index)),
                Ok(None) => scheduler.release(slot_index),
                Err(error) => {
                    progress.line(&format!("invlab: {error}"));
                    tally.failed += 1;
                    scheduler.release(slot_index);
                }
            }
        }
        if scheduler.is_done() {
            break;
        }
        let (id, event) = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(x) => x,
            Err(_) => continue,
        };
        let Some(at) = jobs.iter().position(|j| j.id == id) else {
            continue;
        };
        if let Some(result) = jobs[at].on_event(event, stream, progress) {
            let job = jobs.swap_remove(at);
            scheduler.release(job.slot_index);
            job.join();
            match result {
                RunResult::Finished(dir) => output::line(&dir.display().to_string()),
                RunResult::Stopped(_) => tally.stopped += 1,
                RunResult::Failed(_) => tally.failed += 1,
            }
        }
    }
    tally
}

/// Claims (with `--continue`) and starts one piece of work on `slot`; `None` when there is
/// nothing to run (already finished, or locked by another live process: each said why), an
/// error when the work cannot be done (refused directory, lock failure).
fn start(
    id: usize,
    work: Work,
    slot: Slot,
    runs_dir: &Path,
    tx: &mpsc::Sender<(usize, Event)>,
    progress: &mut Progress,
) -> Result<Option<Job>, existing::ClaimError> {
    let (request, lock, name) = match work {
        Work::Resume(dir) => {
            let lock = RunLock::for_dir(&dir)?;
            // A finished run is reported as finished and left byte-identical.
            let run = invlab_core::rundir::RunDir { path: dir.clone() };
            if run.read_state().map(|s| s.status) == Some(invlab_core::rundir::Status::Finished) {
                progress.line(&format!(
                    "[{}] already finished; nothing to resume",
                    dir.display()
                ));
                output::line(&dir.display().to_string());
                return Ok(None);
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into());
            (RunRequest::Resume { dir }, lock, name)
        }
        Work::Config {
            config,
            continue_existing: false,
        } => {
            let name = config.name.clone();
            let request = RunRequest::New {
                config: *config,
                runs_dir: runs_dir.to_path_buf(),
            };
            (request, None, name)
        }
        Work::Config {
            config,
            continue_existing: true,
        } => {
            let name = config.name.clone();
            let claim = match existing::claim(runs_dir, &config) {
                Ok(claim) => claim,
                Err(e) if e.is_held() => {
                    progress.line(&format!("[{name}] skipped: {e}"));
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            let request = match &claim.plan {
                Plan::Start => RunRequest::New {
                    config: *config,
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
                    output::line(&dir.display().to_string());
                    return Ok(None);
                }
            };
            (request, claim.lock, name)
        }
    };
    // A GPU slot places the run (a config that asks for the CPU stays there); on a CPU slot
    // the config's own device stands (`auto` is the CPU here; an explicit `cuda` fails with its
    // own message rather than silently training on the CPU). The threads are the slot's.
    let keep_config_device = match &request {
        RunRequest::New { config, .. } => {
            config.device == DeviceRequest::Cpu || slot.device.cuda_index().is_none()
        }
        RunRequest::Resume { .. } => slot.device.cuda_index().is_none(),
    };
    let slot = if keep_config_device {
        Slot {
            device: DeviceRequest::Auto,
            ..slot
        }
    } else {
        slot
    };
    let tx = tx.clone();
    let handle = engine::spawn_on(
        request,
        Some(slot),
        lock,
        Box::new(move |e| {
            let _ = tx.send((id, e));
        }),
    );
    Ok(Some(Job::new(id, name, handle)))
}

/// `--devices TEXT` as concrete devices: `auto` is every visible GPU (none on a machine
/// without one), else the listed ones. Shared by batch mode and the lab.
pub fn devices(text: &str) -> Result<Vec<DeviceRequest>, schedule::DeviceListError> {
    match schedule::parse_devices(text)? {
        Some(list) => Ok(list),
        None => Ok(engine::device::visible_gpus()),
    }
}

/// The slots this invocation runs on: `--devices` (or every visible GPU, else the CPU),
/// `--jobs`, `--per-device`, `--threads`. The cores are libtorch's own default thread count
/// (the physical cores, or `OMP_NUM_THREADS`), so one job alone runs as it always has.
fn slots(cli: &crate::cli::Cli) -> Result<Vec<Slot>, CliError> {
    let devices = devices(cli.devices.as_deref().unwrap_or("auto"))?;
    let request = SlotRequest {
        devices,
        jobs: cli.jobs,
        per_device: cli.per_device,
        threads: cli.threads,
    };
    let (slots, warning) = schedule::plan_slots(&request, engine::device::default_threads())?;
    if let Some(w) = warning {
        eprintln!("invlab: warning: {w}");
    }
    Ok(slots)
}

/// The whole `--batch` invocation.
pub fn main(cli: &crate::cli::Cli, runs_dir: &Path) -> Result<(), CliError> {
    let signals = StopSignals::install().unwrap_or_else(|e| {
        eprintln!("invlab: {e}; that signal will end the process without a clean stop");
        StopSignals::default()
    });
    let mut progress = Progress::stderr();
    let work: Vec<Work> = if let Some(dir) = &cli.resume {
        vec![Work::Resume(dir.clone())]
    } else {
        if cli.configs.is_empty() {
            return Err(CliError::Usage(
                "--batch needs at least one CONFIG file (e.g. configs/default.toml)".into(),
            ));
        }
        let points = sweep_points(&cli.configs, &cli.overrides, &cli.sweeps)?;
        if cli.list {
            for (i, p) in points.iter().enumerate() {
                output::line(&format!(
                    "{i}\t{}\t{}",
                    p.config.display(),
                    p.overrides.join(" ")
                ));
            }
            return Ok(());
        }
        let selected: Vec<&Point> = match cli.index {
            Some(i) if i >= points.len() => {
                return Err(CliError::Usage(format!(
                    "--index {i} is out of range: there are {} sweep points (0..{})",
                    points.len(),
                    points.len() - 1
                )));
            }
            Some(i) => vec![&points[i]],
            None => points.iter().collect(),
        };
        // A job-array task (or a requeued job) continues its own run directories.
        let continue_existing = cli.continue_existing || cli.index.is_some();
        // Validate everything before the first run starts, so a typo never costs a finished run.
        let mut work = Vec::new();
        for p in &selected {
            work.push(Work::Config {
                config: Box::new(RunConfig::load(&p.config, &p.overrides)?),
                continue_existing,
            });
        }
        work
    };
    let slots = slots(cli)?;
    if slots.len() > 1 && work.len() > 1 {
        progress.line(&format!(
            "invlab: {} runs, {} at a time ({})",
            work.len(),
            slots.len().min(work.len()),
            slots
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let tally = run_all(work, slots, runs_dir, &signals, cli.stream, &mut progress);
    if tally.stopped > 0 || signals.received().is_some() {
        Err(CliError::Stopped)
    } else if tally.failed > 0 {
        Err(CliError::RunsFailed {
            failed: tally.failed,
        })
    } else {
        Ok(())
    }
}
