//! Batch-mode progress on stderr: a bar over each epoch's batches (indicatif) when stderr is a
//! terminal, with the epoch lines printed above it; plain lines only when stderr is a file or a
//! pipe (cluster logs), so logs never fill with redraws. The headline metric is balanced test
//! accuracy: real datasets' test splits are imbalanced, and plain accuracy then mostly measures
//! the large classes. GIT's generator phase, before the classifier's epochs, gets the same
//! treatment: a bar over its iterations with the latest losses, and a plain line at each of its
//! checkpoints (every `git.sample_every` iterations) and at the end.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use invlab_engine::{EpochMetrics, GeneratorProgress, Phase, Summary};

/// Where progress goes: one bar per active run (under one `MultiProgress`) on a terminal,
/// plain lines prefixed with the run's name otherwise.
pub(crate) struct Progress {
    /// The bars' owner, in terminal mode.
    multi: Option<MultiProgress>,
    plain: Box<dyn Write>,
    /// Each active run's bar and latest headline, by the batch's job number.
    runs: HashMap<usize, RunBar>,
}

/// One run's share of the progress display.
struct RunBar {
    bar: Option<ProgressBar>,
    /// The last epoch's headline, shown beside the bar.
    last: String,
    /// What the bar counts now.
    counting: Counting,
    /// When the last plain generator line went out (plain mode prints one at least this often).
    last_generator_line: Option<Instant>,
}

/// The bar's unit: the classifier's batches in an epoch, or the generator's iterations.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counting {
    Batches,
    Iterations,
}

/// In plain mode, a generator line at least this often between its checkpoints.
const GENERATOR_LINE_EVERY: Duration = Duration::from_secs(60);

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn stderr() -> Progress {
        Progress {
            multi: std::io::stderr().is_terminal().then(MultiProgress::new),
            plain: Box::new(std::io::stderr()),
            runs: HashMap::new(),
        }
    }

    /// Plain lines into `out` (tests, logs).
    #[cfg(test)]
    pub fn plain(out: Box<dyn Write>) -> Progress {
        Progress {
            multi: None,
            plain: out,
            runs: HashMap::new(),
        }
    }

    /// Prints a line (above the bars when there are any).
    pub fn line(&mut self, text: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => {
                let _ = writeln!(self.plain, "{text}");
                let _ = self.plain.flush();
            }
        }
    }

    /// Run `job` began: in terminal mode, a fresh bar of its own.
    pub fn start(&mut self, job: usize, name: &str) {
        self.clear(job);
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new(1).with_style(bar_style(Counting::Batches)));
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        self.runs.insert(
            job,
            RunBar {
                bar,
                last: String::new(),
                counting: Counting::Batches,
                last_generator_line: None,
            },
        );
    }

    fn run(&mut self, job: usize) -> Option<&mut RunBar> {
        self.runs.get_mut(&job)
    }

    pub fn batch(
        &mut self,
        job: usize,
        (epoch, total_epochs): (usize, usize),
        batch: usize,
        batches: usize,
        loss: f64,
    ) {
        if let Some(run) = self.run(job) {
            run.count(Counting::Batches);
            if let Some(bar) = &run.bar {
                bar.set_length(batches as u64);
                bar.set_position(batch as u64);
                bar.set_message(format!(
                    "epoch {epoch}/{total_epochs} loss {loss:.4}{}",
                    run.last
                ));
            }
        }
    }

    pub fn phase(&mut self, job: usize, phase: Phase, epoch: usize, total_epochs: usize) {
        let what = match phase {
            Phase::LoadingData => "loading data",
            Phase::Generator => "GIT generator",
            Phase::Training => return,
            Phase::Evaluating => "testing",
            Phase::Invariance => "measuring eKLD",
            Phase::Writing => "writing",
        };
        if let Some(RunBar {
            bar: Some(bar),
            last,
            ..
        }) = self.run(job)
        {
            let at = if epoch > 0 {
                format!("epoch {epoch}/{total_epochs} ")
            } else {
                String::new()
            };
            bar.set_message(format!("{at}{what}{last}"));
        }
    }

    /// GIT's generator phase: the bar follows its iterations and latest losses; a line at each
    /// of its checkpoints (those reports carry a sample grid), at the end, when it came from the
    /// cache, and in plain mode at least every minute.
    pub fn generator(&mut self, job: usize, name: &str, g: &GeneratorProgress) {
        let Some(run) = self.run(job) else { return };
        run.count(Counting::Iterations);
        if let Some(bar) = &run.bar {
            bar.set_length(g.iterations as u64);
            bar.set_position(g.iteration as u64);
            bar.set_message(format!("generator {}", losses_text(g)));
        }
        let milestone = g.from_cache || g.samples.is_some() || g.iteration >= g.iterations;
        let overdue = run.bar.is_none()
            && run
                .last_generator_line
                .is_none_or(|t| t.elapsed() >= GENERATOR_LINE_EVERY);
        if milestone || overdue {
            run.last_generator_line = Some(Instant::now());
            self.line(&generator_line(name, g));
        }
    }

    /// An epoch ended: its line, and its headline beside the bar.
    pub fn epoch(&mut self, job: usize, name: &str, m: &EpochMetrics) {
        if let Some(run) = self.run(job) {
            run.last = format!(
                " | last: balanced {:.1}% acc {:.1}%",
                100.0 * m.balanced_accuracy,
                100.0 * m.test_accuracy
            );
        }
        self.line(&epoch_line(name, m));
    }

    /// Removes run `job`'s bar (before its last line).
    pub(crate) fn clear(&mut self, job: usize) {
        if let Some(RunBar { bar: Some(bar), .. }) = self.runs.remove(&job) {
            bar.finish_and_clear();
            if let Some(multi) = &self.multi {
                multi.remove(&bar);
            }
        }
    }
}

