//! Observability seams shared by every handler kind. Today: the W3C
//! trace-context injection point every upstream request passes through
//! ([`trace_context::inject`]).

pub mod trace_context;
