//! A route's `load_shedding` through real sockets: with the limit taken
//! by requests the backend holds (latency injection) and the queue full,
//! the next request is refused at once with 503 `OVERLOADED` and
//! `Retry-After`; a queued request that waits past the queue timeout is
//! refused the same way; the backend never serves more than the limit.

use std::time::Duration;

use mock_backends::Outcome;
use tests::gateway::TestGateway;
use tests::mocks::within;

const ROUTES: &str = r#"
backends:
  users: { url: $USERS }
routes:
  - path: /held/{*rest}
    backend: users
    rewrite: { template: "/debug/echo/{rest}" }
    load_shedding: { max_concurrent_requests: 2, queue: 1, queue_timeout: 30s, retry_after: 3s }
  - path: /brief/{*rest}
    backend: users
    rewrite: { template: "/debug/echo/{rest}" }
    load_shedding: { max_concurrent_requests: 1, queue: 4, queue_timeout: 100ms }
"#;

const HOLD: Duration = Duration::from_millis(1500);

async fn send(gw: &TestGateway, path: &str) -> reqwest::Response {
    gw.client.get(gw.url(path)).send().await.unwrap()
}

/// Waits until the users mock serves exactly `count` requests at once.
async fn backend_holds(gw: &TestGateway, count: usize) {
    let control = &gw.mocks.users.control;
    within(
        &format!("{count} requests held by the backend"),
        control.wait_for_requests(|requests| {
            requests.len() == count && requests.iter().all(|r| r.outcome == Outcome::InFlight)
        }),
    )
    .await;
}

async fn assert_overloaded(response: reqwest::Response, retry_after: &str) -> String {
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], retry_after);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "OVERLOADED", "{body}");
    assert_eq!(body["error"]["request_id"], request_id.as_str());
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn with_the_limit_held_and_the_queue_full_the_next_request_is_refused() {
    let gw = TestGateway::start(ROUTES).await;
    gw.mocks.users.control.set_latency(HOLD, Duration::ZERO);
    let held = [
        tokio::spawn(gw.client.get(gw.url("/held/a")).send()),
        tokio::spawn(gw.client.get(gw.url("/held/b")).send()),
    ];
    backend_holds(&gw, 2).await;

    // Two more: one takes the queue's only seat, the other is refused at
    // once (which one is a race; exactly one of each is not).
    let mut third = Box::pin(send(&gw, "/held/c"));
    let mut fourth = Box::pin(send(&gw, "/held/d"));
    let (refused, queued) = match futures::future::select(&mut third, &mut fourth).await {
        futures::future::Either::Left((first, _)) => (first, fourth),
        futures::future::Either::Right((first, _)) => (first, third),
    };
    // Refused while the backend still holds the limit, and no more.
    let requests = gw.mocks.users.control.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.outcome == Outcome::InFlight));
    let message = assert_overloaded(refused, "3").await;
    assert!(message.contains("concurrency limit"), "{message}");

    for response in held {
        assert_eq!(response.await.unwrap().unwrap().status(), 200);
    }
    assert_eq!(within("the queued request", queued).await.status(), 200);
    let served = gw.mocks.users.control.requests();
    assert_eq!(
        served.len(),
        3,
        "the refused request never reached the backend"
    );
}

#[tokio::test]
async fn a_queued_request_is_refused_when_the_queue_timeout_passes() {
    let gw = TestGateway::start(ROUTES).await;
    gw.mocks.users.control.set_latency(HOLD, Duration::ZERO);
    let held = tokio::spawn(gw.client.get(gw.url("/brief/a")).send());
    backend_holds(&gw, 1).await;

    let message = assert_overloaded(send(&gw, "/brief/b").await, "1").await;
    assert!(message.contains("in time"), "{message}");
    backend_holds(&gw, 1).await;
    assert_eq!(held.await.unwrap().unwrap().status(), 200);
    assert_eq!(gw.mocks.users.control.request_count(), 1);
    // The slot is free again.
    gw.mocks
        .users
        .control
        .set_latency(Duration::ZERO, Duration::ZERO);
    assert_eq!(send(&gw, "/brief/c").await.status(), 200);
}
