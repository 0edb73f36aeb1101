//! Resizing interleaved RGB/gray images to a fixed size, output channel-planar (C x H x W).
//! Separable: each output pixel averages the source pixels its footprint covers, weighted by
//! the overlap (area averaging) when shrinking, and is a bilinear blend when enlarging.

/// Per output index, the (source index, weight) pairs along one axis; weights sum to 1.
pub fn axis_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|o| {
            if scale > 1.0 {
                // Area: the footprint [o*scale, (o+1)*scale) in source coordinates.
                let (a, b) = (o as f64 * scale, (o + 1) as f64 * scale);
                let mut w = Vec::new();
                let mut s = a.floor() as usize;
                while (s as f64) < b && s < src {
                    let lo = a.max(s as f64);
                    let hi = b.min((s + 1) as f64);
                    if hi > lo {
                        w.push((s, ((hi - lo) / scale) as f32));
                    }
                    s += 1;
                }
                w
            } else {
                // Bilinear with pixel centres aligned (half-pixel convention), clamped at edges.
                let x = ((o as f64 + 0.5) * scale - 0.5).clamp(0.0, (src - 1) as f64);
                let x0 = x.floor() as usize;
                let x1 = (x0 + 1).min(src - 1);
                let f = (x - x0 as f64) as f32;
                if x1 == x0 || f == 0.0 {
                    vec![(x0, 1.0)]
                } else {
                    vec![(x0, 1.0 - f), (x1, f)]
                }
            }
        })
        .collect()
}

/// Resizes an interleaved image (`h` x `w` x `c`) to `oh` x `ow`, writing `c` x `oh` x `ow`
/// planar bytes into `out` (appended). With zero sizes or `src.len() != h * w * c` the output
/// is black.
pub fn resize_to_planar(
    src: &[u8],
    w: usize,
    h: usize,
    c: usize,
    ow: usize,
    oh: usize,
    out: &mut Vec<u8>,
) {
    let base = out.len();
    out.resize(base + c * oh * ow, 0);
    let fits = w.checked_mul(h).and_then(|n| n.checked_mul(c)) == Some(src.len());
    if !fits || w == 0 || h == 0 || ow == 0 || oh == 0 {
        // Not reachable from the parsers (they check sizes); leave a black image, never panic.
        return;
    }
    if w == ow && h == oh {
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    out[base + ch * oh * ow + y * ow + x] = src[(y * w + x) * c + ch];
                }
            }
        }
        return;
    }
    let wx = axis_weights(w, ow);
    let wy = axis_weights(h, oh);
    // Horizontal pass: h rows x ow cols x c, in f32.
    let mut tmp = vec![0f32; h * ow * c];
    for y in 0..h {
        let row = &src[y * w * c..(y + 1) * w * c];
        for (ox, ws) in wx.iter().enumerate() {
            for ch in 0..c {
                let mut acc = 0f32;
                for &(sx, wt) in ws {
                    acc += row[sx * c + ch] as f32 * wt;
                }
                tmp[(y * ow + ox) * c + ch] = acc;
            }
        }
    }
    // Vertical pass into planar output.
    for (oy, ws) in wy.iter().enumerate() {
        for ox in 0..ow {
            for ch in 0..c {
                let mut acc = 0f32;
                for &(sy, wt) in ws {
                    acc += tmp[(sy * ow + ox) * c + ch] * wt;
                }
                out[base + ch * oh * ow + oy * ow + ox] = acc.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}
