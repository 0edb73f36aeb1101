//! TUI input latency while a real training run saturates the cores.
//!
//! Starts the default config's run on the engine's worker thread (as the TUI does), runs the
//! TUI's own tokio event loop against an in-memory terminal (ratatui's TestBackend), and feeds
//! key presses (`?`, which opens / closes the help overlay) through the loop's terminal-input
//! stream, where crossterm's `EventStream` sits in the real lab. For each press it measures the
//! time from sending the key to the end of drawing the first frame whose buffer shows the
//! change. Prints p50 / p90 / p99 / max.
//!
//!     cargo run -p invlab-tools --bin tui_latency -- [SAMPLES] [--idle] [--runs N]
//!
//! `--idle` measures with no run, for comparison. `--runs N` first writes N finished run
//! directories (synthetic, 20 epochs each, 49 classes) into the runs folder: the lab starts by
//! reading them all (timed), lists them, and a watcher thread polls the folder every 2 s as the
//! lab's does (each poll's wall and CPU time reported), sending what changed to the loop.
#![allow(unsafe_code)] // getrusage through libc for CPU time.
#![allow(clippy::unwrap_used)] // a developer tool: a failed unwrap ends it with the reason

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use invlab_tui::app::{App, AppSetup, RunStatus};
use invlab_tui::command::Command;
use invlab_tui::ui::Graphics;
use invlab_tui::{event_loop, form, Runtime, Sources};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use tokio::sync::mpsc::unbounded_channel;

fn help_visible(buf: &Buffer) -> bool {
    let text: String = buf.content.iter().map(|c| c.symbol()).collect();
    text.contains("Help: keys")
}

