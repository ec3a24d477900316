//! JWT providers whose keys are files (`jwks_file`, `key_pem_file`)
//! through the real gateway, the algorithm allowlist, and each
//! provider's `leeway` on `exp` and
//! `nbf`: tokens signed in the test, every refusal checked against the
//! backend's request count.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tests::auth::{SigningKey, now, rsa_keys};
use tests::gateway::TestGateway;

/// `from-file` trusts the first RSA key (a JWKS file), with 30 s of
/// leeway; `from-pem` the second (a PEM file), with 2 s.
fn routes(dir: &std::path::Path, jwks_key: &SigningKey, pem_key: &SigningKey) -> String {
    let jwks = json!({ "keys": [jwks_key.jwk.clone().unwrap()] });
    std::fs::write(dir.join("jwks.json"), jwks.to_string()).unwrap();
    std::fs::write(dir.join("key.pem"), pem_key.public_pem.as_ref().unwrap()).unwrap();
    let dir = dir.display();
    format!(
        r#"
backends:
  users: {{ url: $USERS }}
auth:
  jwt_providers:
    from-file:
      issuer: https://file.test
      jwks_file: {dir}/jwks.json
      leeway: 30s
    from-pem:
      issuer: https://pem.test
      key_pem_file: {dir}/key.pem
      algorithms: [RS256, PS256]
      leeway: 2s
routes:
  - path: /file/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ jwt: from-file }}
  - path: /pem/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ jwt: from-pem }}
"#
    )
}

/// The status and error message of `GET path` with `token`.
async fn call(gw: &TestGateway, path: &str, token: &str) -> (u16, String) {
    let response = gw
        .client
        .get(gw.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    (status, message.to_owned())
}

fn token(key: &SigningKey, iss: &str, times: Value) -> String {
    let mut claims = json!({ "iss": iss, "sub": "user-1", "exp": now() + 600 });
    for (name, value) in times.as_object().unwrap() {
        claims[name] = value.clone();
    }
    key.sign(&claims)
}

#[tokio::test]
async fn keys_from_a_jwks_file_and_a_pem_file_verify_their_own_tokens_only_with_allowed_algorithms()
{
    let (first, second) = rsa_keys();
    let dir = tempfile::tempdir().unwrap();
    let gw = TestGateway::start(&routes(dir.path(), first, second)).await;
    let ok = (200, String::new());
    let by_file = token(first, "https://file.test", json!({}));
    assert_eq!(call(&gw, "/file/x", &by_file).await, ok);
    let by_pem = token(second, "https://pem.test", json!({}));
    assert_eq!(call(&gw, "/pem/x", &by_pem).await, ok);
    // Each provider refuses the other's key.
    let wrong_key = token(second, "https://file.test", json!({}));
    let refused = call(&gw, "/file/x", &wrong_key).await;
    assert_eq!(refused.0, 401, "{refused:?}");
    let wrong_key = token(first, "https://pem.test", json!({}));
    assert_eq!(
        call(&gw, "/pem/x", &wrong_key).await,
        (401, "the token's signature does not verify".to_owned())
    );
    // The allowlist: PS256 with the same key passes, RS512 does not.
    let with_alg = |alg| {
        let mut key = second.clone();
        key.alg = alg;
        token(&key, "https://pem.test", json!({}))
    };
    assert_eq!(call(&gw, "/pem/x", &with_alg(Algorithm::PS256)).await, ok);
    assert_eq!(
        call(&gw, "/pem/x", &with_alg(Algorithm::RS512)).await,
        (401, "the token's algorithm is not accepted".to_owned())
    );
    assert_eq!(gw.mocks.users.control.request_count(), 3);
}

#[tokio::test]
async fn each_provider_allows_its_own_leeway_on_exp_and_nbf() {
    let (first, second) = rsa_keys();
    let dir = tempfile::tempdir().unwrap();
    let gw = TestGateway::start(&routes(dir.path(), first, second)).await;
    let expired_10s_ago = json!({ "exp": now() - 10 });
    let valid_in_10s = json!({ "nbf": now() + 10 });
    // 30 s of leeway: both pass.
    for times in [&expired_10s_ago, &valid_in_10s] {
        let token = token(first, "https://file.test", times.clone());
        assert_eq!(call(&gw, "/file/x", &token).await.0, 200, "{times}");
    }
    // 2 s of leeway: both are refused.
    let expired = token(second, "https://pem.test", expired_10s_ago);
    assert_eq!(
        call(&gw, "/pem/x", &expired).await,
        (401, "the token has expired".to_owned())
    );
    let early = token(second, "https://pem.test", valid_in_10s);
    assert_eq!(
        call(&gw, "/pem/x", &early).await,
        (401, "the token is not valid yet (nbf)".to_owned())
    );
    // Past the leeway, the lenient provider refuses too.
    let long_expired = token(first, "https://file.test", json!({ "exp": now() - 60 }));
    assert_eq!(call(&gw, "/file/x", &long_expired).await.0, 401);
    assert_eq!(gw.mocks.users.control.request_count(), 2);
}
