//! The GPU check kit's probe (scripts/gpu-check/run.sh): what libtorch and NVML see, the
//! product's own NVML sampler around a command, and the lab drawn once headless.
//!
//!     gpu_check devices                       JSON on stdout: CUDA_VISIBLE_DEVICES, libtorch's
//!                                             CUDA devices, NVML's by UUID and CUDA ordinal
//!     gpu_check sample OUT.json -- CMD ARGS   runs CMD, sampling every GPU (and the host) once
//!                                             a second with the lab's sampler; JSON summary
//!     gpu_check lab-draw CONFIG OUT.txt [--set K=V]... [--seconds S] [--size WxH]
//!                                             the lab on an in-memory terminal, training CONFIG,
//!                                             drawn once its run trains and the system pane has
//!                                             samples; the frame as text
//!     gpu_check make-cifar DIR [--train-per-class N] [--test-per-class M]
//!                                             CIFAR-10-shaped data in the binary format
//!                                             (DIR/cifar-10-batches-bin/), generated from a
//!                                             fixed seed: class patterns plus noise, learnable
//!                                             but not trivially (no download on a GPU host)
//!
//! Exit status: `sample` passes on CMD's; the others are 0, or 1 with the reason on stderr.
#![allow(clippy::unwrap_used)] // a developer tool: a failed unwrap ends it with the reason

use std::path::PathBuf;
use std::process::Command as Process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use color_eyre::eyre::{bail, eyre, WrapErr};
use invlab_tui::app::{App, AppSetup, RunStatus};
use invlab_tui::command::Command;
use invlab_tui::sampler::{Sampler, SystemSample};
use invlab_tui::ui::Graphics;
use invlab_tui::{event_loop, spawn_sampler, Runtime, Sources, SAMPLE_EVERY};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;
use serde_json::{json, Value};
use tokio::sync::mpsc::unbounded_channel;

fn main() -> color_eyre::Result<()> {
    color_eyre::install()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("devices") => devices(),
        Some("sample") => sample(&args[1..]),
        Some("lab-draw") => lab_draw(&args[1..]),
        Some("make-cifar") => make_cifar(&args[1..]),
        _ => bail!("usage: gpu_check devices | sample OUT.json -- CMD [ARGS] | lab-draw CONFIG OUT.txt [--set K=V]... [--seconds S] [--size WxH] | make-cifar DIR [--train-per-class N] [--test-per-class M]"),
    }
}

fn gpu_json(g: &invlab_tui::sampler::NvidiaSample) -> Value {
    json!({
        "nvml_index": g.index,
        "cuda_ordinal": g.cuda,
        "uuid": g.uuid,
        "name": g.name,
        "memory_total_bytes": g.memory_total,
        "memory_used_bytes": g.memory_used,
        "utilization_percent": g.utilization,
    })
}

