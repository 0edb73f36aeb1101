//! Command-line interface (clap). The binary stays thin: it parses, then hands over to the TUI,
//! the batch runner or the data survey.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

const AFTER_HELP: &str = "\
EXAMPLES:
  invlab                                   open the interactive lab
  invlab --batch configs/default.toml      run a config headless
  invlab --batch configs/default.toml --set train.epochs=5 --set train.decay_epochs=[3,4] --set method.rule=drs
  invlab --batch configs/default.toml --sweep seed=0,1,2 --sweep method.rule=none,drs --list
  invlab --batch configs/default.toml --sweep seed=0,1,2 --index $SLURM_ARRAY_TASK_ID
  invlab --batch configs/default.toml --sweep seed=0,1,2 --jobs 2 --continue  two at a time
  invlab --batch --resume ~/.local/share/invlab/runs/default
  invlab data                              where each dataset was looked for, and whether it is valid
  invlab data --preview CONFIG --out p.png pictures of CONFIG's dataset (classes, transforms, sizes)
  invlab report RUN_DIR... --out cmp       compare finished runs: cmp/report.md, .csv, figures (SVG + PNG);
                                           over seeds: mean ± sd, 95 % intervals, paired comparisons
  invlab watch /scratch/sweep              the lab, following runs other processes write there
  invlab eval RUN_DIR --set eval.ekld_transform=bg
                                           re-evaluate a checkpoint: confusion, ECE, top-5, logit
                                           adjustment, tau-norm, eKLD; RUN_DIR/eval-NAME/

RUN DIRECTORY (one per run, every file written atomically):
  config.toml     the resolved config          run.json       device, versions, class sizes
  metrics.jsonl   one JSON object per epoch    state.json     status and last checkpointed epoch
  summary.json    accuracy, balanced / many / medium / few-shot accuracy, per-class
                  train_size, accuracy, ekld, consistency; invlab version and commit,
                  libtorch version, device
  per_class.csv   the per-class table          checkpoint.ot, optimizer.ot  for --resume
  progress.json   heartbeat while it trains: pid, host, phase, epoch, batch (at most 1/s)
  events.out.tfevents.invlab   for TensorBoard: scalars, per-class tags, hparams, figures
  ekld_vs_size.svg/.png, curves.svg/.png     figures
  eval-NAME/      invlab eval's re-evaluation of the checkpoint: eval.json, per_class.csv,
                  confusion.csv, confusion.svg/.png, reliability.svg/.png

