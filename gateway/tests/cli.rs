//! The `gateway` binary's `check` command: exit codes and error format.

// Test-only crate: an `unwrap` that fails is a failed test, which is what
// it should be (clippy.toml allows unwrap in #[test] functions; this also
// covers the helpers they call).
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn gateway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gateway"))
}

#[test]
fn check_accepts_the_default_routes_yaml() {
    let repo_routes = concat!(env!("CARGO_MANIFEST_DIR"), "/../routes.yaml");
    let output = gateway().args(["check", repo_routes]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(": ok ("));
}

#[test]
fn check_prints_every_error_with_line_and_column_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("gateway-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "backends:\n  users: { url: http://127.0.0.1:1, request_timeout: fast }\nroutes:\n  - path: /a/{id\n    backend: users\n  - path: /b\n    backend: usres\n",
    )
    .unwrap();
    let output = gateway().arg("check").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    let label = file.display().to_string();
    assert!(lines[0].starts_with(&format!("{label}:2:")), "{stderr}");
    assert!(lines[1].starts_with(&format!("{label}:4:")), "{stderr}");
    assert!(
        lines[2].starts_with(&format!("{label}:7:")) && lines[2].contains("usres"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
