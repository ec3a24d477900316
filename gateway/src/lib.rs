//! The gateway library.

pub mod config;
pub mod router;
pub mod body;
pub mod edge_error;
pub mod upstream;
pub mod context;
pub mod snapshot;
pub mod compose;