impl RunBar {
    /// Points the bar at batches or iterations, restarting its clock (and ETA) on a change.
    fn count(&mut self, counting: Counting) {
        if let Some(bar) = &self.bar {
            if self.counting != counting {
                bar.set_style(bar_style(counting));
                bar.reset();
                self.counting = counting;
            }
        }
    }
}

fn bar_style(counting: Counting) -> ProgressStyle {
    let template = match counting {
        Counting::Batches => {
            "{spinner} [{prefix}] {msg} {wide_bar} {pos}/{len} batches, {elapsed} (epoch eta {eta})"
        }
        Counting::Iterations => {
            "{spinner} [{prefix}] {msg} {wide_bar} {pos}/{len} iterations, {elapsed} (eta {eta})"
        }
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The generator's latest losses, as MUNIT logs them (or why there are none).
fn losses_text(g: &GeneratorProgress) -> String {
    match &g.losses {
        Some(l) => format!(
            "dis {:.4}  gan {:.4}  recon x/s/c {:.4}/{:.4}/{:.4}",
            l.dis, l.gan, l.recon_x, l.recon_s, l.recon_c
        ),
        None if g.from_cache => "from the cache".into(),
        None => "starting".into(),
    }
}

/// One line of the generator phase: where it is, its losses, and its pace.
pub(crate) fn generator_line(name: &str, g: &GeneratorProgress) -> String {
    if g.from_cache {
        return format!(
            "[{name}] GIT generator {} ({} iterations) reused from the cache",
            g.key, g.iterations
        );
    }
    let done_here = g.iteration.saturating_sub(g.started_at);
    let pace = if done_here > 0 && g.seconds > 0.0 {
        let per_it = g.seconds / done_here as f64;
        let left = if g.iteration < g.iterations {
            let seconds = per_it * (g.iterations - g.iteration) as f64;
            format!(", ~{seconds:.0}s left")
        } else {
            String::new()
        };
        format!("  ({:.0}s, {:.0} ms/it{left})", g.seconds, 1e3 * per_it)
    } else {
        String::new()
    };
    format!(
        "[{name}] GIT generator iteration {}/{}  {}{pace}",
        g.iteration,
        g.iterations,
        losses_text(g)
    )
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}", 100.0 * x))
        .unwrap_or_else(|| "-".into())
}

fn num(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

/// One epoch: balanced accuracy first, plain accuracy beside it, then the groups, the training
/// side, eKLD when measured, and timings.
pub(crate) fn epoch_line(name: &str, m: &EpochMetrics) -> String {
    let stage = match m.stage {
        invlab_engine::Stage::Train => String::new(),
        other => format!(" ({other})"),
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
    format!(
        "[{name}] epoch {}/{}{stage}  balanced {:.1}%  acc {:.1}%  many/med/few {}/{}/{}  loss {:.4}  train {:.1}%  lr {:.4}{inv}  ({:.1}s + {:.1}s eval)",
        m.epoch,
        m.total_epochs,
        100.0 * m.balanced_accuracy,
        100.0 * m.test_accuracy,
        pct(m.groups.many),
        pct(m.groups.medium),
        pct(m.groups.few),
        m.train_loss,
        100.0 * m.train_accuracy,
        m.lr,
        m.train_seconds,
        m.eval_seconds + m.invariance.as_ref().map(|r| r.seconds).unwrap_or(0.0),
    )
}

/// The run's last line: balanced accuracy first, then what the run cost (when known).
pub(crate) fn finished_line(name: &str, s: &Summary) -> String {
    let mut cost = String::new();
    if let Some(t) = s.first_batch_seconds {
        cost += &format!("; first batch after {t:.1}s");
    }
    if let Some(m) = s.peak_rss_mib {
        cost += &format!("; peak memory {m:.0} MiB");
    }
    format!(
        "[{name}] finished in {:.0}s: balanced accuracy {:.1}% (accuracy {:.1}%), eKLD many/medium/few {}/{}/{}, Spearman(size, eKLD) {}{cost}",
        s.wall_seconds,
        100.0 * s.balanced_accuracy,
        100.0 * s.accuracy,
        num(s.ekld_by_group.many),
        num(s.ekld_by_group.medium),
        num(s.ekld_by_group.few),
        num(s.spearman_size_ekld),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use invlab_core::generator::Losses;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn report(iteration: usize, grid: bool) -> GeneratorProgress {
        GeneratorProgress {
            key: "k1".into(),
            iteration,
            iterations: 100,
            losses: Some(Losses {
                iteration,
                dis: 0.5,
                gan: 0.25,
                recon_x: 0.125,
                recon_s: 0.0625,
                recon_c: 0.03125,
                ..Default::default()
            }),
            seconds: iteration as f64 * 0.01,
            started_at: 0,
            from_cache: false,
            samples: grid.then(|| invlab_core::generator::SampleGrid {
                channels: 1,
                size: 1,
                rows: Vec::new(),
            }),
        }
    }

    #[test]
    fn plain_mode_logs_the_generator_at_its_checkpoints_not_at_every_report() {
        let out = Shared::default();
        let mut p = Progress::plain(Box::new(out.clone()));
        p.start(0, "g");
        p.generator(0, "g", &report(10, false)); // first report: a line (none yet)
        p.generator(0, "g", &report(20, false)); // throttled
        p.generator(0, "g", &report(50, true)); // a checkpoint
        p.generator(0, "g", &report(100, false)); // the end
        let text = String::from_utf8(out.0.borrow().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].starts_with("[g] GIT generator iteration 50/100  dis 0.5000  gan 0.2500  recon x/s/c 0.1250/0.0625/0.0312"), "{text}");
        assert!(lines[1].contains("(0s, 10 ms/it, ~"), "{text}");
        assert!(
            lines[2].contains("100/100") && lines[2].ends_with("(1s, 10 ms/it)"),
            "{text}"
        );
    }

    #[test]
    fn a_cached_generator_says_so() {
        let mut g = report(100, false);
        g.from_cache = true;
        g.losses = None;
        assert_eq!(
            generator_line("g", &g),
            "[g] GIT generator k1 (100 iterations) reused from the cache"
        );
    }
}
