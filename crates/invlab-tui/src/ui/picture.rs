//! Pictures in the terminal. Everywhere: half-block cells (`▀`, foreground = upper pixel,
//! background = lower pixel), so a cell shows two pixels. Where the terminal has a graphics
//! protocol (kitty, sixel, iTerm2), ratatui-image draws the picture at full resolution
//! instead; the protocol is found once at start-up (`Graphics::detect`, with a timeout).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use ratatui::buffer::Buffer;
use ratatui::layout::{Rect, Size};
use ratatui::style::Color;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::Protocol;
use ratatui_image::{FilterType, Image, Resize};

use invlab_core::picture::Picture;

/// Encoded pictures kept for the graphics protocol (encoding is the costly part).
const CACHED: usize = 64;

/// How pictures reach the terminal, and the encoded ones already sent.
pub struct Graphics {
    /// `None` = half-blocks.
    picker: Option<Picker>,
    cache: HashMap<(u64, u16, u16), Protocol>,
}

impl Default for Graphics {
    fn default() -> Graphics {
        Graphics::halfblocks()
    }
}

impl Graphics {
    pub fn halfblocks() -> Graphics {
        Graphics {
            picker: None,
            cache: HashMap::new(),
        }
    }

    /// Asks the terminal which graphics protocol it speaks. Call once, after entering raw
    /// mode and the alternate screen and before reading input (the answer arrives on stdin).
    /// `INVLAB_GRAPHICS` = `halfblocks` skips the query, `kitty` / `sixel` / `iterm2` force a
    /// protocol; by default terminal multiplexers (tmux, screen) get half-blocks, since
    /// graphics passed through them do not survive pane switches.
    pub(crate) fn detect() -> Graphics {
        let choice = std::env::var("INVLAB_GRAPHICS")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let forced = match choice.as_str() {
            "halfblocks" | "half-blocks" | "off" | "none" => return Graphics::halfblocks(),
            "kitty" => Some(ProtocolType::Kitty),
            "sixel" => Some(ProtocolType::Sixel),
            "iterm2" => Some(ProtocolType::Iterm2),
            _ => None,
        };
        let multiplexed = std::env::var_os("TMUX").is_some()
            || std::env::var("TERM")
                .is_ok_and(|t| t.starts_with("screen") || t.starts_with("tmux"));
        if forced.is_none() && multiplexed {
            tracing::info!("pictures: half-blocks (inside tmux / screen)");
            return Graphics::halfblocks();
        }
        // The query writes escape codes and waits (2 s at most) for the terminal's answer.
        let mut picker = match Picker::from_query_stdio() {
            Ok(p) => p,
            Err(e) => {
                tracing::info!("pictures: half-blocks (terminal query failed: {e})");
                return Graphics::halfblocks();
            }
        };
        if let Some(p) = forced {
            picker.set_protocol_type(p);
        }
        tracing::info!("pictures: {:?}", picker.protocol_type());
        if picker.protocol_type() == ProtocolType::Halfblocks {
            return Graphics::halfblocks();
        }
        Graphics {
            picker: Some(picker),
            cache: HashMap::new(),
        }
    }

    /// Whether pictures are drawn as half-block cells (two pixels a cell).
    pub fn is_halfblocks(&self) -> bool {
        self.picker.is_none()
    }

    /// "half-blocks", "kitty", "sixel" or "iterm2".
    pub fn name(&self) -> &'static str {
        match self.picker.as_ref().map(|p| p.protocol_type()) {
            Some(ProtocolType::Kitty) => "kitty",
            Some(ProtocolType::Sixel) => "sixel",
            Some(ProtocolType::Iterm2) => "iterm2",
            _ => "half-blocks",
        }
    }
}

fn fingerprint(picture: &Picture) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (picture.width, picture.height, picture.channels).hash(&mut h);
    picture.pixels.hash(&mut h);
    h.finish()
}

fn to_image(picture: &Picture) -> image::DynamicImage {
    let rgb = picture.to_rgb();
    let buffer = image::RgbImage::from_raw(rgb.width as u32, rgb.height as u32, rgb.pixels)
        .expect("width x height x 3 bytes");
    image::DynamicImage::ImageRgb8(buffer)
}

/// Draws `picture` into `area`, as large as fits with its aspect kept, top-left aligned.
/// Cells the picture does not cover keep `background`.
pub(crate) fn render_picture(
    picture: &Picture,
    area: Rect,
    buf: &mut Buffer,
    graphics: &mut Graphics,
    background: Color,
) {
    if area.width == 0 || area.height == 0 || picture.width == 0 || picture.height == 0 {
        return;
    }
    if let Some(picker) = &graphics.picker {
        let key = (fingerprint(picture), area.width, area.height);
        if !graphics.cache.contains_key(&key) {
            if graphics.cache.len() >= CACHED {
                graphics.cache.clear();
            }
            let font = picker.font_size();
            let room = (
                area.width as usize * font.width as usize,
                area.height as usize * font.height as usize,
            );
            // Shrinking smooths; growing keeps pixels square.
            let filter = if picture.width > room.0 || picture.height > room.1 {
                FilterType::Triangle
            } else {
                FilterType::Nearest
            };
            match picker.new_protocol(
                to_image(picture),
                Size::new(area.width, area.height),
                Resize::Scale(Some(filter)),
            ) {
                Ok(p) => {
                    graphics.cache.insert(key, p);
                }
                Err(e) => tracing::warn!("encoding a picture: {e}"),
            }
        }
        if let Some(protocol) = graphics.cache.get(&key) {
            ratatui::widgets::Widget::render(Image::new(protocol), area, buf);
            return;
        }
    }
    render_halfblocks(picture, area, buf, background);
}

