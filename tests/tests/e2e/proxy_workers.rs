//! Thread-per-core serving: the acceptor spreads connections over the
//! workers by open-connection count, each worker serves its own (with its
//! own upstream connections), and the admin API shows the spread.

use std::time::Duration;

use tests::gateway::{TestGateway, eventually};
use tests::mocks::send_json;

const ROUTES: &str = "server:\n  workers: 2\nbackends:\n  orders:\n    url: $ORDERS\nroutes:\n  - path: /v1/orders/{id}\n    backend: orders\n";

async fn open_connections(gw: &TestGateway) -> Vec<u64> {
    let (status, report) = send_json(gw.client.get(gw.admin_url("/workers"))).await;
    assert_eq!(status, 200);
    assert_eq!(report["workers"], 2, "{report}");
    report["open_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect()
}

/// A client that keeps exactly one keep-alive connection to the gateway.
fn one_connection_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test]
async fn connections_spread_evenly_over_the_workers_and_all_are_served() {
    let gw = TestGateway::start(ROUTES).await;
    assert_eq!(gw.gateway.workers(), 2);
    let path = format!("/v1/orders/{}", mock_backends::seed::FIRST_ORDER_ID);
    let clients: Vec<reqwest::Client> = (0..4).map(|_| one_connection_client()).collect();
    for round in 0..3 {
        for client in &clients {
            let (status, order) = send_json(client.get(gw.url(&path))).await;
            assert_eq!(status, 200, "round {round}");
            assert_eq!(order["id"], mock_backends::seed::FIRST_ORDER_ID.to_string());
        }
    }
    // Four idle keep-alive connections, handed two to each worker.
    assert_eq!(open_connections(&gw).await, vec![2, 2]);
    assert_eq!(
        gw.mocks
            .service(mock_backends::ServiceKind::OrdersRest)
            .control
            .requests()
            .len(),
        12
    );
    drop(clients);
    eventually("every connection closed on its worker", || async {
        open_connections(&gw).await == vec![0, 0]
    })
    .await;
}

#[tokio::test]
async fn each_new_connection_goes_to_the_least_loaded_worker() {
    let gw = TestGateway::start(ROUTES).await;
    let path = format!("/v1/orders/{}", mock_backends::seed::FIRST_ORDER_ID);
    let first = one_connection_client();
    assert_eq!(first.get(gw.url(&path)).send().await.unwrap().status(), 200);
    assert_eq!(open_connections(&gw).await.iter().sum::<u64>(), 1);
    let second = one_connection_client();
    assert_eq!(
        second.get(gw.url(&path)).send().await.unwrap().status(),
        200
    );
    assert_eq!(open_connections(&gw).await, vec![1, 1]);
}
