//! Where everything goes on the screen: the one place pane rectangles, the header's tabs and
//! the run table's rows come from. Drawing (`ui`) and mouse hit-testing (`app::mouse`) both
//! use it, so what you click is what you see. Plain geometry: it knows panes, not the App.
//!
//! Wide terminals (>= 120 x 30) show every pane at once (the data pane takes the live panes'
//! place while it has focus); smaller ones show the focused pane full-size under a tab bar.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::form::Field;
use crate::pane::Pane;

/// Wide layout threshold.
pub(crate) fn is_wide(area: Rect) -> bool {
    area.width >= 120 && area.height >= 30
}

/// Where everything goes on a screen of `area`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Screen {
    pub header: Rect,
    /// The panes shown, with their rectangles.
    pub panes: Vec<(Pane, Rect)>,
    pub system: Rect,
    pub footer: Rect,
}

/// Rows the set-up form wants: fields, a gap, meaning (2), preview (2), borders.
pub(crate) fn setup_wanted_height() -> u16 {
    Field::ALL.len() as u16 + 1 + 2 + 2 + 2
}

/// The screen of `area` with `focus` the focused pane.
pub(crate) fn layout(area: Rect, focus: Pane) -> Screen {
    let wide = is_wide(area);
    let [header, body, system, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(if wide { 3 } else { 1 }),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut panes = Vec::new();
    if wide {
        let left_w = (area.width * 30 / 100).clamp(48, 64);
        let [left, right] =
            Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(body);
        let setup_h = setup_wanted_height().min(left.height.saturating_sub(6));
        let [setup_area, runs_area] =
            Layout::vertical([Constraint::Length(setup_h), Constraint::Min(0)]).areas(left);
        panes.push((Pane::Setup, setup_area));
        panes.push((Pane::Runs, runs_area));
        if focus == Pane::Data {
            panes.push((Pane::Data, right));
        } else {
            let [top, bottom] =
                Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(right);
            let [curves_area, classes_area] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(top);
            panes.push((Pane::Curves, curves_area));
            panes.push((Pane::Classes, classes_area));
            panes.push((Pane::Invariance, bottom));
        }
    } else {
        panes.push((focus, body));
    }
    Screen {
        header,
        panes,
        system,
        footer,
    }
}

/// A pane's area inside its border.
pub(crate) fn inside_border(rect: Rect) -> Rect {
    Rect::new(
        rect.x + 1,
        rect.y + 1,
        rect.width.saturating_sub(2),
        rect.height.saturating_sub(2),
    )
}

/// The header's pane tabs: (pane, columns it spans).
pub(crate) fn header_tabs(area: Rect) -> Vec<(Pane, u16, u16)> {
    let mut x = area.x + " invlab ".len() as u16;
    Pane::ALL
        .iter()
        .map(|&pane| {
            let w = tab_title(area, pane).len() as u16 + 2;
            let tab = (pane, x, x + w);
            x += w;
            tab
        })
        .collect()
}

/// A pane's name on a header of `area`: short on narrow screens.
pub(crate) fn tab_title(area: Rect, pane: Pane) -> &'static str {
    if area.width < 120 {
        pane.short_title()
    } else {
        pane.title()
    }
}

/// Where the run table sits in the run pane's inner area, and the first run it shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RunsGeometry {
    pub table: Rect,
    /// The selected run's detail line under the table, when it has one and there is room.
    pub detail: Option<Rect>,
    /// Index of the run on the table's first row (below the header).
    pub offset: usize,
}

/// The run table in `inner` with run `selected` kept visible.
pub(crate) fn runs_geometry(inner: Rect, selected: usize, has_detail: bool) -> RunsGeometry {
    let (table, detail) = if has_detail && inner.height >= 4 {
        (
            Rect {
                height: inner.height - 1,
                ..inner
            },
            Some(Rect {
                y: inner.bottom() - 1,
                height: 1,
                ..inner
            }),
        )
    } else {
        (inner, None)
    };
    // Scroll so the selected row stays visible.
    let visible = table.height.saturating_sub(1) as usize;
    let offset = selected.saturating_sub(visible.saturating_sub(1));
    RunsGeometry {
        table,
        detail,
        offset,
    }
}

/// The run index under row `y` of a run table, if any (`runs` runs in all).
pub(crate) fn run_at(g: &RunsGeometry, runs: usize, y: u16) -> Option<usize> {
    if y <= g.table.y || y >= g.table.bottom() {
        return None;
    }
    let i = g.offset + (y - g.table.y - 1) as usize;
    (i < runs).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_screens_show_every_pane_narrow_ones_the_focused_one() {
        let wide = layout(Rect::new(0, 0, 200, 50), Pane::Runs);
        let panes: Vec<Pane> = wide.panes.iter().map(|p| p.0).collect();
        assert_eq!(
            panes,
            [
                Pane::Setup,
                Pane::Runs,
                Pane::Curves,
                Pane::Classes,
                Pane::Invariance
            ]
        );
        let data = layout(Rect::new(0, 0, 200, 50), Pane::Data);
        assert_eq!(data.panes.last().unwrap().0, Pane::Data);
        let narrow = layout(Rect::new(0, 0, 80, 24), Pane::Curves);
        assert_eq!(narrow.panes, vec![(Pane::Curves, Rect::new(0, 1, 80, 21))]);
    }

    #[test]
    fn the_run_table_scrolls_to_the_selected_row() {
        let inner = Rect::new(0, 10, 40, 6);
        let g = runs_geometry(inner, 9, true);
        assert_eq!(g.detail, Some(Rect::new(0, 15, 40, 1)));
        // 5 table rows: a header and 4 runs, the selected one last.
        assert_eq!(g.offset, 6);
        assert_eq!(run_at(&g, 20, 10), None, "the header");
        assert_eq!(run_at(&g, 20, 11), Some(6));
        assert_eq!(run_at(&g, 20, 14), Some(9));
        assert_eq!(run_at(&g, 20, 15), None, "the detail line");
        assert_eq!(run_at(&g, 7, 14), None, "past the last run");
    }
}
