//! Local rate limits through the real path: exactly the burst passes, then
//! 429 `RATE_LIMITED` with `Retry-After` and the `RateLimit-Policy` /
//! `RateLimit` headers, and the backend never sees the refused requests;
//! keys by header, by client address behind a trusted proxy and by the
//! JWT's consumer or subject; global limits on every route.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tests::auth::{SigningKey, now};
use tests::gateway::TestGateway;

fn routes(server: &str, global: &str, route_limits: &str) -> String {
    format!(
        r#"
server:
  workers: 2
{server}
backends:
  users: {{ url: $USERS }}
rate_limits:
  global: [{global}]
routes:
  - name: echo
    path: /echo/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    rate_limits: [{route_limits}]
  - name: other
    path: /other/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
"#
    )
}

async fn get(gw: &TestGateway, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = gw.client.get(gw.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn backend_calls(gw: &TestGateway) -> usize {
    gw.mocks.users.control.request_count()
}

#[tokio::test]
async fn exactly_the_burst_passes_then_429_with_the_ratelimit_headers() {
    let limit = "{ name: per-ip, key: client_ip, rate: 1/min, burst: 3 }";
    let gw = TestGateway::start(&routes("", "", limit)).await;
    for remaining in [2, 1, 0] {
        let response = get(&gw, "/echo/x", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "ratelimit-policy"),
            "\"per-ip\";q=3;w=180"
        );
        let state = header(&response, "ratelimit");
        assert!(
            state.starts_with(&format!("\"per-ip\";r={remaining};t=")),
            "{state}"
        );
    }
    let refused = get(&gw, "/echo/x", &[]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(header(&refused, "ratelimit-policy"), "\"per-ip\";q=3;w=180");
    let state = header(&refused, "ratelimit");
    assert!(state.starts_with("\"per-ip\";r=0;t="), "{state}");
    let request_id = header(&refused, "x-request-id");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
    assert_eq!(body["error"]["request_id"], request_id.as_str());
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("per-ip")
    );
    // The refused request never reached the backend.
    assert_eq!(backend_calls(&gw), 3);
    // Another route has no limit.
    let other = get(&gw, "/other/x", &[]).await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(header(&other, "ratelimit"), "");
}

#[tokio::test]
async fn a_header_key_gives_each_value_its_own_budget_and_skips_requests_without_it() {
    let limit = "{ name: tenant, key: { header: x-tenant }, rate: 1/min, burst: 2 }";
    let gw = TestGateway::start(&routes("", "", limit)).await;
    let tenant = |name: &'static str| [("x-tenant", name)];
    for _ in 0..2 {
        assert_eq!(get(&gw, "/echo/a", &tenant("acme")).await.status(), 200);
    }
    assert_eq!(get(&gw, "/echo/a", &tenant("acme")).await.status(), 429);
    assert_eq!(get(&gw, "/echo/b", &tenant("globex")).await.status(), 200);
    // Without the header the limit does not apply (missing_key: skip).
    for _ in 0..3 {
        let response = get(&gw, "/echo/c", &[]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "ratelimit"), "");
    }
    assert_eq!(backend_calls(&gw), 2 + 1 + 3);
}

#[tokio::test]
async fn requests_without_the_key_can_share_one_bucket() {
    let limit =
        "{ name: tenant, key: { header: x-tenant }, rate: 1/min, burst: 2, missing_key: shared }";
    let gw = TestGateway::start(&routes("", "", limit)).await;
    let statuses: Vec<u16> = futures_statuses(&gw, 3, &[]).await;
    assert_eq!(statuses, [200, 200, 429]);
}

async fn futures_statuses(gw: &TestGateway, n: usize, headers: &[(&str, &str)]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(get(gw, "/echo/s", headers).await.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn the_client_address_comes_through_a_trusted_proxy() {
    let limit = "{ name: per-ip, key: client_ip, rate: 1/min, burst: 2 }";
    let gw = TestGateway::start(&routes("  trusted_proxies: [127.0.0.1/32]", "", limit)).await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    assert_eq!(
        futures_statuses(&gw, 3, &from("203.0.113.1")).await,
        [200, 200, 429]
    );
    // Another client behind the same proxy has its own budget.
    assert_eq!(
        futures_statuses(&gw, 2, &from("203.0.113.2")).await,
        [200, 200]
    );
    assert_eq!(backend_calls(&gw), 4);
}

#[tokio::test]
async fn requests_without_the_key_can_be_counted_by_client_address() {
    let limit =
        "{ name: per-consumer, key: consumer, rate: 1/min, burst: 2, missing_key: client_ip }";
    let gw = TestGateway::start(&routes("  trusted_proxies: [127.0.0.1/32]", "", limit)).await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    // No authentication on the route: no consumer, so each client address
    // is a bucket.
    assert_eq!(
        futures_statuses(&gw, 3, &from("203.0.113.1")).await,
        [200, 200, 429]
    );
    assert_eq!(
        futures_statuses(&gw, 2, &from("203.0.113.2")).await,
        [200, 200]
    );
    assert_eq!(backend_calls(&gw), 4);
}

#[tokio::test]
async fn a_direct_client_cannot_escape_its_limit_with_forwarding_headers() {
    let limit = "{ name: per-ip, key: client_ip, rate: 1/min, burst: 2 }";
    let gw = TestGateway::start(&routes("", "", limit)).await;
    let mut statuses = Vec::new();
    for spoof in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let response = get(&gw, "/echo/x", &[("x-forwarded-for", spoof)]).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn a_global_limit_counts_every_route_and_combines_with_the_routes_own() {
    let global = "{ name: everywhere, key: client_ip, rate: 1/min, burst: 3 }";
    let limit = "{ name: echo-only, key: client_ip, rate: 1/min, burst: 1 }";
    let gw = TestGateway::start(&routes("", global, limit)).await;
    let first = get(&gw, "/echo/x", &[]).await;
    assert_eq!(first.status(), 200);
    assert_eq!(
        header(&first, "ratelimit-policy"),
        "\"everywhere\";q=3;w=180, \"echo-only\";q=1;w=60"
    );
    let state = header(&first, "ratelimit");
    assert!(state.contains("\"everywhere\";r=2;") && state.contains("\"echo-only\";r=0;"));
    // The route's own limit refuses first…
    let refused = get(&gw, "/echo/x", &[]).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("echo-only")
    );
    // …and the global one (its third token went to the refused request)
    // then refuses on the other route too.
    assert_eq!(get(&gw, "/other/x", &[]).await.status(), 200);
    let other = get(&gw, "/other/x", &[]).await;
    assert_eq!(other.status(), 429);
    assert!(header(&other, "ratelimit").starts_with("\"everywhere\";r=0;"));
    assert_eq!(backend_calls(&gw), 2);
}

/// On a transcoded gRPC route, a refusal is the bridge's error form: a
/// `google.rpc.Status` body with `RESOURCE_EXHAUSTED` (8), HTTP 429, and
/// the gRPC backend never called.
#[tokio::test]
async fn a_transcoded_grpc_route_refuses_with_resource_exhausted() {
    let limits =
        "rate_limits:\n  global:\n    - { name: per-ip, key: client_ip, rate: 1/min, burst: 1 }\n";
    let gw = TestGateway::with_default_routes_edited(|yaml| format!("{yaml}\n{limits}")).await;
    let url = gw.url(&format!(
        "/grpc/v1/orders/{}",
        mock_backends::seed::FIRST_ORDER_ID
    ));
    let first = gw.client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let calls = gw.mocks.orders_grpc.control.request_count();
    let refused = gw.client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!header(&refused, "retry-after").is_empty());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], 8, "{body}");
    assert_eq!(gw.mocks.orders_grpc.control.request_count(), calls);
}

