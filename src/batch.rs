//! Headless front end: runs configs (and sweep points) one after another through the same engine
//! as the lab, with progress on stderr and run directories as the results.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use crate::config::{sanitize_run_name, ConfigError, RunConfig};
use crate::engine::{self, Event, RunRequest};

/// One run to do: a config file with its overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub config: PathBuf,
    pub overrides: Vec<String>,
}

/// Expands configs x the Cartesian product of `--sweep KEY=V1,V2` lists (last key fastest).
/// Each point gets a `name` suffix naming its swept values, so run directories tell them apart.
pub fn sweep_points(
    configs: &[PathBuf],
    overrides: &[String],
    sweeps: &[String],
) -> Result<Vec<Point>, ConfigError> {
    let mut axes: Vec<(String, Vec<String>)> = Vec::new();
    for s in sweeps {
        let (key, values) = s.split_once('=').ok_or_else(|| ConfigError {
            source: format!("--sweep {s}"),
            message: "expected KEY=V1,V2,... e.g. seed=0,1,2".into(),
        })?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(ConfigError {
                source: format!("--sweep {s}"),
                message: "no values to sweep over".into(),
            });
        }
        axes.push((key.trim().to_string(), values));
    }
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (key, values) in &axes {
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    let mut points = Vec::new();
    for config in configs {
        for combo in &combos {
            let mut all = overrides.to_vec();
            all.extend(combo.iter().map(|(k, v)| format!("{k}={v}")));
            if !combo.is_empty() {
                let base = RunConfig::load(config, overrides)?.name;
                let suffix: Vec<String> = combo
                    .iter()
                    .map(|(k, v)| {
                        let key = k.rsplit('.').next().unwrap_or(k);
                        sanitize_run_name(&format!("{key}{v}"))
                    })
                    .collect();
                all.push(format!("name=\"{base}-{}\"", suffix.join("-")));
            }
            points.push(Point {
                config: config.clone(),
                overrides: all,
            });
        }
    }
    Ok(points)
}

/// Set by Ctrl-C: the running run is stopped cleanly and the batch ends.
pub fn install_interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    // A second handler cannot be installed; then Ctrl-C simply kills the process (the run
    // directory stays resumable from its last checkpoint).
    let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
    flag
}

/// The result of one batch run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunResult {
    Finished(PathBuf),
    Stopped(PathBuf),
    Failed(String),
}

