//! One backend's client, connection limit, endpoints and balancer.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Semaphore;

use super::balancer::Balancer;
use super::breaker::{BreakerState, CircuitBreaker};
use super::budget::{BudgetState, RetryBudgetState};
use super::endpoint::Endpoint;
use super::error::{UpstreamError, describe};
use super::health::{HealthChecks, HealthStatus};
use crate::body::GatewayBody;
use crate::client_body::{BodyFaultWatch, RequestBodyFault};
use crate::config::model::{BackendSpec, UpstreamProtocol};
use crate::observe::EndpointName;

/// One endpoint's state as the admin API shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EndpointState {
    pub url: String,
    pub in_flight: usize,
    pub consecutive_failures: u32,
    pub ejected: bool,
    /// Since the pool was built (a reload that changes the backend
    /// rebuilds it).
    pub connect_failures: u64,
    pub ejections: u64,
    /// Active health checks' verdict (`unchecked` without `health_check`).
    pub health: HealthStatus,
    /// Failed attempts over the outlier window, from 0 to 1.
    pub failure_ratio: f64,
}

/// A backend's retry budget and circuit breaker, as the admin API shows
/// them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResilienceState {
    pub retry_budget: Option<BudgetState>,
    /// `None` without a `circuit_breaker:`.
    pub circuit_breaker: Option<BreakerView>,
}

/// The breaker's state and how often it opened.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BreakerView {
    pub state: BreakerState,
    pub times_opened: u64,
    /// Requests waiting for a connection slot.
    pub pending: usize,
}

/// In an upstream request's extensions: send it to the backend's endpoint
/// with this index (in `urls` order) only, bypassing the balancer (a
/// fanout subscription's consumer per endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedEndpoint(pub usize);

/// A backend's pooled client and endpoints.
#[derive(Debug)]
pub struct UpstreamPool {
    spec: Arc<BackendSpec>,
    endpoints: Vec<Arc<Endpoint>>,
    /// Each endpoint's name for the observation sinks, in `endpoints` order.
    names: Box<[Arc<EndpointName>]>,
    balancer: Balancer,
    /// One client, and so one connection pool, per worker thread: a
    /// connection is only ever used by the worker that opened it. Plain
    /// requests to an `http1` backend go through `http1` instead; this
    /// client serves HTTP/2 backends and upgrades.
    clients: Box<[OnceLock<UpstreamClient>]>,
    /// The HTTP/1.1 connections of an `http1` backend (`None` for h2).
    http1: Option<Arc<Http1Connections>>,
    limit: Arc<Semaphore>,
    /// The endpoints' health checks, stopped when the pool is dropped.
    _health_checks: Option<HealthChecks>,
    /// The backend's retry budget, shared by every policy that sends to it.
    budget: Option<RetryBudgetState>,
    breaker: Option<CircuitBreaker>,
    /// Requests waiting for a connection slot (the breaker's `max_pending`).
    pending: std::sync::atomic::AtomicUsize,
    /// For the `https://` URLs (shared by the workers' clients, and so
    /// is its session-resumption cache).
    tls: Arc<rustls::ClientConfig>,
}

type UpstreamClient = Client<HttpsConnector<HttpConnector>, GatewayBody>;

