//! API keys through the real gateway and mock: a key from a header or a
//! query parameter (removed before forwarding), its consumer on the
//! access-log record, and refusals that never reach the backend.

use serde_json::Value;
use sha2::{Digest, Sha256};
use tests::gateway::{TestGateway, eventually};

fn routes() -> String {
    let hash = |key: &str| hex::encode(Sha256::digest(key.as_bytes()));
    format!(
        r#"
log:
  access_log: {{ enabled: true, format: json, path: access.log }}
backends:
  users: {{ url: $USERS }}
auth:
  api_keys:
    partners:
      header: x-api-key
      query: api_key
      keys:
        - {{ consumer: acme-mobile, sha256: {acme}, scopes: [orders:read] }}
        - {{ consumer: globex, sha256: {globex} }}
routes:
  - path: /echo/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ api_keys: partners }}
  - path: /scoped/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ api_keys: partners, scopes: [orders:read] }}
"#,
        acme = hash("acme-secret-key"),
        globex = hash("globex-secret-key"),
    )
}

fn backend_paths(gw: &TestGateway) -> Vec<String> {
    gw.mocks
        .users
        .control
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/debug/echo"))
        .map(|r| r.path)
        .collect()
}

#[tokio::test]
async fn a_key_from_a_header_or_the_query_names_its_consumer_and_the_query_key_is_not_forwarded() {
    let gw = TestGateway::start(&routes()).await;
    let by_header = gw
        .client
        .get(gw.url("/echo/a"))
        .header("x-api-key", "acme-secret-key")
        .header("x-request-id", "api-key-header")
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 200);
    let by_query = gw
        .client
        .get(gw.url("/echo/b?page=2&api_key=globex-secret-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    let paths = backend_paths(&gw);
    assert_eq!(
        paths,
        ["/debug/echo/a", "/debug/echo/b?page=2"],
        "the key left the gateway"
    );
    // The consumer is on the access-log record.
    let log = gw.config_path().with_file_name("access.log");
    let record = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|record| record["request_id"] == "api-key-header")
    };
    eventually("the access-log record", || async { record().is_some() }).await;
    assert_eq!(record().unwrap()["consumer"], "acme-mobile");
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_refused_and_never_forwarded() {
    let gw = TestGateway::start(&routes()).await;
    for (name, value, code) in [
        ("x-api-key", "not-a-key", "AUTH_INVALID_API_KEY"),
        ("x-other", "acme-secret-key", "AUTH_REQUIRED"),
    ] {
        let response = gw
            .client
            .get(gw.url("/echo/x"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["www-authenticate"],
            "ApiKey realm=\"gateway\""
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    // A valid key without the route's scope: 403.
    let response = gw
        .client
        .get(gw.url("/scoped/x"))
        .header("x-api-key", "globex-secret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(backend_paths(&gw).is_empty());
    let allowed = gw
        .client
        .get(gw.url("/scoped/x"))
        .header("x-api-key", "acme-secret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
}

#[tokio::test]
async fn keys_from_a_referenced_file_authenticate_with_their_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("partner-keys.yaml");
    let hash = hex::encode(Sha256::digest(b"file-key"));
    std::fs::write(
        &file,
        format!("- {{ consumer: from-file, sha256: {hash}, scopes: [orders:read] }}\n"),
    )
    .unwrap();
    let yaml = format!(
        r#"
backends:
  users: {{ url: $USERS }}
auth:
  api_keys:
    partners:
      keys_file: {file}
routes:
  - path: /scoped/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ api_keys: partners, scopes: [orders:read] }}
"#,
        file = file.display()
    );
    let gw = TestGateway::start(&yaml).await;
    let status = |key: &'static str| {
        let request = gw.client.get(gw.url("/scoped/x")).header("x-api-key", key);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status("file-key").await, 200);
    assert_eq!(status("another-key").await, 401);
    assert_eq!(backend_paths(&gw), ["/debug/echo/x"]);
}
