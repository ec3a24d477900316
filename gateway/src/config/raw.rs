//! Raw serde types: the shape of routes.yaml, before any validation.
//!
//! Every struct denies unknown keys. Every value that `compile` checks is a
//! [`Spanned`] so its errors can point at it; durations, sizes, URLs and
//! names stay strings here and are parsed in `compile`, where all of their
//! errors are collected instead of stopping at the first.
//!
//! These types are never deserialised from the whole file at once: see
//! `sections`, which feeds each top-level section, each backend and each
//! route to serde separately.

use std::fmt;
use std::marker::PhantomData;

use marked_yaml::Spanned;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

mod compose;
mod health;
mod propagation;
pub(crate) mod rate_limit;
mod resilience;

pub(crate) use compose::{
    RawCall, RawCallCache, RawCompose, RawResponseCache, SpanIndex, YamlTree, locate,
};
pub(crate) use health::{RawAdaptiveLimit, RawHealthCheck, RawHttpProbe, RawLoadShedding};
pub(crate) use propagation::{RawHeaderRule, RawPropagation};
pub(crate) use resilience::{RawCircuitBreaker, RawRetry, RawRetryBudget};

/// A string value with its position.
pub(crate) type Text = Spanned<String>;

/// The whole file, section by section. A section that failed to
/// deserialise is absent here; its errors are already recorded.
#[derive(Debug, Default)]
pub(crate) struct RawConfig {
    pub listen: Option<Text>,
    pub admin: Option<Text>,
    pub server: Option<RawServer>,
    /// In file order.
    pub backends: Vec<BackendEntry>,
    /// In file order; a route that failed to deserialise is left out.
    pub routes: Vec<RouteEntry>,
    /// `routes: []` is written explicitly (not absent, not blank).
    pub routes_declared_empty: bool,
    /// `grpc:` (see `raw_grpc`).
    pub grpc: Option<super::raw_grpc::RawGrpc>,
    pub graphql: Option<Spanned<super::raw_graphql::RawGraphql>>,
    /// `tracing:` (see `raw_tracing`).
    pub tracing: Option<super::raw_tracing::RawTracing>,
    /// `propagate:` (header propagation for composition and GraphQL).
    pub propagate: Option<RawPropagation>,
    /// `log:` (see `raw_log`).
    pub log: Option<super::raw_log::RawLog>,
    pub metrics: Option<RawMetrics>,
    /// `rate_limits:` (see `raw/rate_limit`).
    pub rate_limits: Option<rate_limit::RawRateLimits>,
    /// `auth:` (JWT providers, API-key sets; see `raw_security`).
    pub auth: Option<super::raw_security::RawAuth>,
    /// `cors:`: every route's CORS policy unless it sets its own.
    pub cors: Option<super::raw_security::RawCors>,
}

/// `metrics:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub enabled: Option<bool>,
}

/// One backend as written: its name (the mapping key) and its settings,
/// `None` when they failed to deserialise (the error is already recorded;
/// routes naming it are not reported again).
#[derive(Debug)]
pub(crate) struct BackendEntry {
    pub name: Text,
    pub backend: Option<RawBackend>,
}

/// One route as written, with where its mapping starts.
#[derive(Debug)]
pub(crate) struct RouteEntry {
    pub span: marked_yaml::Span,
    pub route: RawRoute,
}

/// `server:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub header_read_timeout: Option<Text>,
    pub idle_timeout: Option<Text>,
    pub send_timeout: Option<Text>,
    pub max_connections: Option<Spanned<u64>>,
    pub max_connections_per_worker: Option<Spanned<u64>>,
    pub listen_backlog: Option<Spanned<u64>>,
    pub http2: Option<RawHttp2>,
    pub streams: Option<RawStreams>,
    pub shutdown_grace: Option<Text>,
    pub drain_delay: Option<Text>,
    pub max_body: Option<Text>,
    pub workers: Option<Spanned<u64>>,
    pub trusted_proxies: Option<Vec<Text>>,
    pub headers_with_underscores: Option<Spanned<RawUnderscoreHeaders>>,
    pub max_uri_length: Option<Text>,
    pub max_header_bytes: Option<Text>,
    pub max_headers: Option<Spanned<u64>>,
    pub tls: Option<super::raw_tls::RawServerTls>,
}

/// `server.headers_with_underscores`
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawUnderscoreHeaders {
    Drop,
    Reject,
    Allow,
}

/// `server.http2:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp2 {
    pub keepalive_interval: Option<Text>,
    pub keepalive_timeout: Option<Text>,
    pub max_concurrent_streams: Option<Spanned<u64>>,
    pub max_header_list_size: Option<Text>,
    pub max_pending_accept_reset_streams: Option<Spanned<u64>>,
    pub max_local_error_reset_streams: Option<Spanned<u64>>,
}

