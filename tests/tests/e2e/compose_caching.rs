//! Caching and coalescing, proven by the mocks' request counts.

use std::time::Duration;

use gateway::pipeline::RouteHandler;
use mock_backends::seed::{FIRST_ORDER_ID, PENDING_ORDER_ID};
use tests::gateway::{TestGateway, eventually};

use super::compose_support::order_details;

async fn get_ok(gw: &TestGateway, order: uuid::Uuid, auth: &str) -> reqwest::Response {
    let url = gw.url(&format!("/v1/orders/{order}/details"));
    let response = gw
        .client
        .get(url)
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
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
async fn a_call_cache_hit_reaches_no_upstream() {
    let yaml = order_details("", ", cache: { ttl: 60s }");
    let gw = TestGateway::start(&yaml).await;
    get_ok(&gw, FIRST_ORDER_ID, "a").await;
    get_ok(&gw, FIRST_ORDER_ID, "a").await;
    assert_eq!(
        counts(&gw),
        [2, 2, 2, 1],
        "the second payment call was a cache hit"
    );
    get_ok(&gw, FIRST_ORDER_ID, "b").await;
    assert_eq!(
        gw.mocks.payments.control.request_count(),
        2,
        "another caller identity is another cache entry"
    );
}

#[tokio::test]
async fn a_composed_response_cache_hit_reaches_no_upstream() {
    let yaml = order_details("", "").replace(
        "    compose:\n",
        "    compose:\n      cache: { ttl: 60s, vary: [authorization] }\n",
    );
    let gw = TestGateway::start(&yaml).await;
    let first = get_ok(&gw, FIRST_ORDER_ID, "a").await.text().await.unwrap();
    let second = get_ok(&gw, FIRST_ORDER_ID, "a").await;
    assert_eq!(second.headers()["x-gateway-cache"], "hit");
    assert_eq!(second.text().await.unwrap(), first);
    assert_eq!(counts(&gw), [1, 1, 1, 1]);
    get_ok(&gw, PENDING_ORDER_ID, "a").await;
    get_ok(&gw, FIRST_ORDER_ID, "b").await;
    assert_eq!(
        counts(&gw),
        [3, 3, 3, 3],
        "other parameters and other vary headers miss"
    );
}

#[tokio::test]
async fn identical_concurrent_compositions_share_each_upstream_call() {
    const CLIENTS: usize = 8;
    let gw = TestGateway::start(&order_details("", "")).await;
    for service in [
        &gw.mocks.orders,
        &gw.mocks.users,
        &gw.mocks.products,
        &gw.mocks.payments,
    ] {
        service
            .control
            .set_latency(Duration::from_secs(1), Duration::ZERO);
    }
    let snapshot = gw.gateway.snapshot();
    let RouteHandler::Compose(plan) = &snapshot.pipelines[0].handler else {
        panic!("not a compose route")
    };
    let requests =
        futures::future::join_all((0..CLIENTS).map(|_| get_ok(&gw, FIRST_ORDER_ID, "same")));
    let all_joined = eventually(
        "every client joined the in-flight order and payment calls",
        || async { plan.coalescer.joined() >= 2 * (CLIENTS as u64 - 1) },
    );
    let (responses, ()) = tokio::join!(requests, all_joined);
    assert_eq!(responses.len(), CLIENTS);
    assert_eq!(
        counts(&gw),
        [1, 1, 1, 1],
        "{CLIENTS} compositions, one upstream request per call"
    );
}
