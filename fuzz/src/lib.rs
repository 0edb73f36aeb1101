//! The dataset format parsers of invlab, compiled on their own for fuzzing. `data` is laid out
//! as `invlab::data` so that `src/data/formats/` builds unchanged; each target calls its
//! `formats::fuzz_*` entry.

pub mod data;