SIGNALS (batch mode): SIGTERM, SIGINT (Ctrl-C), SIGUSR1 or SIGHUP stops every running run at its next
  batch boundary with its directory resumable (state.json \"stopped\"), within seconds, and
  starts no more. Repeats within 2 s are the same request (Slurm sends SIGTERM twice at a time
  limit); a signal 2 s or more after the first ends the process at once (exit 128 + the signal),
  resumable from the last checkpoints.
  With --index (job arrays) or --continue, running the same command again continues the runs:
  finished points are skipped, stopped or killed ones resumed, the rest started; a point another
  live process is running (its lock) is skipped, so several processes can share one sweep.

EXIT STATUS: 0 all runs finished (or were already); 1 a run failed; 2 bad command line, config
or data; 75 stopped by a signal, resumable: rerun with --resume DIR, or the same --index /
--continue command.

ENVIRONMENT: INVLAB_DATA_DIR (runs and datasets), INVLAB_CONFIG_DIR (saved configs, themes).";

#[derive(Debug, Parser)]
#[command(
    name = "invlab",
    version = invlab_engine::build_info::VERSION_LINE,
    about = "A lab for invariance transfer in long-tailed image classification",
    long_about = "A lab for invariance transfer in long-tailed image classification: train on a \
long-tailed dataset with a nuisance transform and watch per-class accuracy and per-class \
invariance (eKLD) against class size. With no arguments it opens the interactive lab.",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Run headless: progress on stderr, results in run directories, no terminal UI.
    #[arg(long)]
    pub batch: bool,

    /// Session config files (TOML). Without --batch, the first is loaded into the lab's form.
    #[arg(value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,

    /// Parent folder for run directories [default: <data dir>/runs].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Override a config value, e.g. train.epochs=2 or method.rule=drs (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,

    /// Sweep a key over values, e.g. seed=0,1,2 (repeatable: the Cartesian product is run).
    #[arg(long = "sweep", value_name = "KEY=V1,V2,...")]
    pub sweeps: Vec<String>,

    /// Run only the sweep point with this 0-based index (for Slurm job arrays).
    #[arg(long, value_name = "N", env = "INVLAB_INDEX")]
    pub index: Option<usize>,

    /// Print the sweep points (index and overrides) and exit.
    #[arg(long)]
    pub list: bool,

    /// Continue a killed or stopped run from its directory's last checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,

    /// Continue runs that already have a directory of the same name: skip finished ones, resume
    /// stopped or killed ones, start the rest (implied by --index; for requeued jobs).
    #[arg(long = "continue")]
    pub continue_existing: bool,

    /// Print every epoch's metrics as a JSON line on stdout, with the run's id as `run`
    /// (batch mode).
    #[arg(long)]
    pub stream: bool,

    /// Runs at a time [default: one per GPU slot, or 1 on the CPU; the lab: 1, J changes it].
    /// The cores are split between them (see --threads).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Devices to run on: auto (every visible GPU, else the CPU), cpu, or a list such as
    /// cuda:0,cuda:2 [batch default: auto]. A config with device = "cpu" stays on the CPU. In
    /// the lab, each new run goes to the listed device with the fewest of its runs.
    #[arg(long, value_name = "LIST")]
    pub devices: Option<String>,

    /// Runs sharing one GPU (batch mode) [default: 1].
    #[arg(long, value_name = "K")]
    pub per_device: Option<usize>,

    /// libtorch threads per run (batch mode) [default: the cores divided by the runs at a time,
    /// so parallel runs never oversubscribe the machine].
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,

    /// Colour theme for the lab (dark, light, high-contrast, or a user theme).
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every dataset, where it was looked for, and whether it was found and valid.
    /// With --preview: pictures of a config's dataset as a PNG.
    Data {
        /// A folder to look in first (as `data.root`).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Write a PNG of CONFIG's dataset: its largest and smallest classes after the
        /// nuisance transform, one image under fresh transforms, the class-size profile.
        #[arg(long)]
        preview: bool,
        /// The config to preview [default: configs/default.toml, else the built-in default].
        #[arg(value_name = "CONFIG", requires = "preview")]
        config: Option<PathBuf>,
        /// Where --preview writes the PNG.
        #[arg(
            long,
            value_name = "FILE.png",
            default_value = "data-preview.png",
            requires = "preview"
        )]
        out: PathBuf,
    },
    /// Open the lab following the run directories under DIR... live (besides its own runs
    /// folder): batch runs, array tasks and other labs writing there appear within seconds and
    /// advance; one written by a process on this host can be stopped (x sends it SIGTERM).
    Watch {
        /// Folders of run directories (e.g. a sweep's --out, on NFS or Lustre too).
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
    /// Compare finished runs: a Markdown table on stdout; with --out, a folder of results.
    Report {
        /// Run directories (each with summary.json and metrics.jsonl).
        #[arg(required = true, value_name = "RUN_DIR")]
        runs: Vec<PathBuf>,
        /// Folder to write (created if needed): report.md, comparison.csv, and the overlaid
        /// figures ekld_vs_size and curves as .svg and .png, series.csv (mean per series;
        /// with seeds, sd and 95 % interval) and, with seeds, paired.csv (each series
        /// against the baseline).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The series the others are compared with, on their shared seeds: a series name
        /// (a run's name without its -sN seed suffix), a run's name or its directory.
        /// Default: the first series given.
        #[arg(long, value_name = "SERIES")]
        baseline: Option<String>,
        /// A series that bounds what the others can reach (e.g. GIT's oracle control): for
        /// every other series, the share of the baseline -> reference gap it closes, per seed
        /// with a 95 % interval (gaps.csv).
        #[arg(long, value_name = "SERIES")]
        reference: Option<String>,
    },
    /// Re-evaluate a run's checkpoint without retraining, into RUN/eval-<NAME>/: per-class
    /// accuracy, top-5, calibration (ECE, reliability diagram), the confusion matrix ordered
    /// by class size, post-hoc logit adjustment and tau-normalised weights beside the raw
    /// model, and eKLD under the run's eval settings or others (--set eval.KEY=VALUE).
    Eval {
        /// The run directory (finished, stopped or killed: its last checkpoint is used).
        #[arg(value_name = "RUN_DIR")]
        run: PathBuf,
        /// The folder's name, RUN_DIR/eval-NAME [default: checkpoint, or from the --set values].
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Change an eval setting, e.g. eval.ekld_transform=bg, eval.ekld_sampling=fixed,
        /// eval.ekld_images_per_class=100 (repeatable; only eval.* keys).
        #[arg(long = "set", value_name = "eval.KEY=VALUE")]
        overrides: Vec<String>,
        /// Logit-adjustment tau (repeatable) [default: 0.5, 1, 1.5, 2].
        #[arg(long = "tau", value_name = "TAU", value_parser = finite)]
        taus: Vec<f64>,
        /// tau-normalisation exponent (repeatable) [default: 0.5, 1, 1.5].
        #[arg(long = "norm-tau", value_name = "TAU", value_parser = finite)]
        norm_taus: Vec<f64>,
        /// Device to evaluate on (cpu, cuda, cuda:N) [default: the run's config].
        #[arg(long, value_name = "DEVICE")]
        device: Option<String>,
        /// Skip eKLD: accuracy, calibration and the corrections only.
        #[arg(long)]
        no_ekld: bool,
    },
    /// Print a shell completion script, e.g. `source <(invlab completions bash)`, or for
    /// zsh `invlab completions zsh > "${fpath[1]}/_invlab"`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `invlab man > ~/.local/share/man/man1/invlab.1`.
    Man,
}

/// A finite number (a tau of NaN or infinity would turn every logit into NaN).
fn finite(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err("must be a finite number".into()),
        Err(e) => Err(e.to_string()),
    }
}
