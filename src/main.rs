//! The `invlab` binary: parse the command line, then hand over to a front end.
#![allow(unsafe_code)] // the .preinit_array entry (`ensure_passive_openmp`) and its setenv / execv.

use std::io::Write;

use clap::Parser;
use invlab::batch;
use invlab::cli::{Cli, Command};
use invlab::error::CliError;
use invlab_core::paths;

/// libtorch's OpenMP threads spin-wait between kernels by default; on a busy machine (or beside
/// the UI thread) that burns the cores the work needs: a tiny run measured 39 s spinning against
/// 2.6 s passive. libgomp reads the policy in its constructor, before `main`, so the binary
/// re-executes itself with `OMP_WAIT_POLICY=PASSIVE` unless the caller chose a policy. On Linux
/// that happens in the executable's `.preinit_array`, which runs before any shared library's
/// constructor: libtorch's static initialisation (~0.4 s) then runs once, not twice. (Setting
/// the variable there is not enough: libc's own constructor resets the environment to the one
/// the process started with.)
#[cfg(target_os = "linux")]
mod passive_openmp {
    use std::ffi::{c_char, c_int, CStr};

    const SETTING: &CStr = c"OMP_WAIT_POLICY=PASSIVE";

    extern "C" fn reexec_passive(
        _argc: c_int,
        argv: *const *const c_char,
        envp: *const *const c_char,
    ) {
        if argv.is_null() || envp.is_null() {
            return;
        }
        // SAFETY: the loader passes the process's NUL-terminated argv and envp; nothing else
        // runs yet. On success execve does not return; on failure the process carries on with
        // libgomp's default policy.
        unsafe {
            let mut env: Vec<*const c_char> = Vec::new();
            let mut entry = envp;
            while !(*entry).is_null() {
                if CStr::from_ptr(*entry)
                    .to_bytes()
                    .starts_with(b"OMP_WAIT_POLICY=")
                {
                    return;
                }
                env.push(*entry);
                entry = entry.add(1);
            }
            env.push(SETTING.as_ptr());
            env.push(std::ptr::null());
            libc::execve(c"/proc/self/exe".as_ptr(), argv, env.as_ptr());
        }
    }

    #[used]
    #[unsafe(link_section = ".preinit_array")]
    static REEXEC_PASSIVE: extern "C" fn(c_int, *const *const c_char, *const *const c_char) =
        reexec_passive;
}

fn ensure_passive_openmp() {
    #[cfg(all(unix, not(target_os = "linux")))]
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        if let Ok(exe) = std::env::current_exe() {
            use std::os::unix::process::CommandExt;
            let err = std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .env("OMP_WAIT_POLICY", "PASSIVE")
                .exec();
            eprintln!("invlab: could not restart with OMP_WAIT_POLICY=PASSIVE ({err}); continuing");
        }
    }
}

fn main() -> std::process::ExitCode {
    ensure_passive_openmp();
    // cuBLAS is deterministic only with a fixed workspace, which it reads from the environment
    // when CUDA starts; libtorch's deterministic mode (`train.deterministic`) refuses cuBLAS
    // calls without it (PyTorch's reproducibility notes: about 24 MiB of GPU memory; not
    // measured here). Set here, before any other thread exists.
    if std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
    }
    invlab_engine::resources::mark_process_start();
    invlab_engine::allocator::configure();
    // Once per process, before the lab installs its terminal's panic hook on top.
    if let Err(e) = color_eyre::install() {
        eprintln!("invlab: {e}");
    }
    let cli = Cli::parse();
    // Load CUDA (when installed) before libtorch is first used, so `auto` can find a GPU.
    invlab_engine::device::load_cuda_backend();
    let (what, result) = match &cli.command {
        Some(Command::Data {
            preview: true,
            config,
            out,
            root,
        }) => (
            "invlab data --preview",
            data_preview(config.as_deref(), root.as_deref(), out),
        ),
        Some(Command::Data { root, .. }) => {
            let statuses = invlab_engine::data::real::survey(root.as_deref());
            // A closed pipe (`| head`) is no error for a listing.
            let _ = std::io::stdout()
                .write_all(invlab_engine::data::real::render_survey(&statuses).as_bytes());
            ("invlab data", Ok(()))
        }
        Some(Command::Report {
            runs,
            out,
            baseline,
            reference,
        }) => (
            "invlab report",
            report(
                runs,
                out.as_deref(),
                baseline.as_deref(),
                reference.as_deref(),
            ),
        ),
        Some(Command::Eval {
            run,
            name,
            overrides,
            taus,
            norm_taus,
            device,
            no_ekld,
        }) => {
            let request = device
                .as_deref()
                .map(invlab_core::device::DeviceRequest::parse)
                .transpose()
                .map_err(|e| CliError::Usage(format!("--device: {e}")))
                .map(|device| invlab_engine::evaluation::EvalRequest {
                    run_dir: run.clone(),
                    name: name.clone(),
                    overrides: overrides.clone(),
                    taus: taus.clone(),
                    norm_taus: norm_taus.clone(),
                    device,
                    skip_invariance: *no_ekld,
                    threads: None,
                });
            ("invlab eval", request.and_then(|r| evaluate(&r)))
        }
        Some(Command::Completions { shell }) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "invlab", &mut std::io::stdout());
            ("invlab completions", Ok(()))
        }
        Some(Command::Man) => {
            let page = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            let result = match page.render(&mut std::io::stdout()) {
                // `| head` closed the pipe: nobody is reading, nothing failed.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.map_err(CliError::Output),
            };
            ("invlab man", result)
        }
        Some(Command::Watch { dirs }) => {
            let result = match dirs.iter().find(|d| !d.is_dir()) {
                Some(missing) => Err(CliError::Usage(format!(
                    "{} is not a folder",
                    missing.display()
                ))),
                None => lab(&cli, None, dirs.clone()),
            };
            ("invlab watch", result)
        }
        // No --batch: the interactive lab (the first CONFIG, if any, fills its form).
        None if !cli.batch && cli.resume.is_none() => (
            "invlab",
            lab(&cli, cli.configs.first().cloned(), Vec::new()),
        ),
        None => (
            "invlab",
            runs_dir(&cli).and_then(|runs_dir| batch::main(&cli, &runs_dir)),
        ),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if e.needs_message() {
                eprintln!("{what}: {e}");
            }
            std::process::ExitCode::from(e.exit_code())
        }
    }
}

