//! The mouse, as commands: a click focuses the pane under it (and selects the run or form
//! field clicked), the wheel moves through the list under it. Hit-testing uses the same
//! `layout` as drawing, so what you click is what you see.

use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::{App, Pane};
use crate::command::Command;
use crate::form::Field;
use crate::layout::{header_tabs, inside_border, layout, run_at, runs_geometry};

impl App {
    /// What a mouse event on a screen of `area` means; nothing while a question or help is
    /// open.
    pub(crate) fn mouse_commands(&self, area: Rect, event: MouseEvent) -> Vec<Command> {
        if self.prompt.is_some() || self.help {
            return Vec::new();
        }
        let at = Position::new(event.column, event.row);
        let screen = layout(area, self.focus);
        if screen.header.contains(at) {
            if let MouseEventKind::Down(MouseButton::Left) = event.kind {
                return header_tabs(screen.header)
                    .into_iter()
                    .find(|&(_, from, to)| (from..to).contains(&at.x))
                    .map(|(pane, _, _)| vec![Command::Focus(pane)])
                    .unwrap_or_default();
            }
            return Vec::new();
        }
        let Some(&(pane, rect)) = screen.panes.iter().find(|(_, r)| r.contains(at)) else {
            return Vec::new();
        };
        let inner = inside_border(rect);
        let mut out = vec![Command::Focus(pane)];
        match event.kind {
            MouseEventKind::Down(MouseButton::Left) => match pane {
                Pane::Runs => {
                    let has_detail = self.selected_run().and_then(|r| r.detail()).is_some();
                    let visible = self.visible_runs();
                    let row = visible
                        .iter()
                        .position(|&i| i == self.selected)
                        .unwrap_or(0);
                    let g = runs_geometry(inner, row, has_detail);
                    out.extend(
                        run_at(&g, visible.len(), at.y).map(|r| Command::SelectRun(visible[r])),
                    );
                }
                Pane::Setup => {
                    let row = at.y.checked_sub(inner.y).map(usize::from);
                    if let Some(i) = row.filter(|&i| i < Field::ALL.len()) {
                        out.push(Command::SelectField(i));
                    }
                }
                _ => {}
            },
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let up = event.kind == MouseEventKind::ScrollUp;
                out.push(match pane {
                    // The scatter's class cursor moves along the x axis.
                    Pane::Invariance if up => Command::Right,
                    Pane::Invariance => Command::Left,
                    _ if up => Command::Up,
                    _ => Command::Down,
                });
            }
            _ => return Vec::new(),
        }
        out
    }
}
