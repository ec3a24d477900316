//! The gateway library.

pub mod config;
pub mod router;