/// `--devices` for the lab: the devices to spread its runs over (`auto`: every visible GPU);
/// none given: each run on its config's device.
fn lab_devices(cli: &Cli) -> Result<Vec<invlab_core::device::DeviceRequest>, CliError> {
    match &cli.devices {
        None => Ok(Vec::new()),
        Some(text) => Ok(batch::devices(text)?),
    }
}

/// `--out`, else the data directory's `runs` folder.
fn runs_dir(cli: &Cli) -> Result<std::path::PathBuf, CliError> {
    cli.out.clone().or_else(paths::runs_dir).ok_or_else(|| {
        CliError::Usage("no data directory is known on this system; pass --out DIR".into())
    })
}

/// The interactive lab (with `config` in its form, following `watch` besides its runs
/// folder).
fn lab(
    cli: &Cli,
    config: Option<std::path::PathBuf>,
    watch: Vec<std::path::PathBuf>,
) -> Result<(), CliError> {
    let options = invlab_tui::TuiOptions {
        theme: cli.theme.clone(),
        runs_dir: runs_dir(cli)?,
        config,
        watch,
        jobs: cli.jobs.unwrap_or(1),
        devices: lab_devices(cli)?,
        ..Default::default()
    };
    match invlab_tui::run(options) {
        Ok(invlab_tui::Ended::Quit) => Ok(()),
        // Stopped by a signal: the active runs are resumable, as in batch mode.
        Ok(invlab_tui::Ended::Signal(_)) => Err(CliError::Stopped),
        Err(e) => Err(CliError::Lab(e)),
    }
}

/// `invlab data --preview`: a PNG of a config's dataset.
fn data_preview(
    config: Option<&std::path::Path>,
    root: Option<&std::path::Path>,
    out: &std::path::Path,
) -> Result<(), CliError> {
    let summary = invlab_engine::data_preview::write_png(config, root, out)?;
    eprintln!("{summary}");
    let _ = writeln!(std::io::stdout(), "{}", out.display());
    Ok(())
}

fn report(
    dirs: &[std::path::PathBuf],
    out: Option<&std::path::Path>,
    baseline: Option<&str>,
    reference: Option<&str>,
) -> Result<(), CliError> {
    use invlab_report::{comparison_table, write_report_with, ReportRun, SeedStatistics};
    let runs = dirs
        .iter()
        .map(|d| ReportRun::load(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::ReportInput)?;
    let statistics = SeedStatistics::with_reference(&runs, baseline, reference)
        .map_err(CliError::ReportInput)?;
    let text = comparison_table(&runs) + &statistics.markdown;
    let _ = std::io::stdout().write_all(text.as_bytes());
    if let Some(dir) = out {
        for f in write_report_with(&runs, dir, &statistics).map_err(CliError::ReportOutput)? {
            eprintln!("wrote {}", f.display());
        }
    }
    Ok(())
}

/// `invlab eval`: the evaluation, its figures, and its table on stdout.
fn evaluate(request: &invlab_engine::evaluation::EvalRequest) -> Result<(), CliError> {
    let progress = |step: invlab_engine::evaluation::EvalStep| {
        // A closed stderr must not end the evaluation (eprintln! would panic).
        let _ = writeln!(std::io::stderr(), "invlab eval: {}", step.describe());
    };
    let output = invlab_engine::evaluation::evaluate(request, &progress, &|| false)?;
    invlab_report::finish_eval_folder(&output.dir, &output.record, &output.confusion)
        .map_err(CliError::ReportOutput)?;
    let text = invlab_report::eval_table(&output.record, &output.dir);
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Output(e)),
        _ => Ok(()),
    }
}