impl UpstreamPool {
    /// A pool with a client slot for each of `workers` worker threads.
    pub fn new(spec: Arc<BackendSpec>, workers: usize) -> Self {
        let epoch = Instant::now();
        let window = spec.resilience.outlier.window;
        let endpoints = spec
            .urls
            .iter()
            .map(|url| Arc::new(Endpoint::with_window(url.clone(), epoch, window)))
            .collect::<Vec<_>>();
        let resilience = &spec.resilience;
        let tls = Arc::new(crate::tls::upstream::client_config(&spec));
        let http1 = (spec.protocol == UpstreamProtocol::Http1).then(|| {
            Http1Connections::new(
                connector(&spec, &tls),
                &spec.urls,
                workers,
                spec.max_connections,
                http1::IDLE_TIMEOUT,
            )
        });
        let label: Arc<str> = Arc::from(spec.name.as_str());
        let names = endpoints
            .iter()
            .map(|endpoint| EndpointName::new(&label, &endpoint.label))
            .collect();
        Self {
            _health_checks: HealthChecks::start(&spec, &endpoints),
            endpoints,
            names,
            budget: Some(RetryBudgetState::new(resilience.budget, epoch)),
            breaker: resilience
                .breaker
                .map(|policy| CircuitBreaker::new(policy, &spec.name, epoch)),
            pending: Default::default(),
            balancer: Balancer::new(spec.load_balancing),
            clients: (0..workers.max(1)).map(|_| OnceLock::new()).collect(),
            limit: Arc::new(Semaphore::new(spec.max_connections.max(1))),
            tls,
            http1,
            spec,
        }
    }

    pub fn spec(&self) -> &BackendSpec {
        &self.spec
    }

    /// The calling worker's client, built on its first request.
    fn client(&self) -> &UpstreamClient {
        let slot = crate::workers::current_index() % self.clients.len();
        self.clients[slot].get_or_init(|| build_client(&self.spec, &self.tls))
    }

    /// Each endpoint's live state, for the admin API.
    pub fn endpoint_states(&self) -> Vec<EndpointState> {
        let now = Instant::now();
        self.endpoints
            .iter()
            .map(|endpoint| EndpointState {
                url: endpoint.base.to_string(),
                in_flight: endpoint.in_flight(),
                consecutive_failures: endpoint.consecutive_failures(),
                ejected: !endpoint.is_available(now),
                connect_failures: endpoint.connect_failures(),
                ejections: endpoint.ejections(),
                health: endpoint.health().get(),
                failure_ratio: endpoint.failure_ratio(now),
            })
            .collect()
    }

    /// The retry budget and breaker, for the admin API.
    pub fn resilience_state(&self) -> ResilienceState {
        let now = Instant::now();
        ResilienceState {
            retry_budget: self.budget.as_ref().map(|budget| budget.state(now)),
            circuit_breaker: self.breaker.as_ref().map(|breaker| BreakerView {
                state: breaker.state(now),
                times_opened: breaker.times_opened(),
                pending: self.pending.load(std::sync::atomic::Ordering::Relaxed),
            }),
        }
    }

    /// Sends a request whose URI is origin-form (path and query only) to
    /// one of the backend's endpoints and returns the response head with a
    /// streaming body.
    ///
    /// `timeout` bounds the wait for a connection slot plus every attempt
    /// and backoff up to the response head; when it passes, the call is
    /// dropped, which cancels it. Failed attempts are retried as the
    /// request's retry policy says (`pool/send.rs`).
    ///
    /// The response body is under the backend's `body_idle_timeout`.
    pub async fn send(
        &self,
        request: Request<GatewayBody>,
        timeout: Duration,
    ) -> Result<Response<GatewayBody>, UpstreamError> {
        self.send_with(request, timeout, Some(self.spec.body_idle_timeout))
            .await
    }

    /// [`Self::send`] with the body idle timeout chosen by the caller: a
    /// route's own, or `None` for long-lived streams (gRPC server streams
    /// and bidi, whose liveness is kept by heartbeats and pings instead).
    pub async fn send_with(
        &self,
        request: Request<GatewayBody>,
        timeout: Duration,
        body_idle: Option<Duration>,
    ) -> Result<Response<GatewayBody>, UpstreamError> {
        match tokio::time::timeout(timeout, self.send_within_deadline(request, body_idle)).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout {
                backend: self.spec.name.clone(),
                after: timeout,
            }),
        }
    }

    fn unavailable(&self, reason: &str, source: Option<crate::body::BoxError>) -> UpstreamError {
        let reason = match &source {
            Some(error) => format!("{reason}: {}", describe(error.as_ref())),
            None => reason.to_owned(),
        };
        UpstreamError::Unavailable {
            backend: self.spec.name.clone(),
            reason,
            source,
        }
    }
}

