//! The GraphQL subgraphs take the same injection as the REST and gRPC
//! services: latency (per subgraph, lower bounds from recorded instants
//! only), error rate, down, and the seed's latencies.

use std::sync::Arc;
use std::time::Duration;

use mock_backends::{FaultKind, MockOptions, SubgraphHandle, SubgraphKind, Subgraphs};
use serde_json::{Value, json};
use tests::mocks::{http, within};

fn duration(record: &mock_backends::RecordedRequest) -> Duration {
    record.finished_at.expect("finished") - record.arrived_at
}

async fn start(options: MockOptions) -> (mock_backends::MockBackends, Subgraphs) {
    let mocks = mock_backends::start_all(options.clone()).await.unwrap();
    let subgraphs = options
        .start_subgraphs(Arc::clone(&mocks.store))
        .await
        .unwrap();
    (mocks, subgraphs)
}

async fn typename(subgraph: &SubgraphHandle) -> (u16, Value) {
    let response = http()
        .post(subgraph.url())
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn latency_on_one_subgraph_delays_only_that_subgraph() {
    let mut options = MockOptions::ephemeral();
    let latency = Duration::from_millis(200);
    options.subgraph_faults.users.latency = latency;
    let (_mocks, subgraphs) = start(options).await;
    let slow = tokio::spawn({
        let url = subgraphs.users.url();
        async move {
            http()
                .post(url)
                .json(&json!({ "query": "{ __typename }" }))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let arrived = subgraphs.users.control.wait_for_requests(|r| !r.is_empty());
    within("the slow request to arrive", arrived).await;
    assert_eq!(typename(&subgraphs.products).await.0, 200);
    assert_eq!(within("the slow response", slow).await.unwrap(), 200);
    let slow_record = &subgraphs.users.control.requests()[0];
    let fast_record = &subgraphs.products.control.requests()[0];
    assert!(duration(slow_record) >= latency, "{slow_record:?}");
    assert!(duration(fast_record) < duration(slow_record));
    assert!(slow_record.overlaps(fast_record));
}

#[tokio::test]
async fn error_rate_and_down_apply_to_a_subgraph_and_healthz_stays_up() {
    let (_mocks, subgraphs) = start(MockOptions::ephemeral()).await;
    let orders = &subgraphs.orders;
    orders
        .control
        .set_error_rate(1.0, FaultKind::Http(http::StatusCode::SERVICE_UNAVAILABLE));
    let (status, body) = typename(orders).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "INJECTED_FAULT");
    let health = http()
        .get(format!("http://{}/healthz", orders.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    orders.control.set_error_rate(0.0, FaultKind::default());
    orders.control.set_down(true).await;
    assert!(tokio::net::TcpStream::connect(orders.addr).await.is_err());
    orders.control.set_down(false).await;
    assert_eq!(typename(orders).await.0, 200);
}

#[tokio::test]
async fn seed_latencies_reach_each_domain_subgraph() {
    let (_mocks, subgraphs) = start(MockOptions::ephemeral().with_seed_latencies()).await;
    for (kind, millis) in [
        (SubgraphKind::Orders, 50),
        (SubgraphKind::Users, 30),
        (SubgraphKind::Products, 40),
        (SubgraphKind::Payments, 20),
    ] {
        let subgraph = subgraphs.get(kind);
        assert_eq!(
            subgraph.control.faults().latency,
            Duration::from_millis(millis)
        );
    }
    assert_eq!(typename(&subgraphs.payments).await.0, 200);
    let record = &subgraphs.payments.control.requests()[0];
    assert!(duration(record) >= Duration::from_millis(20));
}
