//! Federated GraphQL on `/graphql`: composition of subgraph SDLs into a
//! supergraph ([`supergraph_compose`]), protection limits checked in linear time
//! ([`limits`]), validation ([`validate`]), planning with
//! `hive-router-query-planner` ([`prepare`]) on a bounded pool off the
//! serving threads ([`planning`]) through byte-sized caches
//! ([`operation_cache`]), our own executor of the plans on the gateway's upstream
//! pools ([`execute`]), response shaping with null propagation
//! ([`response`]), introspection from the public schema
//! ([`introspection`]), GraphQL over HTTP ([`request`], [`handler`]),
//! persisted queries and trusted documents ([`persisted`]) and GraphiQL
//! served offline ([`graphiql`]).
//! See docs/graphql-federation.md.

pub mod authorization;
pub mod defer;
pub mod error;
pub mod execute;
pub mod graphiql;
pub mod handler;
pub mod introspection;
pub(crate) mod json_map;
pub mod limits;
pub mod metrics;
pub mod operation_cache;
pub mod persisted;
pub mod planning;
pub mod prepare;
pub mod request;
pub mod response;
pub mod response_types;
pub mod service;
pub mod source;
pub mod subgraph_pools;
pub mod subscribe;
pub mod supergraph;
pub mod supergraph_compose;
pub mod validate;
pub mod variables;

pub use handler::{GraphqlSettings, handle};
pub use service::GraphqlService;
pub use supergraph::Supergraph;
