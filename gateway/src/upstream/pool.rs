//! One backend's client, connection limit, endpoints and balancer.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Request, Response, Uri};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper_rustls::{
    DefaultServerNameResolver, FixedServerNameResolver, HttpsConnector, ResolveServerName,
};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::sync::Semaphore;

use super::balancer::Balancer;
use super::endpoint::Endpoint;
use super::error::{UpstreamError, describe};
use super::idle_body::{IdleTimeoutBody, Stall};
use crate::body::{self, GatewayBody};
use crate::client_body::{BodyFaultWatch, RequestBodyFault};
use crate::config::model::{BackendSpec, UpstreamProtocol};
use crate::observe::otel::spans;
use crate::observe::{AttemptOutcome, Exchange, UpstreamAttempt};

/// One endpoint's state as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EndpointState {
    pub url: String,
    pub in_flight: usize,
    pub consecutive_failures: u32,
    pub ejected: bool,
    /// Since the pool was built (a reload that changes the backend
    /// rebuilds it).
    pub connect_failures: u64,
    pub ejections: u64,
}

/// A backend's pooled client and endpoints.
#[derive(Debug)]
pub struct UpstreamPool {
    spec: Arc<BackendSpec>,
    /// The backend's name, for logs, metrics and traces.
    label: Arc<str>,
    endpoints: Vec<Arc<Endpoint>>,
    balancer: Balancer,
    /// One client, and so one connection pool, per worker thread: a
    /// connection is only ever used by the worker that opened it.
    clients: Box<[OnceLock<UpstreamClient>]>,
    limit: Arc<Semaphore>,
    /// For the `https://` URLs (shared by the workers' clients, and so
    /// is its session-resumption cache).
    tls: Arc<rustls::ClientConfig>,
}

type UpstreamClient = Client<HttpsConnector<HttpConnector>, GatewayBody>;

