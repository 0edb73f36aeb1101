//! The UI loop: one `tokio::select!` on the UI thread over shutdown signals, terminal input,
//! the `AppEvent` channel, a 4 Hz tick and the frame timer. Every source becomes an
//! `AppEvent` for `App::on_event`; the effects go to the `Runtime`; the loop ends when the App
//! sets `should_exit` (or after a signal's grace time, or at a second signal).

use std::io;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event as ct;
use ratatui::layout::Rect;
use ratatui::Terminal;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::app::App;
use crate::event::AppEvent;
use crate::runtime::Runtime;
use crate::sampler;
use crate::ui::{self, Graphics};
use crate::Signal;

/// Frame cap for redraws not caused by input.
pub(crate) const FRAME: Duration = Duration::from_millis(33);
/// App ticks: messages fade, previews debounce.
pub(crate) const TICK: Duration = Duration::from_millis(250);
/// GPU / CPU sampling period.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// After a shutdown signal, how long active runs get to report `Stopped` (a run stops at the
/// next batch boundary, so seconds at most; this bounds a hung device).
pub(crate) const SIGNAL_GRACE: Duration = Duration::from_secs(15);

/// Samples GPU / CPU once per `period` on a timer task; the blocking NVML / sysinfo calls run
/// on tokio's blocking pool, off the select loop.
pub fn spawn_sampler(tx: UnboundedSender<AppEvent>, period: Duration) {
    tokio::spawn(async move {
        let Ok(mut sampler) = tokio::task::spawn_blocking(sampler::Sampler::new).await else {
            return;
        };
        let mut timer = tokio::time::interval(period);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            timer.tick().await;
            let Ok((back, sample)) = tokio::task::spawn_blocking(move || {
                let sample = sampler.sample();
                (sampler, sample)
            })
            .await
            else {
                return;
            };
            sampler = back;
            if tx.send(AppEvent::System(sample)).is_err() {
                return;
            }
        }
    });
}

/// How often the watcher looks at the run folders.
pub(crate) const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Polls the run folders (off the UI thread) and reports new, changed and removed runs.
pub(crate) fn spawn_watcher(
    tx: UnboundedSender<AppEvent>,
    mut watcher: invlab_core::watch::RunWatcher,
    period: Duration,
) {
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(period);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer.tick().await; // the first poll was start-up's
        loop {
            timer.tick().await;
            let Ok((back, changes)) = tokio::task::spawn_blocking(move || {
                let changes = watcher.poll();
                (watcher, changes)
            })
            .await
            else {
                return;
            };
            watcher = back;
            if changes.changed.is_empty() && changes.gone.is_empty() {
                continue;
            }
            if tx
                .send(AppEvent::Watched(std::sync::Arc::new(changes)))
                .is_err()
            {
                return;
            }
        }
    });
}

/// The stop signals (SIGTERM, SIGINT, SIGUSR1, SIGHUP) as a stream, read by the same
/// `invlab_core::signal::listen` as batch mode's: a repeat within its window (Slurm's double
/// SIGTERM) is dropped here, so it does not cut the first one's grace time short; a later
/// signal arrives as a second one, which ends the loop at once.
pub(crate) fn shutdown_signals() -> io::Result<impl Stream<Item = Signal> + Unpin> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    invlab_core::signal::listen(move |sig, meaning| {
        if meaning != invlab_core::signal::Meaning::Repeat {
            let _ = tx.send(sig);
        }
    })
    .map_err(|e| io::Error::new(e.error.kind(), e.to_string()))?;
    Ok(Box::pin(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|s| (s, rx)) },
    )))
}

/// The loop's sources besides the `AppEvent` channel.
pub struct Sources<I, S> {
    /// Terminal events (crossterm's `EventStream`, or a test's stream).
    pub input: I,
    /// Shutdown signals, by name.
    pub signals: S,
}

/// Applies a terminal event; true when it needs a redraw at once (input was handled).
fn on_terminal_event<B: Backend>(
    terminal: &Terminal<B>,
    app: &mut App,
    runtime: &mut Runtime,
    event: ct::Event,
) -> bool {
    match event {
        ct::Event::Key(k) => {
            let effects = app.on_event(AppEvent::Key(k));
            runtime.execute(effects);
            true
        }
        ct::Event::Mouse(event) => {
            let area = terminal
                .size()
                .map(|s| Rect::new(0, 0, s.width, s.height))
                .unwrap_or_default();
            let effects = app.on_event(AppEvent::Mouse { event, area });
            runtime.execute(effects);
            // Presses and the wheel may change what shows; moves and releases change nothing.
            !matches!(
                event.kind,
                ct::MouseEventKind::Moved | ct::MouseEventKind::Up(_) | ct::MouseEventKind::Drag(_)
            )
        }
        ct::Event::Resize(w, h) => {
            let effects = app.on_event(AppEvent::Resize(w, h));
            runtime.execute(effects);
            true
        }
        ct::Event::Paste(text) => {
            let effects = app.on_event(AppEvent::Paste(text));
            runtime.execute(effects);
            true
        }
        _ => false,
    }
}

