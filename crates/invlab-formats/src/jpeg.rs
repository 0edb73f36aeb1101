//! JPEG decoding (TinyImageNet) with the pure-Rust `jpeg-decoder` crate; grayscale images are
//! replicated to three channels.

use std::path::Path;

use super::ppm::Rgb;
use crate::DataError;

/// Largest decoded image accepted (bounds a corrupt header's claim).
const MAX_PIXELS: usize = 1 << 24;

/// Decodes a baseline or progressive JPEG to interleaved RGB.
pub fn decode_jpeg_rgb(bytes: &[u8], path: &Path) -> Result<Rgb, DataError> {
    super::guard(path, "JPEG", || {
        let mut dec = jpeg_decoder::Decoder::new(bytes);
        dec.set_max_decoding_buffer_size(MAX_PIXELS * 4);
        let pixels = dec
            .decode()
            .map_err(|e| DataError::new(path, format!("not a decodable JPEG: {e}")))?;
        let info = dec
            .info()
            .ok_or_else(|| DataError::new(path, "not a decodable JPEG: no frame header"))?;
        let (w, h) = (info.width as usize, info.height as usize);
        if w == 0 || h == 0 || w * h > MAX_PIXELS {
            return Err(DataError::new(
                path,
                format!("JPEG size {w}x{h} is out of range"),
            ));
        }
        use jpeg_decoder::PixelFormat;
        let rgb = match info.pixel_format {
            PixelFormat::RGB24 => pixels,
            PixelFormat::L8 => pixels.iter().flat_map(|&v| [v, v, v]).collect(),
            PixelFormat::L16 => pixels
                .chunks_exact(2)
                .flat_map(|c| [c[0], c[0], c[0]])
                .collect(),
            PixelFormat::CMYK32 => pixels
                .chunks_exact(4)
                .flat_map(|p| {
                    // Adobe CMYK JPEGs store inverted values, which the decoder returns as is.
                    let k = p[3] as u32;
                    [p[0], p[1], p[2]].map(|c| ((c as u32 * k + 127) / 255) as u8)
                })
                .collect(),
        };
        if rgb.len() != w * h * 3 {
            return Err(DataError::new(
                path,
                format!(
                    "JPEG decoded to {} bytes, expected {w}x{h}x3 = {}",
                    rgb.len(),
                    w * h * 3
                ),
            ));
        }
        Ok(Rgb {
            width: w,
            height: h,
            pixels: rgb,
        })
    })
}
