//! Hot reload: a valid file swaps in, an invalid one is refused while the
//! old table serves (every error listed with its file, line and column),
//! a file that would drop every route is refused unless it says
//! `routes: []`, a file written slowly is read once it is stable, and
//! reloads under load fail no request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tests::mocks::json_body;

use serde_json::Value;
use tests::gateway::{TestGateway, eventually};

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

async fn admin_config(gw: &TestGateway) -> Value {
    gw.client
        .get(gw.admin_url("/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn rejected_reloads(gw: &TestGateway) -> u64 {
    admin_config(gw).await["rejected_reloads"].as_u64().unwrap()
}

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
    let config = admin_config(&gw).await;
    assert_eq!(config["version"], 2);
    assert_eq!(
        config["routes"][1],
        serde_json::json!({
            "name": "* /v1/products/{id}",
            "methods": null,
            "pattern": "/v1/products/{id}",
            "host": null,
            "action": {"proxy": {"backend": "products"}},
        })
    );
    assert_eq!(config["routes"].as_array().unwrap().len(), 2);
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
    let errors = admin_config(&gw).await["last_reload_error"].clone();
    let unknown_backend = errors
        .as_array()
        .expect("a list of errors")
        .iter()
        .find(|e| e["message"].as_str().unwrap().contains("unknown backend"))
        .expect("the unknown backend error");
    assert_eq!(unknown_backend["line"], 6, "{errors}");
    assert_eq!(unknown_backend["column"], 14, "{errors}");
    assert!(
        unknown_backend["file"]
            .as_str()
            .unwrap()
            .ends_with("routes.yaml")
    );
    assert_eq!(
        errors.as_array().unwrap().len(),
        3,
        "one entry per error: {errors}"
    );
    let admin_reload = gw
        .client
        .post(gw.admin_url("/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(admin_reload.status(), 422);
    let body: Value = admin_reload.json().await.unwrap();
    assert_eq!(body["error"]["code"], "CONFIG_REJECTED");
    assert_eq!(body["error"]["errors"], errors);
}

#[tokio::test]
async fn a_file_that_drops_every_route_is_refused_unless_it_says_routes_empty() {
    let gw = TestGateway::start(V1).await;
    gw.update_config("");
    eventually("the empty file to be refused", || async {
        rejected_reloads(&gw).await == 1
    })
    .await;
    let errors = admin_config(&gw).await["last_reload_error"].clone();
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("routes: []"),
        "{errors}"
    );
    assert_eq!(gw.gateway.version(), 1);
    assert_eq!(status(&gw, &user_path()).await, 200);
    gw.update_config("backends:\n  users: { url: $USERS }\nroutes: []\n");
    gw.assert_reloaded(2).await;
    assert_eq!(status(&gw, &user_path()).await, 404);
}

#[tokio::test]
async fn a_file_written_slowly_is_read_once_it_is_stable() {
    use std::io::Write;
    let gw = TestGateway::start(V1).await;
    let full = std::fs::read_to_string(gw.config_path()).unwrap().replace(
        "routes:",
        "routes:\n  - path: /v1/products/{id}\n    backend: users",
    );
    // An editor that truncates the file, then writes it in pieces.
    let mut file = std::fs::File::create(gw.config_path()).unwrap();
    for piece in full.as_bytes().chunks(full.len().div_ceil(5)) {
        file.write_all(piece).unwrap();
        file.flush().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    drop(file);
    gw.assert_reloaded(2).await;
    let config = admin_config(&gw).await;
    assert_eq!(config["rejected_reloads"], 0, "no partial file was read");
    assert_eq!(config["routes"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn reloading_an_unchanged_file_says_unchanged() {
    let gw = TestGateway::start_unwatched(V1).await;
    let answer = json_body(gw.client.post(gw.admin_url("/reload"))).await;
    assert_eq!(
        answer,
        serde_json::json!({"reloaded": false, "unchanged": true, "version": 1})
    );
    gw.update_config(V2);
    let answer = json_body(gw.client.post(gw.admin_url("/reload"))).await;
    assert_eq!(
        answer,
        serde_json::json!({"reloaded": true, "unchanged": false, "version": 2})
    );
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

/// Kubernetes updates a ConfigMap volume by swapping a `..data` symlink:
/// routes.yaml's own name never changes in the watched directory.
#[tokio::test]
async fn a_config_map_update_is_swapped_in_by_the_watcher() {
    let gw = TestGateway::start_config_map(V1).await;
    assert_eq!(status(&gw, &product_path()).await, 404);
    gw.update_config(V2);
    gw.assert_reloaded(2).await;
    assert_eq!(status(&gw, &product_path()).await, 200);
    assert_eq!(status(&gw, &user_path()).await, 200);
}
