//! An API gateway and BFF server: a REST edge proxy, a gRPC bridge,
//! declarative composition and federated GraphQL, all driven by one
//! `routes.yaml`.
//!
//! The request path, outermost first: [`server`] (acceptor, HTTP/1.1 and
//! h2c, drain) on one of the [`workers`] (thread-per-core) → [`layers`]
//! (request id, error rescue) → [`dispatch`] (path check, [`router`] match,
//! body [`limits`]) → the route's [`pipeline`] (policy layers, then a
//! handler: [`proxy`], [`grpc`], [`compose`] or [`graphql`]) → [`upstream`]
//! pools. [`config`] turns the YAML into an immutable model of plain data
//! (with [`template`] and [`protos`], the pure languages it shares with the
//! handlers); [`snapshot`] builds the runtime objects from it: pools,
//! pipelines, caches;
//! [`reload`] swaps snapshots; [`runtime`] starts it all and sequences the
//! drain, and [`drain`] tells long-lived streams when it starts.
//! See ARCHITECTURE.md for the code map and invariants.

pub mod access_log;
pub mod admin;
pub mod auth;
pub mod body;
pub mod cli;
pub mod client_body;
pub mod client_ip;
pub mod compose;
pub mod config;
pub mod context;
pub mod cors;
pub mod dir_watch;
pub mod dispatch;
pub mod drain;
pub mod edge_error;
pub mod events;
pub mod graphql;
pub mod grpc;
pub mod ip_text;
pub mod json_write;
pub mod layers;
pub mod limits;
pub mod logging;
pub mod observe;
pub mod pipeline;
pub mod protos;
pub mod proxy;
pub mod ratelimit;
pub mod reload;
pub mod request_shape;
pub mod router;
pub mod runtime;
pub mod server;
pub mod snapshot;
pub mod sse_heartbeat;
pub mod template;
pub mod tls;
pub mod upstream;
pub mod websocket;
pub mod workers;
pub mod ws_keepalive;

#[cfg(test)]
mod module_graph;
