//! `server.tls` and `backends.*.tls`: what they compile to, and their
//! mistakes (a missing file, bad PEM, a key that is not the
//! certificate's, an unknown key, ...) reported with their positions.

use std::path::Path;

use super::model::UpstreamProtocol;
use super::*;

/// Writes `stem.pem` and `stem.key` for a self-signed certificate.
fn write_pair(dir: &Path, stem: &str, names: &[&str]) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let generated = rcgen::generate_simple_self_signed(names).unwrap();
    std::fs::write(dir.join(format!("{stem}.pem")), generated.cert.pem()).unwrap();
    std::fs::write(
        dir.join(format!("{stem}.key")),
        generated.signing_key.serialize_pem(),
    )
    .unwrap();
}

#[test]
fn every_tls_key_compiles() {
    let dir = tempfile::tempdir().unwrap();
    write_pair(dir.path(), "a", &["a.test", "*.a.test"]);
    write_pair(dir.path(), "b", &["b.test"]);
    write_pair(dir.path(), "ca", &["ca.test"]);
    let config = load_str_in(
        r#"
server:
  tls:
    certificates:
      - { cert: a.pem, key: a.key }
      - { cert: b.pem, key: b.key, server_names: [B.test, "*.b.test"], default: true }
    client_auth: { ca: ca.pem, mode: optional }
    http_redirect: { listen: "127.0.0.1:8080", https_port: 443 }
    session_tickets: false
    session_cache: 0
    hsts: { max_age: 2h, include_subdomains: true }
backends:
  secure:
    url: https://10.0.0.1:8443
    protocol: h2
    tls: { ca: ca.pem, server_name: api.internal, cert: a.pem, key: a.key }
routes: []
"#,
        "routes.yaml",
        dir.path(),
    )
    .unwrap_or_else(|errors| panic!("{errors}"));
    let tls = config.server.tls.as_deref().unwrap();
    assert_eq!(tls.certificates[0].server_names, ["a.test", "*.a.test"]);
    assert_eq!(tls.certificates[1].server_names, ["b.test", "*.b.test"]);
    assert_eq!(tls.default_certificate, 1);
    assert!(!tls.client_auth.as_ref().unwrap().required);
    assert_eq!(tls.http_redirect.unwrap().https_port, Some(443));
    assert!(!tls.resumption.tickets);
    assert_eq!(tls.resumption.cache_sessions, 0);
    let hsts = tls.hsts.unwrap();
    assert_eq!(hsts.header_text(), "max-age=7200; includeSubDomains");
    let backend = &config.backends["secure"];
    assert_eq!(backend.protocol, UpstreamProtocol::H2);
    assert_eq!(backend.tls.server_name.as_deref(), Some("api.internal"));
    assert!(backend.tls.client_certificate.is_some());
    assert_eq!(config.tls_files().len(), 5);
}

#[test]
fn tls_mistakes_are_all_reported_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    write_pair(dir.path(), "a", &["a.test"]);
    write_pair(dir.path(), "b", &["b.test"]);
    std::fs::write(dir.path().join("garbage.pem"), "not a certificate\n").unwrap();
    let errors = load_str_in(
        r#"
server:
  tls:
    certificates:
      - { cert: missing.pem, key: a.key }
      - { cert: garbage.pem, key: a.key }
      - { cert: a.pem, key: b.key }
      - { cert: b.pem, key: b.key, server_names: ["bad name"] }
    http_redirect: { listen: nowhere }
    session_cache: 100001
    hsts: { max_age: 1h, include_subdomains: true, preload: true }
backends:
  plain:
    url: http://10.0.0.1
    tls: { ca: a.pem }
  mixed:
    url: https://10.0.0.2
    protocol: h2c
    tls: { cert: a.pem }
routes: []
"#,
        "routes.yaml",
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    let expected = [
        "routes.yaml:5:17: server.tls.certificates[0].cert: cannot read \"missing.pem\": No such file",
        "routes.yaml:6:17: server.tls.certificates[1].cert: \"garbage.pem\" holds no PEM certificate",
        "routes.yaml:7:29: server.tls.certificates[2].key: \"b.key\": the key does not belong to the certificate \"a.pem\"",
        "routes.yaml:8:51: server.tls.certificates[3].server_names: \"bad name\" is not a DNS name",
        "routes.yaml:9:30: server.tls.http_redirect.listen: \"nowhere\" is not an address",
        "routes.yaml:10:20: server.tls.session_cache: must be between 0 and 100000",
        "routes.yaml:11:61: server.tls.hsts.preload: the preload list requires include_subdomains: true and a max_age of at least 8760h (a year)",
        "routes.yaml:13:3: backend \"plain\": tls: applies to https:// URLs",
        "routes.yaml:18:15: backend \"mixed\": protocol: h2c is HTTP/2 over cleartext",
        "routes.yaml:19:18: backend \"mixed\": tls: a client certificate needs both cert and key",
    ];
    for line in expected {
        assert!(errors.contains(line), "missing {line:?} in:\n{errors}");
    }
    assert_eq!(errors.lines().count(), expected.len(), "{errors}");
}

#[test]
fn an_unknown_tls_key_is_named_with_its_position() {
    let errors = load_str(
        "server:\n  tls:\n    certificates: []\n    ciphers: [all]\nroutes: []\n",
        "routes.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        errors.contains("routes.yaml:4:5: server: tls: unknown key \"ciphers\"; expected one of: certificates, client_auth, http_redirect"),
        "{errors}"
    );
}

#[test]
fn the_hsts_header_lists_what_is_set() {
    use super::model::tls::Hsts;
    let hsts = |max_age: u64, include_subdomains: bool, preload: bool| {
        Hsts {
            max_age: std::time::Duration::from_secs(max_age),
            include_subdomains,
            preload,
        }
        .header_text()
    };
    assert_eq!(hsts(0, false, false), "max-age=0");
    assert_eq!(hsts(300, true, false), "max-age=300; includeSubDomains");
    assert_eq!(
        hsts(31_536_000, true, true),
        "max-age=31536000; includeSubDomains; preload"
    );
}
