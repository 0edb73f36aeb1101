//! invlab's plain data, with no libtorch: the run configuration and its validation, run
//! directories and the records in them, seeds, class-size profiles, pictures. Every other crate
//! builds on this one; it depends on none of them but the format parsers.

pub mod atomic;
pub mod config;
pub mod device;
pub mod evaluation;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod generator;
pub mod heartbeat;
pub mod lock;
pub mod longtail;
pub mod memory;
pub mod nuisance_coverage;
pub mod paths;
pub mod picture;
pub mod records;
pub mod rundir;
pub mod schedule;
pub mod seed;
pub mod signal;
pub mod summary;
pub mod tensorboard;
pub mod text_file;
pub mod watch;