impl UpstreamPool {
    /// A pool with a client slot for each of `workers` worker threads.
    pub fn new(spec: Arc<BackendSpec>, workers: usize) -> Self {
        let epoch = Instant::now();
        let endpoints = spec
            .urls
            .iter()
            .map(|url| Arc::new(Endpoint::new(url.clone(), epoch)))
            .collect();
        Self {
            endpoints,
            balancer: Balancer::new(spec.load_balancing),
            clients: (0..workers.max(1)).map(|_| OnceLock::new()).collect(),
            limit: Arc::new(Semaphore::new(spec.max_connections.max(1))),
            label: Arc::from(spec.name.as_str()),
            tls: Arc::new(crate::tls::upstream::client_config(
                &spec.tls,
                spec.protocol == UpstreamProtocol::H2,
            )),
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
            })
            .collect()
    }

    /// Sends a request whose URI is origin-form (path and query only) to
    /// one of the backend's endpoints and returns the response head with a
    /// streaming body.
    ///
    /// `timeout` bounds the wait for a connection slot plus the response
    /// head; when it passes, the call is dropped, which cancels it. A
    /// bodiless request that fails to connect is tried on the other
    /// endpoints, since nothing was sent.
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

    async fn send_within_deadline(
        &self,
        request: Request<GatewayBody>,
        body_idle: Option<Duration>,
    ) -> Result<Response<GatewayBody>, UpstreamError> {
        let permit = Arc::clone(&self.limit)
            .acquire_owned()
            .await
            .map_err(|_| self.unavailable("pool closed", None))?;
        let (parts, body) = request.into_parts();
        let exchange = parts.extensions.get::<Arc<Exchange>>().cloned();
        let replayable = body.size_hint().exact() == Some(0);
        let body_fault = BodyFaultWatch::default();
        let body = if replayable {
            body
        } else {
            body_fault.watch(body)
        };
        let mut tried = Vec::new();
        let mut body = Some(body);
        let mut parts = Some(parts);
        loop {
            let (index, endpoint) = self
                .balancer
                .pick(&self.endpoints, &tried, Instant::now())
                .ok_or_else(|| self.unavailable("every endpoint refused the connection", None))?;
            tried.push(index);
            // Only a request that may be retried keeps its head for another
            // attempt; the usual single attempt moves it, copying nothing.
            let last_attempt = !replayable || tried.len() >= self.endpoints.len();
            let head = parts
                .as_ref()
                .ok_or_else(|| self.unavailable("no request left to send", None))?;
            let uri = join_uri(&endpoint.base, &head.uri)
                .map_err(|e| self.unavailable("bad upstream URI", Some(e.into())))?;
            let attempt_body = body.take().unwrap_or_else(body::empty);
            let mut attempt = if last_attempt {
                let head = parts
                    .take()
                    .ok_or_else(|| self.unavailable("no request left to send", None))?;
                request_from(head, uri, attempt_body)
            } else {
                request_with(head, uri, attempt_body)
            };
            let mut observed = UpstreamAttempt::start(
                exchange.clone(),
                &self.label,
                &endpoint.label,
                &mut attempt,
            );
            let guard = endpoint.start_request();
            let result = self.client().request(attempt).await;
            if let Err(error) = &result {
                observed.record_failure(|| describe(error));
            }
            let span = observed.span().clone();
            if let Ok(response) = &result {
                spans::client_grpc_status(&span, response.headers());
            }
            observed.finish(match &result {
                Ok(response) => AttemptOutcome::Response(response.status()),
                Err(error) if error.is_connect() => AttemptOutcome::ConnectFailed,
                Err(_) => AttemptOutcome::Failed,
            });
            match result {
                Ok(response) => {
                    endpoint.record_success();
                    return Ok(response.map(|incoming| {
                        let held = incoming.map_frame(move |frame| {
                            let _held_until_body_ends = (&guard, &permit, &span);
                            if let Some(trailers) = frame.trailers_ref() {
                                spans::client_grpc_status(&span, trailers);
                            }
                            frame
                        });
                        match body_idle {
                            Some(idle) => body::boxed(IdleTimeoutBody::new(
                                held,
                                idle,
                                Stall {
                                    backend: Arc::clone(&self.spec),
                                    endpoint: endpoint.base.clone(),
                                },
                            )),
                            None => body::boxed(held),
                        }
                    }));
                }
                // The client's own body failed while it was being sent.
                Err(error) if client_fault(&error, &body_fault).is_some() => {
                    tracing::debug!(%error, "the client's body failed on its way upstream");
                    let fault =
                        client_fault(&error, &body_fault).unwrap_or(RequestBodyFault::Malformed);
                    return Err(UpstreamError::ClientBody(fault));
                }
                Err(error) if error.is_connect() => {
                    endpoint.record_connect_failure(&self.spec.ejection, Instant::now());
                    if last_attempt {
                        return Err(self.unavailable("connection failed", Some(error.into())));
                    }
                    tracing::debug!(backend = %self.spec.name, endpoint = %endpoint.base, "connect failed, trying another endpoint");
                }
                Err(error) => {
                    return Err(
                        self.unavailable("connection lost before a response", Some(error.into()))
                    );
                }
            }
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
        .pool_idle_timeout(Duration::from_secs(90))
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
    let names: Arc<dyn ResolveServerName + Send + Sync> = match spec
        .tls
        .server_name
        .as_deref()
        .and_then(|name| ServerName::try_from(name.to_owned()).ok())
    {
        Some(name) => Arc::new(FixedServerNameResolver::new(name)),
        None => Arc::new(DefaultServerNameResolver::default()),
    };
    HttpsConnector::new(tcp, Arc::clone(tls), false, names)
}

/// Builds the upstream request from the client's head, moving it.
fn request_from(parts: Parts, uri: Uri, body: GatewayBody) -> Request<GatewayBody> {
    let mut request = Request::new(body);
    *request.method_mut() = parts.method;
    *request.uri_mut() = uri;
    *request.headers_mut() = parts.headers;
    request
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

mod upgrade;

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
