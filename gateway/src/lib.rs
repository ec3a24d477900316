//! The gateway library.

pub mod config;
