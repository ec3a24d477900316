//! The one upstream-request builder. Every request the gateway sends on a
//! client's behalf — proxied, gRPC (unary, streams, WebSocket bidi,
//! passthrough, gRPC-Web), composition calls, GraphQL subgraph fetches
//! and subscriptions — gets its gateway-owned headers here, in one order:
//!
//! 1. the header propagation rules (`propagate:`; derived calls only: a
//!    proxied request already carries the client's headers);
//! 2. the forwarding family (`X-Forwarded-For/-Proto/-Host`, `Forwarded`,
//!    `X-Real-IP`, from the resolved client address) and `x-request-id`;
//! 3. the route's `headers.request` rules (remove, then add);
//! 4. the W3C trace context ([`crate::observe::trace_context::inject`]);
//! 5. the request extensions carried from the client's request
//!    ([`insert_carried`]).
//!
//! Handlers differ only in what they pass: the client's request head to
//! forward in place ([`Outbound::forward_parts`]), or a request of their
//! own ([`Outbound::finish`]) plus the propagation rules that apply.

mod forwarding;
mod propagate;

pub use forwarding::{
    ForwardedFor, forwarding_headers, forwarding_headers_for, set_forwarding_headers,
    strip_hop_by_hop,
};
pub use propagate::apply_rules;

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Extensions, Request, Uri};

use crate::config::model::{HeaderRule, HeaderRules, RouteSpec};
use crate::context::{EdgeContext, RequestContext, X_REQUEST_ID};
use crate::observe::otel::sampling::UnsampledTrace;

/// What every upstream request made for one client request carries,
/// captured once when the handler starts (so a composition's many calls,
/// or a GraphQL operation's fetches, compute the forwarding family once).
#[derive(Debug, Clone)]
pub struct Outbound {
    request_id: Option<HeaderValue>,
    /// Shared with the worker's memo (see [`forwarding_headers_for`]) and
    /// with every upstream request made for the client's.
    forwarding: Arc<HeaderMap>,
    /// `None` for a request the gateway makes on its own ([`Self::detached`]).
    route: Option<Arc<RouteSpec>>,
    /// The client's headers, kept only for handlers that propagate them.
    client_headers: Option<Arc<HeaderMap>>,
    extensions: Extensions,
    /// The request's trace context when the edge did not sample it: its
    /// `traceparent` goes on every upstream request.
    unsampled_trace: Option<UnsampledTrace>,
}

impl Outbound {
    /// The builder for upstream requests made on behalf of the request
    /// `ctx`, whose head is `client_headers` and `client_uri`.
    pub fn new(ctx: &RequestContext, client_headers: &HeaderMap, client_uri: &Uri) -> Self {
        let mut outbound = Self::uncarried(ctx, client_headers, client_uri);
        insert_carried(ctx, &mut outbound.extensions);
        outbound
    }

    /// [`Self::new`] without the carried extensions (the client's own
    /// request head gets them in place).
    fn uncarried(ctx: &RequestContext, client_headers: &HeaderMap, client_uri: &Uri) -> Self {
        let host = host_from(client_headers, client_uri);
        Self {
            request_id: request_id_value(ctx, client_headers),
            forwarding: with_claim_headers(
                forwarding_headers_for(client_headers, ctx.client, host),
                ctx,
                client_headers,
            ),
            route: Some(Arc::clone(&ctx.route)),
            client_headers: None,
            extensions: Extensions::new(),
            unsampled_trace: ctx.unsampled_trace.clone(),
        }
    }

    /// The builder for a request the gateway makes on its own, for no
    /// client (event deliveries): the request id and the trace context;
    /// no client, so no forwarding family, and no route header rules.
    pub fn detached(request_id: &str) -> Self {
        Self {
            request_id: HeaderValue::from_str(request_id).ok(),
            forwarding: Arc::default(),
            route: None,
            client_headers: None,
            extensions: Extensions::new(),
            unsampled_trace: None,
        }
    }

    /// Keeps a copy of the client's headers for the propagation rules of
    /// derived calls (composition, GraphQL).
    pub fn with_client_headers(mut self, headers: &HeaderMap) -> Self {
        self.client_headers = Some(Arc::new(headers.clone()));
        self
    }

    /// Makes the client's own request head ready to go upstream (proxy,
    /// gRPC passthrough and gRPC-Web): hop-by-hop headers (and those
    /// `Connection` names) go first, so they never reach the forwarding
    /// family either; then [`Self::forward_parts`].
    pub fn forward_client_head(ctx: &RequestContext, parts: &mut Parts) {
        strip_hop_by_hop(&mut parts.headers);
        // The carried extensions go straight into the head, not through
        // a map of their own first.
        let outbound = Self::uncarried(ctx, &parts.headers, &parts.uri);
        insert_carried(ctx, &mut parts.extensions);
        outbound.set_on_stripped_head(parts);
    }

