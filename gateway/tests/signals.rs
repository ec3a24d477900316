//! The real `gateway serve` process and its signals: SIGHUP reloads,
//! SIGTERM drains in-flight requests and exits 0.

// Test-only crate: an `unwrap` that fails is a failed test, which is what
// it should be (clippy.toml allows unwrap in #[test] functions; this also
// covers the helpers they call).
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mock_backends::{MockOptions, ServiceKind};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(listen: u16, admin: u16, users: &str, products: Option<&str>) -> String {
    let mut yaml = format!(
        "listen: 127.0.0.1:{listen}\nadmin: 127.0.0.1:{admin}\nserver: {{ shutdown_grace: 10s }}\nbackends:\n  users: {{ url: {users} }}\n"
    );
    if let Some(products) = products {
        yaml.push_str(&format!("  products: {{ url: {products} }}\n"));
    }
    yaml.push_str("routes:\n  - path: /v1/users/{id}\n    backend: users\n");
    if products.is_some() {
        yaml.push_str("  - path: /v1/products/{id}\n    backend: products\n");
    }
    yaml
}

fn spawn_serve(config_path: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["serve", "--config"])
        .arg(config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn eventually_status(client: &reqwest::Client, url: &str, expected: u16) {
    for _ in 0..500 {
        let answered = client.get(url).send().await.map(|r| r.status().as_u16());
        if answered.ok() == Some(expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{url} never answered {expected}");
}

#[tokio::test]
async fn sighup_reloads_and_sigterm_drains_then_exits_zero() {
    let mocks = mock_backends::start_all(MockOptions::ephemeral())
        .await
        .unwrap();
    let (users, products) = (
        mocks.service(ServiceKind::Users).url(),
        mocks.service(ServiceKind::Products).url(),
    );
    let (listen, admin) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, config(listen, admin, &users, None)).unwrap();
    let mut child = spawn_serve(&path);
    let client = reqwest::Client::new();
    let product = format!(
        "http://127.0.0.1:{listen}/v1/products/{}",
        mock_backends::seed::FIRST_PRODUCT_ID
    );
    eventually_status(&client, &format!("http://127.0.0.1:{admin}/readyz"), 200).await;
    assert_eq!(client.get(&product).send().await.unwrap().status(), 404);

    // SIGHUP: the edited file is applied.
    std::fs::write(&path, config(listen, admin, &users, Some(&products))).unwrap();
    signal(&child, "-HUP");
    eventually_status(&client, &product, 200).await;

    // SIGTERM with a request in flight: it completes, then the process exits 0.
    mocks
        .users
        .control
        .set_latency(Duration::from_millis(500), Duration::ZERO);
    let user = format!(
        "http://127.0.0.1:{listen}/v1/users/{}",
        mock_backends::seed::FIRST_CUSTOMER_ID
    );
    let in_flight = tokio::spawn(client.get(user).send());
    mocks
        .users
        .control
        .wait_for_requests(|seen| !seen.is_empty())
        .await;
    signal(&child, "-TERM");
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(
        response.status(),
        200,
        "the in-flight request finished during the drain"
    );
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}
