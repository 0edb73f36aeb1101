//! Writes a contact sheet of generated glyphs (PGM) for eyeballing the built-in dataset.
//!
//!     cargo run --release -p invlab-tools --bin dump_glyphs
#![allow(clippy::unwrap_used)] // a developer tool: a failed unwrap ends it with the reason
use invlab_engine::data::glyphs;
fn main() {
    let classes = 12;
    let per = 8;
    let items: Vec<(usize, usize)> = (0..classes)
        .flat_map(|c| (0..per).map(move |i| (c, i)))
        .collect();
    let set = glyphs::render(&items);
    let (w, h) = (per * 28, classes * 28);
    let mut img = vec![0u8; w * h];
    for (k, &(c, i)) in items.iter().enumerate() {
        let src = set.image(k);
        for y in 0..28 {
            for x in 0..28 {
                img[(c * 28 + y) * w + i * 28 + x] = src[y * 28 + x];
            }
        }
    }
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "glyphs.pgm".into());
    let mut out = format!("P5\n{w} {h}\n255\n").into_bytes();
    out.extend_from_slice(&img);
    std::fs::write(&path, out).unwrap();
}
