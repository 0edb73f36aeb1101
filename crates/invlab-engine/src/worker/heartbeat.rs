//! The run's heartbeat (`progress.json`, see `invlab_core::heartbeat`), written from the events
//! the worker sends: at once when the run starts, pauses or resumes, else at most once a second.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use invlab_core::heartbeat::{now_seconds, this_host, Heartbeat};
use invlab_core::records::Phase;
use invlab_core::rundir::RunDir;

use crate::events::Event;
use crate::EventSink;

const EVERY: Duration = Duration::from_secs(1);

struct Beating {
    dir: Option<RunDir>,
    beat: Heartbeat,
    written: Option<Instant>,
}

/// Wraps the sink so that the events it passes on also keep the heartbeat. A heartbeat that
/// cannot be written is skipped: it is a view for others, never a reason to fail the run.
pub(super) fn beating(sink: EventSink) -> EventSink {
    let state = RefCell::new(Beating {
        dir: None,
        beat: Heartbeat {
            pid: std::process::id(),
            host: this_host(),
            phase: Phase::LoadingData,
            epoch: 0,
            total_epochs: 0,
            batch: 0,
            batches: 0,
            loss: None,
            paused: false,
            updated: 0.0,
        },
        written: None,
    });
    Box::new(move |event: Event| {
        if let Ok(mut s) = state.try_borrow_mut() {
            s.observe(&event);
        }
        sink(event)
    })
}

impl Beating {
    fn observe(&mut self, event: &Event) {
        let now = match event {
            Event::Started(info) => {
                self.dir = Some(RunDir {
                    path: info.dir.clone(),
                });
                self.beat.total_epochs = info.total_epochs;
                self.beat.epoch = info.resumed_at.unwrap_or(0) + 1;
                true
            }
            Event::Phase(phase) => {
                self.beat.phase = *phase;
                false
            }
            Event::Batch {
                epoch,
                batch,
                batches,
                loss,
            } => {
                self.beat.phase = Phase::Training;
                (self.beat.epoch, self.beat.batch, self.beat.batches) = (*epoch, *batch, *batches);
                self.beat.loss = Some(*loss);
                false
            }
            Event::Generator(_) => {
                self.beat.phase = Phase::Generator;
                false
            }
            Event::Epoch(m) => {
                self.beat.epoch = m.epoch + 1;
                self.beat.batch = 0;
                false
            }
            Event::Paused => {
                self.beat.paused = true;
                true
            }
            Event::Resumed => {
                self.beat.paused = false;
                true
            }
            Event::Invariance(_) | Event::GeneratorCoverage(_) => false,
            // The final state is state.json's to tell.
            Event::Finished(_) | Event::Stopped { .. } | Event::Failed { .. } => return,
        };
        let due = self.written.is_none_or(|t| t.elapsed() >= EVERY);
        if let (true, Some(dir)) = (now || due, &self.dir) {
            self.beat.updated = now_seconds();
            if dir.write_heartbeat(&self.beat).is_ok() {
                self.written = Some(Instant::now());
            }
        }
    }
}
