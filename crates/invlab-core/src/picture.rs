//! Pictures as plain data: 8-bit grey or RGB pixels, composed into labelled grids, upscaled,
//! and written as PNG (atomically). No tensors and no terminal: the data preview, the TUI's
//! image widget and figure files all start from a `Picture`.

use std::io;
use std::path::Path;

use invlab_formats::ImageSet;

/// An image, row-major, `channels` bytes per pixel (1 = grey, 3 = RGB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    /// `height * width * channels` bytes, rows top to bottom, channels interleaved.
    pub pixels: Vec<u8>,
}

/// An RGB colour.
pub type Rgb = [u8; 3];

impl Picture {
    /// A picture of one colour. Grey pictures take the colour's first component.
    pub fn filled(width: usize, height: usize, channels: usize, colour: Rgb) -> Picture {
        assert!(channels == 1 || channels == 3, "1 or 3 channels");
        let pixel = &colour[..channels];
        Picture {
            width,
            height,
            channels,
            pixels: pixel.repeat(width * height),
        }
    }

    /// Converts a channels-first (C x H x W) image, the layout of `ImageSet` and tensors.
    /// Pictures with other than 1 or 3 channels keep the first one.
    pub fn from_chw(channels: usize, height: usize, width: usize, data: &[u8]) -> Picture {
        assert_eq!(data.len(), channels * height * width, "C x H x W bytes");
        let out_channels = if channels == 3 { 3 } else { 1 };
        let plane = height * width;
        let mut pixels = Vec::with_capacity(plane * out_channels);
        for i in 0..plane {
            for c in 0..out_channels {
                pixels.push(data[c * plane + i]);
            }
        }
        Picture {
            width,
            height,
            channels: out_channels,
            pixels,
        }
    }

    /// Image `i` of an image set.
    pub fn from_image_set(set: &ImageSet, i: usize) -> Picture {
        Picture::from_chw(set.channels, set.height, set.width, set.image(i))
    }

    /// The colour at (x, y); grey pixels repeat their value.
    pub fn rgb(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.width + x) * self.channels;
        if self.channels == 3 {
            [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
        } else {
            let v = self.pixels[i];
            [v, v, v]
        }
    }

    /// Sets (x, y) to `colour` (grey pictures take its mean); outside the picture, nothing.
    pub fn set(&mut self, x: usize, y: usize, colour: Rgb) {
        if x >= self.width || y >= self.height {
            return;
        }
        let i = (y * self.width + x) * self.channels;
        if self.channels == 3 {
            self.pixels[i..i + 3].copy_from_slice(&colour);
        } else {
            self.pixels[i] = ((colour[0] as u16 + colour[1] as u16 + colour[2] as u16) / 3) as u8;
        }
    }

    /// The same picture with three channels.
    pub fn to_rgb(&self) -> Picture {
        if self.channels == 3 {
            return self.clone();
        }
        Picture {
            width: self.width,
            height: self.height,
            channels: 3,
            pixels: self.pixels.iter().flat_map(|&v| [v, v, v]).collect(),
        }
    }

    /// Each pixel becomes a `factor` x `factor` block (nearest neighbour: pixels stay crisp).
    pub fn upscale(&self, factor: usize) -> Picture {
        let factor = factor.max(1);
        let (w, h, c) = (self.width * factor, self.height * factor, self.channels);
        let mut pixels = Vec::with_capacity(w * h * c);
        for y in 0..h {
            let row = &self.pixels[(y / factor) * self.width * c..][..self.width * c];
            for x in 0..w {
                pixels.extend_from_slice(&row[(x / factor) * c..][..c]);
            }
        }
        Picture {
            width: w,
            height: h,
            channels: c,
            pixels,
        }
    }

    /// The picture resampled to `width` x `height`: each output pixel is the mean of the source
    /// pixels it covers (box filter) when shrinking, the nearest source pixel when growing.
    pub fn resize(&self, width: usize, height: usize) -> Picture {
        let c = self.channels;
        let mut pixels = Vec::with_capacity(width * height * c);
        let span = |i: usize, out: usize, src: usize| {
            let lo = i * src / out.max(1);
            let hi = ((i + 1) * src).div_ceil(out.max(1)).max(lo + 1).min(src);
            (lo, hi.max(lo + 1))
        };
        for y in 0..height {
            let (y0, y1) = span(y, height, self.height);
            for x in 0..width {
                let (x0, x1) = span(x, width, self.width);
                for ch in 0..c {
                    let mut sum = 0u32;
                    for yy in y0..y1 {
                        for xx in x0..x1 {
                            sum += u32::from(self.pixels[(yy * self.width + xx) * c + ch]);
                        }
                    }
                    let n = ((y1 - y0) * (x1 - x0)) as u32;
                    pixels.push(((sum + n / 2) / n) as u8);
                }
            }
        }
        Picture {
            width,
            height,
            channels: c,
            pixels,
        }
    }

