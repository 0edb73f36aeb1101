//! Pop-ups over the panes: the help overlay (from the key table) and questions / name prompts.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::app::{App, Prompt};
use crate::command::help_lines;

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    h
}

pub(crate) fn render_help(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let keys = help_lines();
    let key_w = keys.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 2;
    // On a short terminal, neighbouring entries that fit on one line share it, so every key
    // stays listed (the borders take two rows).
    let width = area.width.min(84).saturating_sub(2) as usize;
    let rows = merge_to_fit(
        keys.iter()
            .map(|(k, what)| vec![(format!(" {k:<key_w$}"), what.to_string())])
            .collect(),
        (area.height as usize).saturating_sub(2),
        width,
    );
    let mut lines: Vec<Line> = rows
        .iter()
        .map(|row| {
            let mut spans = Vec::new();
            for (i, (k, what)) in row.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled("  |", theme.dim()));
                }
                let k = if i > 0 {
                    format!(" {}", k.trim()) + " "
                } else {
                    k.clone()
                };
                spans.push(Span::styled(k, theme.accent()));
                spans.push(Span::styled(what.clone(), theme.base()));
            }
            Line::from(spans)
        })
        .collect();
    let keys = &rows;
    // The group note (and a blank line before it) when there is room.
    let room = area.height as usize;
    if room >= keys.len() + 4 {
        lines.push(Line::from(""));
    }
    if room >= keys.len() + 3 {
        lines.push(Line::from(Span::styled(
            " Groups: many > 100 training images, medium 20-100, few < 20. Any key closes.",
            theme.dim(),
        )));
    }
    let height = lines.len() as u16 + 2;
    let rect = centered(area, 84, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(" Help: keys ")
                .border_style(theme.border(true))
                .style(theme.base()),
        ),
        rect,
    );
}

/// Joins neighbouring rows (key, text) pairwise, shortest first, while there are more rows
/// than `room` and the joined row fits `width` characters.
fn merge_to_fit(
    mut rows: Vec<Vec<(String, String)>>,
    room: usize,
    width: usize,
) -> Vec<Vec<(String, String)>> {
    let len = |row: &Vec<(String, String)>| -> usize {
        row.iter()
            .map(|(k, w)| k.trim().chars().count() + w.chars().count() + 4)
            .sum::<usize>()
            + 1
    };
    while rows.len() > room {
        let best = (0..rows.len().saturating_sub(1))
            .map(|i| (len(&rows[i]) + len(&rows[i + 1]), i))
            .filter(|(joined, _)| *joined <= width)
            .min();
        let Some((_, i)) = best else {
            break;
        };
        let next = rows.remove(i + 1);
        rows[i].extend(next);
    }
    rows
}

pub(crate) fn render_prompt(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let (title, body) = match &app.prompt {
        Some(Prompt::ConfirmStop(slot)) => {
            let name = app
                .run_by_slot(*slot)
                .map(|r| r.name.clone())
                .unwrap_or_default();
            (
                " Stop run? ",
                format!("Stop {name} after this batch? Its directory stays valid and resumable.\n\n  y / Enter: stop    n / Esc: keep running"),
            )
        }
        Some(Prompt::ConfirmTerminate { slot, pid }) => {
            let name = app
                .run_by_slot(*slot)
                .map(|r| r.name.clone())
                .unwrap_or_default();
            (
                " Stop another process's run? ",
                format!("{name} is written by process {pid} on this host. Send it SIGTERM? It stops its runs at the next batch boundary, resumable (exit 75).\n\n  y / Enter: send SIGTERM    n / Esc: leave it"),
            )
        }
        Some(Prompt::ConfirmDelete(slot)) => {
            let (name, dir) = app
                .run_by_slot(*slot)
                .map(|r| {
                    let dir = r.dir.as_ref().map(|d| d.display().to_string());
                    (r.name.clone(), dir.unwrap_or_else(|| "(no directory)".into()))
                })
                .unwrap_or_default();
            (
                " Delete run? ",
                format!(
                    "Move {name} to {}/?\n  {dir}\n\n  y / Enter: move to the trash    n / Esc: keep",
                    app.trash_dir().display()
                ),
            )
        }
        Some(Prompt::ConfirmQuit) => (
            " Quit? ",
            "A run is active. Quit stops it cleanly (its directory stays valid) and drops the queue.\n\n  y / Enter: stop and quit    n / Esc: stay".to_string(),
        ),
        Some(Prompt::Filter(buf)) => (
            " Filter runs ",
            format!(
                "  {buf}_\n\n  words: part of the name; key=value / key!=value: a config field\n  (method.rule=drs seed!=0 k49).  Enter: apply (empty: all)    Esc: cancel"
            ),
        ),
        Some(Prompt::SaveAs(buf)) => (
            " Save config as ",
            format!(
                "{}/\n\n  {buf}_.toml\n\n  Enter: save    Esc: cancel",
                app.save_dir.display()
            ),
        ),
        None => return,
    };
    let rect = centered(area, 64, 8);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(body).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(title)
                .border_style(theme.border(true))
                .style(theme.base()),
        ),
        rect,
    );
}
