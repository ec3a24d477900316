//! Raw serde types of the top-level `graphql:` section.

use marked_yaml::Spanned;
use serde::Deserialize;

use super::raw::{OrderedPairs, RawEjection, RawLoadBalancing, Text};

/// `graphql:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGraphql {
    /// Endpoint path, default `/graphql`.
    pub path: Option<Text>,
    /// A supergraph SDL file (relative paths are relative to routes.yaml).
    pub supergraph: Option<Text>,
    /// Subgraphs to compose at start and on reload.
    pub subgraphs: Option<Spanned<Vec<RawSubgraph>>>,
    pub introspection: Option<bool>,
    pub console: Option<bool>,
    pub expose_subgraph_errors: Option<bool>,
    pub limits: Option<RawGraphqlLimits>,
    pub planning: Option<RawGraphqlPlanning>,
    pub cache: Option<RawGraphqlCache>,
    pub persisted_queries: Option<RawPersistedQueries>,
    /// The subgraphs' backend settings.
    pub traffic_shaping: Option<RawTrafficShaping>,
    /// Who may call the endpoint (see `raw_security`).
    pub auth: Option<super::raw_security::RawRouteAuth>,
    /// The endpoint's CORS policy; replaces the top-level `cors:`.
    pub cors: Option<super::raw_security::RawCors>,
}

/// `graphql.traffic_shaping`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrafficShaping {
    pub all: Option<RawSubgraphBackend>,
    #[serde(default)]
    pub subgraphs: OrderedPairs<Text, RawSubgraphBackend>,
}

/// `graphql.traffic_shaping.all` or one subgraph's entry: the keys of a
/// `backends:` entry but its URL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSubgraphBackend {
    pub connect_timeout: Option<Text>,
    pub request_timeout: Option<Text>,
    pub body_idle_timeout: Option<Text>,
    pub max_connections: Option<Spanned<u64>>,
    pub load_balancing: Option<Spanned<RawLoadBalancing>>,
    pub ejection: Option<RawEjection>,
    pub dedupe: Option<Spanned<bool>>,
    pub retry: Option<super::raw::RawRetry>,
    pub retry_budget: Option<super::raw::RawRetryBudget>,
    pub circuit_breaker: Option<super::raw::RawCircuitBreaker>,
}

/// One entry of `graphql.subgraphs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSubgraph {
    pub name: Text,
    pub url: Text,
}

/// `graphql.limits`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGraphqlLimits {
    pub max_depth: Option<Spanned<u64>>,
    pub max_aliases: Option<Spanned<u64>>,
    pub max_root_fields: Option<Spanned<u64>>,
    pub max_expanded_fields: Option<Spanned<u64>>,
    pub max_selection_fields: Option<Spanned<u64>>,
    pub max_tokens: Option<Spanned<u64>>,
    pub max_body: Option<Text>,
}

/// `graphql.planning`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGraphqlPlanning {
    pub threads: Option<Spanned<u64>>,
    pub max_queued: Option<Spanned<u64>>,
    pub timeout: Option<Text>,
}

/// `graphql.cache`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGraphqlCache {
    pub operations: Option<Text>,
    pub plans: Option<Text>,
    pub warm_up: Option<Spanned<u64>>,
}

/// `graphql.persisted_queries`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPersistedQueries {
    pub apq: Option<bool>,
    pub cache: Option<Text>,
    /// A trusted-documents manifest (relative to routes.yaml).
    pub manifest: Option<Text>,
    pub trusted_only: Option<Spanned<bool>>,
}