/// The UI loop. Redraws at once after input, otherwise at most every `FRAME` while something
/// changed. `after_draw` sees every drawn frame; returning false ends the loop. Ends when the
/// App exits, or `SIGNAL_GRACE` after a shutdown signal, or at once on a second signal.
/// Returns the shutdown signal that ended it, if one did.
pub async fn event_loop<B, I, S>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut UnboundedReceiver<AppEvent>,
    sources: Sources<I, S>,
    runtime: &mut Runtime,
    graphics: &mut Graphics,
    mut after_draw: impl FnMut(&App, &Buffer) -> bool,
) -> color_eyre::Result<Option<Signal>>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    I: Stream<Item = io::Result<ct::Event>> + Unpin,
    S: Stream<Item = Signal> + Unpin,
{
    let Sources {
        mut input,
        mut signals,
    } = sources;
    let mut shutting_down = false;
    let mut ended_by = None;
    let mut draw = |terminal: &mut Terminal<B>, app: &App, graphics: &mut Graphics| {
        terminal
            .draw(|f| ui::draw_with(f, app, graphics))
            .map(|frame| after_draw(app, frame.buffer))
    };
    if !draw(terminal, app, graphics)? {
        return Ok(None);
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let next_frame = tokio::time::sleep(FRAME);
    tokio::pin!(next_frame);
    let grace = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(grace);
    let mut dirty = false;
    let mut input_open = true;
    loop {
        let mut urgent = false;
        tokio::select! {
            biased;
            Some(signal) = signals.next() => {
                if shutting_down {
                    tracing::warn!("{signal} again: exiting without waiting");
                    break;
                }
                tracing::info!("{signal}: stopping active runs, then exiting");
                shutting_down = true;
                ended_by = Some(signal);
                grace.as_mut().reset(Instant::now() + SIGNAL_GRACE);
                let effects = app.on_event(AppEvent::Shutdown(signal));
                runtime.execute(effects);
                // Say why at once: the run may report Stopped before the next frame.
                dirty = true;
                urgent = true;
            }
            event = input.next(), if input_open => match event {
                Some(Ok(event)) => {
                    urgent = on_terminal_event(terminal, app, runtime, event);
                    dirty |= urgent;
                }
                other => {
                    // The terminal is gone (or unreadable): as a hang-up.
                    input_open = false;
                    tracing::warn!("terminal input ended: {other:?}");
                    if !shutting_down {
                        shutting_down = true;
                        ended_by = Some(Signal::Hup);
                        grace.as_mut().reset(Instant::now() + SIGNAL_GRACE);
                        let effects = app.on_event(AppEvent::Shutdown(Signal::Hup));
                        runtime.execute(effects);
                    }
                }
            },
            Some(first) = events.recv() => {
                // Everything queued, then one redraw.
                let mut next = Some(first);
                while let Some(event) = next {
                    dirty = true;
                    let effects = app.on_event(event);
                    runtime.execute(effects);
                    next = events.try_recv().ok();
                }
            }
            _ = tick.tick() => {
                let before = (app.message.is_none(), app.previews.is_building());
                let effects = app.on_event(AppEvent::Tick);
                dirty |= !effects.is_empty()
                    || before != (app.message.is_none(), app.previews.is_building());
                runtime.execute(effects);
            }
            _ = &mut next_frame, if dirty => {
                urgent = true;
            }
            _ = &mut grace, if shutting_down => {
                tracing::warn!("runs did not stop within {SIGNAL_GRACE:?}; exiting");
                break;
            }
        }
        if app.should_exit {
            break;
        }
        if dirty && urgent {
            match draw(terminal, app, graphics) {
                Ok(true) => {}
                Ok(false) => break,
                // After a hang-up the terminal may be gone; keep stopping the runs.
                Err(_) if shutting_down => {}
                Err(e) => return Err(e.into()),
            }
            dirty = false;
            next_frame.as_mut().reset(Instant::now() + FRAME);
        }
    }
    Ok(ended_by)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// Real signals to this process: Slurm's double SIGTERM (20 ms apart) reaches the loop as
    /// one stop; one 2 s later arrives as a second (which ends the loop at once).
    #[test]
    fn a_repeat_within_the_window_is_one_stop_and_a_later_signal_a_second() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut signals = shutdown_signals().unwrap();
            let raise = || {
                // SAFETY: kill(2) on this process with a signal whose handler is installed.
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(libc::getpid(), libc::SIGTERM);
                }
            };
            let wait = |ms| Duration::from_millis(ms);
            raise();
            tokio::time::sleep(wait(20)).await;
            raise();
            let first = tokio::time::timeout(wait(1000), signals.next()).await;
            assert_eq!(first.unwrap(), Some(Signal::Term));
            let repeat = tokio::time::timeout(wait(500), signals.next()).await;
            assert!(repeat.is_err(), "the repeat was dropped");
            tokio::time::sleep(invlab_core::signal::REPEAT_WINDOW).await;
            raise();
            let second = tokio::time::timeout(wait(1000), signals.next()).await;
            assert_eq!(second.unwrap(), Some(Signal::Term));
        });
    }
}
