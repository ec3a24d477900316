//! The compiled, validated configuration: plain immutable data.
//!
//! `config::compile` turns the raw serde types into these. Nothing here
//! knows YAML, and nothing here does I/O: every value is already checked,
//! every backend reference already resolved.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Uri};

use crate::protos::DescriptorSet;
use crate::router::PathPattern;

pub mod compose;
pub mod events;
mod graphql;
pub mod grpc;
mod health;
mod propagation;
pub mod rate_limit;
mod resilience;
pub mod security;

pub use graphql::{
    CacheSettings, GraphqlConfig, GraphqlSettings, Limits, Manifest, PersistedSettings,
    PlanningSettings, SubgraphBackendSettings, SubgraphEndpoint, SubgraphTraffic, SupergraphSource,
    graphiql_assets_path,
};
pub use health::{AdaptiveLimitSpec, HealthCheckSpec, HealthProbe, LoadSheddingSpec};
pub use propagation::{HeaderRule, MANAGED_HEADERS, Propagation, is_managed};
pub use resilience::{
    Backoff, BreakerPolicy, GrpcCodeSet, OutlierPolicy, Resilience, RetryBudget, RetryOn,
    RetryPolicy, StatusSet,
};
pub mod log;
pub mod tls;
mod traces;

pub use traces::{
    BatchSettings, DEFAULT_GRPC_ENDPOINT, DEFAULT_HTTP_ENDPOINT, ExporterSettings, OtlpProtocol,
    TracingSettings, is_https_url,
};

/// A whole routes.yaml, compiled.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Main listener address.
    pub listen: SocketAddr,
    /// Admin listener address (`/healthz`, `/readyz`, `/config`).
    pub admin: SocketAddr,
    pub server: ServerSettings,
    /// Backends by name.
    pub backends: BTreeMap<String, Arc<BackendSpec>>,
    /// Routes in file order.
    pub routes: Vec<Arc<RouteSpec>>,
    /// The federated GraphQL endpoint, when `graphql:` is set.
    pub graphql: Option<GraphqlConfig>,
    /// `propagate:`: client headers sent on composition calls and
    /// subgraph requests (none by default).
    pub propagate: Arc<Propagation>,
    /// Identifies the config: hex SHA-256 of the file's bytes, and, when
    /// `grpc:` is set, of those together with the compiled proto
    /// descriptors (so an edited proto is a change). The supergraph file
    /// is not part of it.
    pub hash: String,
    /// The .proto files (imports included) compiled for `grpc:`, as paths
    /// on disk; the reload watcher watches them with the file itself.
    pub proto_files: Vec<std::path::PathBuf>,
    /// The compiled descriptors of `grpc:` protos: plain bytes; the
    /// snapshot decodes them into the pool the gRPC bridge and gRPC
    /// composition calls use.
    pub protos: Option<DescriptorSet>,
    /// The file says `routes: []`: a reload may then drop every route.
    pub routes_declared_empty: bool,
    /// `tracing:` (OpenTelemetry), read at start.
    pub tracing: TracingSettings,
    /// `log:`: general logs and the access log, read at start.
    pub log: log::LogSettings,
    /// `metrics:` (read at start).
    pub metrics: MetricsSettings,
    /// `rate_limits:`: global limits, the key bound, the Redis store.
    pub rate_limits: rate_limit::RateLimitSettings,
    /// `auth:`: the JWT providers and API-key sets routes refer to.
    pub auth: security::AuthSettings,
    /// `events:`: the event bus (store, topics, subscriptions); `None`
    /// when the file has no `events:` section (no store is opened).
    pub events: Option<events::EventsSettings>,
}

impl GatewayConfig {
    /// The TLS files (certificates, keys, CAs) of the listener and the
    /// backends: watched, so that a rotated certificate is reloaded.
    pub fn tls_files(&self) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = self.server.tls.iter().flat_map(|tls| tls.files()).collect();
        files.extend(
            self.backends
                .values()
                .flat_map(|backend| backend.tls.files()),
        );
        files.sort();
        files.dedup();
        files
    }
}

/// `metrics:`: the Prometheus endpoint on the admin listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Count and serve `GET /metrics` (default on).
    pub enabled: bool,
    /// Most distinct consumers labelled in `gateway_consumer_requests_total`
    /// (later ones are `_other`); 0 turns that counter off.
    pub max_consumers: usize,
}

/// `metrics.max_consumers` when unset.
pub const DEFAULT_MAX_CONSUMERS: usize = 100;

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_consumers: DEFAULT_MAX_CONSUMERS,
        }
    }
}

