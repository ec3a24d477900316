//! The gateway library.

pub mod body;
pub mod config;
pub mod context;
pub mod edge_error;
pub mod router;
pub mod snapshot;
pub mod upstream;
pub mod graphql;
