//! The graphql-http server audit (the GraphQL over HTTP working group's
//! conformance checks, npm package `graphql-http`, pinned in
//! `tests/conformance/graphql-http/package-lock.json`), run with Node.js
//! against a gateway's `/graphql`.
//!
//! CI installs Node.js and the package (`.ci/run`) and sets
//! [`REQUIRE_ENV`]; elsewhere a machine without Node.js skips the test,
//! saying so, like the browser test. With Node.js but without the package,
//! the test installs it (`npm ci`) first.

use std::path::PathBuf;
use std::process::Stdio;

use serde::Deserialize;
use serde_json::Value;
use tokio::process::Command;

use crate::gateway::repo_path;

/// Set (by `.ci/run`) where a missing Node.js must fail the test rather
/// than skip it.
pub const REQUIRE_ENV: &str = "GATEWAY_TESTS_REQUIRE_NODE";

/// What the audit found: how many checks passed, and each warning and
/// error (`id`, `name`, `reason`, the response's `status` and `body`).
#[derive(Debug, Deserialize)]
pub struct AuditReport {
    pub ok: usize,
    pub warn: Vec<Value>,
    pub error: Vec<Value>,
}

fn audit_dir() -> PathBuf {
    repo_path("tests/conformance/graphql-http")
}

/// Runs the audit against `url`; `None` (skipped, saying why) when
/// Node.js or the package cannot be had, unless [`REQUIRE_ENV`] is set.
pub async fn run_or_skip(test: &str, url: &str) -> Option<AuditReport> {
    let skip = |why: &str| {
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none(),
            "{test}: {why} and {REQUIRE_ENV} is set"
        );
        eprintln!("{test}: skipped: {why} (CI installs it)");
        None
    };
    if !succeeds(Command::new("node").arg("--version")).await {
        return skip("Node.js is not installed");
    }
    let dir = audit_dir();
    if !dir.join("node_modules/graphql-http").is_dir()
        && !succeeds(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        )
        .await
    {
        return skip("the graphql-http package is not installed and `npm ci` failed");
    }
    let output = Command::new("node")
        .arg("audit.mjs")
        .arg(url)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("node runs");
    assert!(
        output.status.success(),
        "the audit script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).expect("the audit prints its report as JSON"))
}

async fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
}