/// `server.streams:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStreams {
    pub sse_heartbeat: Option<Text>,
    pub websocket_ping_interval: Option<Text>,
    pub websocket_pong_timeout: Option<Text>,
}

/// One entry of `backends:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackend {
    pub url: Option<Text>,
    pub urls: Option<Spanned<Vec<Text>>>,
    pub protocol: Option<Spanned<RawProtocol>>,
    pub connect_timeout: Option<Text>,
    pub request_timeout: Option<Text>,
    pub body_idle_timeout: Option<Text>,
    pub max_connections: Option<Spanned<u64>>,
    pub load_balancing: Option<Spanned<RawLoadBalancing>>,
    pub ejection: Option<RawEjection>,
    pub health_check: Option<RawHealthCheck>,
    pub retry: Option<RawRetry>,
    pub retry_budget: Option<RawRetryBudget>,
    pub circuit_breaker: Option<RawCircuitBreaker>,
    pub tls: Option<super::raw_tls::RawBackendTls>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawProtocol {
    Http1,
    H2c,
    H2,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawLoadBalancing {
    RoundRobin,
    LeastRequest,
}

/// `backends.<name>.ejection:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEjection {
    pub consecutive_failures: Option<Spanned<u32>>,
    pub cooldown: Option<Text>,
    pub max_cooldown: Option<Text>,
    pub failure_ratio: Option<Spanned<f64>>,
    pub min_requests: Option<Spanned<u32>>,
    pub window: Option<Text>,
    pub max_ejection_percent: Option<Spanned<u32>>,
}

/// One entry of `routes:`.
///
/// The keys `backend`, `grpc` and `compose` each choose the route's
/// action; exactly one must be present. See `compile/routes.rs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub name: Option<Text>,
    pub method: Option<Text>,
    pub methods: Option<Spanned<Vec<Text>>>,
    pub path: Text,
    pub host: Option<Text>,
    /// Action: proxy to this backend.
    pub backend: Option<Text>,
    /// Action: transcode to, or pass through as, gRPC.
    pub grpc: Option<super::raw_grpc::RawGrpcRoute>,
    /// Proxy only: how the path is rewritten.
    pub rewrite: Option<Spanned<RawRewrite>>,
    /// Proxy only: header edits. (Not `Spanned`: that would move the
    /// position of errors inside it.)
    pub headers: Option<RawHeaders>,
    pub timeout: Option<Text>,
    pub body_idle_timeout: Option<Text>,
    pub max_body: Option<Text>,
    /// Action: compose one response from several calls (see `compose.rs`).
    pub compose: Option<Spanned<RawCompose>>,
    /// The route's own rate limits (see `raw/rate_limit`).
    pub rate_limits: Option<Vec<rate_limit::RawLimit>>,
    /// Every action: the route's concurrency limit (see `raw/health.rs`).
    pub load_shedding: Option<RawLoadShedding>,
    /// Who may call (see `raw_security`).
    pub auth: Option<super::raw_security::RawRouteAuth>,
    /// Which browser origins may call; replaces the top-level `cors:`.
    pub cors: Option<super::raw_security::RawCors>,
    /// Replaces the backends' retry policies for this route.
    pub retry: Option<RawRetry>,
    /// Proxy only: store the request and answer 202 (see `compile/async_route.rs`).
    #[serde(rename = "async")]
    pub async_route: Option<Spanned<RawAsync>>,
}

/// `async:` on a proxy route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAsync {
    /// `always` or `on_request`.
    pub mode: Option<Text>,
    pub order_key: Option<Text>,
    pub backoff: Option<resilience::RawBackoff>,
    pub max_attempts: Option<Spanned<u32>>,
    pub result_ttl: Option<Text>,
}

/// `rewrite:` — exactly one of the two keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRewrite {
    pub strip_prefix: Option<Text>,
    pub template: Option<Text>,
}

/// `headers:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaders {
    pub request: Option<RawHeaderEdits>,
    pub response: Option<RawHeaderEdits>,
}

/// `headers.request:` or `headers.response:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaderEdits {
    #[serde(default)]
    pub add: OrderedPairs<Text, Text>,
    #[serde(default)]
    pub remove: Vec<Text>,
}

/// A YAML mapping kept in file order, as key/value pairs.
#[derive(Debug)]
pub(crate) struct OrderedPairs<K, V>(pub Vec<(K, V)>);

impl<K, V> Default for OrderedPairs<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, K, V> Deserialize<'de> for OrderedPairs<K, V>
where
    K: Deserialize<'de>,
    V: Deserialize<'de>,
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PairsVisitor(PhantomData))
    }
}

struct PairsVisitor<K, V>(PhantomData<(K, V)>);

impl<'de, K, V> Visitor<'de> for PairsVisitor<K, V>
where
    K: Deserialize<'de>,
    V: Deserialize<'de>,
{
    type Value = OrderedPairs<K, V>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry()? {
            pairs.push(pair);
        }
        Ok(OrderedPairs(pairs))
    }
}
