//! W3C context from the client: a `traceparent` is continued (same trace,
//! the server span's parent is the client's span), `tracestate` and
//! `baggage` travel on to the upstreams.

use mock_backends::seed::FIRST_ORDER_ID;
use tests::gateway::TestGateway;

use super::{assert_upstreams_in_trace, server_span, spans_of, traceparent, traces};

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn a_client_traceparent_is_continued_not_replaced() {
    traces();
    let gw = TestGateway::with_default_routes().await;
    let response = gw
        .client
        .get(gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/details")))
        .header("traceparent", format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"))
        .header("tracestate", "vendor=abc")
        .header("baggage", "tenant=acme")
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body");
    let recorded = gw.mocks.users.control.requests();
    let (trace_id, parent) = traceparent(&recorded[0]);
    assert_eq!(trace_id, CLIENT_TRACE, "the client's trace goes on");
    assert_ne!(
        parent, CLIENT_SPAN,
        "the upstream's parent is the gateway's span"
    );
    let headers = &recorded[0].headers;
    assert_eq!(
        headers.get("tracestate").map(|v| v.as_bytes()),
        Some(&b"vendor=abc"[..])
    );
    assert_eq!(
        headers.get("baggage").map(|v| v.as_bytes()),
        Some(&b"tenant=acme"[..])
    );
    let spans = spans_of(CLIENT_TRACE, |spans| spans.len() >= 9).await;
    let server = server_span(&spans);
    assert_eq!(
        server.parent_span_id, CLIENT_SPAN,
        "the server span's parent is the client's span"
    );
    assert_upstreams_in_trace(&spans, CLIENT_TRACE, &recorded);
}

#[tokio::test]
async fn an_unsampled_client_trace_is_not_exported_but_still_propagated() {
    traces();
    let gw = TestGateway::with_default_routes().await;
    let unsampled = "5bf92f3577b34da6a3ce929d0e0e4736";
    let response = gw
        .client
        .get(gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}")))
        .header("traceparent", format!("00-{unsampled}-{CLIENT_SPAN}-00"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body");
    let recorded = gw.mocks.orders.control.requests();
    let value = recorded[0].headers.get("traceparent").expect("traceparent");
    let value = value.to_str().expect("ASCII");
    assert!(value.starts_with(&format!("00-{unsampled}-")), "{value}");
    assert!(
        value.ends_with("-00"),
        "the caller's decision is kept: {value}"
    );
}

/// Sampling is decided before any span exists: an unsampled request opens
/// none, yet every call of a composed route (derived requests, built by
/// the gateway, not forwarded) carries the caller's trace with its flag
/// off, so the services behind make the same decision.
#[tokio::test]
async fn an_unsampled_composed_request_exports_nothing_and_tells_every_call() {
    traces();
    let gw = TestGateway::with_default_routes().await;
    let details = gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/details"));
    let unsampled = "6bf92f3577b34da6a3ce929d0e0e4736";
    let response = gw
        .client
        .get(&details)
        .header("traceparent", format!("00-{unsampled}-{CLIENT_SPAN}-00"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body");
    let mocks = &gw.mocks;
    let calls: Vec<_> = [
        &mocks.orders,
        &mocks.users,
        &mocks.products,
        &mocks.payments,
    ]
    .into_iter()
    .flat_map(|service| service.control.requests())
    .collect();
    assert!(calls.len() >= 4, "the route calls four services: {calls:?}");
    for call in &calls {
        let value = call.headers.get("traceparent").expect("traceparent");
        let value = value.to_str().expect("ASCII");
        assert!(value.starts_with(&format!("00-{unsampled}-")), "{value}");
        assert!(value.ends_with("-00"), "{} got {value}", call.path);
    }

    // A sampled request afterwards: once its spans are exported, anything
    // the earlier one had opened would have been exported too.
    let sampled = "7bf92f3577b34da6a3ce929d0e0e4736";
    let response = gw
        .client
        .get(&details)
        .header("traceparent", format!("00-{sampled}-{CLIENT_SPAN}-01"))
        .send()
        .await
        .expect("response");
    response.bytes().await.expect("body");
    // The server span ends last (the compose calls may be cache hits now).
    spans_of(sampled, |spans| spans.iter().any(|span| span.kind == 2)).await;
    assert!(
        traces().collector.trace(unsampled).is_empty(),
        "an unsampled request exports no span"
    );
}
