//! Binary PPM (P6) images, as in GTSRB: `P6`, width, height, maxval as ASCII decimals separated
//! by whitespace (with `#` comments allowed up to the end of their line), one whitespace byte,
//! then width x height RGB triples (one byte each when maxval < 256).

use std::path::Path;

use super::bytes_str;
use crate::DataError;

/// An RGB image, interleaved (H x W x 3).
#[derive(Debug, Clone, PartialEq)]
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Largest side accepted (GTSRB images are at most ~250 px; this only bounds corrupt headers).
pub const MAX_SIDE: usize = 1 << 15;

/// Parses a binary P6 PPM file.
pub fn parse_ppm(bytes: &[u8], path: &Path) -> Result<Rgb, DataError> {
    let err = |at: usize, msg: String| DataError::new(path, msg).at(format!("byte {at}"));
    if bytes.len() < 2 || &bytes[..2] != b"P6" {
        let found = String::from_utf8_lossy(&bytes[..bytes.len().min(2)]).into_owned();
        return Err(err(
            0,
            format!("expected a binary PPM (magic \"P6\"), found {found:?}"),
        ));
    }
    let mut i = 2;
    let mut fields = [0usize; 3];
    let names = ["width", "height", "maxval"];
    for (k, field) in fields.iter_mut().enumerate() {
        // Whitespace and comments before each field; at least one separator is required.
        let before = i;
        loop {
            match bytes.get(i) {
                Some(b'#') => {
                    while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                        i += 1;
                    }
                }
                Some(c) if c.is_ascii_whitespace() => i += 1,
                _ => break,
            }
        }
        if i == before {
            return Err(err(
                i,
                format!(
                    "expected whitespace before the {} in the PPM header",
                    names[k]
                ),
            ));
        }
        let start = i;
        let mut v: usize = 0;
        while let Some(c) = bytes.get(i).filter(|c| c.is_ascii_digit()) {
            v = v.saturating_mul(10).saturating_add((c - b'0') as usize);
            i += 1;
        }
        if i == start {
            let what = match bytes.get(i) {
                None => "the end of the file".to_string(),
                Some(c) => format!("{:?}", *c as char),
            };
            return Err(err(
                i,
                format!(
                    "expected the {} (a decimal number) in the PPM header, found {what}",
                    names[k]
                ),
            ));
        }
        *field = v;
    }
    let [width, height, maxval] = fields;
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(err(
            2,
            format!("image size {width}x{height} is out of range (1..={MAX_SIDE} per side)"),
        ));
    }
    if maxval == 0 || maxval > 255 {
        return Err(err(
            2,
            format!("maxval {maxval} is not supported: expected 1..=255 (one byte per sample)"),
        ));
    }
    match bytes.get(i) {
        Some(c) if c.is_ascii_whitespace() => i += 1,
        _ => {
            return Err(err(
                i,
                "expected one whitespace byte after the maxval in the PPM header".into(),
            ))
        }
    }
    let need = width * height * 3; // bounded by MAX_SIDE, cannot overflow
    let body = bytes.len() - i;
    if body < need {
        return Err(err(
            bytes.len(),
            format!(
                "header says {width}x{height} RGB = {need} bytes after the {i}-byte header, file has {} (truncated)",
                bytes_str(body)
            ),
        ));
    }
    let mut pixels = bytes[i..i + need].to_vec();
    if maxval != 255 {
        for p in pixels.iter_mut() {
            let v = (*p as usize).min(maxval);
            *p = ((v * 255 + maxval / 2) / maxval) as u8;
        }
    }
    Ok(Rgb {
        width,
        height,
        pixels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxval_below_255_is_rescaled() {
        let img = parse_ppm(b"P6 1 1 15\n\x0f\x00\x07", Path::new("a.ppm")).unwrap();
        assert_eq!(img.pixels, [255, 0, 119]);
    }

    #[test]
    fn huge_sizes_are_rejected_before_allocation() {
        let e = parse_ppm(b"P6 99999999999999999999 2 255\n", Path::new("a.ppm")).unwrap_err();
        assert!(e.message.contains("out of range"), "{e}");
    }
}
