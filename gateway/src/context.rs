//! Per-request state in the request's extensions: what the edge layers
//! learn before routing ([`EdgeContext`]), and what the dispatcher hands a
//! route's pipeline ([`RequestContext`]; `pipeline::take_context` takes it
//! out).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Request};

use crate::config::model::RouteSpec;
use crate::observe::Exchange;
use crate::observe::otel::sampling::UnsampledTrace;
use crate::router::Params;
use crate::snapshot::Snapshot;

/// The request-id header: the one spelling the gateway reads, mints and
/// forwards (REST, gRPC, composition, GraphQL) and the tests assert on.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id: taken from `x-request-id` or generated, then sent
/// upstream and back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who sent the request, as an authentication policy layer verified it
/// (a JWT's claims or an API key's consumer). Put in the request's
/// extensions by that layer; absent on routes without authentication.
/// Rate limits key on it, the access log and metrics name the consumer,
/// and GraphQL's `@authenticated` / `@requiresScopes` read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Principal {
    /// The JWT's `sub` claim, when the credential was a JWT.
    pub subject: Option<Arc<str>>,
    /// The consumer name: an API key's configured consumer, or the JWT
    /// provider's consumer claim when one is configured.
    pub consumer: Option<Arc<str>>,
    /// The granted scopes (a JWT's `scope` / `scp` claim; an API key's
    /// configured scopes).
    pub scopes: Arc<[Arc<str>]>,
    /// The verified JWT claims (empty for an API key).
    pub claims: Arc<serde_json::Map<String, serde_json::Value>>,
}

impl Principal {
    /// The name this principal is counted and limited by: the consumer
    /// (an API key's, or the JWT provider's consumer claim), else the
    /// JWT's subject. The access log's `consumer`, the consumer metric
    /// and the rate-limit key `consumer` all read this one value.
    pub fn consumer_name(&self) -> Option<&Arc<str>> {
        let nonempty = |name: &&Arc<str>| !name.is_empty();
        self.consumer
            .as_ref()
            .filter(nonempty)
            .or(self.subject.as_ref().filter(nonempty))
    }

    /// Whether every one of `required` was granted.
    pub fn has_scopes<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required
            .into_iter()
            .all(|scope| self.scopes.iter().any(|granted| &**granted == scope))
    }
}

/// The client's address as the gateway believes it: the socket's peer,
/// or, from a trusted proxy, the address resolved from its forwarding
/// headers (see [`crate::client_ip`]). Set once per request by the edge
/// layer; the access log, rate limits and the forwarding headers all read
/// this one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp {
    /// The client's address.
    pub ip: std::net::IpAddr,
    /// The socket's peer (the client itself, or the last proxy).
    pub peer: SocketAddr,
    /// Whether the peer is one of `server.trusted_proxies`: only then are
    /// the incoming forwarding headers kept and extended.
    pub trusted_peer: bool,
    /// The client's connection is TLS (the listener terminates it): the
    /// forwarding headers say `https`.
    pub over_tls: bool,
}

impl ClientIp {
    /// A direct client: its socket is all there is.
    pub fn direct(peer: SocketAddr) -> Self {
        Self {
            ip: peer.ip().to_canonical(),
            peer,
            trusted_peer: false,
            over_tls: false,
        }
    }

    /// The client of a request that came from no socket (`0.0.0.0:0`).
    pub fn unknown() -> Self {
        Self::direct(SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

/// What the edge layers learn about a request before it is routed, kept
/// as one entry of its extensions: the server puts it there with the
/// socket's client, and the edge layers fill it in place (the client
/// resolved through trusted proxies, the request id, and with observation
/// on the exchange and the unsampled trace context). Every upstream
/// request made for the request carries it, for the pools' reports.
///
/// One entry rather than one per fact: each entry of an extension map is
/// an allocation, a hash probe and a drop of its own, and the map's table
/// is reallocated past three entries (callgrind,
/// docs/latency-comparison.md, 2026-12-04).
#[derive(Debug, Clone)]
pub struct EdgeContext {
    pub client: ClientIp,
    /// `None` until the request-id layer has run.
    pub request_id: Option<RequestId>,
    /// The request's observation record, when observation is on.
    pub exchange: Option<Arc<Exchange>>,
    /// The edge's decision not to sample the request's trace, with the
    /// `traceparent` its upstream requests carry (traces on only).
    pub unsampled_trace: Option<UnsampledTrace>,
}

impl EdgeContext {
    pub fn new(client: ClientIp) -> Self {
        Self {
            client,
            request_id: None,
            exchange: None,
            unsampled_trace: None,
        }
    }

    /// The request's, if the server (or a handler) put one there.
    pub fn of<B>(request: &Request<B>) -> Option<&EdgeContext> {
        request.extensions().get::<EdgeContext>()
    }

    /// The request's, put there with an unknown client first when nothing
    /// did (an edge layer used on its own, as in unit tests).
    pub fn of_mut<B>(request: &mut Request<B>) -> &mut EdgeContext {
        request
            .extensions_mut()
            .get_or_insert_with(|| EdgeContext::new(ClientIp::unknown()))
    }
}

/// Everything a handler needs besides the request itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: RequestId,
    /// The client, resolved through trusted proxies.
    pub client: ClientIp,
    /// The upstream-request builder, for handlers that no longer hold the
    /// client's request when they call out (GraphQL sets it on entry).
    pub outbound: Option<Arc<crate::upstream::outbound::Outbound>>,
    /// The snapshot this request started on.
    pub snapshot: Arc<Snapshot>,
    pub route: Arc<RouteSpec>,
    /// Path parameters, raw (percent-encoded).
    pub params: Params,
    /// The request's observation record, when observation is on; upstream
    /// requests carry it so the pools can report their attempts.
    pub exchange: Option<Arc<Exchange>>,
    /// The edge's decision not to sample the request's trace, with the
    /// `traceparent` its upstream requests carry (traces on only).
    pub unsampled_trace: Option<UnsampledTrace>,
    /// The route's retry scope (its policy override and the request's
    /// attempt count), set by the route's `retry` policy layer; upstream
    /// requests carry it to the pools.
    pub retry: Option<Arc<crate::upstream::retry::RetryScope>>,
}

impl RequestContext {
    /// The route's timeout, else the given backend default.
    pub fn timeout_or(&self, backend_default: Duration) -> Duration {
        self.route.timeout.unwrap_or(backend_default)
    }

    /// The route's body idle timeout, else the given backend default.
    pub fn body_idle_or(&self, backend_default: Duration) -> Duration {
        self.route.body_idle_timeout.unwrap_or(backend_default)
    }
}