    /// The size that fits inside `max_width` x `max_height` keeping the aspect ratio: a whole
    /// multiple when the picture is smaller (pixels stay square and crisp), else shrunk.
    pub fn fit_size(&self, max_width: usize, max_height: usize) -> (usize, usize) {
        if self.width == 0 || self.height == 0 || max_width == 0 || max_height == 0 {
            return (0, 0);
        }
        let factor = (max_width / self.width).min(max_height / self.height);
        if factor >= 1 {
            return (self.width * factor, self.height * factor);
        }
        let scale =
            (max_width as f64 / self.width as f64).min(max_height as f64 / self.height as f64);
        (
            ((self.width as f64 * scale).round() as usize).clamp(1, max_width),
            ((self.height as f64 * scale).round() as usize).clamp(1, max_height),
        )
    }

    /// Copies `other` with its top-left corner at (x, y), clipped to this picture. A grey
    /// picture pasted into an RGB one turns grey-RGB; an RGB one pasted into grey, its mean.
    pub fn paste(&mut self, other: &Picture, x: usize, y: usize) {
        for oy in 0..other.height.min(self.height.saturating_sub(y)) {
            for ox in 0..other.width.min(self.width.saturating_sub(x)) {
                self.set(x + ox, y + oy, other.rgb(ox, oy));
            }
        }
    }

    /// Fills a rectangle, clipped to the picture.
    pub fn fill_rect(&mut self, x: usize, y: usize, width: usize, height: usize, colour: Rgb) {
        for yy in y..(y + height).min(self.height) {
            for xx in x..(x + width).min(self.width) {
                self.set(xx, yy, colour);
            }
        }
    }

    /// Writes `text` in the built-in 8x8 bitmap font (ASCII; other characters show as '?'),
    /// top-left at (x, y), clipped. Returns the width drawn in pixels.
    pub fn draw_text(&mut self, x: usize, y: usize, text: &str, colour: Rgb) -> usize {
        let mut cx = x;
        for ch in text.chars() {
            let glyph = glyph(ch);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        self.set(cx + col, y + row, colour);
                    }
                }
            }
            cx += GLYPH;
        }
        cx - x
    }

    /// PNG bytes (8-bit grey or RGB).
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            encoder.set_color(if self.channels == 3 {
                png::ColorType::Rgb
            } else {
                png::ColorType::Grayscale
            });
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder
                .write_header()
                .expect("writing a PNG header into memory");
            writer
                .write_image_data(&self.pixels)
                .expect("a picture holds width x height x channels bytes");
        }
        out
    }

    /// Writes the picture as PNG, atomically (temp file + rename): a reader never sees half.
    pub fn write_png(&self, path: &Path) -> io::Result<()> {
        if self.width == 0 || self.height == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: an empty picture has no PNG", path.display()),
            ));
        }
        crate::atomic::write_atomic(path, &self.to_png())
    }
}

/// Width and height of one character of the bitmap font.
pub const GLYPH: usize = 8;

fn glyph(ch: char) -> [u8; 8] {
    let table = &font8x8::legacy::BASIC_LEGACY;
    let code = ch as usize;
    if (0x20..0x7f).contains(&code) {
        table[code]
    } else {
        table['?' as usize]
    }
}

/// Pixel width of `text` in the bitmap font.
pub fn text_width(text: &str) -> usize {
    text.chars().count() * GLYPH
}

/// One row of a grid: a label (left of the row) and its images, left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct GridRow {
    pub label: String,
    pub cells: Vec<Picture>,
}

/// Looks of a grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GridStyle {
    /// Each image is upscaled by this factor (nearest neighbour).
    pub scale: usize,
    /// Pixels between cells and around the edge.
    pub gap: usize,
    pub background: Rgb,
    pub text: Rgb,
}

impl Default for GridStyle {
    fn default() -> GridStyle {
        GridStyle {
            scale: 2,
            gap: 4,
            background: [24, 24, 32],
            text: [230, 230, 230],
        }
    }
}

