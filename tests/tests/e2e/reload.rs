//! Hot reload: a valid file swaps in, an invalid one is refused while the
//! old table serves, and reloads under load fail no request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::Value;
use tests::gateway::TestGateway;

const V1: &str = r#"
backends:
  users: { url: $USERS }
routes:
  - path: /v1/users/{id}
    backend: users
"#;

const V2: &str = r#"
backends:
  users: { url: $USERS }
  products: { url: $PRODUCTS }
routes:
  - path: /v1/users/{id}
    backend: users
  - path: /v1/products/{id}
    backend: products
"#;

const BROKEN: &str = r#"
backends:
  users: { url: $USERS, connect_timeout: soon }
routes:
  - path: /v1/users/{id}
    backend: user
  - path: /v1/other
    backend: users
    colour: blue
"#;

async fn status(gw: &TestGateway, path: &str) -> u16 {
    gw.client
        .get(gw.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn product_path() -> String {
    format!("/v1/products/{}", mock_backends::seed::FIRST_PRODUCT_ID)
}

fn user_path() -> String {
    format!("/v1/users/{}", mock_backends::seed::FIRST_CUSTOMER_ID)
}

#[tokio::test]
async fn a_valid_file_is_swapped_in_by_the_watcher() {
    let gw = TestGateway::start(V1).await;
    assert_eq!(status(&gw, &product_path()).await, 404);
    gw.update_config(V2);
    gw.assert_reloaded(2).await;
    assert_eq!(status(&gw, &product_path()).await, 200);
    let config: Value = gw
        .client
        .get(gw.admin_url("/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["version"], 2);
    assert_eq!(config["routes"], 2);
}

#[tokio::test]
async fn an_invalid_file_is_refused_and_the_old_table_keeps_serving() {
    let gw = TestGateway::start(V1).await;
    gw.update_config(BROKEN);
    let error = gw.gateway.reload().await.unwrap_err().to_string();
    for expected in ["soon", "unknown backend \"user\"", "colour"] {
        assert!(
            error.contains(expected),
            "missing {expected:?} in:\n{error}"
        );
    }
    assert!(
        error.contains("routes.yaml:3:"),
        "errors carry line and column:\n{error}"
    );
    assert_eq!(gw.gateway.version(), 1);
    assert_eq!(status(&gw, &user_path()).await, 200);
    let config: Value = gw
        .client
        .get(gw.admin_url("/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        config["last_reload_error"]
            .as_str()
            .unwrap()
            .contains("unknown backend")
    );
    let admin_reload = gw
        .client
        .post(gw.admin_url("/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(admin_reload.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_reloads_under_concurrent_traffic_fail_no_request() {
    let gw = Arc::new(TestGateway::start(V1).await);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (gw, stop, ok, failed) = (
            Arc::clone(&gw),
            Arc::clone(&stop),
            Arc::clone(&ok),
            Arc::clone(&failed),
        );
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let counter = if status(&gw, &user_path()).await == 200 {
                    &ok
                } else {
                    &failed
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for round in 0..50u64 {
        let yaml = if round % 2 == 0 { V2 } else { V1 };
        gw.update_config(yaml);
        gw.gateway.reload().await.unwrap();
        assert_eq!(gw.gateway.version(), round + 2);
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(ok.load(Ordering::Relaxed) > 0);
}