/// The half-block rendering: one cell = two stacked pixels.
pub(crate) fn render_halfblocks(
    picture: &Picture,
    area: Rect,
    buf: &mut Buffer,
    background: Color,
) {
    let (w, h) = picture.fit_size(area.width as usize, area.height as usize * 2);
    if w == 0 || h == 0 {
        return;
    }
    let scaled = if (w, h) == (picture.width, picture.height) {
        picture.clone()
    } else {
        picture.resize(w, h)
    };
    let colour = |x: usize, y: usize| {
        let [r, g, b] = scaled.rgb(x, y);
        Color::Rgb(r, g, b)
    };
    for row in 0..h.div_ceil(2) {
        for x in 0..w {
            let top = colour(x, 2 * row);
            let bottom = if 2 * row + 1 < h {
                colour(x, 2 * row + 1)
            } else {
                background
            };
            if let Some(cell) = buf.cell_mut((area.x + x as u16, area.y + row as u16)) {
                cell.set_symbol("▀").set_fg(top).set_bg(bottom);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffer as text: each cell as two characters, its upper and lower pixel's grey
    /// level on a 10-step ramp (' ' black .. '@' white); cells without a picture as '~~'.
    fn grey_art(buf: &Buffer) -> String {
        const RAMP: &[u8] = b" .:-=+*#%@";
        let level = |c: Color| match c {
            Color::Rgb(r, g, b) => {
                let v = (r as usize + g as usize + b as usize) / 3;
                RAMP[(v * RAMP.len() / 256).min(RAMP.len() - 1)] as char
            }
            _ => '~',
        };
        let area = buf.area;
        let mut out = String::new();
        for y in 0..area.height {
            for x in 0..area.width {
                let cell = &buf[(x, y)];
                if cell.symbol() == "▀" {
                    out.push(level(cell.fg));
                    out.push(level(cell.bg));
                } else {
                    out.push_str("~~");
                }
            }
            out.push('\n');
        }
        out
    }

    /// A 6x6 grey picture: a bright diagonal on black, a mid-grey last row.
    fn diagonal() -> Picture {
        let mut p = Picture::filled(6, 6, 1, [0, 0, 0]);
        for i in 0..6 {
            p.set(i, i, [255, 255, 255]);
            p.set(i, 5, [128, 128, 128]);
        }
        p
    }

    #[test]
    fn halfblocks_at_full_size() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 8, 4));
        render_halfblocks(&diagonal(), buf.area, &mut buf, Color::Reset);
        insta::assert_snapshot!(grey_art(&buf));
    }

    #[test]
    fn halfblocks_shrunk_into_a_small_area() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 3, 2));
        render_halfblocks(&diagonal(), buf.area, &mut buf, Color::Reset);
        insta::assert_snapshot!(grey_art(&buf));
    }

    #[test]
    fn halfblocks_grown_by_a_whole_factor_keep_colour() {
        let mut p = Picture::filled(2, 1, 3, [255, 0, 0]);
        p.set(1, 0, [0, 0, 255]);
        let mut buf = Buffer::empty(Rect::new(0, 0, 5, 2));
        render_halfblocks(&p, buf.area, &mut buf, Color::Reset);
        // Factor 2: 4x2 pixels = 4 columns x 1 row; the fifth column stays empty.
        assert_eq!(buf[(0, 0)].fg, Color::Rgb(255, 0, 0));
        assert_eq!(buf[(1, 0)].bg, Color::Rgb(255, 0, 0));
        assert_eq!(buf[(2, 0)].fg, Color::Rgb(0, 0, 255));
        assert_eq!(buf[(4, 0)].symbol(), " ");
        assert_eq!(buf[(0, 1)].symbol(), " ");
    }

    #[test]
    fn without_a_protocol_the_widget_draws_halfblocks() {
        let mut graphics = Graphics::halfblocks();
        assert_eq!(graphics.name(), "half-blocks");
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 3));
        render_picture(&diagonal(), buf.area, &mut buf, &mut graphics, Color::Reset);
        let mut direct = Buffer::empty(Rect::new(0, 0, 6, 3));
        render_halfblocks(&diagonal(), direct.area, &mut direct, Color::Reset);
        assert_eq!(buf, direct);
    }
}
