//! Batch-mode progress on stderr: a bar over each epoch's batches (indicatif) when stderr is a
//! terminal, with the epoch lines printed above it; plain lines only when stderr is a file or a
//! pipe (cluster logs), so logs never fill with redraws. The headline metric is balanced test
//! accuracy: real datasets' test splits are imbalanced, and plain accuracy then mostly measures
//! the large classes.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::{EpochMetrics, Phase, Summary};

/// Where progress goes.
pub struct Progress {
    /// The live bar, in terminal mode.
    bar: Option<ProgressBar>,
    terminal: bool,
    plain: Box<dyn Write>,
    /// The last epoch's headline, shown beside the bar.
    last: String,
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn stderr() -> Progress {
        Progress {
            bar: None,
            terminal: std::io::stderr().is_terminal(),
            plain: Box::new(std::io::stderr()),
            last: String::new(),
        }
    }

    /// Plain lines into `out` (tests, logs).
    pub fn plain(out: Box<dyn Write>) -> Progress {
        Progress {
            bar: None,
            terminal: false,
            plain: out,
            last: String::new(),
        }
    }

    /// Prints a line (above the bar when there is one).
    pub fn line(&mut self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(self.plain, "{text}");
                let _ = self.plain.flush();
            }
        }
    }

    /// A run began: in terminal mode, a fresh bar.
    pub fn start(&mut self, name: &str) {
        self.clear();
        self.last.clear();
        if self.terminal {
            let style = ProgressStyle::with_template(
                "{spinner} [{prefix}] {msg} {wide_bar} {pos}/{len} batches, {elapsed} (epoch eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = ProgressBar::new(1).with_style(style);
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            self.bar = Some(bar);
        }
    }

    pub fn batch(
        &mut self,
        epoch: usize,
        total_epochs: usize,
        batch: usize,
        batches: usize,
        loss: f64,
    ) {
        if let Some(bar) = &self.bar {
            bar.set_length(batches as u64);
            bar.set_position(batch as u64);
            bar.set_message(format!(
                "epoch {epoch}/{total_epochs} loss {loss:.4}{}",
                self.last
            ));
        }
    }

    pub fn phase(&mut self, phase: Phase, epoch: usize, total_epochs: usize) {
        let what = match phase {
            Phase::LoadingData => "loading data",
            Phase::Training => return,
            Phase::Evaluating => "testing",
            Phase::Invariance => "measuring eKLD",
            Phase::Writing => "writing",
        };
        if let Some(bar) = &self.bar {
            let at = if epoch > 0 {
                format!("epoch {epoch}/{total_epochs} ")
            } else {
                String::new()
            };
            bar.set_message(format!("{at}{what}{}", self.last));
        }
    }

    /// An epoch ended: its line, and its headline beside the bar.
    pub fn epoch(&mut self, name: &str, m: &EpochMetrics) {
        self.last = format!(
            " | last: balanced {:.1}% acc {:.1}%",
            100.0 * m.balanced_accuracy,
            100.0 * m.test_accuracy
        );
        self.line(&epoch_line(name, m));
    }

    /// Removes the bar (before a run's last line).
    pub fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
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
pub fn epoch_line(name: &str, m: &EpochMetrics) -> String {
    let stage = match m.stage {
        crate::engine::Stage::Train => String::new(),
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

/// The run's last line: balanced accuracy first.
pub fn finished_line(name: &str, s: &Summary) -> String {
    format!(
        "[{name}] finished in {:.0}s: balanced accuracy {:.1}% (accuracy {:.1}%), eKLD many/medium/few {}/{}/{}, Spearman(size, eKLD) {}",
        s.wall_seconds,
        100.0 * s.balanced_accuracy,
        100.0 * s.accuracy,
        num(s.ekld_by_group.many),
        num(s.ekld_by_group.medium),
        num(s.ekld_by_group.few),
        num(s.spearman_size_ekld),
    )
}
