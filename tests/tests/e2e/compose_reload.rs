//! Composition caches live in the snapshot's runtime plan, not in the
//! config: a reload that leaves a compose route unchanged keeps its warm
//! caches; a reload that changes it starts it with empty ones.

use mock_backends::seed::FIRST_ORDER_ID;
use tests::gateway::TestGateway;

use super::compose_support::order_details;

/// The order-details route with a composed-response cache and a call
/// cache on `payment`, followed by an unrelated proxied route at `other`.
fn config(other: &str, cache_ttl: &str) -> String {
    let compose = order_details("", ", cache: { ttl: 60s }").replace(
        "    compose:\n",
        &format!("    compose:\n      cache: {{ ttl: {cache_ttl} }}\n"),
    );
    format!("{compose}  - path: {other}\n    backend: users\n")
}

async fn details(gw: &TestGateway) -> reqwest::Response {
    let url = gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/details"));
    let response = gw.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response
}

fn counts(gw: &TestGateway) -> [usize; 4] {
    [
        &gw.mocks.orders,
        &gw.mocks.users,
        &gw.mocks.products,
        &gw.mocks.payments,
    ]
    .map(|service| service.control.request_count())
}

#[tokio::test]
async fn a_composed_response_cache_survives_an_unrelated_reload() {
    let gw = TestGateway::start(&config("/v1/users/{id}", "60s")).await;
    let first = details(&gw).await.text().await.unwrap();
    assert_eq!(counts(&gw), [1, 1, 1, 1]);
    gw.update_config(&config("/v2/users/{id}", "60s"));
    gw.assert_reloaded(2).await;
    let after = details(&gw).await;
    assert_eq!(after.headers()["x-gateway-cache"], "hit");
    assert_eq!(after.text().await.unwrap(), first);
    assert_eq!(counts(&gw), [1, 1, 1, 1], "no backend saw a new request");
}

#[tokio::test]
async fn a_changed_compose_route_starts_with_empty_caches() {
    let gw = TestGateway::start(&config("/v1/users/{id}", "60s")).await;
    details(&gw).await;
    assert_eq!(counts(&gw), [1, 1, 1, 1]);
    gw.update_config(&config("/v1/users/{id}", "30s"));
    gw.assert_reloaded(2).await;
    let after = details(&gw).await;
    assert_ne!(
        after.headers().get("x-gateway-cache").map(|v| v.as_bytes()),
        Some(&b"hit"[..])
    );
    assert_eq!(
        counts(&gw),
        [2, 2, 2, 2],
        "the response cache and the payment call cache were both fresh"
    );
}
