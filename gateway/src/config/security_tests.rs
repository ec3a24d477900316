//! `auth:` and `cors:`: what compiles, and every mistake reported at its
//! line and column, all at once.

use super::model::security::{CorsOrigins, KeySource};
use super::*;

fn errors_of(source: &str) -> String {
    match load_str(source, "routes.yaml") {
        Ok(_) => panic!("expected errors, but the config compiled"),
        Err(errors) => errors.to_string(),
    }
}

const BACKENDS: &str =
    "backends:\n  api: { url: http://127.0.0.1:9 }\n  idp: { url: http://127.0.0.1:9 }\n";

#[test]
fn every_auth_mistake_is_reported_with_its_position() {
    let source = format!(
        "{BACKENDS}auth:
  jwt_providers:
    a:
      algorithms: [RS256, RS1024, none]
      jwks: {{ backend: idp, path: /jwks.json }}
    b:
      issuer: https://b.test
    c:
      algorithms: [HS256]
      key_pem: \"not a key\"
    d:
      secret: {{ value: short }}
    e:
      algorithms: [RS256]
      secret: {{ value: 0123456789abcdef0123456789abcdef }}
    f:
      jwks: {{ backend: idq, path: jwks.json }}
  api_keys:
    partners:
      keys:
        - {{ consumer: acme, sha256: nothex }}
routes:
  - path: /x
    backend: api
    auth: {{ jwt: [a, zzz], api_keys: partnrs }}
"
    );
    let errors = errors_of(&source);
    let expected = [
        "routes.yaml:7:27: auth.jwt_providers.a: algorithms: unknown algorithm \"RS1024\"; expected one of: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256, HS384, HS512",
        "routes.yaml:7:35: auth.jwt_providers.a: algorithms: \"none\" is never accepted: an unsigned token proves nothing about its sender",
        "routes.yaml:10:13: auth.jwt_providers.b: needs a key source: one of jwks, jwks_file, key_pem, key_pem_file, secret",
        "routes.yaml:13:16: auth.jwt_providers.c: not a PEM public key (RSA, EC P-256/P-384 or Ed25519)",
        "routes.yaml:15:15: auth.jwt_providers.d: secret: 5 bytes is too short for HMAC; use at least 32",
        "routes.yaml:17:20: auth.jwt_providers.e: algorithms: RS256 does not fit a `secret` (HS256, HS384, HS512 only)",
        "routes.yaml:20:24: auth.jwt_providers.f: jwks.backend: unknown backend \"idq\" (did you mean \"idp\"?)",
        "routes.yaml:20:35: auth.jwt_providers.f: jwks.path: must start with `/` (a path on the backend)",
        "routes.yaml:24:37: auth.api_keys.partners: sha256: \"nothex\" is not a SHA-256 hash",
        "routes.yaml:28:18: route \"/x\": auth.jwt: unknown provider \"zzz\"",
        "routes.yaml:28:38: route \"/x\": auth.api_keys: unknown key set \"partnrs\"",
    ];
    for line in expected {
        assert!(errors.contains(line), "missing {line:?} in:\n{errors}");
    }
    // A provider with errors is not reported again where a route names it.
    assert!(!errors.contains("unknown provider \"a\""), "{errors}");
    assert_eq!(errors.lines().count(), expected.len(), "{errors}");
}

#[test]
fn every_cors_mistake_is_reported_with_its_position() {
    let source = format!(
        "{BACKENDS}cors:
  allow_origins: [\"*\"]
  allow_credentials: true
routes:
  - path: /x
    backend: api
    cors:
      allow_origins: [https://ok.test, \"ftp:/nope\", \"https://a.*.test\"]
      allow_methods: [GET, \"*\"]
"
    );
    let errors = errors_of(&source);
    for line in [
        "routes.yaml:6:22: top-level: cors: allow_credentials: true cannot be combined with `*`",
        "routes.yaml:11:40: route \"/x\": cors.allow_origins: \"ftp:/nope\" is not an origin",
        "routes.yaml:11:53: route \"/x\": cors.allow_origins: \"https://a.*.test\" may hold one `*`",
        "routes.yaml:12:28: route \"/x\": cors.allow_methods: \"*\" is not valid here",
    ] {
        assert!(errors.contains(line), "missing {line:?} in:\n{errors}");
    }
}

#[test]
fn a_valid_security_config_compiles_into_plain_data() {
    let hash = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
    let source = format!(
        "{BACKENDS}auth:
  jwt_providers:
    idp:
      issuer: [https://idp.test]
      jwks: {{ backend: idp, path: /jwks.json, min_refresh_interval: 10s }}
  api_keys:
    partners:
      query: api_key
      keys: [{{ consumer: acme, sha256: {hash}, scopes: [read] }}]
cors:
  allow_origins: [https://app.test, \"https://*.example.com\"]
  allow_credentials: true
routes:
  - path: /x
    backend: api
    auth: {{ jwt: idp, api_keys: partners, scopes: [read] }}
"
    );
    let config = load_str(&source, "routes.yaml").unwrap_or_else(|e| panic!("{e}"));
    let provider = &config.auth.jwt_providers["idp"];
    assert_eq!(
        provider.algorithms.len(),
        9,
        "every asymmetric algorithm by default"
    );
    let KeySource::Jwks(endpoint) = &provider.keys else {
        panic!("{:?}", provider.keys)
    };
    assert_eq!(
        endpoint.min_refresh_interval,
        std::time::Duration::from_secs(10)
    );
    let set = &config.auth.api_keys["partners"];
    assert!(set.header.is_none(), "a query-only set reads no header");
    let route = &config.routes[0];
    let auth = route.security.auth.as_ref().unwrap();
    assert_eq!((auth.jwt.len(), auth.api_keys.is_some()), (1, true));
    let cors = route.security.cors.as_ref().unwrap();
    let CorsOrigins::List { patterns, .. } = &cors.origins else {
        panic!()
    };
    assert!(patterns[0].matches("https://app.example.com"));
    assert!(!patterns[0].matches("https://example.com"));
    assert!(!patterns[0].matches("https://evil.com/x.example.com"));
}
