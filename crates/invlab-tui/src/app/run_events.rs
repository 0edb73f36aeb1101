//! Engine events of a run: they fill its entry, and a run's last event advances the queue.

use invlab_engine::Event;

use super::{App, BatchProgress, Effect, RunStatus};

/// Live batch-loss points kept per run; beyond, every other point is dropped.
const MAX_BATCH_POINTS: usize = 4000;

impl App {
    pub(super) fn on_run_event(&mut self, slot: usize, event: Event) -> Vec<Effect> {
        let terminal = event.is_terminal();
        let mut effects = Vec::new();
        let Some(run) = self.run_mut(slot) else {
            return effects;
        };
        match event {
            Event::Started(info) => {
                if run.status != RunStatus::Stopping {
                    run.status = RunStatus::Running;
                }
                run.dir = Some(info.dir.clone());
                run.name = info.run_id.clone();
                run.info = Some(info);
            }
            Event::Phase(p) => run.phase = Some(p),
            Event::Batch {
                epoch,
                batch,
                batches,
                loss,
            } => {
                run.batch = Some(BatchProgress {
                    epoch,
                    batch,
                    batches,
                    loss,
                });
                if loss.is_finite() && batches > 0 {
                    let x = (epoch.max(1) - 1) as f64 + batch as f64 / batches as f64;
                    run.batch_losses.push((x, loss));
                    if run.batch_losses.len() > MAX_BATCH_POINTS {
                        // Keep every other point: the curve's shape survives, memory stays flat.
                        let kept = run.batch_losses.iter().step_by(2).copied().collect();
                        run.batch_losses = kept;
                    }
                }
            }
            Event::Epoch(m) => {
                if let Some(inv) = &m.invariance {
                    run.invariance = Some(Box::new(inv.clone()));
                }
                run.epochs.push(*m);
            }
            Event::Invariance(r) => run.invariance = Some(r),
            Event::Generator(p) => run.record_generator(*p),
            Event::GeneratorCoverage(c) => run.generator_coverage = Some(c),
            Event::Paused => {
                run.status = RunStatus::Paused;
                run.pause_requested = false;
            }
            Event::Resumed => {
                if run.status == RunStatus::Paused {
                    run.status = RunStatus::Running;
                }
            }
            Event::Finished(summary) => {
                run.status = RunStatus::Done;
                run.summary = Some(summary);
                // Figures are a post-run step of the front end, drawn off the UI thread.
                if let Some(dir) = &run.dir {
                    effects.push(Effect::WriteFigures { dir: dir.clone() });
                }
            }
            Event::Stopped { epochs_done } => run.status = RunStatus::Stopped { epochs_done },
            Event::Failed { message } => {
                tracing::warn!(slot, "run failed: {message}");
                run.status = RunStatus::Failed(message);
            }
        }
        if terminal {
            let run = self.run_by_slot(slot).expect("present");
            let text = format!("{}: {}", run.name, run.status.label());
            let failed = matches!(run.status, RunStatus::Failed(_));
            if failed {
                self.warn(text);
            } else {
                self.say(text);
            }
            if self.quitting {
                if self.active_count() == 0 {
                    self.should_exit = true;
                }
                return effects;
            }
            effects.extend(self.advance_queue());
        }
        effects
    }
}
