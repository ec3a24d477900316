//! The real `mock-backends` process: `--any-port` prints every listener's
//! address as `NAME=ADDR` and each one answers there; `--latency users=...`
//! slows the users subgraph; a taken address names the right listener.

// Test-only crate: an `unwrap` that fails is a failed test, which is what
// it should be (clippy.toml allows unwrap in #[test] functions; this also
// covers the helpers they call).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LISTENERS: [&str; 9] = [
    "orders-rest",
    "orders-grpc",
    "users-rest",
    "products-rest",
    "payments-rest",
    "orders-graphql",
    "users-graphql",
    "products-graphql",
    "payments-graphql",
];

/// Kills the child when the test ends, passed or failed.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs blocking `work` (reading the child's pipes) in a thread, and fails
/// the test instead of hanging if the child never gets there.
fn within<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    receiver
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn spawn(args: &[&str]) -> KillOnDrop {
    let child = Command::new(env!("CARGO_BIN_EXE_mock-backends"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mock-backends starts");
    KillOnDrop(child)
}

/// Reads the nine `NAME=ADDR` lines.
fn addresses(child: &mut KillOnDrop) -> BTreeMap<String, String> {
    let stdout = child.0.stdout.take().expect("stdout is piped");
    within("the address lines", move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut found = BTreeMap::new();
        while found.len() < LISTENERS.len() {
            let line = lines
                .next()
                .expect("an address line before stdout closes")
                .unwrap();
            let (name, addr) = line.split_once('=').expect("NAME=ADDR");
            found.insert(name.to_owned(), addr.to_owned());
        }
        found
    })
}

#[tokio::test]
async fn any_port_prints_every_listener_and_latency_reaches_the_subgraph() {
    let mut child = spawn(&["--any-port", "--latency", "users=200ms"]);
    let addrs = addresses(&mut child);
    let mut names: Vec<&str> = addrs.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = LISTENERS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    let client = reqwest::Client::new();
    for (name, addr) in &addrs {
        assert!(!addr.ends_with(":0"), "{name}={addr}");
        let health = client.get(format!("http://{addr}/healthz")).send().await;
        assert_eq!(health.unwrap().status(), 200, "{name} at {addr}");
    }
    let started = Instant::now();
    let response = client
        .post(format!("http://{}/graphql", addrs["users-graphql"]))
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A lower bound only: the injected delay cannot be skipped.
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[test]
fn a_taken_address_names_the_subgraph_and_its_flag() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut child = spawn(&["--any-port", "--users-graphql-addr", &addr]);
    let mut stderr_pipe = child.0.stderr.take().expect("stderr is piped");
    let stderr = within("the child to fail", move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr_pipe, &mut text).unwrap();
        text
    });
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot listen on {addr} for the users-graphql service"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--users-graphql-addr"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no colour codes off a terminal");
}