/// Listener-wide settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// Time allowed for a client to send the request head, counted from
    /// accept for the first request (it covers the HTTP/1-or-2 sniff) and
    /// from the first byte for later ones.
    pub header_read_timeout: Duration,
    /// Longest a connection may sit with no request in flight: between
    /// HTTP/1 keep-alive requests, or with no open HTTP/2 stream.
    pub idle_timeout: Duration,
    /// Longest a write to a client may stay blocked (the client stopped
    /// reading); then the connection is closed (nginx's `send_timeout`).
    pub send_timeout: Duration,
    /// Most open client connections on the main listener.
    pub max_connections: usize,
    /// Most open client connections on one worker.
    pub max_connections_per_worker: usize,
    /// The main listener's accept queue (the kernel caps it at somaxconn).
    pub listen_backlog: u32,
    /// HTTP/2 limits and keep-alive pings.
    pub http2: Http2Settings,
    /// Heartbeats and pings on long-lived streams.
    pub streams: StreamSettings,
    /// How long in-flight requests may run after SIGTERM / Ctrl-C.
    pub shutdown_grace: Duration,
    /// Between `/readyz` turning 503 and the listeners closing, so load
    /// balancers notice; zero by default.
    pub drain_delay: Duration,
    /// Body limit for routes that set none. `None` means unlimited.
    pub default_max_body: Option<u64>,
    /// Serving threads, each with its own single-threaded runtime and its
    /// own upstream connections. `None` means one per CPU core.
    pub workers: Option<usize>,
    /// Peers whose `X-Forwarded-For` / `Forwarded` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// What to do with request header names that contain `_`.
    pub headers_with_underscores: UnderscoreHeaders,
    /// Bounds on the request head.
    pub request_limits: RequestLimits,
    /// `server.tls`: the main listener terminates TLS.
    pub tls: Option<Arc<tls::ServerTls>>,
}

/// `server.headers_with_underscores` (Envoy's `headers_with_underscores_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnderscoreHeaders {
    /// Remove such headers before any handler sees them (default).
    #[default]
    Drop,
    /// Refuse the request with 400.
    Reject,
    /// Keep them.
    Allow,
}

/// Bounds on the request head, checked before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Longest request target (path and query, or absolute form), in bytes: 414 past it.
    pub max_uri_length: usize,
    /// Most bytes of request head (HTTP/1.1 request line and headers;
    /// HTTP/2 header list size): 431 past it. Read at start only.
    pub max_header_bytes: usize,
    /// Most header fields in one request: 431 past it.
    pub max_headers: usize,
}

impl RequestLimits {
    /// hyper's smallest HTTP/1.1 read buffer.
    pub const MIN_HEADER_BYTES: usize = 8192;
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_uri_length: 8 * 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
        }
    }
}

impl ServerSettings {
    /// Most workers `server.workers` may ask for.
    pub const MAX_WORKERS: usize = 256;
    /// `server.max_body` when it is left out: 1 MiB, as nginx's
    /// `client_max_body_size`.
    pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;

    /// The worker count to run: as configured, else one per CPU core.
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(std::num::NonZeroUsize::get)
                .unwrap_or(1)
        })
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            max_connections: 16_384,
            max_connections_per_worker: 4_096,
            listen_backlog: 4_096,
            http2: Http2Settings::default(),
            streams: StreamSettings::default(),
            shutdown_grace: Duration::from_secs(30),
            drain_delay: Duration::ZERO,
            default_max_body: Some(ServerSettings::DEFAULT_MAX_BODY),
            workers: None,
            trusted_proxies: Vec::new(),
            headers_with_underscores: UnderscoreHeaders::default(),
            request_limits: RequestLimits::default(),
            tls: None,
        }
    }
}

/// `server.http2:` what one HTTP/2 client connection may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Settings {
    /// PING interval; a peer that does not answer within
    /// `keepalive_timeout` loses its connection.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE, in bytes (HPACK-decoded).
    pub max_header_list_size: u32,
    /// Streams the client opened and reset before they were served (rapid
    /// reset, CVE-2023-44487): past this many pending, GOAWAY.
    pub max_pending_accept_reset_streams: usize,
    /// Streams the gateway had to reset for the client's protocol errors:
    /// past this many, GOAWAY (CVE-2024-27316 style floods).
    pub max_local_error_reset_streams: usize,
}

impl Default for Http2Settings {
    fn default() -> Self {
        Self {
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_concurrent_streams: 100,
            max_header_list_size: 32 * 1024,
            max_pending_accept_reset_streams: 20,
            max_local_error_reset_streams: 1024,
        }
    }
}

/// `server.streams:` keeping long-lived responses alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSettings {
    /// A comment line (`:`) sent on an SSE stream that has been quiet
    /// this long.
    pub sse_heartbeat: Duration,
    /// A WebSocket Ping is sent to the client after this much silence.
    pub websocket_ping_interval: Duration,
    /// The WebSocket is closed when nothing (no Pong, no message) arrives
    /// this long after a Ping.
    pub websocket_pong_timeout: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            sse_heartbeat: Duration::from_secs(15),
            websocket_ping_interval: Duration::from_secs(30),
            websocket_pong_timeout: Duration::from_secs(10),
        }
    }
}

