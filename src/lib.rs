//! invlab: a lab for invariance transfer in long-tailed image classification.
//!
//! This crate is the front door: the command line (`cli`) and batch mode (`batch`); the binary
//! (`main.rs`) dispatches to them or to the lab (`invlab_tui`). The layers below are their own
//! crates, lowest first: `invlab_formats` (byte parsers), `invlab_core` (configs, run
//! directories, records; no libtorch), `invlab_engine` (the science on libtorch and the run
//! worker), `invlab_report` (figures and tables), `invlab_tui` (the lab). See ARCHITECTURE.md.

pub mod batch;
pub mod cli;
pub mod error;
