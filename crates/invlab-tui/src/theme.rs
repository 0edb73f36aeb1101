//! Themes: TOML files with named colors. Built-ins are embedded in the binary; files in
//! `<config dir>/themes/*.toml` add themes or override a built-in of the same name.

use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use serde::Deserialize;

use invlab_core::summary::SizeGroup;

pub(crate) const BUILTIN: [(&str, &str); 3] = [
    ("dark", include_str!("../../../themes/dark.toml")),
    ("light", include_str!("../../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../../themes/high-contrast.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Colors {
    pub bg: Color,
    pub fg: Color,
    pub dim: Color,
    pub accent: Color,
    pub border: Color,
    pub border_focus: Color,
    pub selection_bg: Color,
    pub ok: Color,
    pub warn: Color,
    pub error: Color,
    pub many: Color,
    pub medium: Color,
    pub few: Color,
    pub series: Vec<Color>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    pub name: String,
    /// Marker of line charts (curves).
    #[serde(default = "default_marker")]
    pub marker: String,
    /// Marker of scatter points (eKLD vs class size): one that shows on any font.
    #[serde(default = "default_scatter_marker")]
    pub scatter_marker: String,
    pub colors: Colors,
}

fn default_marker() -> String {
    "braille".into()
}

fn default_scatter_marker() -> String {
    "dot".into()
}

fn parse_marker(name: &str) -> Marker {
    match name.to_ascii_lowercase().as_str() {
        "dot" => Marker::Dot,
        "block" => Marker::Block,
        "bar" => Marker::Bar,
        "halfblock" | "half-block" => Marker::HalfBlock,
        _ => Marker::Braille,
    }
}

impl Theme {
    pub fn parse(text: &str, source: &str) -> Result<Theme, String> {
        let theme: Theme = toml::from_str(text).map_err(|e| format!("{source}: {e}"))?;
        if theme.colors.series.is_empty() {
            return Err(format!("{source}: colors.series needs at least one color"));
        }
        Ok(theme)
    }

    pub(crate) fn builtin(name: &str) -> Option<Theme> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Theme::parse(text, n).expect("built-in themes parse"))
    }

    pub(crate) fn marker(&self) -> Marker {
        parse_marker(&self.marker)
    }

    pub(crate) fn scatter_marker(&self) -> Marker {
        parse_marker(&self.scatter_marker)
    }

    /// The colour of a class-size group (many / medium / few).
    pub(crate) fn group_color(&self, group: SizeGroup) -> Color {
        match group {
            SizeGroup::Many => self.colors.many,
            SizeGroup::Medium => self.colors.medium,
            SizeGroup::Few => self.colors.few,
        }
    }

    pub(crate) fn series(&self, i: usize) -> Color {
        self.colors.series[i % self.colors.series.len()]
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.colors.fg).bg(self.colors.bg)
    }

    pub fn dim(&self) -> Style {
        Style::default().fg(self.colors.dim)
    }

    pub(crate) fn accent(&self) -> Style {
        Style::default()
            .fg(self.colors.accent)
            .add_modifier(Modifier::BOLD)
    }

    pub(crate) fn border(&self, focused: bool) -> Style {
        if focused {
            Style::default()
                .fg(self.colors.border_focus)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(self.colors.border)
        }
    }

    pub(crate) fn selected(&self) -> Style {
        Style::default()
            .bg(self.colors.selection_bg)
            .add_modifier(Modifier::BOLD)
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::builtin("dark").expect("dark theme")
    }
}

/// Built-ins, then user themes from `dir` (a user theme replaces a built-in of the same name).
/// Returns the themes and one message per file that could not be read.
pub(crate) fn load_all(dir: Option<&Path>) -> (Vec<Theme>, Vec<String>) {
    let mut themes: Vec<Theme> = BUILTIN
        .iter()
        .map(|(n, t)| Theme::parse(t, n).expect("built-in themes parse"))
        .collect();
    let mut problems = Vec::new();
    if let Some(dir) = dir {
        let paths = invlab_core::paths::toml_files(dir);
        for path in paths {
            let source = path.display().to_string();
            match std::fs::read_to_string(&path)
                .map_err(|e| format!("{source}: {e}"))
                .and_then(|t| Theme::parse(&t, &source))
            {
                Ok(theme) => {
                    if let Some(slot) = themes.iter_mut().find(|t| t.name == theme.name) {
                        *slot = theme;
                    } else {
                        themes.push(theme);
                    }
                }
                Err(e) => problems.push(e),
            }
        }
    }
    (themes, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for (name, _) in BUILTIN {
            let t = Theme::builtin(name).unwrap();
            assert_eq!(t.name, name);
        }
        assert_eq!(
            Theme::builtin("high-contrast").unwrap().marker(),
            Marker::Block
        );
    }

    #[test]
    fn user_theme_overrides_builtin() {
        let dir = tempfile::tempdir().unwrap();
        let text = BUILTIN[0].1.replace("#5fafff", "red");
        std::fs::write(dir.path().join("mine.toml"), text).unwrap();
        std::fs::write(dir.path().join("broken.toml"), "name = 3").unwrap();
        let (themes, problems) = load_all(Some(dir.path()));
        assert_eq!(themes.len(), 3);
        assert_eq!(themes[0].colors.accent, Color::Red);
        assert_eq!(problems.len(), 1);
    }
}