/// The wire protocol spoken to a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamProtocol {
    Http1,
    /// HTTP/2 over cleartext with prior knowledge (gRPC backends use this).
    H2c,
    /// HTTP/2 over TLS, chosen by ALPN (`https://` gRPC backends).
    H2,
}

/// How the balancer picks an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancing {
    RoundRobin,
    /// Power of two random choices on fewest in-flight requests (default).
    LeastRequest,
}

/// Passive outlier ejection (the rest of `ejection:` is in
/// [`OutlierPolicy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EjectionPolicy {
    /// Consecutive failed attempts (connect failures, resets, timeouts,
    /// 5xx) that eject an endpoint.
    pub consecutive_failures: u32,
    /// How long an ejected endpoint stays out the first time; each
    /// ejection in a row adds as much again (up to `max_cooldown`).
    pub cooldown: Duration,
}

/// One named backend.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendSpec {
    pub name: String,
    /// Base URLs, `http://host:port` with an optional path prefix.
    pub urls: Vec<Uri>,
    pub protocol: UpstreamProtocol,
    pub connect_timeout: Duration,
    /// Time to the response head; a route's own timeout overrides it.
    pub request_timeout: Duration,
    /// Longest silence between two pieces of a response body; a stall
    /// aborts the response. A route's own `body_idle_timeout` overrides it.
    pub body_idle_timeout: Duration,
    /// Most concurrent requests (and so connections) to this backend.
    pub max_connections: usize,
    pub load_balancing: LoadBalancing,
    pub ejection: EjectionPolicy,
    /// Active health checks; `None`: endpoints are only ejected passively.
    pub health_check: Option<HealthCheckSpec>,
    /// Retries, retry budget, outlier detection, circuit breaker.
    pub resilience: Resilience,
    /// TLS for the `https://` URLs.
    pub tls: tls::BackendTls,
}

/// One route.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Stable, human-readable identity, used in logs and errors:
    /// the `name` key if set, else `METHODS path`.
    pub name: String,
    /// `None` means every method.
    pub methods: Option<Vec<Method>>,
    pub path: PathPattern,
    /// Exact host match (port ignored), lower-cased. `None` matches any host.
    pub host: Option<String>,
    pub action: RouteAction,
    /// Overrides the backend's request timeout.
    pub timeout: Option<Duration>,
    /// Overrides the backend's body idle timeout.
    pub body_idle_timeout: Option<Duration>,
    /// Request body limit in bytes; `None` falls back to the server default.
    pub max_body: Option<u64>,
    pub headers: HeaderRules,
    /// The route's own rate limits, checked after the global ones.
    pub rate_limits: Vec<Arc<rate_limit::LimitSpec>>,
    /// The route's concurrency limit; `None`: no limit.
    pub load_shedding: Option<LoadSheddingSpec>,
    /// Authentication and CORS.
    pub security: security::RouteSecurity,
    /// `retry:` on the route: replaces its backends' retry policies.
    pub retry: Option<Arc<RetryPolicy>>,
    /// `emit:` (proxy, gRPC and compose routes): events published after
    /// the response, in file order.
    pub emit: Vec<Arc<events::EmitSpec>>,
    /// `async:` (proxy routes): the request is stored and answered 202.
    pub async_spec: Option<Arc<events::AsyncSpec>>,
}

/// What a matched route does.
#[derive(Debug, Clone)]
pub enum RouteAction {
    /// Forward to a backend over HTTP.
    Proxy(ProxyAction),
    /// Compose one response from several backend calls.
    Compose(Arc<compose::ComposeSpec>),
    /// Transcode to, or pass through as, gRPC.
    Grpc(Arc<grpc::GrpcRouteSpec>),
    /// The federated GraphQL endpoint (added by the `graphql:` section).
    Graphql,
    /// A vendored GraphiQL asset, at `{graphql path}/assets/{file}`.
    GraphiqlAsset,
    /// `publish: TOPIC`: `POST` stores an event, `GET` streams the topic.
    Publish(events::PublishAction),
    /// `GET /v1/requests/{id}`: an async request's status and result
    /// (mounted when any proxy route is `async:`).
    AsyncStatus,
}

#[derive(Debug, Clone)]
pub struct ProxyAction {
    pub backend: Arc<BackendSpec>,
    pub rewrite: PathRewrite,
}

/// How the matched path becomes the upstream path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathRewrite {
    /// Forward the path unchanged.
    None,
    /// Remove this literal prefix (the result always starts with `/`).
    StripPrefix(String),
    /// Render a template: `/v2/items/{id}` or `/files/{*rest}` using the
    /// route's captured parameters. Checked at compile time to name only
    /// parameters that the pattern captures.
    Template(String),
}

/// Headers added or removed on the way up and on the way down.
#[derive(Debug, Clone, Default)]
pub struct HeaderRules {
    pub request_add: Vec<(HeaderName, HeaderValue)>,
    pub request_remove: Vec<HeaderName>,
    pub response_add: Vec<(HeaderName, HeaderValue)>,
    pub response_remove: Vec<HeaderName>,
}
