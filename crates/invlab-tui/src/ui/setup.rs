//! The set-up form: one line per field, the meaning of the selected value, and the class sizes
//! the data settings give.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::app::App;
use crate::form::{size_preview, Field};
use invlab_core::config::Profile;

use super::pane_block;

fn applies(field: Field, profile: Profile) -> bool {
    match field {
        Field::Imbalance => matches!(profile, Profile::Exp | Profile::Step),
        Field::ZipfA => profile == Profile::Zipf,
        _ => true,
    }
}

pub(crate) fn render_setup(frame: &mut Frame, area: Rect, app: &App, focused: bool) {
    let theme = app.theme();
    let block = pane_block(app, " Set-up (s start, e edit, w save) ", focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let form = &app.form;
    let label_w = 14;
    let mut lines: Vec<Line> = Vec::new();
    for (i, field) in Field::ALL.iter().copied().enumerate() {
        let selected = i == form.field;
        let value = match (&form.editing, selected) {
            (Some(buf), true) => format!("{buf}_"),
            _ => form.value(field),
        };
        let dim = !applies(field, form.config.data.profile);
        let mut value_style = if dim { theme.dim() } else { theme.base() };
        let mut label_style = theme.dim();
        if selected && focused {
            value_style = theme.selected().fg(theme.colors.accent);
            label_style = theme.accent();
        }
        let (open, close) = if selected && form.editing.is_none() && !field.is_text() {
            ("< ", " >")
        } else {
            ("  ", "  ")
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<label_w$}", field.label()), label_style),
            Span::styled(open, theme.dim()),
            Span::styled(value, value_style),
            Span::styled(close, theme.dim()),
        ]));
    }
    let fields_h = lines.len() as u16;
    let [fields_area, about_area] =
        Layout::vertical([Constraint::Length(fields_h), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), fields_area);
    let about = vec![
        Line::from(""),
        Line::from(Span::styled(
            format!(" {}", form.about(form.current())),
            theme.base().add_modifier(Modifier::ITALIC),
        )),
        Line::from(vec![
            Span::styled(" sizes: ", theme.dim()),
            Span::styled(size_preview(&form.config), theme.base()),
        ]),
    ];
    frame.render_widget(Paragraph::new(about).wrap(Wrap { trim: false }), about_area);
}
