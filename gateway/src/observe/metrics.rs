//! Prometheus metrics of one running gateway (never a global registry:
//! tests run several gateways in one process).
//!
//! [`Metrics`] is built by `runtime::start` when `metrics.enabled` (the
//! default), registered as an [`ExchangeSink`](super::ExchangeSink) in the
//! gateway's [`Observers`](super::Observers) and shared with the admin
//! listener, which serves it on `GET /metrics`. Handlers that count more
//! than the exchange shows (composition caches, GraphQL operations, open
//! streams) reach it through `exchange.observers.metrics()`.
//!
//! State that already lives elsewhere (endpoint health, worker
//! connections, reload history) is not counted here but read at scrape
//! time by the admin listener's collector (`admin::metrics`).
//!
//! Cost on the request path: atomics only (see [`series`]). Every label is
//! bounded: route, backend, subgraph and call names and endpoint URLs come
//! from the config; methods are normalised ([`labels::method_index`]);
//! GraphQL operation names and error codes pass through [`BoundedNames`];
//! consumer names are capped by `metrics.max_consumers` ([`consumers`]).
//! Every metric is documented in docs/observability.md.

mod collectors;
mod consumers;
pub mod events;
mod histogram;
pub mod labels;
mod series;
mod sharded_gauge;
mod sink;
mod streams;

pub use events::{EventInstruments, PublishResult};
pub use histogram::DurationHistogram;
pub use streams::{OpenStream, StreamKind};

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use collectors::{AccessLogDropped, StreamsCollector};
use consumers::ConsumerCounts;
use labels::{BoundedNames, OTHER_NAME};
use series::{ClientLabels, EndpointSeries, ReadMostly, RouteSeries, ServerLabels};
use sharded_gauge::ShardedGauge;
use streams::OpenStreams;

/// The Prometheus text exposition format's content type.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Most distinct GraphQL operation names kept as labels; later new names
/// are counted as `_other`.
pub const MAX_OPERATION_NAMES: usize = 100;
/// Most distinct GraphQL error codes kept as labels (subgraphs may send
/// their own codes when `expose_subgraph_errors` is on).
pub const MAX_ERROR_CODES: usize = 50;
pub use crate::config::model::DEFAULT_MAX_CONSUMERS;
/// Longest operation name, error code or consumer kept as a label, in bytes.
pub const MAX_LABEL_LENGTH: usize = 64;

/// The instruments of one gateway.
#[derive(Debug)]
pub struct Metrics {
    /// Tells this gateway's metrics from another's (tests run several in
    /// one process) in the series kept by [`EndpointSeriesSlot`]s.
    id: u64,
    registry: Registry,
    server_duration: Family<ServerLabels, DurationHistogram>,
    active_requests: ShardedGauge,
    routes: ReadMostly<Arc<str>, RouteSeries>,
    consumers: ConsumerCounts,
    client_duration: Family<ClientLabels, DurationHistogram>,
    endpoints: ReadMostly<Arc<str>, ReadMostly<Arc<str>, EndpointSeries>>,
    streams: OpenStreams,
    compose: ComposeInstruments,
    graphql: GraphqlInstruments,
    events: EventInstruments,
    access_log_dropped: Arc<OnceLock<Arc<dyn DroppedCount>>>,
    /// Request heads refused before any service saw them, by code.
    refused: Family<RefusedLabels, Counter>,
}

/// The last [`Metrics::id`] given out.
static LAST_METRICS_ID: AtomicU64 = AtomicU64::new(0);