/// A labelled grid of images: an optional title line, optional column headers, then one row
/// per `GridRow` with its label on the left. Cells may differ in size and channel count; each
/// column is as wide as its widest cell, each row as tall as its tallest. The result is RGB
/// when any cell is, else grey. E.g. a generator's samples: rows = real images, columns =
/// the real image, then generated variants.
pub fn grid(
    title: Option<&str>,
    column_labels: &[String],
    rows: &[GridRow],
    style: &GridStyle,
) -> Picture {
    let scale = style.scale.max(1);
    let gap = style.gap;
    let columns = rows.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    let mut col_width = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.cells.iter().enumerate() {
            col_width[i] = col_width[i].max(cell.width * scale);
        }
    }
    for (i, label) in column_labels.iter().enumerate().take(columns) {
        col_width[i] = col_width[i].max(text_width(label));
    }
    let row_height: Vec<usize> = rows
        .iter()
        .map(|r| {
            let tallest = r.cells.iter().map(|c| c.height * scale).max().unwrap_or(0);
            tallest.max(if r.label.is_empty() { 0 } else { GLYPH })
        })
        .collect();
    let label_width = rows.iter().map(|r| text_width(&r.label)).max().unwrap_or(0);
    let label_column = if label_width > 0 {
        label_width + gap
    } else {
        0
    };
    let title_height = if title.is_some() { GLYPH + gap } else { 0 };
    let header_height = if column_labels.is_empty() {
        0
    } else {
        GLYPH + gap
    };
    let cells_width: usize = col_width.iter().sum::<usize>() + gap * columns.saturating_sub(1);
    let width = (gap + label_column + cells_width + gap)
        .max(title.map(|t| text_width(t) + 2 * gap).unwrap_or(0));
    let height = gap
        + title_height
        + header_height
        + row_height.iter().sum::<usize>()
        + gap * rows.len().saturating_sub(1)
        + gap;
    let rgb = rows.iter().flat_map(|r| &r.cells).any(|c| c.channels == 3);
    let mut out = Picture::filled(width, height, if rgb { 3 } else { 1 }, style.background);
    let mut y = gap;
    if let Some(t) = title {
        out.draw_text(gap, y, t, style.text);
        y += title_height;
    }
    let x0 = gap + label_column;
    if !column_labels.is_empty() {
        let mut x = x0;
        for (i, w) in col_width.iter().enumerate() {
            if let Some(label) = column_labels.get(i) {
                out.draw_text(x, y, label, style.text);
            }
            x += w + gap;
        }
        y += header_height;
    }
    for (row, &h) in rows.iter().zip(&row_height) {
        out.draw_text(gap, y + h.saturating_sub(GLYPH) / 2, &row.label, style.text);
        let mut x = x0;
        for (i, cell) in row.cells.iter().enumerate() {
            out.paste(&cell.upscale(scale), x, y);
            x += col_width[i] + gap;
        }
        y += h + gap;
    }
    out
}

