//! `gateway_consumer_requests_total` through the real gateway: API-key
//! consumers and a JWT's subject as the `consumer` label, refusals by
//! scope counted for their consumer, anonymous refusals not counted, and
//! `metrics.max_consumers` capping the label with `_other`.

use serde_json::json;
use sha2::{Digest, Sha256};
use tests::auth::{SigningKey, now};
use tests::gateway::{TestGateway, eventually};
use tests::metrics::scrape;

const HS_SECRET: &str = "consumer-metrics-secret-0123456789abcdef";
const METRIC: &str = "gateway_consumer_requests_total";

fn routes() -> String {
    let hash = |key: &str| hex::encode(Sha256::digest(key.as_bytes()));
    format!(
        r#"
metrics: {{ max_consumers: 2 }}
backends:
  users: {{ url: $USERS }}
auth:
  api_keys:
    partners:
      keys:
        - {{ consumer: acme, sha256: {acme}, scopes: [orders:read] }}
        - {{ consumer: globex, sha256: {globex} }}
        - {{ consumer: initech, sha256: {initech} }}
  jwt_providers:
    staff:
      issuer: https://login.test
      algorithms: [HS256]
      secret: {{ value: "{HS_SECRET}" }}
routes:
  - name: keys
    path: /keys/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ api_keys: partners }}
  - name: scoped
    path: /scoped/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ api_keys: partners, scopes: [orders:read] }}
  - name: staff
    path: /staff/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    auth: {{ jwt: staff }}
"#,
        acme = hash("acme-key"),
        globex = hash("globex-key"),
        initech = hash("initech-key"),
    )
}

async fn call(gw: &TestGateway, path: &str, header: (&str, &str)) -> u16 {
    let response = gw
        .client
        .get(gw.url(path))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    response.bytes().await.unwrap();
    status
}

#[tokio::test]
async fn requests_are_counted_per_consumer_up_to_the_cap_then_as_other() {
    let gw = TestGateway::start(&routes()).await;
    let key = |k| ("x-api-key", k);
    // The first two consumers seen keep their names.
    assert_eq!(call(&gw, "/keys/a", key("acme-key")).await, 200);
    assert_eq!(call(&gw, "/keys/a", key("acme-key")).await, 200);
    assert_eq!(call(&gw, "/scoped/a", key("acme-key")).await, 200);
    assert_eq!(call(&gw, "/scoped/a", key("globex-key")).await, 403);
    // Past the cap: a third key and a JWT subject are `_other`.
    assert_eq!(call(&gw, "/keys/a", key("initech-key")).await, 200);
    let token = SigningKey::hmac(HS_SECRET.as_bytes()).sign(&json!({
        "iss": "https://login.test", "sub": "user-9", "exp": now() + 600,
    }));
    let bearer = format!("Bearer {token}");
    assert_eq!(
        call(&gw, "/staff/a", ("authorization", bearer.as_str())).await,
        200
    );
    // No verified consumer: not counted.
    assert_eq!(call(&gw, "/keys/a", key("wrong-key")).await, 401);
    assert_eq!(call(&gw, "/keys/a", ("x-other", "1")).await, 401);

    // Counted when each response body ends: await the sixth.
    eventually("six consumer requests counted", || async {
        scrape(&gw).await.value(METRIC, &[]) == 6.0
    })
    .await;
    let metrics = scrape(&gw).await;
    let count = |consumer, route, class| {
        metrics.value(
            METRIC,
            &[
                ("consumer", consumer),
                ("route", route),
                ("status_class", class),
            ],
        )
    };
    assert_eq!(count("acme", "keys", "2xx"), 2.0);
    assert_eq!(count("acme", "scoped", "2xx"), 1.0);
    assert_eq!(count("globex", "scoped", "4xx"), 1.0, "refused by scope");
    assert_eq!(count("_other", "keys", "2xx"), 1.0, "initech, past the cap");
    assert_eq!(count("_other", "staff", "2xx"), 1.0, "the JWT's subject");
    assert_eq!(metrics.samples(METRIC, &[]).count(), 5, "{}", metrics.text);
    assert!(!metrics.text.contains("initech"));
    assert!(!metrics.text.contains("user-9"));
    // Once seen, a consumer keeps its name.
    assert_eq!(call(&gw, "/keys/b", key("globex-key")).await, 200);
    eventually("globex counted", || async {
        scrape(&gw)
            .await
            .value(METRIC, &[("consumer", "globex"), ("route", "keys")])
            == 1.0
    })
    .await;
}
