//! One batch run under way: follows its worker's events, prints its progress, and says when
//! (and how) it ended.

use std::path::PathBuf;

use super::{finished_line, Progress, RunResult};
use invlab_engine::{Event, RunHandle};

pub(crate) struct Job {
    /// The work's number in this invocation (events are tagged with it).
    pub id: usize,
    /// The scheduler slot it occupies.
    pub slot_index: usize,
    name: String,
    dir: PathBuf,
    /// The epoch under way and the run's length, for the progress bar.
    epoch: usize,
    total_epochs: usize,
    stop_sent: bool,
    handle: RunHandle,
}

impl Job {
    pub fn new(id: usize, name: String, handle: RunHandle) -> Job {
        Job {
            id,
            slot_index: 0,
            name,
            dir: PathBuf::new(),
            epoch: 0,
            total_epochs: 0,
            stop_sent: false,
            handle,
        }
    }

    pub fn on_slot(mut self, slot_index: usize) -> Job {
        self.slot_index = slot_index;
        self
    }

    /// Asks the run to stop at its next batch boundary (once).
    pub fn stop(&mut self, progress: &mut Progress, why: &str) {
        if !self.stop_sent {
            self.stop_sent = true;
            self.handle.stop();
            progress.line(&format!(
                "[{}] {why}: stopping at the next batch boundary (a second signal, 2 s or more later, ends at once)",
                self.name
            ));
        }
    }

    /// Waits for the worker thread (after its terminal event).
    pub fn join(self) {
        self.handle.join();
    }

    /// Follows one event; returns the run's result when the event ends it.
    pub fn on_event(
        &mut self,
        event: Event,
        stream: bool,
        progress: &mut Progress,
    ) -> Option<RunResult> {
        let (id, name) = (self.id, self.name.clone());
        match event {
            Event::Started(info) => {
                self.name = info.run_id.clone();
                let name = &self.name;
                self.dir = info.dir.clone();
                self.total_epochs = info.total_epochs;
                self.epoch = info.resumed_at.unwrap_or(0) + 1;
                let sizes = &info.train_sizes;
                let (max, min) = (
                    sizes.iter().max().copied().unwrap_or(0),
                    sizes.iter().min().copied().unwrap_or(0),
                );
                progress.line(&format!(
                    "[{name}] {} classes, {} training images (n_max {max}, n_min {min}), {} test images; device {}{}; libtorch {}{}",
                    info.num_classes,
                    sizes.iter().sum::<usize>(),
                    info.test_sizes.iter().sum::<usize>(),
                    info.device,
                    info.cpu_threads.map(|t| format!(", {t} thread{}", if t == 1 { "" } else { "s" })).unwrap_or_default(),
                    info.libtorch_version,
                    info.resumed_at.map(|e| format!("; resuming after epoch {e}")).unwrap_or_default(),
                ));
                progress.line(&format!("[{name}] directory {}", info.dir.display()));
                progress.start(id, name);
                None
            }
            Event::Phase(phase) => {
                progress.phase(id, phase, self.epoch, self.total_epochs);
                None
            }
            Event::Batch {
                epoch,
                batch,
                batches,
                loss,
            } => {
                self.epoch = epoch;
                progress.batch(id, (epoch, self.total_epochs), batch, batches, loss);
                None
            }
            Event::Generator(g) => {
                progress.generator(id, &name, &g);
                None
            }
            Event::GeneratorCoverage(c) => {
                progress.line(&format!(
                    "[{name}] generator coverage of the {} over {} styles per image:",
                    c.measure.label(),
                    c.styles
                ));
                for group in &c.groups {
                    progress.line(&format!(
                        "[{name}]   {}",
                        invlab_core::nuisance_coverage::summary_line(&c, group)
                    ));
                }
                None
            }
            Event::Epoch(m) => {
                self.epoch = m.epoch + 1;
                progress.epoch(id, &name, &m);
                if stream {
                    print_stream_line(&name, &m);
                }
                None
            }
            Event::Paused => {
                progress.line(&format!("[{name}] paused"));
                None
            }
            Event::Finished(s) => {
                // Figures are a post-run step of the front end. One that cannot be drawn is not
                // a failed run: the data behind it is already on disk.
                if let Err(e) = invlab_report::write_run_figures(&self.dir) {
                    progress.line(&format!("[{name}] figures not written: {e}"));
                }
                progress.clear(id);
                progress.line(&finished_line(&name, &s));
                Some(RunResult::Finished(self.dir.clone()))
            }
            Event::Stopped { epochs_done } => {
                progress.clear(id);
                progress.line(&format!(
                    "[{name}] stopped with {epochs_done} epochs checkpointed; continue with: invlab --batch --resume {}",
                    self.dir.display()
                ));
                Some(RunResult::Stopped(self.dir.clone()))
            }
            Event::Failed { message } => {
                progress.clear(id);
                progress.line(&format!("[{name}] failed: {message}"));
                Some(RunResult::Failed(message))
            }
            Event::Invariance(_) | Event::Resumed => None,
        }
    }
}

/// `--stream`: the epoch's metrics as one JSON line on stdout, with the run's id (`run`),
/// so lines of parallel runs can be told apart.
fn print_stream_line(run: &str, m: &invlab_engine::EpochMetrics) {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(m) else {
        return;
    };
    let mut line = serde_json::Map::new();
    line.insert("run".into(), serde_json::Value::String(run.to_string()));
    line.extend(fields);
    if let Ok(text) = serde_json::to_string(&line) {
        super::output::line(&text);
    }
}
