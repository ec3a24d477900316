//! Rate limits shared through a real `redis-server` (started by the test
//! on a free port, no persistence): two gateway instances hold one limit
//! together; when Redis is killed mid-test the configured failure mode
//! applies (the local fallback quota, or 503 `RATE_LIMIT_UNAVAILABLE`) and
//! no request hangs.

use reqwest::StatusCode;
use serde_json::Value;
use tests::gateway::{TestGateway, eventually};
use tests::metrics::scrape;
use tests::mocks::within;
use tests::redis_server::RedisServer;

fn routes(redis: &RedisServer, timeout: &str, failure_mode: &str) -> String {
    format!(
        r#"
backends:
  users: {{ url: $USERS }}
rate_limits:
  redis:
    url: {url}
    timeout: {timeout}
    failure_mode: {failure_mode}
routes:
  - name: echo
    path: /echo/{{*rest}}
    backend: users
    rewrite: {{ template: "/debug/echo/{{rest}}" }}
    rate_limits:
      - name: tenant
        key: {{ header: x-tenant }}
        rate: 1/min
        burst: 5
        store: redis
        fallback: {{ rate: 1/min, burst: 2 }}
"#,
        url = redis.url()
    )
}

async fn get(gw: &TestGateway) -> reqwest::Response {
    gw.client
        .get(gw.url("/echo/x"))
        .header("x-tenant", "acme")
        .send()
        .await
        .unwrap()
}

async fn redis_up(gw: &TestGateway) -> bool {
    scrape(gw).await.value("gateway_rate_limit_redis_up", &[]) == 1.0
}

async fn redis_failures(gw: &TestGateway) -> f64 {
    scrape(gw)
        .await
        .value("gateway_rate_limit_redis_failures_total", &[])
}

async fn wait_until_connected(gw: &TestGateway) {
    eventually("the gateway's Redis connection", || redis_up(gw)).await;
}

#[tokio::test]
async fn two_gateways_share_one_limit_through_redis() {
    let Some(redis) =
        RedisServer::start_or_skip("two_gateways_share_one_limit_through_redis").await
    else {
        return;
    };
    let yaml = routes(&redis, "1s", "open");
    let first = TestGateway::start(&yaml).await;
    let second = TestGateway::start(&yaml).await;
    wait_until_connected(&first).await;
    wait_until_connected(&second).await;
    let mut passed = 0;
    for round in 0..10 {
        let gw = if round % 2 == 0 { &first } else { &second };
        let response = get(gw).await;
        match response.status() {
            StatusCode::OK => passed += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(response.headers().contains_key("retry-after"));
                let state = response.headers()["ratelimit"].to_str().unwrap().to_owned();
                assert!(state.starts_with("\"tenant\";r=0;"), "{state}");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    // Each gateway alone would let its own burst of 5 through (10 in all);
    // together they let the one shared burst through.
    assert_eq!(passed, 5);
    let backend_calls =
        first.mocks.users.control.request_count() + second.mocks.users.control.request_count();
    assert_eq!(backend_calls, 5);
    assert_eq!(
        redis_failures(&first).await + redis_failures(&second).await,
        0.0
    );
}

#[tokio::test]
async fn redis_killed_fails_open_to_the_local_fallback_quota() {
    let Some(mut redis) =
        RedisServer::start_or_skip("redis_killed_fails_open_to_the_local_fallback_quota").await
    else {
        return;
    };
    let gw = TestGateway::start(&routes(&redis, "200ms", "open")).await;
    wait_until_connected(&gw).await;
    assert_eq!(get(&gw).await.status(), 200);
    redis.kill();
    // The fallback (burst 2, per gateway) applies; no request hangs.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            within("a request while Redis is down", get(&gw))
                .await
                .status(),
        );
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(gw.mocks.users.control.request_count(), 3);
    assert!(redis_failures(&gw).await >= 3.0);
    assert!(!redis_up(&gw).await);
}

#[tokio::test]
async fn redis_killed_fails_closed_with_503() {
    let Some(mut redis) = RedisServer::start_or_skip("redis_killed_fails_closed_with_503").await
    else {
        return;
    };
    let gw = TestGateway::start(&routes(&redis, "200ms", "closed")).await;
    wait_until_connected(&gw).await;
    assert_eq!(get(&gw).await.status(), 200);
    redis.kill();
    for _ in 0..2 {
        let response = within("a request while Redis is down", get(&gw)).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "RATE_LIMIT_UNAVAILABLE");
        assert!(!body.to_string().contains("127.0.0.1"), "{body}");
    }
    assert_eq!(gw.mocks.users.control.request_count(), 1);
    assert!(redis_failures(&gw).await >= 2.0);
}
