//! The real `gateway serve` process and its logs: `log.format: json`
//! writes one JSON object per line, `RUST_LOG` wins over `log.level`, the
//! access log is off unless the file turns it on, and when it is on (to
//! standard output here) the last records are written before the process
//! exits on SIGTERM.

// Test-only crate: an `unwrap` that fails is a failed test, which is what
// it should be (clippy.toml allows unwrap in #[test] functions; this also
// covers the helpers they call).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mock_backends::{MockOptions, ServiceKind};
use serde_json::Value;

/// Both listeners on port 0; `log` is the `log:` section's value.
fn config(users: &str, log: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nlog: {log}\nbackends:\n  users: {{ url: {users} }}\nroutes:\n  - name: user\n    path: /v1/users/{{id}}\n    backend: users\n"
    )
}

/// A running `gateway serve` whose standard output is read line by line;
/// killed when the test ends, passed or failed.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Serve {
    fn spawn(config_path: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["serve", "--config"])
            .arg(config_path)
            // `log.level` says "error": RUST_LOG must win for the
            // listening line (info) to be written at all.
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Serve { child, lines }
    }

    /// Lines up to and including the first that `wanted` accepts.
    fn lines_until(&self, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("the line never came; saw {seen:#?}"));
            let done = wanted(&line);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }

    /// SIGTERM, then every line written until the process exited 0.
    fn terminate(mut self) -> Vec<String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert_eq!(exit.code(), Some(0));
        self.lines.iter().collect()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` over `log`, sends one proxied request and one 404, stops
/// it, and returns every line it wrote.
async fn serve_two_requests(log: &str) -> Vec<String> {
    let mocks = mock_backends::start_all(MockOptions::ephemeral())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let users = mocks.service(ServiceKind::Users).url();
    std::fs::write(&path, config(&users, log)).unwrap();
    let serve = Serve::spawn(&path);
    let mut lines = serve.lines_until(|line| line.contains("gateway listening"));
    let listening = lines.last().unwrap().clone();
    let listen = address_in(&listening);
    let client = reqwest::Client::new();
    let user = format!(
        "http://{listen}/v1/users/{}",
        mock_backends::seed::FIRST_CUSTOMER_ID
    );
    for (url, status) in [(user, 200), (format!("http://{listen}/nowhere"), 404)] {
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), status, "{url}");
        response.bytes().await.unwrap();
    }
    lines.extend(
        tokio::task::spawn_blocking(move || serve.terminate())
            .await
            .unwrap(),
    );
    lines
}

/// The main listener's address in the listening line, JSON or text.
fn address_in(line: &str) -> String {
    if let Ok(event) = serde_json::from_str::<Value>(line) {
        return event["addr"].as_str().unwrap().to_owned();
    }
    let start = line.find(" addr=").unwrap() + " addr=".len();
    line[start..].split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn serve_with_log_format_json_writes_json_logs_and_no_access_log() {
    let lines = serve_two_requests(r#"{ format: json, level: "error" }"#).await;
    assert!(lines.len() >= 3, "{lines:#?}");
    for line in &lines {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(event.get(key).is_some(), "no {key}: {line}");
        }
        // Off by default in `serve`: no access-log record.
        assert!(event.get("upstream_attempts").is_none(), "{line}");
        assert!(!line.contains('\u{1b}'), "colour codes: {line}");
    }
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.split("\"message\":\"").nth(1))
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("gateway listening")),
        "RUST_LOG=info wins over log.level: {lines:#?}"
    );
}

#[tokio::test]
async fn serve_with_the_access_log_on_writes_every_record_before_it_exits() {
    let log = r#"{ level: "error", access_log: { enabled: true, format: text, path: stdout } }"#;
    let lines = serve_two_requests(log).await;
    let records: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains(" completed \""))
        .collect();
    assert_eq!(records.len(), 2, "{lines:#?}");
    assert!(
        records[0].contains(" 200 - 0 ") && records[0].contains(" \"user\" users "),
        "{}",
        records[0]
    );
    assert!(
        records[1].contains(" 404 NO_ROUTE 0 ") && records[1].contains(" \"-\" - - - 0 - "),
        "{}",
        records[1]
    );
}
