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

/// A theme, its markers parsed when it loads.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    /// Marker of line charts (curves).
    pub marker: Marker,
    /// Marker of scatter points (eKLD vs class size): one that shows on any font.
    pub scatter_marker: Marker,
    pub colors: Colors,
}

/// A theme file as written: markers are words until `Theme::parse` checks them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    #[serde(default = "default_marker")]
    marker: String,
    #[serde(default = "default_scatter_marker")]
    scatter_marker: String,
    colors: Colors,
}

fn default_marker() -> String {
    "braille".into()
}

fn default_scatter_marker() -> String {
    "dot".into()
}

/// Why a theme file was refused; each names the file (and the field where there is one).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThemeError {
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
    #[error("{file}: field `{field}`: {word:?} is not a marker; expected one of braille, dot, block, bar, halfblock")]
    Marker {
        file: String,
        field: &'static str,
        word: String,
    },
    #[error("{file}: colors.series needs at least one color")]
    NoSeries { file: String },
}

fn parse_marker(word: &str) -> Option<Marker> {
    match word.trim().to_ascii_lowercase().as_str() {
        "braille" => Some(Marker::Braille),
        "dot" => Some(Marker::Dot),
        "block" => Some(Marker::Block),
        "bar" => Some(Marker::Bar),
        "halfblock" | "half-block" => Some(Marker::HalfBlock),
        _ => None,
    }
}

impl Theme {
    /// Parses a theme file's text; `source` names the file in errors.
    pub fn parse(text: &str, source: &str) -> Result<Theme, ThemeError> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| ThemeError::Unreadable {
            file: source.to_string(),
            message: e.to_string(),
        })?;
        let marker = |field: &'static str, word: &str| {
            parse_marker(word).ok_or_else(|| ThemeError::Marker {
                file: source.to_string(),
                field,
                word: word.to_string(),
            })
        };
        let theme = Theme {
            marker: marker("marker", &file.marker)?,
            scatter_marker: marker("scatter_marker", &file.scatter_marker)?,
            name: file.name,
            colors: file.colors,
        };
        if theme.colors.series.is_empty() {
            return Err(ThemeError::NoSeries {
                file: source.to_string(),
            });
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
        self.marker
    }

    pub(crate) fn scatter_marker(&self) -> Marker {
        self.scatter_marker
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
        if self.colors.selection_bg == Color::Reset {
            // No colours (NO_COLOR): a selection shows as reverse video.
            return Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD);
        }
        Style::default()
            .bg(self.colors.selection_bg)
            .add_modifier(Modifier::BOLD)
    }

    /// The theme with every colour the terminal's own (for `NO_COLOR`, no-color.org): markers,
    /// bold and reverse video carry what colour did. With no colour change between cells the
    /// terminal never receives a colour sequence, which under `NO_COLOR` crossterm turns into a
    /// reset that also cleared bold: the selected row vanished.
    pub(crate) fn without_color(mut self) -> Theme {
        let c = &mut self.colors;
        for color in [
            &mut c.bg,
            &mut c.fg,
            &mut c.dim,
            &mut c.accent,
            &mut c.border,
            &mut c.border_focus,
            &mut c.selection_bg,
            &mut c.ok,
            &mut c.warn,
            &mut c.error,
            &mut c.many,
            &mut c.medium,
            &mut c.few,
        ] {
            *color = Color::Reset;
        }
        c.series = vec![Color::Reset];
        self
    }
}

/// Whether the user asked for no colour: `NO_COLOR` set and not empty (no-color.org).
pub(crate) fn no_color_requested(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
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
                .map_err(|e| ThemeError::Unreadable {
                    file: source.clone(),
                    message: e.to_string(),
                })
                .and_then(|t| Theme::parse(&t, &source))
            {
                Ok(theme) => {
                    if let Some(slot) = themes.iter_mut().find(|t| t.name == theme.name) {
                        *slot = theme;
                    } else {
                        themes.push(theme);
                    }
                }
                Err(e) => problems.push(e.to_string()),
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

    #[test]
    fn a_bad_marker_is_refused_naming_the_file_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let text = BUILTIN[0]
            .1
            .replace("name = \"dark\"", "name = \"mine\"")
            .replace("scatter_marker = \"dot\"", "scatter_marker = \"dots\"");
        let path = dir.path().join("mine.toml");
        std::fs::write(&path, &text).unwrap();
        let (themes, problems) = load_all(Some(dir.path()));
        assert!(themes.iter().all(|t| t.name != "mine"));
        assert_eq!(
            problems,
            [format!(
                "{}: field `scatter_marker`: \"dots\" is not a marker; expected one of braille, dot, block, bar, halfblock",
                path.display()
            )]
        );
        let e = Theme::parse(
            &BUILTIN[0]
                .1
                .replace("marker = \"braille\"", "marker = \"brail\""),
            "x.toml",
        )
        .unwrap_err();
        assert_eq!(
            e,
            ThemeError::Marker {
                file: "x.toml".into(),
                field: "marker",
                word: "brail".into()
            }
        );
        // Case and the hyphenated spelling are accepted, as before.
        let t = Theme::parse(
            &BUILTIN[0]
                .1
                .replace("marker = \"braille\"", "marker = \"Half-Block\""),
            "x.toml",
        )
        .unwrap();
        assert_eq!(t.marker(), Marker::HalfBlock);
    }
}
