//! The real `gateway serve` process and its signals: SIGHUP reloads,
//! SIGTERM drains in-flight requests and exits 0. The process listens on
//! port 0 and the test reads the ports from its log (no bind-and-release
//! race), and it is killed if the test fails.

// Test-only crate: an `unwrap` that fails is a failed test, which is what
// it should be (clippy.toml allows unwrap in #[test] functions; this also
// covers the helpers they call).
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command};
use std::time::Duration;

use mock_backends::{MockOptions, ServiceKind};

#[path = "support/serve.rs"]
mod serve;
use serve::Serve;

/// Both listeners on port 0: the process prints the ports it got.
fn config(users: &str, products: Option<&str>) -> String {
    let mut yaml = format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nserver: {{ shutdown_grace: 10s }}\nbackends:\n  users: {{ url: {users} }}\n"
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
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, config(&users, None)).unwrap();
    let serve = Serve::spawn(&path);
    let (listen, admin) = (serve.listen.clone(), serve.admin.clone());
    let client = reqwest::Client::new();
    let product = format!(
        "http://{listen}/v1/products/{}",
        mock_backends::seed::FIRST_PRODUCT_ID
    );
    eventually_status(&client, &format!("http://{admin}/readyz"), 200).await;
    assert_eq!(client.get(&product).send().await.unwrap().status(), 404);

    // SIGHUP: the edited file is applied.
    std::fs::write(&path, config(&users, Some(&products))).unwrap();
    signal(serve.child(), "-HUP");
    eventually_status(&client, &product, 200).await;

    // SIGUSR1 without an access log file: nothing to reopen, and the
    // signal's default action (ending the process) is not taken.
    signal(serve.child(), "-USR1");
    assert_eq!(client.get(&product).send().await.unwrap().status(), 200);

    // SIGTERM with a request in flight: it completes, then the process exits 0.
    mocks
        .users
        .control
        .set_latency(Duration::from_millis(500), Duration::ZERO);
    let user = format!(
        "http://{listen}/v1/users/{}",
        mock_backends::seed::FIRST_CUSTOMER_ID
    );
    let in_flight = tokio::spawn(client.get(user).send());
    mocks
        .users
        .control
        .wait_for_requests(|seen| !seen.is_empty())
        .await;
    signal(serve.child(), "-TERM");
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(
        response.status(),
        200,
        "the in-flight request finished during the drain"
    );
    let exit = tokio::task::spawn_blocking(move || serve.wait())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}

/// SIGUSR1 reopens the access log at its path, as nginx's does: what
/// logrotate's `postrotate kill -USR1` expects.
#[tokio::test]
async fn sigusr1_reopens_the_access_log_after_rotation() {
    let mocks = mock_backends::start_all(MockOptions::ephemeral())
        .await
        .unwrap();
    let users = mocks.service(ServiceKind::Users).url();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let log = dir.path().join("access.log");
    let yaml = format!(
        "log:\n  access_log: {{ enabled: true, format: text, path: {} }}\n{}",
        log.display(),
        config(&users, None)
    );
    std::fs::write(&path, yaml).unwrap();
    let serve = Serve::spawn(&path);
    let client = reqwest::Client::new();
    let user = format!(
        "http://{}/v1/users/{}",
        serve.listen,
        mock_backends::seed::FIRST_CUSTOMER_ID
    );
    eventually_status(&client, &user, 200).await;
    let lines = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(|text| text.lines().count())
            .unwrap_or(0)
    };
    // The writer's round is 50 ms: wait for the first record on disk.
    for _ in 0..500 {
        if lines(&log) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = lines(&log);
    assert!(before > 0, "the first requests were logged");
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    signal(serve.child(), "-USR1");
    // Each request until the reopen is logged in the renamed file; the
    // first after it, in a new file at the configured path.
    for _ in 0..500 {
        assert_eq!(client.get(&user).send().await.unwrap().status(), 200);
        if lines(&log) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(lines(&log) > 0, "a new file at the configured path");
    assert!(
        lines(&rotated) >= before,
        "the renamed file kept its records"
    );
    signal(serve.child(), "-TERM");
    let exit = tokio::task::spawn_blocking(move || serve.wait())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0), "the process survived SIGUSR1");
}
