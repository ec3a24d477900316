//! JWT authentication through the real gateway, the real users mock and a
//! real JWKS server: keys generated and tokens signed in the test; every
//! refusal is checked together with the mock's request log, which proves
//! the backend was never called.

use serde_json::{Value, json};
use tests::auth::{MockJwks, SigningKey, now, rsa_keys, tampered, unsigned_token};
use tests::gateway::{TestGateway, eventually};

const HS_SECRET: &str = "0123456789abcdef0123456789abcdef-hs";

fn routes(jwks: &MockJwks, floor: &str) -> String {
    format!(
        r#"
backends:
  users: {{ url: $USERS }}
  idp: {{ url: {jwks} }}
auth:
  jwt_providers:
    idp:
      issuer: https://idp.test
      audiences: [orders-api]
      jwks: {{ backend: idp, path: /jwks.json, refresh_interval: 1h, min_refresh_interval: {floor} }}
      forward_claims: {{ sub: x-user-id, tenant: x-tenant }}
      consumer_claim: client_id
      leeway: 5s
    shared:
      issuer: https://hs.test
      algorithms: [HS256]
      secret: {{ value: "{HS_SECRET}" }}
      token_from: {{ headers: [x-token], cookies: [session] }}
routes:
  - path: /echo/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ jwt: idp }}
  - path: /admin/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ jwt: idp, scopes: [orders:write], claims: {{ tenant: acme }} }}
  - path: /open/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ jwt: idp, optional: true }}
  - path: /hs/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ jwt: shared }}
  - path: /plain/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
"#,
        jwks = jwks.url()
    )
}

fn claims(extra: Value) -> Value {
    let mut claims = json!({
        "iss": "https://idp.test",
        "aud": "orders-api",
        "sub": "user-42",
        "client_id": "mobile-app",
        "tenant": "acme",
        "scope": "orders:read orders:write",
        "iat": now(),
        "exp": now() + 300,
    });
    if let Some(extra) = extra.as_object() {
        for (key, value) in extra {
            claims[key] = value.clone();
        }
    }
    claims
}

/// How many requests reached the echo backend.
fn backend_calls(gw: &TestGateway) -> usize {
    gw.mocks
        .users
        .control
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/debug/echo"))
        .count()
}

