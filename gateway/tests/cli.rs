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

/// `check` reads the system's trust store when an `https://` backend has
/// no `tls.ca`, as `serve` does, and refuses the file when the store has
/// no usable certificate (here `SSL_CERT_FILE` names an empty bundle);
/// with a bundle that has one, or with `tls.ca`, the file is ok.
#[test]
fn check_reads_the_system_trust_store_that_https_backends_need() {
    let dir = std::env::temp_dir().join(format!("gateway-check-roots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&key).unwrap();
    let bundle = dir.join("ca.pem");
    std::fs::write(&bundle, ca.pem()).unwrap();
    let file = dir.join("https.yaml");
    std::fs::write(
        &file,
        "backends:\n  secure: { url: https://127.0.0.1:8443 }\nroutes:\n  - path: /a\n    backend: secure\n",
    )
    .unwrap();
    let check = |store: &std::path::Path, config: &std::path::Path| {
        gateway()
            .arg("check")
            .arg(config)
            .env("SSL_CERT_FILE", store)
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    };

    let refused = check(&empty, &file);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("backend \"secure\"") && stderr.contains("trust store"),
        "{stderr}"
    );

    let accepted = check(&bundle, &file);
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );

    let with_ca = dir.join("https-ca.yaml");
    std::fs::write(
        &with_ca,
        format!(
            "backends:\n  secure:\n    url: https://127.0.0.1:8443\n    tls: {{ ca: {} }}\nroutes:\n  - path: /a\n    backend: secure\n",
            bundle.display()
        ),
    )
    .unwrap();
    let own_ca = check(&empty, &with_ca);
    assert!(
        own_ca.status.success(),
        "{}",
        String::from_utf8_lossy(&own_ca.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