/// The client body's fault behind an upstream error, if it was one.
fn client_fault(
    error: &(dyn std::error::Error + 'static),
    watch: &BodyFaultWatch,
) -> Option<RequestBodyFault> {
    RequestBodyFault::find(error).or_else(|| watch.fault())
}

fn build_client(spec: &BackendSpec, tls: &Arc<rustls::ClientConfig>) -> UpstreamClient {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(http1::IDLE_TIMEOUT)
        .pool_max_idle_per_host(spec.max_connections);
    if matches!(spec.protocol, UpstreamProtocol::H2c | UpstreamProtocol::H2) {
        builder.http2_only(true);
    }
    builder.build(connector(spec, tls))
}

/// TCP with a connect timeout, and TLS for `https://` URLs (the pool's
/// config: ALPN `h2` for `protocol: h2`, `http/1.1` otherwise); SNI the
/// URL's host or `tls.server_name`. The TLS handshake is bounded by the
/// call's timeout, as the response head is.
fn connector(spec: &BackendSpec, tls: &Arc<rustls::ClientConfig>) -> HttpsConnector<HttpConnector> {
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(Some(spec.connect_timeout));
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    crate::tls::upstream::https_connector(tcp, Arc::clone(tls), spec.tls.server_name.as_deref())
}

/// Builds the upstream request from a copy of the client's head, for a
/// request that may be sent again to another endpoint.
fn request_with(parts: &Parts, uri: Uri, body: GatewayBody) -> Request<GatewayBody> {
    let mut request = Request::new(body);
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = parts.headers.clone();
    request
}

/// `http://host:port/prefix` + `/path?query` → `http://host:port/prefix/path?query`.
pub(crate) fn join_uri(base: &Uri, origin: &Uri) -> Result<Uri, http::Error> {
    let prefix = base.path().trim_end_matches('/');
    if prefix.is_empty() {
        // No base path: reuse the origin's path and query (shared bytes).
        let mut parts = http::uri::Parts::default();
        parts.scheme = base.scheme().cloned();
        parts.authority = base.authority().cloned();
        parts.path_and_query = Some(
            origin
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        return Ok(Uri::from_parts(parts)?);
    }
    let path_and_query = origin
        .path_and_query()
        .map(PathAndQuery::as_str)
        .unwrap_or("/");
    let mut builder = Uri::builder().path_and_query(format!("{prefix}{path_and_query}"));
    if let Some(scheme) = base.scheme() {
        builder = builder.scheme(scheme.clone());
    }
    if let Some(authority) = base.authority() {
        builder = builder.authority(authority.clone());
    }
    builder.build()
}

mod held_body;
mod http1;
mod replay;
mod send;
mod upgrade;

use http1::Http1Connections;

pub use upgrade::UpgradedConnection;

#[cfg(test)]
mod tests {
    use super::join_uri;

    #[test]
    fn joins_base_prefix_and_origin_form() {
        let join = |base: &str, origin: &str| {
            join_uri(&base.parse().unwrap(), &origin.parse().unwrap())
                .unwrap()
                .to_string()
        };
        assert_eq!(join("http://a:1", "/v1/x?y=1"), "http://a:1/v1/x?y=1");
        assert_eq!(join("http://a:1/", "/v1/x"), "http://a:1/v1/x");
        assert_eq!(join("http://a:1/api/", "/v1/x"), "http://a:1/api/v1/x");
        // Raw escapes and the query pass unchanged, with or without a prefix.
        assert_eq!(join("http://a:1", "/a%2Fb?x=%20"), "http://a:1/a%2Fb?x=%20");
        assert_eq!(
            join("http://a:1/p", "/a%2Fb?x=%20"),
            "http://a:1/p/a%2Fb?x=%20"
        );
        assert_eq!(
            join("http://a:1", "http://client-host/x?y"),
            "http://a:1/x?y"
        );
    }
}