/// Runs one request to its end, printing progress to `progress` and (with `stream`) each
/// epoch's metrics as a JSON line on stdout.
pub fn run_one(
    request: RunRequest,
    interrupted: &AtomicBool,
    stream: bool,
    progress: &mut dyn Write,
) -> RunResult {
    let (tx, rx) = mpsc::channel();
    let handle = engine::spawn(
        request,
        Box::new(move |e| {
            let _ = tx.send(e);
        }),
    );
    let tty = std::io::stderr().is_terminal();
    let mut name = String::from("run");
    let mut dir = PathBuf::new();
    let mut stop_sent = false;
    let result = loop {
        if interrupted.load(Ordering::SeqCst) && !stop_sent {
            handle.stop();
            stop_sent = true;
            let _ = writeln!(
                progress,
                "\n[{name}] interrupted: stopping after this batch"
            );
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
                let sizes = &info.train_sizes;
                let (max, min) = (
                    sizes.iter().max().copied().unwrap_or(0),
                    sizes.iter().min().copied().unwrap_or(0),
                );
                let _ = writeln!(
                    progress,
                    "[{name}] {} classes, {} training images (n_max {max}, n_min {min}), {} test images; device {}; libtorch {}{}\n[{name}] directory {}",
                    info.num_classes,
                    sizes.iter().sum::<usize>(),
                    info.test_sizes.iter().sum::<usize>(),
                    info.device,
                    info.libtorch_version,
                    info.resumed_at.map(|e| format!("; resuming after epoch {e}")).unwrap_or_default(),
                    info.dir.display()
                );
            }
            Event::Batch {
                epoch,
                batch,
                batches,
                loss,
            } if tty => {
                let _ = write!(
                    progress,
                    "\r[{name}] epoch {epoch} batch {batch}/{batches} loss {loss:.4}   "
                );
                let _ = progress.flush();
            }
            Event::Epoch(m) => {
                let pct = |v: Option<f64>| {
                    v.map(|x| format!("{:.1}", 100.0 * x))
                        .unwrap_or_else(|| "-".into())
                };
                let inv = m
                    .invariance
                    .as_ref()
                    .map(|r| {
                        let mean = r.ekld.iter().sum::<f64>() / r.ekld.len().max(1) as f64;
                        format!(
                            "  eKLD mean {mean:.3} (size rho {})",
                            r.spearman_size_ekld
                                .map(|s| format!("{s:+.2}"))
                                .unwrap_or_else(|| "-".into())
                        )
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    progress,
                    "{}[{name}] epoch {}/{} {} lr {:.4} loss {:.4} train {:.1}% test {:.1}% balanced {:.1}% many/med/few {}/{}/{}{inv} ({:.1}s + {:.1}s eval)",
                    if tty { "\r" } else { "" },
                    m.epoch,
                    m.total_epochs,
                    m.stage,
                    m.lr,
                    m.train_loss,
                    100.0 * m.train_accuracy,
                    100.0 * m.test_accuracy,
                    100.0 * m.balanced_accuracy,
                    pct(m.groups.many),
                    pct(m.groups.medium),
                    pct(m.groups.few),
                    m.train_seconds,
                    m.eval_seconds + m.invariance.as_ref().map(|r| r.seconds).unwrap_or(0.0),
                );
                if stream {
                    if let Ok(line) = serde_json::to_string(&*m) {
                        println!("{line}");
                    }
                }
            }
            Event::Paused => {
                let _ = writeln!(progress, "[{name}] paused");
            }
            Event::Finished(s) => {
                let _ = writeln!(
                    progress,
                    "[{name}] finished in {:.0}s: accuracy {:.1}%, balanced {:.1}%, eKLD many/medium/few {}/{}/{}, Spearman(size, eKLD) {}",
                    s.wall_seconds,
                    100.0 * s.accuracy,
                    100.0 * s.balanced_accuracy,
                    fmt_opt(s.ekld_by_group.many),
                    fmt_opt(s.ekld_by_group.medium),
                    fmt_opt(s.ekld_by_group.few),
                    fmt_opt(s.spearman_size_ekld),
                );
                break RunResult::Finished(dir.clone());
            }
            Event::Stopped { epochs_done } => {
                let _ = writeln!(progress, "[{name}] stopped; {epochs_done} epochs checkpointed; continue with: invlab --batch --resume {}", dir.display());
                break RunResult::Stopped(dir.clone());
            }
            Event::Failed { message } => {
                let _ = writeln!(progress, "[{name}] failed: {message}");
                break RunResult::Failed(message);
            }
            _ => {}
        }
    };
    handle.join();
    result
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

/// Exit codes, as documented in `--help`.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_INTERRUPTED: i32 = 130;

/// The whole `--batch` invocation. Returns the process exit code.
pub fn main(cli: &crate::cli::Cli, runs_dir: &Path) -> i32 {
    let interrupted = install_interrupt_flag();
    let mut stderr = std::io::stderr();
    if let Some(dir) = &cli.resume {
        return match run_one(
            RunRequest::Resume { dir: dir.clone() },
            &interrupted,
            cli.stream,
            &mut stderr,
        ) {
            RunResult::Finished(d) => {
                println!("{}", d.display());
                0
            }
            RunResult::Stopped(_) => EXIT_INTERRUPTED,
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
    let mut code = 0;
    for config in configs {
        let request = RunRequest::New {
            config,
            runs_dir: runs_dir.to_path_buf(),
        };
        match run_one(request, &interrupted, cli.stream, &mut stderr) {
            RunResult::Finished(d) => println!("{}", d.display()),
            RunResult::Stopped(_) => return EXIT_INTERRUPTED,
            RunResult::Failed(_) => code = EXIT_FAILED,
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_form_a_named_product() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, "name = \"exp\"\n").unwrap();
        let points = sweep_points(
            std::slice::from_ref(&cfg),
            &["train.epochs=1".into()],
            &["seed=0,1".into(), "method.rule=none,drs".into()],
        )
        .unwrap();
        assert_eq!(points.len(), 4);
        assert_eq!(
            points[1].overrides,
            vec![
                "train.epochs=1",
                "seed=0",
                "method.rule=drs",
                "name=\"exp-seed0-ruledrs\""
            ]
        );
        let c = RunConfig::load(&cfg, &points[3].overrides).unwrap();
        assert_eq!(c.name, "exp-seed1-ruledrs");
        assert_eq!(c.seed, 1);
        assert!(sweep_points(std::slice::from_ref(&cfg), &[], &["seed".into()]).is_err());
        // Swept values that cannot appear in a directory name are replaced.
        let points = sweep_points(&[cfg], &[], &["data.root=/data/k 49".into()]).unwrap();
        assert!(points[0]
            .overrides
            .contains(&"name=\"exp-root_data_k_49\"".to_string()));
    }
}
