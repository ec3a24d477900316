//! Active health checks through real sockets: an endpoint whose checks
//! fail leaves the balancer before any client request reaches it (the
//! mock's request log stays empty), and comes back after the healthy
//! threshold; HTTP, gRPC (`grpc.health.v1`) and TCP probes.

use std::net::SocketAddr;
use std::sync::Arc;

use mock_backends::proto::GetOrderRequest;
use mock_backends::proto::order_service_client::OrderServiceClient;
use mock_backends::{Faults, ServiceHandle, ServiceKind, seed};
use serde_json::Value;
use tests::gateway::{TestGateway, eventually};

async fn instance(store: &Arc<mock_backends::Store>, kind: ServiceKind) -> ServiceHandle {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    mock_backends::start_service(kind, any, Arc::clone(store), Faults::none_for(kind))
        .await
        .unwrap()
}

/// A gateway over two fresh instances of `kind`, their backend configured
/// by `backend` (with `$URLS` for the list of their URLs).
async fn two_instances(kind: ServiceKind, backend: &str) -> (TestGateway, [ServiceHandle; 2]) {
    let mocks = tests::mocks::start_mocks().await;
    let instances = [
        instance(&mocks.store, kind).await,
        instance(&mocks.store, kind).await,
    ];
    let urls = format!("[{}, {}]", instances[0].url(), instances[1].url());
    let gw = TestGateway::start_with(mocks, &backend.replace("$URLS", &urls)).await;
    (gw, instances)
}

