//! Route matching: pure data in, a decision out.
//!
//! The router does no I/O and knows no tokio or hyper types. It is built
//! once per config snapshot from the compiled routes and answers one
//! question per request: which route (and which captured parameters), or
//! why none. Paths are matched in their raw, still-encoded form, and the
//! same raw form is what the proxy forwards, so a request is never routed
//! on one form and forwarded in another. [`check_path`] rejects the raw
//! forms whose meaning a backend could read differently (dot segments,
//! encoded slashes or dots).

mod path_check;
mod pattern;
mod table;

pub use path_check::{PathError, check_path};
pub use pattern::{PathPattern, PatternError};
pub use table::{Params, RouteConflict, RouteMatch, RouteTable, Routed};

#[cfg(test)]
mod tests;
