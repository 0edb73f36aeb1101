//! invlab's own `data::{DataError, ImageSet}` and format parsers, compiled from the invlab
//! sources without the rest of the crate (no libtorch).

#[path = "../../src/data/types.rs"]
mod types;

pub use types::{DataError, ImageSet};

#[path = "../../src/data/formats/mod.rs"]
pub mod formats;