/// CPU seconds this process used so far (all threads).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// CPU seconds of the calling thread.
fn thread_cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the struct we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// `n` finished runs of 20 epochs each (eKLD every 5), as a big sweep leaves them.
fn write_history(dir: &std::path::Path, n: usize) {
    use invlab_core::fixtures;
    use invlab_core::rundir::{RunDir, RunState, Status};
    for i in 0..n {
        let mut config = invlab_core::config::RunConfig {
            name: format!("sweep-seed{i}"),
            seed: i as u64,
            ..Default::default()
        };
        config.train.epochs = 20;
        let run = RunDir {
            path: dir.join(&config.name),
        };
        std::fs::create_dir_all(&run.path).unwrap();
        run.write_config(&config).unwrap();
        let info = fixtures::run_info(&config, &config.name, run.path.clone());
        run.write_info(&info).unwrap();
        let mut epochs = Vec::new();
        for e in 1..=20 {
            let mut m = fixtures::epoch(&info, e, 1.0);
            if e % 5 == 0 {
                m.invariance = Some(fixtures::invariance(&info, e, 1.0));
            }
            epochs.push(m);
        }
        run.write_metrics(&epochs).unwrap();
        let last = epochs.last().unwrap();
        let inv = last.invariance.clone().unwrap();
        run.write_summary(&fixtures::summary(&info, last, &inv))
            .unwrap();
        run.write_state(&RunState {
            status: Status::Finished,
            checkpoint_epoch: 20,
            epochs_done: 20,
            generator_iteration: None,
            total_epochs: 20,
            message: String::new(),
            updated: 1_700_000_000 + i as u64,
            seconds: 60.0,
        })
        .unwrap();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> color_eyre::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let samples: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(300);
    let idle = args.iter().any(|a| a == "--idle");
    let history_runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // `--json FILE`: the figures also as JSON, for a committed result file.
    let json_out = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    invlab_engine::device::load_cuda_backend();

    let tmp = std::env::temp_dir().join(format!("invlab-latency-{}", std::process::id()));
    let mut setup = AppSetup::plain(tmp.clone());
    // As the lab: a run alone gets libtorch's default thread count.
    setup.cores = invlab_engine::device::default_threads();
    let mut watcher = None;
    if history_runs > 0 {
        write_history(&tmp, history_runs);
        let t = Instant::now();
        let cpu = thread_cpu_seconds();
        let mut w = invlab_core::watch::RunWatcher::new(vec![tmp.clone()]);
        setup.history = w
            .poll()
            .changed
            .into_iter()
            .map(invlab_tui::history::entry_of)
            .collect();
        eprintln!(
            "start-up: read {} run directories in {:.0} ms ({:.0} ms CPU)",
            setup.history.len(),
            t.elapsed().as_secs_f64() * 1e3,
            (thread_cpu_seconds() - cpu) * 1e3
        );
        watcher = Some(w);
    }
    let mut config = form::default_config(std::path::Path::new("configs"));
    config.name = "latency".into();
    config.train.epochs = 200; // long enough to outlast the measurement; stopped at the end
    config.train.decay_epochs = [150, 180];
    setup.default_config = config;
    let mut app = App::new(setup);
    let (tx, mut rx) = unbounded_channel();
    let polls: Arc<Mutex<Vec<(f64, f64)>>> = Arc::new(Mutex::new(Vec::new()));
    if let Some(mut w) = watcher {
        let (tx, polls) = (tx.clone(), polls.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(2));
            let (t, cpu) = (Instant::now(), thread_cpu_seconds());
            let changes = w.poll();
            polls
                .lock()
                .unwrap()
                .push((t.elapsed().as_secs_f64(), thread_cpu_seconds() - cpu));
            let event = invlab_tui::event::AppEvent::Watched(Arc::new(changes));
            if tx.send(event).is_err() {
                return;
            }
        });
    }
    let mut runtime = Runtime::new(tx);
    if !idle {
        let effects = app.apply(Command::Start);
        runtime.execute(effects);
    }

    // The injector: waits until the run trains, then sends `?` presses, one at a time.
    let (seen_tx, seen_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let sent: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let sent_inj = sent.clone();
    let (keys_tx, mut keys_rx) = unbounded_channel::<TermEvent>();
    let input = futures_util::stream::poll_fn(move |cx| keys_rx.poll_recv(cx).map(|k| k.map(Ok)));
    std::thread::spawn(move || {
        if go_rx.recv().is_err() {
            return;
        }
        let mut k: u64 = 0;
        loop {
            // 20-70 ms between presses, varied so presses land at every point of a frame.
            k = k
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            std::thread::sleep(Duration::from_millis(20 + (k >> 59) * 3 + (k >> 60)));
            *sent_inj.lock().unwrap() = Some(Instant::now());
            let key = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE);
            if keys_tx.send(TermEvent::Key(key)).is_err() {
                return;
            }
            if seen_rx.recv_timeout(Duration::from_secs(5)).is_err() {
                return;
            }
        }
    });

    if idle {
        let _ = go_tx.send(());
    }
    let mut terminal = Terminal::new(TestBackend::new(200, 50))?;
    let mut latencies: Vec<f64> = Vec::new();
    let mut started = idle;
    let mut expect_help = false;
    let mut batches_seen = 0usize;
    let mut last_batch = None;
    let t0 = Instant::now();
    let mut window: Option<(Instant, f64)> = if idle {
        Some((Instant::now(), cpu_seconds()))
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sources = Sources {
        input,
        signals: futures_util::stream::pending(),
    };
    let mut graphics = Graphics::halfblocks();
    // The run this process trains (after any history).
    let live_run = |app: &App| app.runs.iter().find(|r| !r.from_history).cloned();
    let measure = |app: &App, buf: &Buffer| {
        let drawn = Instant::now();
        if !started {
            let live =
                live_run(app).is_some_and(|r| r.status == RunStatus::Running && r.batch.is_some());
            if let Some(r) = live_run(app) {
                if let RunStatus::Failed(m) = &r.status {
                    eprintln!("the run failed: {m}");
                    return false;
                }
            }
            if live {
                started = true;
                eprintln!(
                    "run is training after {:.1} s; measuring {samples} key presses",
                    t0.elapsed().as_secs_f64()
                );
                window = Some((Instant::now(), cpu_seconds()));
                let _ = go_tx.send(());
            }
            return true;
        }
        if let Some(r) = live_run(app) {
            if r.batch != last_batch {
                batches_seen += 1;
                last_batch = r.batch;
            }
        }
        let mut pending = sent.lock().unwrap();
        if let Some(at) = *pending {
            if help_visible(buf) != expect_help {
                latencies.push(drawn.duration_since(at).as_secs_f64() * 1000.0);
                expect_help = !expect_help;
                *pending = None;
                let _ = seen_tx.send(());
            }
        }
        latencies.len() < samples
    };
    rt.block_on(event_loop(
        &mut terminal,
        &mut app,
        &mut rx,
        sources,
        &mut runtime,
        &mut graphics,
        measure,
    ))?;
    let epochs_done = live_run(&app).map(|r| r.epochs_done()).unwrap_or(0);
    let (busy, wall) = window
        .map(|(at, cpu)| (cpu_seconds() - cpu, at.elapsed().as_secs_f64()))
        .unwrap_or((0.0, 1.0));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    runtime.shutdown(Duration::from_secs(60));
    let _ = std::fs::remove_dir_all(&tmp);

    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if latencies.is_empty() {
        eprintln!("no samples");
        std::process::exit(1);
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "TUI input latency ({}; {} cores; {} key presses; {} frames showed new batch progress; epochs done {})",
        if idle { "idle, no run" } else { "while the default run trains on the worker thread" },
        cores,
        latencies.len(),
        batches_seen,
        epochs_done
    );
    println!(
        "this process used {:.2} cores on average over the {:.0} s window; load average {}",
        busy / wall,
        wall,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let polls = polls.lock().unwrap().clone();
    let mut poll_json = serde_json::Value::Null;
    if !polls.is_empty() {
        let mut wall: Vec<f64> = polls.iter().map(|p| p.0 * 1e3).collect();
        wall.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let cpu = polls.iter().map(|p| p.1).sum::<f64>() / polls.len() as f64 * 1e3;
        println!(
            "watcher over {} runs: {} polls, wall p50 {:.1} ms max {:.1} ms, {:.1} ms CPU per poll ({:.2} % of a core at one poll per 2 s)",
            history_runs,
            polls.len(),
            percentile(&wall, 0.5),
            wall[wall.len() - 1],
            cpu,
            cpu / 2000.0 * 100.0
        );
        poll_json = serde_json::json!({
            "runs": history_runs,
            "polls": polls.len(),
            "wall_ms_p50": percentile(&wall, 0.5),
            "wall_ms_max": wall[wall.len() - 1],
            "cpu_ms_per_poll": cpu,
        });
    }
    println!(
        "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    if let Some(path) = json_out {
        let json = serde_json::json!({
            "tool": "tools/src/tui_latency.rs",
            "args": args,
            "invlab_commit": invlab_engine::build_info::invlab_commit(),
            "measured_unix_seconds": invlab_core::heartbeat::now_seconds(),
            "condition": if idle { "idle" } else { "default run training" },
            "cores": cores,
            "key_presses": latencies.len(),
            "process_cores_busy": busy / wall,
            "window_seconds": wall,
            "load_average": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
            "latency_ms": {
                "p50": percentile(&latencies, 0.5),
                "p90": percentile(&latencies, 0.9),
                "p99": percentile(&latencies, 0.99),
                "max": latencies[latencies.len() - 1],
            },
            "watcher": poll_json,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&json)? + "\n")?;
    }
    Ok(())
}
