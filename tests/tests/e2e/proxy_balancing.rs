//! Load balancing across a backend's URLs, and passive ejection of an
//! endpoint that refuses connections.

use std::net::SocketAddr;
use tests::mocks::json_body;

use mock_backends::{Faults, ServiceHandle, ServiceKind};
use serde_json::Value;
use tests::gateway::TestGateway;

async fn users_instance(gw_store: &std::sync::Arc<mock_backends::Store>) -> ServiceHandle {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    mock_backends::start_service(
        ServiceKind::Users,
        any,
        std::sync::Arc::clone(gw_store),
        Faults::none_for(ServiceKind::Users),
    )
    .await
    .unwrap()
}

fn routes(instances: &[ServiceHandle], policy: &str) -> String {
    let urls: Vec<String> = instances
        .iter()
        .map(|i| format!("      - {}", i.url()))
        .collect();
    format!(
        "backends:\n  users:\n    load_balancing: {policy}\n    ejection: {{ consecutive_failures: 2, cooldown: 1500ms }}\n    urls:\n{}\nroutes:\n  - path: /v1/users/{{id}}\n    backend: users\n",
        urls.join("\n")
    )
}

async fn start(policy: &str) -> (TestGateway, Vec<ServiceHandle>) {
    let mocks = mock_backends::start_all(mock_backends::MockOptions::ephemeral())
        .await
        .unwrap();
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(users_instance(&mocks.store).await);
    }
    let gw = TestGateway::start_with(mocks, &routes(&instances, policy)).await;
    (gw, instances)
}

async fn get_user(gw: &TestGateway) -> u16 {
    let path = format!("/v1/users/{}", mock_backends::seed::FIRST_CUSTOMER_ID);
    gw.client
        .get(gw.url(&path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn round_robin_spreads_requests_evenly() {
    let (gw, instances) = start("round_robin").await;
    for _ in 0..30 {
        assert_eq!(get_user(&gw).await, 200);
    }
    let counts: Vec<usize> = instances
        .iter()
        .map(|i| i.control.request_count())
        .collect();
    assert_eq!(counts, vec![10, 10, 10]);
}

#[tokio::test]
async fn least_request_reaches_every_endpoint() {
    let (gw, instances) = start("least_request").await;
    let requests: Vec<_> = (0..60).map(|_| get_user(&gw)).collect();
    for status in futures::future::join_all(requests).await {
        assert_eq!(status, 200);
    }
    let counts: Vec<usize> = instances
        .iter()
        .map(|i| i.control.request_count())
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), 60);
    assert!(counts.iter().all(|c| *c > 0), "{counts:?}");
}

#[tokio::test]
async fn a_refusing_endpoint_is_ejected_then_brought_back() {
    let (gw, instances) = start("round_robin").await;
    instances[1].control.set_down(true).await;
    // Bodiless requests that hit the refusing endpoint are retried on
    // another one, so clients see no failure at all.
    for _ in 0..30 {
        assert_eq!(get_user(&gw).await, 200);
    }
    let before = [
        instances[0].control.request_count(),
        instances[2].control.request_count(),
    ];
    assert_eq!(before.iter().sum::<usize>(), 30);
    // The retry above hides a broken ejection from clients: the admin API
    // must show the refusing endpoint ejected, and only that one.
    let states = endpoint_states(&gw, &instances).await;
    assert_eq!(
        states
            .iter()
            .map(|s| s["ejected"] == true)
            .collect::<Vec<_>>(),
        [false, true, false],
        "{states:?}"
    );
    assert!(states[1]["consecutive_failures"].as_u64() >= Some(2));

    // Back up: after the cool-down the endpoint takes traffic again.
    instances[1].control.set_down(false).await;
    tests::gateway::eventually("the ejected endpoint to serve again", || async {
        get_user(&gw).await == 200 && instances[1].control.request_count() > 0
    })
    .await;
    let states = endpoint_states(&gw, &instances).await;
    assert_eq!(states[1]["ejected"], false, "{states:?}");
    assert_eq!(states[1]["consecutive_failures"], 0, "{states:?}");
}

/// `GET /upstreams`' entry for each instance, in the instances' order.
async fn endpoint_states(gw: &TestGateway, instances: &[ServiceHandle]) -> Vec<Value> {
    let report = json_body(gw.client.get(gw.admin_url("/upstreams"))).await;
    let endpoints = report["users"]["endpoints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    instances
        .iter()
        .map(|instance| {
            let found = endpoints.iter().find(|e| {
                e["url"]
                    .as_str()
                    .is_some_and(|url| url.trim_end_matches('/') == instance.url())
            });
            found.cloned().unwrap_or(Value::Null)
        })
        .collect()
}
