//! The rules, the guards, the per-request check and the filter, on a
//! small supergraph.