/// Stacks pictures top to bottom, left-aligned, `gap` pixels apart and around.
pub fn stack(parts: &[Picture], gap: usize, background: Rgb) -> Picture {
    let width = parts.iter().map(|p| p.width).max().unwrap_or(0) + 2 * gap;
    let height = parts.iter().map(|p| p.height + gap).sum::<usize>() + gap;
    let rgb = parts.iter().any(|p| p.channels == 3);
    let mut out = Picture::filled(width, height, if rgb { 3 } else { 1 }, background);
    let mut y = gap;
    for p in parts {
        out.paste(p, gap, y);
        y += p.height + gap;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize) -> Picture {
        Picture {
            width: w,
            height: h,
            channels: 1,
            pixels: (0..w * h).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn chw_becomes_interleaved() {
        // 2x1 RGB image: red plane [1, 2], green [3, 4], blue [5, 6].
        let p = Picture::from_chw(3, 1, 2, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(p.pixels, vec![1, 3, 5, 2, 4, 6]);
        assert_eq!(p.rgb(1, 0), [2, 4, 6]);
        let grey = Picture::from_chw(1, 2, 1, &[7, 9]);
        assert_eq!((grey.width, grey.height, grey.channels), (1, 2, 1));
        assert_eq!(grey.rgb(0, 1), [9, 9, 9]);
    }

    #[test]
    fn upscale_repeats_each_pixel_in_a_block() {
        let p = ramp(2, 2).upscale(3);
        assert_eq!((p.width, p.height), (6, 6));
        for y in 0..6 {
            for x in 0..6 {
                let expected = ((y / 3) * 2 + x / 3) as u8;
                assert_eq!(p.rgb(x, y)[0], expected, "({x}, {y})");
            }
        }
    }

    #[test]
    fn resize_averages_when_shrinking_and_repeats_when_growing() {
        // 4x2 -> 2x1: each output pixel is the mean of a 2x2 block.
        let p = ramp(4, 2);
        let small = p.resize(2, 1);
        assert_eq!(
            small.pixels,
            // Means of the 2x2 blocks {0, 1, 4, 5} and {2, 3, 6, 7}, rounded.
            vec![3, 5]
        );
        let big = ramp(2, 2).resize(4, 4);
        assert_eq!(big, ramp(2, 2).upscale(2));
        assert_eq!(ramp(3, 3).resize(3, 3), ramp(3, 3));
    }

    #[test]
    fn fit_keeps_the_aspect_and_whole_multiples() {
        let p = ramp(28, 14);
        assert_eq!(p.fit_size(100, 100), (84, 42));
        assert_eq!(p.fit_size(14, 100), (14, 7));
        assert_eq!(p.fit_size(0, 10), (0, 0));
        assert_eq!(p.fit_size(1, 1), (1, 1));
    }

    #[test]
    fn grid_places_cells_by_column_and_row_with_gaps() {
        let a = Picture::filled(2, 2, 1, [200, 0, 0]);
        let b = Picture::filled(3, 1, 3, [0, 100, 0]);
        let rows = vec![
            GridRow {
                label: String::new(),
                cells: vec![a.clone(), b.clone()],
            },
            GridRow {
                label: String::new(),
                cells: vec![b.clone()],
            },
        ];
        let style = GridStyle {
            scale: 1,
            gap: 1,
            background: [0, 0, 0],
            text: [255, 255, 255],
        };
        let g = grid(None, &[], &rows, &style);
        // Both columns 3 wide (b sits in column 0 of row 1), rows 2 and 1 tall, gaps of 1.
        assert_eq!(
            (g.width, g.height, g.channels),
            (1 + 3 + 1 + 3 + 1, 1 + 2 + 1 + 1 + 1, 3)
        );
        assert_eq!(g.rgb(0, 0), [0, 0, 0]);
        assert_eq!(g.rgb(1, 1), [200, 200, 200]);
        assert_eq!(g.rgb(2, 2), [200, 200, 200]);
        assert_eq!(g.rgb(3, 1), [0, 0, 0], "a is two pixels wide");
        assert_eq!(g.rgb(4, 1), [0, 0, 0], "gap between columns");
        assert_eq!(g.rgb(5, 1), [0, 100, 0]);
        assert_eq!(g.rgb(5, 2), [0, 0, 0], "b is one pixel tall");
        assert_eq!(g.rgb(1, 4), [0, 100, 0], "second row starts in column 0");
    }

    #[test]
    fn labels_and_title_take_room_and_ink() {
        let cell = Picture::filled(4, 4, 1, [255, 0, 0]);
        let rows = vec![GridRow {
            label: "real".into(),
            cells: vec![cell.clone(), cell],
        }];
        let style = GridStyle {
            scale: 2,
            gap: 2,
            background: [0, 0, 0],
            text: [255, 255, 255],
        };
        let columns = ["x".to_string(), "gen 1".to_string()];
        let g = grid(Some("samples"), &columns, &rows, &style);
        let label = text_width("real") + 2;
        // Column 1 is as wide as its header "gen 1" (40 px) rather than the 8 px cell.
        assert_eq!(g.width, 2 + label + 8 + 2 + 40 + 2);
        assert_eq!(g.height, 2 + (8 + 2) + (8 + 2) + 8 + 2);
        let ink = |x0: usize, y0: usize, w: usize, h: usize| {
            (y0..y0 + h).any(|y| (x0..x0 + w).any(|x| g.rgb(x, y) != [0, 0, 0]))
        };
        assert!(ink(2, 2, text_width("samples"), 8), "title drawn");
        assert!(ink(2, 22, label - 2, 8), "row label drawn");
        // The first cell starts right of the label column, below title and header.
        assert_eq!(g.rgb(2 + label, 22), [255, 255, 255]);
    }

    #[test]
    fn png_round_trips_and_is_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        let p = Picture::from_chw(3, 2, 2, &(0..12).map(|i| i * 20).collect::<Vec<u8>>());
        p.write_png(&path).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp file left behind");
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 2));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(&buf[..info.buffer_size()], &p.pixels[..]);
        let empty = Picture::filled(0, 0, 1, [0; 3]);
        assert!(empty.write_png(&dir.path().join("e.png")).is_err());
    }

    #[test]
    fn stack_aligns_left_with_gaps() {
        let s = stack(&[ramp(2, 1), ramp(3, 2)], 1, [9, 9, 9]);
        assert_eq!((s.width, s.height), (5, 1 + 1 + 1 + 2 + 1));
        assert_eq!(s.rgb(1, 3)[0], 0);
        assert_eq!(s.rgb(3, 4)[0], 5);
        assert_eq!(s.rgb(3, 1)[0], 9);
    }
}