/// What libtorch and NVML see, and what `device = "auto"` resolves to.
fn devices() -> color_eyre::Result<()> {
    invlab_engine::device::load_cuda_backend();
    let cuda = tch::Cuda::is_available();
    let count = if cuda { tch::Cuda::device_count() } else { 0 };
    let auto = invlab_engine::device::visible_gpus()
        .first()
        .map(|d| d.to_string())
        .unwrap_or_else(|| "cpu".into());
    let system = Sampler::new().sample();
    let out = json!({
        "cuda_visible_devices": std::env::var("CUDA_VISIBLE_DEVICES").ok(),
        "libtorch": {
            "version": invlab_engine::build_info::libtorch_version(),
            "cuda_available": cuda,
            "cudnn_available": cuda && tch::Cuda::cudnn_is_available(),
            "device_count": count,
        },
        "auto_device": auto,
        "nvml": {
            "devices": system.gpus.iter().map(gpu_json).collect::<Vec<_>>(),
            "no_gpu_reason": system.no_gpu_reason,
        },
        "host": {
            "cores": system.host.cores,
            "total_memory_bytes": system.host.total_memory,
        },
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Runs a command while the lab's sampler reads every GPU once a second; writes each reading
/// and a per-device summary (utilisation while the child ran, its peak memory).
fn sample(args: &[String]) -> color_eyre::Result<()> {
    let out = PathBuf::from(
        args.first()
            .ok_or_else(|| eyre!("sample: OUT.json missing"))?,
    );
    let dash = args
        .iter()
        .position(|a| a == "--")
        .ok_or_else(|| eyre!("sample: `-- CMD` missing"))?;
    let cmd = &args[dash + 1..];
    if cmd.is_empty() {
        bail!("sample: no command after --");
    }
    let t0 = Instant::now();
    let mut child = Process::new(&cmd[0])
        .args(&cmd[1..])
        .spawn()
        .wrap_err_with(|| format!("cannot start {}", cmd[0]))?;
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let readings: Arc<Mutex<Vec<(f64, SystemSample)>>> = Arc::default();
    let sampler = {
        let (done, readings) = (done.clone(), readings.clone());
        std::thread::spawn(move || {
            let mut sampler = Sampler::new();
            while !done.load(Ordering::Relaxed) {
                let s = sampler.sample();
                readings
                    .lock()
                    .unwrap()
                    .push((t0.elapsed().as_secs_f64(), s));
                std::thread::sleep(SAMPLE_EVERY);
            }
        })
    };
    let status = child.wait()?;
    let wall = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.join().ok();
    let readings = readings.lock().unwrap();
    let mut per_gpu = Vec::new();
    if let Some((_, first)) = readings.first() {
        for g in &first.gpus {
            let series: Vec<&invlab_tui::sampler::NvidiaSample> = readings
                .iter()
                .filter_map(|(_, s)| s.gpus.iter().find(|x| x.index == g.index))
                .collect();
            let util: Vec<f64> = series
                .iter()
                .filter_map(|x| x.utilization.map(f64::from))
                .collect();
            // The child's own GPU memory, from NVML's per-process figures (its threads share its pid).
            let child_memory = series
                .iter()
                .filter_map(|x| x.processes.iter().find(|p| p.pid == pid)?.memory)
                .max();
            per_gpu.push(json!({
                "nvml_index": g.index,
                "cuda_ordinal": g.cuda,
                "uuid": g.uuid,
                "name": g.name,
                "readings": series.len(),
                "utilization_mean_percent": mean(&util),
                "utilization_max_percent": util.iter().copied().reduce(f64::max),
                "memory_used_max_bytes": series.iter().filter_map(|x| x.memory_used).max(),
                "memory_used_first_bytes": series.first().and_then(|x| x.memory_used),
                "child_memory_max_bytes": child_memory,
            }));
        }
    }
    let cpu: Vec<f64> = readings
        .iter()
        .map(|(_, s)| f64::from(s.host.cpu_percent))
        .collect();
    let json = json!({
        "command": cmd,
        "exit_code": status.code(),
        "wall_seconds": wall,
        "sample_every_seconds": SAMPLE_EVERY.as_secs_f64(),
        "readings": readings.len(),
        "no_gpu_reason": readings.first().and_then(|(_, s)| s.no_gpu_reason.clone()),
        "gpus": per_gpu,
        "host_cpu_mean_percent": mean(&cpu),
        "series": readings.iter().map(|(t, s)| json!({
            "t": t,
            "utilization_percent": s.gpus.iter().map(|g| g.utilization).collect::<Vec<_>>(),
            "memory_used_bytes": s.gpus.iter().map(|g| g.memory_used).collect::<Vec<_>>(),
            "host_cpu_percent": s.host.cpu_percent,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(&out, serde_json::to_string_pretty(&json)? + "\n")
        .wrap_err_with(|| format!("cannot write {}", out.display()))?;
    std::process::exit(status.code().unwrap_or(1));
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn buffer_text(buf: &Buffer) -> String {
    let w = buf.area.width as usize;
    let cells: Vec<&str> = buf.content.iter().map(|c| c.symbol()).collect();
    cells
        .chunks(w)
        .map(|row| row.concat().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The lab on a `TestBackend`, with CONFIG's run started as `s` starts it and the lab's own
/// sampler running; drawn until the run has trained for `--seconds` and the system pane holds a
/// reading, then the frame is saved and the run stopped.
fn lab_draw(args: &[String]) -> color_eyre::Result<()> {
    let (Some(config_path), Some(out)) = (args.first(), args.get(1)) else {
        bail!("lab-draw: CONFIG OUT.txt missing");
    };
    let mut overrides = Vec::new();
    let mut seconds = 10.0;
    let (mut width, mut height) = (160u16, 45u16);
    let mut rest = args[2..].iter();
    while let Some(a) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| eyre!("lab-draw: {a} needs a value"))?;
        match a.as_str() {
            "--set" => overrides.push(value.clone()),
            "--seconds" => seconds = value.parse().wrap_err("--seconds")?,
            "--size" => {
                let (w, h) = value
                    .split_once('x')
                    .ok_or_else(|| eyre!("--size WxH, e.g. 160x45"))?;
                let bad =
                    || format!("--size {value}: width 40..=1000 and height 12..=500 expected");
                (width, height) = (w.parse().wrap_err_with(bad)?, h.parse().wrap_err_with(bad)?);
                // The lab's smallest usable frame, and a bound on the in-memory terminal.
                if !(40..=1000).contains(&width) || !(12..=500).contains(&height) {
                    bail!(bad());
                }
            }
            other => bail!("lab-draw: unknown option {other}"),
        }
    }
    invlab_engine::device::load_cuda_backend();
    let config = invlab_core::config::RunConfig::load(config_path.as_ref(), &overrides)
        .map_err(|e| eyre!("{e}"))?;
    let tmp = std::env::temp_dir().join(format!("invlab-lab-draw-{}", std::process::id()));
    let mut setup = AppSetup::plain(tmp.clone());
    setup.cores = invlab_engine::device::default_threads();
    setup.default_config = config;
    let mut app = App::new(setup);
    let (tx, mut rx) = unbounded_channel();
    let mut runtime = Runtime::new(tx.clone());
    runtime.execute(app.apply(Command::Start));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut terminal = Terminal::new(TestBackend::new(width, height))?;
    let sources = Sources {
        input: futures_util::stream::pending(),
        signals: futures_util::stream::pending(),
    };
    let mut graphics = Graphics::halfblocks();
    let t0 = Instant::now();
    let deadline = Duration::from_secs_f64(seconds + 300.0);
    let mut training_since: Option<Instant> = None;
    let mut frame = String::new();
    let mut failure: Option<String> = None;
    rt.block_on(async {
        spawn_sampler(tx.clone(), SAMPLE_EVERY);
        event_loop(
            &mut terminal,
            &mut app,
            &mut rx,
            sources,
            &mut runtime,
            &mut graphics,
            |app: &App, buf: &Buffer| {
                let Some(run) = app.runs.iter().find(|r| !r.from_history) else {
                    return t0.elapsed() < deadline;
                };
                match &run.status {
                    RunStatus::Failed(m) => {
                        failure = Some(m.clone());
                        return false;
                    }
                    RunStatus::Running if run.batch.is_some() => {
                        training_since.get_or_insert_with(Instant::now);
                    }
                    RunStatus::Done => {
                        training_since.get_or_insert(t0);
                    }
                    _ => {}
                }
                // The sampler reads once a second from the start: by now the pane has readings.
                let trained = training_since.is_some_and(|t| {
                    t.elapsed().as_secs_f64() >= seconds || run.status == RunStatus::Done
                });
                if trained && app.system.is_some() {
                    frame = buffer_text(buf);
                    return false;
                }
                if t0.elapsed() > deadline {
                    failure = Some(format!("no training frame within {deadline:?}"));
                    return false;
                }
                true
            },
        )
        .await
    })?;
    runtime.execute(app.apply(Command::Stop));
    runtime.shutdown(Duration::from_secs(60));
    let _ = std::fs::remove_dir_all(&tmp);
    if let Some(f) = failure {
        bail!("lab-draw: {f}");
    }
    std::fs::write(out, &frame).wrap_err_with(|| format!("cannot write {out}"))?;
    eprintln!(
        "lab-draw: {width}x{height} frame after {:.1} s written to {out}",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// CIFAR-10's binary layout filled with generated images: each class a smooth colour pattern of
/// its own (random frequencies and phases per channel), each image that pattern shifted by up to
/// 4 pixels, scaled in contrast and covered in noise. Classes differ, images within a class vary.
fn make_cifar(args: &[String]) -> color_eyre::Result<()> {
    use rand::{Rng, SeedableRng};
    let dir = PathBuf::from(
        args.first()
            .ok_or_else(|| eyre!("make-cifar: DIR missing"))?,
    );
    let (mut train, mut test) = (5000usize, 1000usize);
    let mut rest = args[1..].iter();
    while let Some(a) = rest.next() {
        let value: usize = rest
            .next()
            .ok_or_else(|| eyre!("make-cifar: {a} needs a value"))?
            .parse()
            .wrap_err_with(|| format!("make-cifar: {a}"))?;
        // CIFAR-10 has 5,000 training and 1,000 test images a class; ten times that at most
        // (the generated set is held in memory before it is written).
        if value == 0 || value > 50_000 {
            bail!("make-cifar: {a} {value}: 1..=50000 expected");
        }
        match a.as_str() {
            "--train-per-class" => train = value,
            "--test-per-class" => test = value,
            other => bail!("make-cifar: unknown option {other}"),
        }
    }
    const CLASSES: usize = 10;
    const SIDE: usize = 32;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x0c1f_a210);
    // Per class and channel: two frequencies, a phase and an offset.
    let patterns: Vec<[[f32; 4]; 3]> = (0..CLASSES)
        .map(|_| {
            std::array::from_fn(|_| {
                [
                    rng.random_range(0.1..0.6),
                    rng.random_range(0.1..0.6),
                    rng.random_range(0.0..std::f32::consts::TAU),
                    rng.random_range(60.0..190.0),
                ]
            })
        })
        .collect();
    let image = |rng: &mut rand_chacha::ChaCha8Rng, class: usize, out: &mut Vec<u8>| {
        out.push(class as u8);
        let (dx, dy) = (
            rng.random_range(-4.0..4.0f32),
            rng.random_range(-4.0..4.0f32),
        );
        let contrast = rng.random_range(30.0..60.0f32);
        for p in &patterns[class] {
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let wave =
                        ((x as f32 + dx) * p[0] + p[2]).sin() * ((y as f32 + dy) * p[1]).cos();
                    let noise = rng.random_range(-50.0..50.0f32);
                    out.push((p[3] + contrast * wave + noise).clamp(0.0, 255.0) as u8);
                }
            }
        }
    };
    let folder = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&folder)
        .wrap_err_with(|| format!("cannot create {}", folder.display()))?;
    // Five training batches, each holding a fifth of every class (interleaved, as CIFAR's are).
    for b in 0..5 {
        let mut bytes = Vec::new();
        for i in 0..train {
            for class in 0..CLASSES {
                if i % 5 == b {
                    image(&mut rng, class, &mut bytes);
                }
            }
        }
        std::fs::write(folder.join(format!("data_batch_{}.bin", b + 1)), bytes)?;
    }
    let mut bytes = Vec::new();
    for _ in 0..test {
        for class in 0..CLASSES {
            image(&mut rng, class, &mut bytes);
        }
    }
    std::fs::write(folder.join("test_batch.bin"), bytes)?;
    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    std::fs::write(folder.join("batches.meta.txt"), names)?;
    eprintln!(
        "make-cifar: {} training and {} test images in {}",
        train * CLASSES,
        test * CLASSES,
        folder.display()
    );
    Ok(())
}