async fn get(
    gw: &TestGateway,
    path: &str,
    token: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = gw.client.get(gw.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

fn header<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"][name]
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn tokens_signed_with_rs256_es256_and_eddsa_keys_from_the_jwks_are_accepted() {
    let (rsa, _) = rsa_keys();
    let (ec, ed) = (SigningKey::ec("ec-1"), SigningKey::ed("ed-1"));
    let jwks = MockJwks::start(&[rsa, &ec, &ed]).await;
    let gw = TestGateway::start(&routes(&jwks, "30s")).await;
    for key in [rsa, &ec, &ed] {
        let (status, echo, _) = get(&gw, "/echo/x", Some(&key.sign(&claims(json!({}))))).await;
        assert_eq!(status, 200, "{:?}: {echo}", key.alg);
        // Claims to headers: the verified values reach the backend.
        assert_eq!(header(&echo, "x-user-id"), ["user-42"]);
        assert_eq!(header(&echo, "x-tenant"), ["acme"]);
    }
    assert_eq!(backend_calls(&gw), 3);
}

#[tokio::test]
async fn every_bad_token_is_refused_with_401_and_never_reaches_the_backend() {
    let (rsa, _) = rsa_keys();
    let jwks = MockJwks::start(&[rsa]).await;
    let gw = TestGateway::start(&routes(&jwks, "30s")).await;
    let stranger = SigningKey::ec("ec-stranger");
    let cases = [
        (
            "expired",
            rsa.sign(&claims(json!({"exp": now() - 60}))),
            "the token has expired",
        ),
        (
            "not yet valid",
            rsa.sign(&claims(json!({"nbf": now() + 120}))),
            "the token is not valid yet (nbf)",
        ),
        (
            "wrong issuer",
            rsa.sign(&claims(json!({"iss": "https://evil.test"}))),
            "the token's issuer is not accepted",
        ),
        (
            "wrong audience",
            rsa.sign(&claims(json!({"aud": "billing"}))),
            "the token's audience is not accepted",
        ),
        (
            "no expiry",
            rsa.sign(&json!({"iss": "https://idp.test", "aud": "orders-api"})),
            "the token has no expiry (exp)",
        ),
        (
            "alg none",
            unsigned_token(&claims(json!({}))),
            "the token is malformed (or its algorithm is not accepted)",
        ),
        (
            "unknown key",
            stranger.sign(&claims(json!({}))),
            "no key of this provider verifies the token",
        ),
        (
            "tampered",
            tampered(&rsa.sign(&claims(json!({})))),
            "the token's signature does not verify",
        ),
        (
            "a known kid, another key",
            stranger.sign_as("rsa-1", &claims(json!({}))),
            "no key of this provider verifies the token",
        ),
        (
            // Validly signed, but naming a header extension the recipient
            // must understand: RFC 7515 §4.1.11 makes it invalid.
            "critical extension",
            rsa.sign_critical(&["b64"], &claims(json!({}))),
            "the token names critical header extensions (crit), which are not supported",
        ),
        (
            "garbage",
            "abc.def.ghi".to_owned(),
            "the token is malformed (or its algorithm is not accepted)",
        ),
    ];
    for (case, token, message) in &cases {
        let (status, body, headers) = get(&gw, "/echo/x", Some(token)).await;
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(
            body["error"]["code"], "AUTH_INVALID_TOKEN",
            "{case}: {body}"
        );
        assert_eq!(body["error"]["message"], *message, "{case}");
        assert!(body["error"]["request_id"].is_string(), "{case}: {body}");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"gateway\", error=\"invalid_token\""),
            "{case}: {challenge}"
        );
    }
    let (status, body, headers) = get(&gw, "/echo/x", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "AUTH_REQUIRED");
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"gateway\"");
    let malformed = gw
        .client
        .get(gw.url("/echo/x"))
        .header("authorization", "Bearer")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(
        malformed.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_request\"")
    );
    assert_eq!(
        backend_calls(&gw),
        0,
        "a refused request reached the backend"
    );
}

#[tokio::test]
async fn scopes_and_claims_are_required_per_route_with_403_insufficient_scope() {
    let (rsa, _) = rsa_keys();
    let jwks = MockJwks::start(&[rsa]).await;
    let gw = TestGateway::start(&routes(&jwks, "30s")).await;
    let read_only = rsa.sign(&claims(json!({"scope": "orders:read"})));
    let (status, body, headers) = get(&gw, "/admin/x", Some(&read_only)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "AUTH_INSUFFICIENT_SCOPE");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"insufficient_scope\", scope=\"orders:write\"")
    );
    let other_tenant = rsa.sign(&claims(json!({"tenant": "globex"})));
    let (status, body, _) = get(&gw, "/admin/x", Some(&other_tenant)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("AUTH_FORBIDDEN"))
    );
    assert_eq!(backend_calls(&gw), 0);
    // `scp` as a list counts too.
    let listed = rsa.sign(&claims(json!({"scope": null, "scp": ["orders:write"]})));
    let (status, _, _) = get(&gw, "/admin/x", Some(&listed)).await;
    assert_eq!(status, 200);
    assert_eq!(backend_calls(&gw), 1);
}

#[tokio::test]
async fn claim_headers_sent_by_the_client_are_stripped_on_every_route() {
    let (rsa, _) = rsa_keys();
    let jwks = MockJwks::start(&[rsa]).await;
    let gw = TestGateway::start(&routes(&jwks, "30s")).await;
    let spoof = |path: &str| {
        gw.client
            .get(gw.url(path))
            .header("x-user-id", "admin")
            .header("x-tenant", "root")
    };
    // Anonymous on an optional route: passes, without the spoofed headers.
    let echo: Value = spoof("/open/x").send().await.unwrap().json().await.unwrap();
    assert!(header(&echo, "x-user-id").is_empty(), "{echo}");
    assert!(header(&echo, "x-tenant").is_empty(), "{echo}");
    // With a token: the token's values replace the client's.
    let token = rsa.sign(&claims(json!({"sub": "user-7"})));
    let echo: Value = spoof("/echo/x")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(header(&echo, "x-user-id"), ["user-7"]);
    assert_eq!(header(&echo, "x-tenant"), ["acme"]);
    // A bad token on an optional route is still refused.
    let (status, _, _) = get(&gw, "/open/x", Some("abc.def.ghi")).await;
    assert_eq!(status, 401);
    // The headers are the gateway's on every route: also removed on a
    // route without authentication (same backend), and on a route whose
    // provider forwards no claims.
    let hs =
        SigningKey::hmac(HS_SECRET.as_bytes()).sign(&claims(json!({"iss": "https://hs.test"})));
    for request in [spoof("/plain/x"), spoof("/hs/x").header("x-token", hs)] {
        let echo: Value = request.send().await.unwrap().json().await.unwrap();
        assert_eq!(echo["path"], "/debug/echo/x", "{echo}");
        assert!(header(&echo, "x-user-id").is_empty(), "{echo}");
        assert!(header(&echo, "x-tenant").is_empty(), "{echo}");
    }
}