    /// Forwards a client's request head upstream: hop-by-hop headers and
    /// `Host` removed, then the gateway's headers set as for any request.
    pub fn forward_parts(self, parts: &mut Parts) {
        strip_hop_by_hop(&mut parts.headers);
        self.set_on_stripped_head(parts);
    }

    /// Sets the gateway's headers on a stripped head, and the carried
    /// extensions this builder holds.
    fn set_on_stripped_head(self, parts: &mut Parts) {
        parts.headers.remove(header::HOST);
        set_gateway_headers(
            &mut parts.headers,
            &self.forwarding,
            self.request_id.as_ref(),
            self.route.as_ref().map(|route| &route.headers),
        );
        crate::observe::trace_context::inject(&mut parts.headers, self.unsampled_trace.as_ref());
        if !self.extensions.is_empty() {
            parts.extensions.extend(self.extensions);
        }
    }

    /// The client headers the rule lists select, applied in order: what a
    /// derived call carries from the client. Part of a composition call's
    /// identity (cache and coalescing key), unlike the gateway's own
    /// headers.
    pub fn propagated(&self, lists: &[&[HeaderRule]]) -> HeaderMap {
        let mut out = HeaderMap::new();
        let empty = HeaderMap::new();
        let client = self.client_headers.as_deref().unwrap_or(&empty);
        for rules in lists {
            apply_rules(rules, client, &mut out);
        }
        out
    }

    /// Sets the gateway's headers (forwarding family, request id, the
    /// route's rules, trace context) and the carried extensions on a
    /// request the handler built itself. Propagated headers, if any, are
    /// already in it ([`Self::propagated`]).
    pub fn finish<B>(&self, request: &mut Request<B>) {
        let headers = request.headers_mut();
        set_gateway_headers(
            headers,
            &self.forwarding,
            self.request_id.as_ref(),
            self.route.as_ref().map(|route| &route.headers),
        );
        crate::observe::trace_context::inject(headers, self.unsampled_trace.as_ref());
        request.extensions_mut().extend(self.extensions.clone());
    }
}

/// The client request's extensions that travel with every upstream
/// request made for it, so code around [`super::UpstreamPool::send`]
/// (logs, metrics, traces) can tell whose request it is. Request-scoped
/// records are added here, one line each.
fn insert_carried(ctx: &RequestContext, extensions: &mut Extensions) {
    // A client's own head (forwarded in place) already carries the edge
    // context, the very values `ctx` was read from. The pools report each
    // attempt on its exchange, and open no client span for a request the
    // edge did not sample.
    if extensions.get::<EdgeContext>().is_none() {
        extensions.insert(EdgeContext {
            client: ctx.client,
            request_id: Some(ctx.request_id.clone()),
            exchange: ctx.exchange.clone(),
            unsampled_trace: ctx.unsampled_trace.clone(),
        });
    }
    // The pools read the route's retry policy and count attempts on it.
    if let Some(scope) = &ctx.retry {
        extensions.insert(std::sync::Arc::clone(scope));
    }
}

/// The request id as a header value: the client head's own `x-request-id`
/// when it holds this id (the request-id layer put it there), shared
/// rather than validated and copied again.
fn request_id_value(ctx: &RequestContext, client_headers: &HeaderMap) -> Option<HeaderValue> {
    let id = ctx.request_id.as_str();
    if id.is_empty() {
        return None;
    }
    match client_headers.get(X_REQUEST_ID) {
        Some(value) if value.as_bytes() == id.as_bytes() => Some(value.clone()),
        _ => HeaderValue::from_str(id).ok(),
    }
}

/// The route's verified claim headers (set by the auth layer, which
/// removed the client's own) travel with the forwarding family, so derived
/// calls (composition, GraphQL subgraphs) carry them too.
fn with_claim_headers(
    mut forwarding: Arc<HeaderMap>,
    ctx: &RequestContext,
    client: &HeaderMap,
) -> Arc<HeaderMap> {
    if let Some(auth) = &ctx.route.security.auth {
        for name in auth.claim_headers() {
            for value in client.get_all(name) {
                // A copy of the shared family, made once, on the routes
                // that forward claims.
                Arc::make_mut(&mut forwarding).append(name.clone(), value.clone());
            }
        }
    }
    forwarding
}

/// Steps 2 and 3 of the module's order: the forwarding family and the
/// request id replace whatever the headers held, then the route's rules.
fn set_gateway_headers(
    headers: &mut HeaderMap,
    forwarding: &HeaderMap,
    request_id: Option<&HeaderValue>,
    rules: Option<&HeaderRules>,
) {
    set_forwarding_headers(headers, forwarding);
    match request_id {
        Some(id) => headers.insert(X_REQUEST_ID, id.clone()),
        None => headers.remove(X_REQUEST_ID),
    };
    if let Some(rules) = rules {
        rules.apply_to_request(headers);
    }
}

/// The host the client asked for: `Host` (HTTP/1.1) or `:authority` (h2).
pub fn host_from<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

#[cfg(test)]
mod tests;
