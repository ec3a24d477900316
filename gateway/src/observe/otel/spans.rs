//! The spans of the request path, with the OpenTelemetry semantic-
//! convention attribute names (HTTP server and client, RPC). Each opens
//! with `otel_span!`, so with traces off each is `Span::none()` and every
//! recorder here returns at once.

use http::{Request, StatusCode, Uri};
use opentelemetry::trace::{Status, TraceContextExt};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::otel_span;
use crate::context::ClientIp;
use crate::observe::attempt::AttemptOutcome;
use crate::observe::exchange::Exchange;
use crate::observe::trace_context;

/// The server span of one sampled request (see `sampling`), continuing
/// the client's trace when it sent a `traceparent`.
pub fn server<B>(request: &Request<B>, client: &ClientIp) -> Span {
    let method = request.method();
    let span = otel_span!(
        root: "HTTP server",
        otel.name = %method,
        otel.kind = "server",
        http.request.method = %method,
        url.path = request.uri().path(),
        url.scheme = "http",
        network.protocol.version = protocol_version(request.version()),
        client.address = %client.ip,
        user_agent.original = Empty,
        http.route = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
    );
    if span.is_none() {
        return span;
    }
    if let Some(agent) = request
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        span.record("user_agent.original", agent);
    }
    let _ = span.set_parent(trace_context::extract(request.headers()));
    span
}

/// The trace id of `span`, as 32 hex digits; `None` with traces off.
pub fn trace_id(span: &Span) -> Option<String> {
    if span.is_none() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The response head: route (`http.route` is the route's pattern, never
/// the raw path; the span is renamed `METHOD pattern`), status, and the
/// gateway's error code. A 5xx is an error of the server span.
pub fn server_response(
    span: &Span,
    exchange: &Exchange,
    status: StatusCode,
    error_code: Option<&str>,
) {
    if span.is_none() {
        return;
    }
    if let Some(route) = exchange.route() {
        let pattern = route.path.as_str();
        span.record("http.route", pattern);
        span.context()
            .span()
            .update_name(format!("{} {pattern}", exchange.method));
    }
    span.record("http.response.status_code", status.as_u16());
    if let Some(code) = error_code {
        span.record("error.type", code);
    }
    if status.is_server_error() {
        let description = error_code.unwrap_or(status.as_str());
        span.set_status(Status::error(description.to_owned()));
        if error_code.is_none() {
            span.record("error.type", status.as_str());
        }
    }
}

/// The client left before the response head, or the response body failed
/// or was cut short.
pub fn server_aborted(span: &Span, status: Option<StatusCode>) {
    if span.is_none() {
        return;
    }
    if let Some(status) = status {
        span.record("http.response.status_code", status.as_u16());
    }
    span.record("error.type", "aborted");
}

/// One upstream attempt (its request is about to be sent). A gRPC call
/// (`application/grpc*`, from the bridge or passed through) is named
/// `package.Service/Method` and carries the `rpc.*` attributes.
pub fn client<B>(request: &Request<B>, backend: &str) -> Span {
    let (method, uri) = (request.method(), request.uri());
    let span = otel_span!(
        "HTTP client",
        otel.name = %method,
        otel.kind = "client",
        http.request.method = %method,
        server.address = uri.host().unwrap_or_default(),
        server.port = uri.port_u16().unwrap_or(80),
        url.full = %UrlWithoutQuery(uri),
        gateway.backend = backend,
        http.response.status_code = Empty,
        error.type = Empty,
        rpc.system = Empty,
        rpc.service = Empty,
        rpc.method = Empty,
        rpc.grpc.status_code = Empty,
    );
    if span.is_none() {
        return span;
    }
    let grpc = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc && let Some((service, rpc)) = uri.path().trim_start_matches('/').split_once('/') {
        span.record("rpc.system", "grpc");
        span.record("rpc.service", service);
        span.record("rpc.method", rpc);
        span.context()
            .span()
            .update_name(format!("{service}/{rpc}"));
    }
    span
}

/// A `grpc-status` seen on an attempt's response (in its head for a
/// trailers-only answer, else in its trailers); not OK is an error.
pub fn client_grpc_status(span: &Span, headers: &http::HeaderMap) {
    if span.is_none() {
        return;
    }
    let Some(code) = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
    else {
        return;
    };
    span.record("rpc.grpc.status_code", code);
    if code != 0 {
        let message = headers
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("gRPC error");
        span.record("error.type", code);
        span.set_status(Status::error(format!("grpc-status {code}: {message}")));
    }
}

/// How an attempt ended: its status (4xx and 5xx are errors of a client
/// span), or the failure, with `detail` (operator-side: the span is never
/// shown to clients).
pub fn client_outcome(span: &Span, outcome: AttemptOutcome, detail: Option<&str>) {
    if span.is_none() {
        return;
    }
    let error_type = match outcome {
        AttemptOutcome::Response(status) => {
            span.record("http.response.status_code", status.as_u16());
            if !(status.is_client_error() || status.is_server_error()) {
                return;
            }
            status.as_str().to_owned()
        }
        AttemptOutcome::ConnectFailed => "connect_failed".to_owned(),
        AttemptOutcome::Failed => "failed".to_owned(),
        AttemptOutcome::Abandoned => "abandoned".to_owned(),
    };
    span.record("error.type", error_type.as_str());
    span.set_status(Status::error(detail.unwrap_or(&error_type).to_owned()));
}

/// Marks `span` failed with `message` (operator-side).
pub fn fail(span: &Span, error_type: &str, message: &str) {
    if span.is_none() {
        return;
    }
    span.set_attribute("error.type", error_type.to_owned());
    span.set_status(Status::error(message.to_owned()));
}

fn protocol_version(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// `url.full` without the query (it may carry secrets).
struct UrlWithoutQuery<'u>(&'u Uri);

impl std::fmt::Display for UrlWithoutQuery<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let uri = self.0;
        if let Some(scheme) = uri.scheme_str() {
            write!(f, "{scheme}://")?;
        }
        if let Some(authority) = uri.authority() {
            write!(f, "{authority}")?;
        }
        f.write_str(uri.path())
    }
}

/// One event delivery attempt to a subscriber (the event bus): a span in
/// the event's trace (its `traceparent` extension, the publisher's
/// context), parent of the attempt's HTTP client span, so the subscriber
/// continues the publisher's trace. Messaging semantic-convention names.
pub fn delivery(
    subscription: &str,
    topic: &str,
    event_id: &str,
    attempt: u32,
    traceparent: Option<&str>,
) -> Span {
    let span = otel_span!(
        root: "deliver",
        otel.name = %format_args!("deliver {topic}"),
        otel.kind = "client",
        messaging.system = "gateway",
        messaging.operation.type = "send",
        messaging.destination.name = topic,
        messaging.consumer.group.name = subscription,
        messaging.message.id = event_id,
        gateway.delivery.attempt = attempt,
        gateway.delivery.result = Empty,
        error.type = Empty,
    );
    if span.is_none() {
        return span;
    }
    if let Some(traceparent) = traceparent.and_then(|v| http::HeaderValue::from_str(v).ok()) {
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", traceparent);
        let _ = span.set_parent(trace_context::extract(&headers));
    }
    span
}

/// How a delivery attempt ended (`delivered`, `rejected`, `failed`); not
/// delivered is an error of the span.
pub fn delivery_result(span: &Span, result: &str, detail: Option<&str>) {
    if span.is_none() {
        return;
    }
    span.record("gateway.delivery.result", result);
    if result != "delivered" {
        span.record("error.type", result);
        span.set_status(Status::error(detail.unwrap_or(result).to_owned()));
    }
}
