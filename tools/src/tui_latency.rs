//! TUI input latency while a real training run saturates the cores.
//!
//! Starts the default config's run on the engine's worker thread (as the TUI does), runs the
//! TUI's own tokio event loop against an in-memory terminal (ratatui's TestBackend), and feeds
//! key presses (`?`, which opens / closes the help overlay) through the loop's terminal-input
//! stream, where crossterm's `EventStream` sits in the real lab. For each press it measures the
//! time from sending the key to the end of drawing the first frame whose buffer shows the
//! change. Prints p50 / p90 / p99 / max.
//!
//!     cargo run -p invlab-tools --bin tui_latency -- [SAMPLES] [--idle]
//!
//! `--idle` measures with no run, for comparison.
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> color_eyre::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let samples: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(300);
    let idle = args.iter().any(|a| a == "--idle");
    invlab_engine::device::load_cuda_backend();

    let tmp = std::env::temp_dir().join(format!("invlab-latency-{}", std::process::id()));
    let mut setup = AppSetup::plain(tmp.clone());
    let mut config = form::default_config(std::path::Path::new("configs"));
    config.name = "latency".into();
    config.train.epochs = 200; // long enough to outlast the measurement; stopped at the end
    config.train.decay_epochs = [150, 180];
    setup.default_config = config;
    let mut app = App::new(setup);
    let (tx, mut rx) = unbounded_channel();
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
    let measure = |app: &App, buf: &Buffer| {
        let drawn = Instant::now();
        if !started {
            let live = app
                .runs
                .first()
                .is_some_and(|r| r.status == RunStatus::Running && r.batch.is_some());
            if let Some(r) = app.runs.first() {
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
        if let Some(r) = app.runs.first() {
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
    let epochs_done = app.runs.first().map(|r| r.epochs_done()).unwrap_or(0);
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
    println!(
        "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    Ok(())
}
