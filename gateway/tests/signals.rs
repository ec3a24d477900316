//! The real `gateway serve` process and its signals: SIGHUP reloads,
//! SIGTERM drains in-flight requests and exits 0. The process listens on
//! port 0 and the test reads the ports from its log (no bind-and-release
//! race), and it is killed if the test fails.

// Test-only crate: an `unwrap` that fails is a failed test, which is what
// it should be (clippy.toml allows unwrap in #[test] functions; this also
// covers the helpers they call).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mock_backends::{MockOptions, ServiceKind};

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

/// A running `gateway serve`, killed when the test ends, passed or failed.
struct Serve {
    child: Option<Child>,
    /// The main and admin listeners' addresses, as the process logged them.
    listen: String,
    admin: String,
}

impl Serve {
    fn spawn(config_path: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["serve", "--config"])
            .arg(config_path)
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().expect("stdout is piped");
        // The guard first, so a process that never says where it listens
        // is killed when the wait below fails the test.
        let mut serve = Serve {
            child: Some(child),
            listen: String::new(),
            admin: String::new(),
        };
        let (listen, admin) = listening_addresses(stdout);
        (serve.listen, serve.admin) = (listen, admin);
        serve
    }

    fn child(&self) -> &Child {
        self.child.as_ref().expect("the process is running")
    }

    fn wait(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the process is running");
        child.wait().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads the log until `gateway listening addr=.. admin_addr=..`, then
/// keeps draining it (a full pipe would block the gateway's logging).
fn listening_addresses(stdout: std::process::ChildStdout) -> (String, String) {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sender = Some(sender);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("gateway listening")
                && let Some(sender) = sender.take()
            {
                let _ = sender.send(line);
            }
        }
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("the gateway logs the addresses it listens on");
    // NO_COLOR is not set: the log is plain because it is not a terminal.
    assert!(
        !line.contains('\u{1b}'),
        "colour codes in a piped log: {line:?}"
    );
    let listen = field(&line, "addr").expect("addr=");
    let admin = field(&line, "admin_addr").expect("admin_addr=");
    (listen, admin)
}

/// The value of ` name=value` in a log line.
fn field(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    let value = line[start..].split_whitespace().next()?;
    Some(value.to_owned())
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
