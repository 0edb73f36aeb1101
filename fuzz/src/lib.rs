//! The dataset format parsers of invlab, compiled on their own for fuzzing.
//! `data` mirrors `invlab::data` just enough for `src/data/formats/` to build unchanged.

pub mod data;