#[tokio::test]
async fn an_hs256_token_is_read_from_a_named_header_or_a_cookie() {
    let (rsa, _) = rsa_keys();
    let jwks = MockJwks::start(&[rsa]).await;
    let gw = TestGateway::start(&routes(&jwks, "30s")).await;
    let hs = SigningKey::hmac(HS_SECRET.as_bytes());
    let token = hs.sign(&claims(json!({"iss": "https://hs.test"})));
    let by_header = gw
        .client
        .get(gw.url("/hs/x"))
        .header("x-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 200);
    let by_cookie = gw
        .client
        .get(gw.url("/hs/x"))
        .header("cookie", format!("a=b; session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), 200);
    // Not from Authorization: that source is off for this provider.
    let (status, body, _) = get(&gw, "/hs/x", Some(&token)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("AUTH_REQUIRED"))
    );
    // An RS256 token is refused by the HS256-only provider.
    let rs = rsa.sign(&claims(json!({"iss": "https://hs.test"})));
    let refused = gw
        .client
        .get(gw.url("/hs/x"))
        .header("x-token", rs)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(backend_calls(&gw), 2);
}

#[tokio::test]
async fn a_rotated_jwks_is_fetched_again_on_an_unknown_kid_and_the_old_key_stops_working() {
    let (old, new) = rsa_keys();
    let jwks = MockJwks::start(&[old]).await;
    let gw = TestGateway::start(&routes(&jwks, "200ms")).await;
    let (status, _, _) = get(&gw, "/echo/x", Some(&old.sign(&claims(json!({}))))).await;
    assert_eq!(status, 200);
    jwks.set_keys(&[new]);
    let fresh = new.sign(&claims(json!({})));
    eventually("the rotated key to be accepted", || async {
        get(&gw, "/echo/x", Some(&fresh)).await.0 == 200
    })
    .await;
    let (status, body, _) = get(&gw, "/echo/x", Some(&old.sign(&claims(json!({}))))).await;
    assert_eq!(status, 401, "the removed key still verifies: {body}");
}

#[tokio::test]
async fn random_kids_cannot_make_the_gateway_hammer_the_jwks_endpoint() {
    let (rsa, _) = rsa_keys();
    let jwks = MockJwks::start(&[rsa]).await;
    let gw = TestGateway::start(&routes(&jwks, "1h")).await;
    let (status, _, _) = get(&gw, "/echo/x", Some(&rsa.sign(&claims(json!({}))))).await;
    assert_eq!(status, 200);
    let fetched = jwks.fetches();
    assert_eq!(fetched, 1, "one fetch at start");
    for n in 0..25 {
        let token = rsa.sign_as(&format!("random-{n}"), &claims(json!({})));
        assert_eq!(get(&gw, "/echo/x", Some(&token)).await.0, 401);
    }
    assert_eq!(jwks.fetches(), fetched, "the floor was not respected");
    assert_eq!(backend_calls(&gw), 1);
}

#[tokio::test]
async fn the_jwks_is_refreshed_in_the_background() {
    let (rsa, _) = rsa_keys();
    let jwks = MockJwks::start(&[rsa]).await;
    let yaml = routes(&jwks, "100ms").replace("refresh_interval: 1h", "refresh_interval: 200ms");
    let _gw = TestGateway::start(&yaml).await;
    eventually("three background fetches", || async { jwks.fetches() >= 3 }).await;
}
