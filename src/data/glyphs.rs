//! The built-in generated dataset (work in progress).