/// An endpoint's client series, kept in its
/// [`EndpointName`](crate::observe::EndpointName) once resolved, with
/// the metrics that resolved it.
#[derive(Debug)]
pub struct EndpointSeriesSlot {
    metrics: u64,
    series: Arc<EndpointSeries>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallCacheLabels {
    route: Arc<str>,
    call: Arc<str>,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseCacheLabels {
    route: Arc<str>,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    route: Arc<str>,
    call: Arc<str>,
}

#[derive(Debug, Default)]
struct ComposeInstruments {
    call_cache: Family<CallCacheLabels, Counter>,
    response_cache: Family<ResponseCacheLabels, Counter>,
    coalesced: Family<CallLabels, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    graphql_operation_type: &'static str,
    graphql_operation_name: Arc<str>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: Arc<str>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubgraphLabels {
    subgraph: Arc<str>,
}

#[derive(Debug)]
struct GraphqlInstruments {
    operations: Family<OperationLabels, Counter>,
    operation_names: BoundedNames,
    errors: Family<CodeLabels, Counter>,
    error_codes: BoundedNames,
    cache: Family<CacheLabels, Counter>,
    fetch_duration: Family<SubgraphLabels, DurationHistogram>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Whether a cache lookup found its entry.
fn hit_or_miss(hit: bool) -> &'static str {
    if hit { "hit" } else { "miss" }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A count of dropped records, read at scrape time (the access log's).
pub trait DroppedCount: Send + Sync + std::fmt::Debug {
    fn dropped(&self) -> u64;
}

impl DroppedCount for AtomicU64 {
    fn dropped(&self) -> u64 {
        self.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Metrics {
    /// The metrics with the default consumer cap
    /// ([`DEFAULT_MAX_CONSUMERS`]).
    pub fn new() -> Self {
        Self::with_max_consumers(DEFAULT_MAX_CONSUMERS)
    }

    /// The metrics, keeping at most `max_consumers` consumer names as
    /// labels (`metrics.max_consumers`; 0: no per-consumer counter).
    pub fn with_max_consumers(max_consumers: usize) -> Self {
        let mut metrics = Metrics {
            id: LAST_METRICS_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
            registry: Registry::default(),
            server_duration: Family::default(),
            active_requests: ShardedGauge::default(),
            routes: ReadMostly::default(),
            consumers: ConsumerCounts::new(max_consumers, MAX_LABEL_LENGTH),
            client_duration: Family::default(),
            endpoints: ReadMostly::default(),
            streams: OpenStreams::default(),
            compose: ComposeInstruments::default(),
            graphql: GraphqlInstruments {
                operations: Family::default(),
                operation_names: BoundedNames::new(MAX_OPERATION_NAMES, MAX_LABEL_LENGTH),
                errors: Family::default(),
                error_codes: BoundedNames::new(MAX_ERROR_CODES, MAX_LABEL_LENGTH),
                cache: Family::default(),
                fetch_duration: Family::default(),
            },
            events: EventInstruments::default(),
            access_log_dropped: Arc::default(),
            refused: Family::default(),
        };
        metrics.register();
        metrics
    }

    fn register(&mut self) {
        let registry = &mut self.registry;
        registry.register_with_unit(
            "http_server_request_duration",
            "Duration of requests served, to the end of the response body, by route name, method and status class",
            Unit::Seconds,
            self.server_duration.clone(),
        );
        registry.register(
            "http_server_active_requests",
            "Requests being served (head received, response body not yet finished)",
            self.active_requests.clone(),
        );
        if self.consumers.enabled() {
            registry.register(
                "gateway_consumer_requests",
                "Requests by authenticated consumer (API key consumer, JWT consumer claim or subject; bounded, see docs), route and status class",
                self.consumers.family.clone(),
            );
        }
        registry.register_with_unit(
            "http_client_request_duration",
            "Duration of upstream attempts, from sending to the response head, by backend, endpoint and status class or error type",
            Unit::Seconds,
            self.client_duration.clone(),
        );
        registry.register_collector(Box::new(StreamsCollector {
            gauges: StreamKind::ALL.map(|kind| (kind, self.streams.gauge(kind).clone())),
        }));
        let compose = &self.compose;
        registry.register(
            "gateway_compose_call_cache_lookups",
            "Composition call cache lookups by route, call and result (hit, miss)",
            compose.call_cache.clone(),
        );
        registry.register(
            "gateway_compose_response_cache_lookups",
            "Composed-response cache lookups by route and result (hit, miss)",
            compose.response_cache.clone(),
        );
        registry.register(
            "gateway_compose_coalesced_calls",
            "Composition calls that joined an identical call already in flight instead of sending their own",
            compose.coalesced.clone(),
        );
        let graphql = &self.graphql;
        registry.register(
            "gateway_graphql_operations",
            "GraphQL operations executed, by operation type and name (names bounded, see docs)",
            graphql.operations.clone(),
        );
        registry.register(
            "gateway_graphql_errors",
            "GraphQL errors returned to clients, by extensions.code (codes bounded, see docs)",
            graphql.errors.clone(),
        );
        registry.register(
            "gateway_graphql_cache_lookups",
            "GraphQL operation-cache and plan-cache lookups by cache and result (hit, miss)",
            graphql.cache.clone(),
        );
        registry.register_with_unit(
            "gateway_graphql_subgraph_fetch_duration",
            "Duration of subgraph fetches, from sending to the end of the response body, by subgraph",
            Unit::Seconds,
            graphql.fetch_duration.clone(),
        );
        self.events.register(registry);
        registry.register_collector(Box::new(AccessLogDropped(Arc::clone(
            &self.access_log_dropped,
        ))));
        registry.register(
            "gateway_refused_requests",
            "Request heads the connection refused before any route saw them, by the answer's code (MALFORMED_REQUEST, HEADERS_TOO_LARGE, URI_TOO_LONG, REQUEST_TIMEOUT, PLAIN_HTTP_ON_TLS_PORT); also counted in http_server_request_duration_seconds as route _unmatched",
            self.refused.clone(),
        );
        registry.register(
            "gateway_build",
            "The gateway's version",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
    }

    /// Writes every metric in the Prometheus text format.
    pub fn encode(&self, out: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::prometheus_text::encode(out, &self.registry)
    }

    /// Lets the access log report the records it dropped (read at scrape
    /// time). The first counter set is kept.
    pub fn set_access_log_dropped(&self, dropped: Arc<dyn DroppedCount>) {
        let _ = self.access_log_dropped.set(dropped);
    }

    /// The event bus's instruments: publish counts (publish routes and
    /// emit call [`EventInstruments::published`]), deliveries, lag and
    /// dead letters.
    pub fn events(&self) -> &EventInstruments {
        &self.events
    }

    /// Counts a long-lived stream as open until the guard drops.
    pub fn open_stream(&self, kind: StreamKind) -> OpenStream {
        self.streams.open(kind)
    }

    /// A composed-response cache lookup.
    pub fn compose_response_cache(&self, route: &str, hit: bool) {
        self.compose
            .response_cache
            .get_or_create(&ResponseCacheLabels {
                route: Arc::from(route),
                result: hit_or_miss(hit),
            })
            .inc();
    }

    /// A GraphQL operation about to execute; `name` is `None` for an
    /// anonymous operation (labelled `_anonymous`).
    pub fn graphql_operation(&self, operation_type: &'static str, name: Option<&str>) {
        let name = match name {
            Some(name) => self.graphql.operation_names.label(name),
            None => Arc::from("_anonymous"),
        };
        self.graphql
            .operations
            .get_or_create(&OperationLabels {
                graphql_operation_type: operation_type,
                graphql_operation_name: name,
            })
            .inc();
    }

    /// One GraphQL error sent to the client, by its `extensions.code`
    /// (`None`: the error has none).
    pub fn graphql_error(&self, code: Option<&str>) {
        let code = self.graphql.error_codes.label(code.unwrap_or(OTHER_NAME));
        self.graphql
            .errors
            .get_or_create(&CodeLabels { code })
            .inc();
    }

    /// A lookup in the GraphQL `operation` or `plan` cache.
    pub fn graphql_cache(&self, cache: &'static str, hit: bool) {
        self.graphql
            .cache
            .get_or_create(&CacheLabels {
                cache,
                result: hit_or_miss(hit),
            })
            .inc();
    }

    /// One subgraph fetch, to the end of its response body.
    pub fn graphql_subgraph_fetch(&self, subgraph: &str, duration: Duration) {
        self.graphql
            .fetch_duration
            .get_or_create(&SubgraphLabels {
                subgraph: Arc::from(subgraph),
            })
            .observe(duration);
    }
}

/// One composition call's counters: its route and call names, resolved
/// once per call.
#[derive(Debug, Clone)]
pub struct ComposeCallMetrics {
    metrics: Arc<Metrics>,
    route: Arc<str>,
    call: Arc<str>,
}

impl ComposeCallMetrics {
    pub fn new(metrics: &Arc<Metrics>, route: &str, call: &str) -> Self {
        Self {
            metrics: Arc::clone(metrics),
            route: Arc::from(route),
            call: Arc::from(call),
        }
    }

    /// The call's cache lookup.
    pub fn cache_lookup(&self, hit: bool) {
        self.metrics
            .compose
            .call_cache
            .get_or_create(&CallCacheLabels {
                route: Arc::clone(&self.route),
                call: Arc::clone(&self.call),
                result: hit_or_miss(hit),
            })
            .inc();
    }

    /// The call joined an identical call in flight.
    pub fn coalesced(&self) {
        self.metrics
            .compose
            .coalesced
            .get_or_create(&CallLabels {
                route: Arc::clone(&self.route),
                call: Arc::clone(&self.call),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests;