/// `key: consumer` on a JWT route without a `consumer_claim`: each token's
/// `sub` is a consumer of its own (two subjects, two buckets; one subject's
/// tokens share one), a token's consumer claim wins over its subject when
/// the provider names one, an API key's consumer has its own bucket, and
/// an anonymous request on an optional-auth
/// route has no consumer (`missing_key: skip`: not limited by this limit).
#[tokio::test]
async fn the_consumer_key_is_the_jwt_subject_when_no_consumer_is_named() {
    const SECRET: &str = "rate-limit-consumer-secret-0123456789";
    let yaml = format!(
        r#"
backends:
  users: {{ url: $USERS }}
auth:
  jwt_providers:
    staff:
      issuer: https://login.test
      algorithms: [HS256]
      secret: {{ value: "{SECRET}" }}
    partners:
      issuer: https://partners.test
      algorithms: [HS256]
      secret: {{ value: "{SECRET}" }}
      consumer_claim: client_id
  api_keys:
    apps:
      keys: [{{ consumer: mobile-app, sha256: {mobile_key} }}]
routes:
  - name: staff
    path: /staff/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ jwt: [staff, partners], api_keys: apps, optional: true }}
    rate_limits: [{{ name: per-consumer, key: consumer, rate: 1/min, burst: 2 }}]
"#,
        mobile_key = hex::encode(Sha256::digest(b"mobile-key")),
    );
    let gw = TestGateway::start(&yaml).await;
    let key = SigningKey::hmac(SECRET.as_bytes());
    let issued = std::cell::Cell::new(0);
    // Each token is a different one (its own `jti`).
    let token = |iss: &str, claims: Value| {
        let mut claims = claims;
        issued.set(issued.get() + 1);
        claims["jti"] = format!("token-{}", issued.get()).into();
        claims["iss"] = iss.into();
        claims["exp"] = (now() + 600).into();
        format!("Bearer {}", key.sign(&claims))
    };
    let staff = |sub: &str| token("https://login.test", json!({ "sub": sub }));
    // Alice's tokens (different tokens, the same `sub`) share her bucket;
    // bob's is his own.
    let alice = staff("alice");
    let tokens = [alice.clone(), staff("alice"), alice];
    assert_eq!(statuses_with_tokens(&gw, &tokens).await, [200, 200, 429]);
    let tokens = [staff("bob"), staff("bob")];
    assert_eq!(statuses_with_tokens(&gw, &tokens).await, [200, 200]);
    // A partner token names its consumer: `client_id`, not `sub`, keys
    // it, so the client's subjects share the client's bucket (and the
    // partner subject "alice" is not alice's bucket).
    let partner = |sub: &str| {
        token(
            "https://partners.test",
            json!({ "sub": sub, "client_id": "acme" }),
        )
    };
    let tokens = [partner("alice"), partner("carol"), partner("dave")];
    assert_eq!(statuses_with_tokens(&gw, &tokens).await, [200, 200, 429]);
    // An API key's consumer has a bucket of its own.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = get(&gw, "/staff/x", &[("x-api-key", "mobile-key")]).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
    // Anonymous requests have no consumer: this limit does not count them.
    for _ in 0..3 {
        let response = get(&gw, "/staff/x", &[]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "ratelimit"), "");
    }
    assert_eq!(backend_calls(&gw), 2 + 2 + 2 + 2 + 3);
}

async fn statuses_with_tokens(gw: &TestGateway, bearers: &[String]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for bearer in bearers {
        let response = get(gw, "/staff/x", &[("authorization", bearer)]).await;
        statuses.push(response.status().as_u16());
    }
    statuses
}