/// The `health` of each endpoint of `backend` on `/upstreams`, in order.
async fn health(gw: &TestGateway, backend: &str) -> Vec<String> {
    let report: Value = gw
        .client
        .get(gw.admin_url("/upstreams"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    report[backend]["endpoints"]
        .as_array()
        .unwrap_or_else(|| panic!("no backend {backend} in {report}"))
        .iter()
        .map(|endpoint| endpoint["health"].as_str().unwrap().to_owned())
        .collect()
}

async fn await_health(gw: &TestGateway, backend: &str, wanted: [&str; 2]) {
    eventually(&format!("{backend} endpoints {wanted:?}"), || async {
        health(gw, backend).await == wanted
    })
    .await;
}

/// The endpoints' passive connect-failure counters on `/upstreams`.
async fn connect_failures(gw: &TestGateway, backend: &str) -> Vec<u64> {
    let report: Value = gw
        .client
        .get(gw.admin_url("/upstreams"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    report[backend]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|endpoint| endpoint["connect_failures"].as_u64().unwrap())
        .collect()
}

const USERS: &str = "
backends:
  users:
    urls: $URLS
    load_balancing: round_robin
    health_check:
      PROBE
      interval: 20ms
      jitter: 10ms
      timeout: 1s
      healthy_threshold: 2
      unhealthy_threshold: 2
routes:
  - path: /v1/users/{id}
    backend: users
";

async fn get_users(gw: &TestGateway, count: usize) {
    let path = format!("/v1/users/{}", seed::FIRST_CUSTOMER_ID);
    for _ in 0..count {
        let response = gw.client.get(gw.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn http_checks_take_a_failing_endpoint_out_before_any_request_reaches_it() {
    let config = USERS.replace(
        "PROBE",
        "http: { path: /healthz, expected_statuses: [200] }",
    );
    let (gw, users) = two_instances(ServiceKind::Users, &config).await;
    await_health(&gw, "users", ["healthy", "healthy"]).await;
    get_users(&gw, 10).await;
    assert_eq!(
        users[1].control.request_count(),
        5,
        "round robin reaches both"
    );
    users[1].control.clear_requests();

    // The second instance fails its checks (its /healthz answers 503) but
    // would still serve requests: only the checks can keep traffic away.
    users[1].control.set_serving(false);
    await_health(&gw, "users", ["healthy", "unhealthy"]).await;
    get_users(&gw, 20).await;
    assert_eq!(
        users[1].control.request_count(),
        0,
        "no client request reached the unhealthy endpoint: {:?}",
        users[1].control.requests()
    );

    users[1].control.set_serving(true);
    await_health(&gw, "users", ["healthy", "healthy"]).await;
    get_users(&gw, 10).await;
    assert_eq!(users[1].control.request_count(), 5, "back in the rotation");
    assert!(users[1].control.health_check_count() > 4);
}

#[tokio::test]
async fn tcp_checks_take_a_closed_endpoint_out_and_bring_it_back() {
    let (gw, users) = two_instances(ServiceKind::Users, &USERS.replace("PROBE", "tcp: {}")).await;
    await_health(&gw, "users", ["healthy", "healthy"]).await;
    users[1].control.set_down(true).await;
    await_health(&gw, "users", ["healthy", "unhealthy"]).await;
    get_users(&gw, 20).await;
    // Passive ejection counts every client attempt that failed to
    // connect: none did, so none was sent to the closed endpoint.
    assert_eq!(connect_failures(&gw, "users").await, [0, 0]);
    assert_eq!(users[0].control.request_count(), 20);

    users[1].control.set_down(false).await;
    await_health(&gw, "users", ["healthy", "healthy"]).await;
    get_users(&gw, 10).await;
    assert_eq!(users[1].control.request_count(), 5);
}

const ORDERS_GRPC: &str = "
backends:
  orders-grpc:
    urls: $URLS
    protocol: h2c
    load_balancing: round_robin
    health_check:
      grpc: { service: orders.OrderService }
      interval: 20ms
      jitter: 0s
      healthy_threshold: 1
      unhealthy_threshold: 1
routes:
  - path: /orders.OrderService/{*rpc}
    method: POST
    grpc: { backend: orders-grpc, passthrough: true }
grpc:
  protos: [proto/orders.proto]
";

fn get_order_calls(instance: &ServiceHandle) -> usize {
    instance
        .control
        .requests()
        .iter()
        .filter(|r| r.path == "/orders.OrderService/GetOrder")
        .count()
}

#[tokio::test]
async fn grpc_health_checks_follow_the_backends_serving_status() {
    let (gw, orders) = two_instances(ServiceKind::OrdersGrpc, ORDERS_GRPC).await;
    await_health(&gw, "orders-grpc", ["healthy", "healthy"]).await;
    orders[0].control.set_serving(false);
    await_health(&gw, "orders-grpc", ["unhealthy", "healthy"]).await;

    let mut client = OrderServiceClient::connect(gw.url("")).await.unwrap();
    for _ in 0..6 {
        let order = client
            .get_order(GetOrderRequest {
                order_id: seed::FIRST_ORDER_ID.to_string(),
            })
            .await
            .unwrap();
        assert_eq!(order.get_ref().id, seed::FIRST_ORDER_ID.to_string());
    }
    assert_eq!(get_order_calls(&orders[0]), 0);
    assert_eq!(get_order_calls(&orders[1]), 6);
    // Health checks are neither delayed nor recorded by the mock.
    assert!(
        orders[0]
            .control
            .requests()
            .iter()
            .all(|r| !r.path.starts_with("/grpc.health"))
    );

    orders[0].control.set_serving(true);
    await_health(&gw, "orders-grpc", ["healthy", "healthy"]).await;
    for _ in 0..4 {
        client
            .get_order(GetOrderRequest {
                order_id: seed::FIRST_ORDER_ID.to_string(),
            })
            .await
            .unwrap();
    }
    assert_eq!(get_order_calls(&orders[0]), 2);
}

#[tokio::test]
async fn checks_run_on_across_a_reload_that_keeps_the_backend_and_stop_with_it() {
    let config = USERS.replace("PROBE", "http: {}");
    let (gw, users) = two_instances(ServiceKind::Users, &config).await;
    users[1].control.set_serving(false);
    await_health(&gw, "users", ["healthy", "unhealthy"]).await;
    let urls = format!("[{}, {}]", users[0].url(), users[1].url());
    let with_route = format!(
        "{}  - path: /v1/products/{{id}}\n    backend: users\n",
        config.replace("$URLS", &urls)
    );
    gw.update_config(&with_route);
    gw.assert_reloaded(2).await;
    assert_eq!(health(&gw, "users").await, ["healthy", "unhealthy"]);
    users[1].control.set_serving(true);
    await_health(&gw, "users", ["healthy", "healthy"]).await;

    // The backend goes away: its checks stop.
    gw.update_config(tests::gateway::ECHO_ROUTES);
    gw.assert_reloaded(3).await;
    eventually("health checks stopped", || async {
        let before = users[0].control.health_check_count();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        users[0].control.health_check_count() == before
    })
    .await;
}
