//! GIT's generator phase of a run: progress with an ETA, the generator's loss curves, and its
//! newest sample grid (real image, then generated variants) drawn with the picture widget.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::engine::{GeneratorProgress, Phase};
use crate::tui::app::{App, RunEntry};

use super::curves::{chart, Series};
use super::picture::{render_picture, Graphics};

/// Whether the curves pane shows the generator view for this run: during the generator phase,
/// when the generator is all the run has reported so far, or when asked for (`g`) and the run
/// has a generator (live, or read back from its directory).
pub(crate) fn shows_generator(app: &App, run: &RunEntry) -> bool {
    run.phase == Some(Phase::Generator)
        || (run.generator.is_some() && (run.epochs.is_empty() || app.show_generator))
}

/// Seconds left, from the pace of the iterations trained in this process.
pub(crate) fn eta_seconds(p: &GeneratorProgress) -> Option<f64> {
    let done_here = p.iteration.checked_sub(p.started_at)?;
    if done_here == 0 || p.seconds <= 0.0 || p.from_cache {
        return None;
    }
    Some(p.iterations.saturating_sub(p.iteration) as f64 * p.seconds / done_here as f64)
}

fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// One line: phase, iteration / total, percent, ETA (or that the generator came from the cache).
pub(crate) fn progress_line(p: &GeneratorProgress) -> String {
    let percent = 100.0 * p.iteration as f64 / p.iterations.max(1) as f64;
    let tail = if p.from_cache {
        "loaded from the cache".to_string()
    } else if p.iteration >= p.iterations && p.started_at == 0 && p.seconds > 0.0 {
        format!("trained in {}", clock(p.seconds))
    } else {
        match eta_seconds(p) {
            Some(eta) => format!("ETA {}", clock(eta)),
            None => "ETA --".into(),
        }
    };
    format!(
        "generator: iteration {}/{} ({percent:.0}%)  {tail}",
        p.iteration, p.iterations
    )
}

pub(crate) fn render_generator(
    frame: &mut Frame,
    inner: Rect,
    app: &App,
    run: &RunEntry,
    graphics: &mut Graphics,
) {
    let theme = app.theme();
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let text = match &run.generator {
        Some(p) => format!(" GIT {}", progress_line(p)),
        None => " GIT generator: starting...".into(),
    };
    frame.render_widget(Paragraph::new(Span::styled(text, theme.accent())), head);
    if body.height == 0 {
        return;
    }
    // Side by side when wide, else losses above the samples.
    let [losses_area, samples_area] = if body.width >= 90 {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
    };
    render_losses(frame, losses_area, app, run);
    match &run.generator_samples {
        Some(grid) => render_picture(
            &grid.to_picture(),
            samples_area,
            frame.buffer_mut(),
            graphics,
            theme.colors.bg,
        ),
        None => {
            // A finished generator without a grid in memory: a run read back from disk whose
            // cache entry predates samples.json; its PNG is still in the run directory.
            let done = run
                .generator
                .as_ref()
                .is_some_and(|p| p.iteration >= p.iterations);
            let text = if done {
                " no sample grid stored for the lab; see generator-samples.png in the run directory"
            } else {
                " samples appear after the first sample interval"
            };
            frame.render_widget(
                Paragraph::new(Span::styled(text, theme.dim())).wrap(Wrap { trim: true }),
                samples_area,
            )
        }
    }
}

fn render_losses(frame: &mut Frame, area: Rect, app: &App, run: &RunEntry) {
    let theme = app.theme();
    let l = &run.generator_losses;
    if l.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                " no generator losses yet",
                theme.dim(),
            ))),
            area,
        );
        return;
    }
    type Pick = fn(&crate::git::training::Losses) -> f64;
    let parts: [(&str, Pick); 5] = [
        ("dis", |x| x.dis),
        ("gan", |x| x.gan),
        ("recon x", |x| x.recon_x),
        ("recon s", |x| x.recon_s),
        ("recon c", |x| x.recon_c),
    ];
    let marker = theme.marker();
    let series: Vec<Series> = parts
        .iter()
        .enumerate()
        .map(|(k, (name, pick))| Series {
            name: (*name).into(),
            points: l.iter().map(|x| (x.iteration as f64, pick(x))).collect(),
            style: Style::default().fg(theme.series(k)),
            marker,
        })
        .collect();
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(0.01)
        * 1.05;
    let x_max = run
        .generator
        .as_ref()
        .map(|p| p.iterations as f64)
        .unwrap_or_else(|| l.last().map(|x| x.iteration as f64).unwrap_or(1.0));
    frame.render_widget(
        chart(
            app,
            &series,
            x_max,
            [0.0, y_max],
            vec![
                "0".into(),
                format!("{:.2}", y_max / 2.0),
                format!("{y_max:.2}"),
            ],
            "loss",
        ),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(iteration: usize, started_at: usize, seconds: f64) -> GeneratorProgress {
        GeneratorProgress {
            key: "k".into(),
            iteration,
            iterations: 1000,
            losses: None,
            seconds,
            started_at,
            from_cache: false,
            samples: None,
        }
    }

    #[test]
    fn eta_follows_the_pace_since_this_process_started() {
        // 100 iterations in 50 s since resuming at 400: 500 left at 0.5 s each.
        let p = progress(500, 400, 50.0);
        assert_eq!(eta_seconds(&p), Some(250.0));
        assert!(progress_line(&p).contains("500/1000 (50%)  ETA 4:10"));
        assert_eq!(eta_seconds(&progress(400, 400, 0.0)), None);
        let mut cached = progress(1000, 0, 0.0);
        cached.from_cache = true;
        assert!(progress_line(&cached).contains("loaded from the cache"));
    }
}
