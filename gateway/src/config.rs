//! Configuration: raw serde types in, an immutable compiled model out.
//! (The loader lands from the `config` branch.)

pub mod model;
