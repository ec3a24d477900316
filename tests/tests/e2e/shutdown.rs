//! Graceful shutdown: in-flight requests finish, new ones are refused.

use std::time::Duration;

use tests::gateway::TestGateway;

const ROUTES: &str = r#"
server: { shutdown_grace: 10s }
backends:
  orders: { url: $ORDERS }
routes:
  - path: /v1/orders
    backend: orders
"#;

#[tokio::test]
async fn shutdown_drains_an_in_flight_request() {
    let gw = TestGateway::start(ROUTES).await;
    gw.mocks
        .orders
        .control
        .set_latency(Duration::from_millis(300), Duration::ZERO);
    let in_flight = tokio::spawn(gw.client.get(gw.url("/v1/orders")).send());
    let orders = gw.mocks.orders.control.clone();
    tests::gateway::eventually("the request to reach the backend", || async {
        orders.request_count() == 1
    })
    .await;
    let addr = gw.gateway.addr;
    let readiness = gw.admin_url("/readyz");
    gw.gateway.begin_shutdown();
    let ready = reqwest::get(&readiness)
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert!(
        ready == 503 || ready == 0,
        "readiness during drain: {ready}"
    );
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200, "the in-flight request completes");
    assert!(gw.gateway.wait().await, "drained within the grace period");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}
