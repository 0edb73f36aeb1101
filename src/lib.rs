//! invlab: a lab for invariance transfer in long-tailed image classification.
//!
//! The science (`config`, `data`, `transforms`, `models`, `train`, `metrics`, `engine`) knows
//! nothing of terminals; the front ends (`batch`, `tui`) drive it through `engine::spawn`.

pub mod allocator;
pub mod batch;
pub mod cli;
pub mod config;
pub mod data;
pub mod device;
pub mod engine;
pub mod git;
pub mod method;
pub mod metrics;
pub mod models;
pub mod paths;
pub mod picture;
pub mod report;
pub mod seed;
pub mod transforms;
pub mod tui;
