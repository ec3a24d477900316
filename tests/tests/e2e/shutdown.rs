//! Graceful shutdown: `/readyz` turns 503 first and the admin listener
//! answers throughout; after the drain delay the main listener closes and
//! in-flight requests finish. Long-lived streams: see `shutdown_streams`.

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

async fn readiness(gw: &TestGateway) -> u16 {
    gw.client
        .get(gw.admin_url("/readyz"))
        .send()
        .await
        .expect("the admin listener answers during the drain")
        .status()
        .as_u16()
}

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
    assert_eq!(readiness(&gw).await, 200);
    gw.gateway.begin_shutdown();
    assert_eq!(readiness(&gw).await, 503, "readiness during the drain");
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200, "the in-flight request completes");
    assert_eq!(
        readiness(&gw).await,
        503,
        "the admin listener is up until the drain ends"
    );
    assert!(gw.gateway.wait().await, "drained within the grace period");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn during_the_drain_delay_readiness_is_503_and_requests_are_still_served() {
    let gw = TestGateway::start(&ROUTES.replace(
        "shutdown_grace: 10s",
        "shutdown_grace: 10s, drain_delay: 1s",
    ))
    .await;
    let (addr, admin_addr) = (gw.gateway.addr, gw.gateway.admin_addr);
    gw.gateway.begin_shutdown();
    assert_eq!(readiness(&gw).await, 503);
    let fresh = reqwest::Client::new();
    let served = fresh.get(gw.url("/v1/orders")).send().await.unwrap();
    assert_eq!(
        served.status(),
        200,
        "a new connection during the delay is served"
    );
    assert!(gw.gateway.wait().await, "drained within the grace period");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert!(
        tokio::net::TcpStream::connect(admin_addr).await.is_err(),
        "the admin listener closes last"
    );
}

#[tokio::test]
async fn an_idle_gateway_closes_both_listeners_and_reports_a_clean_drain() {
    let gw = TestGateway::start(ROUTES).await;
    let (addr, admin_addr) = (gw.gateway.addr, gw.gateway.admin_addr);
    assert!(gw.gateway.shutdown().await);
    for closed in [addr, admin_addr] {
        assert!(tokio::net::TcpStream::connect(closed).await.is_err());
    }
}
