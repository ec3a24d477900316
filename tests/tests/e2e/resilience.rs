//! Retries, the retry budget and the circuit breaker, through real sockets
//! against mocks with injected faults: counts come from the mocks'
//! request logs, never from the gateway's own word.

use std::sync::Arc;

use http::StatusCode;
use mock_backends::{FaultKind, Faults, ServiceHandle, ServiceKind, Store};
use serde_json::Value;
use tests::gateway::{TestGateway, eventually};

async fn users_instance(store: &Arc<Store>) -> ServiceHandle {
    mock_backends::start_service(
        ServiceKind::Users,
        "127.0.0.1:0".parse().unwrap(),
        Arc::clone(store),
        Faults::none_for(ServiceKind::Users),
    )
    .await
    .unwrap()
}

/// Two users instances behind one `users` backend with `settings` (YAML
/// lines at the backend's indentation), and `routes`.
async fn two_endpoints(settings: &str, routes: &str) -> (TestGateway, [ServiceHandle; 2]) {
    two_endpoints_after("", settings, routes).await
}

/// [`two_endpoints`] with `top` (top-level sections) first.
async fn two_endpoints_after(
    top: &str,
    settings: &str,
    routes: &str,
) -> (TestGateway, [ServiceHandle; 2]) {
    let mocks = mock_backends::start_all(mock_backends::MockOptions::ephemeral())
        .await
        .unwrap();
    let a = users_instance(&mocks.store).await;
    let b = users_instance(&mocks.store).await;
    let yaml = format!(
        "{top}backends:\n  users:\n    urls: [{}, {}]\n    load_balancing: round_robin\n{settings}routes:\n{routes}",
        a.url(),
        b.url()
    );
    let gateway = TestGateway::start_with(mocks, &yaml).await;
    (gateway, [a, b])
}

const ECHO_ROUTE: &str = "  - path: /debug/echo\n    backend: users\n";

fn attempts_of(response: &reqwest::Response) -> Option<u32> {
    response
        .headers()
        .get("x-gateway-attempts")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}

fn fail_always(instance: &ServiceHandle) {
    let kind = FaultKind::Http(StatusCode::SERVICE_UNAVAILABLE);
    instance.control.set_error_rate(1.0, kind);
}

#[tokio::test]
async fn retries_hide_a_flaky_endpoint_within_the_retry_budget() {
    let settings = "    retry: { max_attempts: 3, retry_on: [connect_failure, gateway_error], backoff: { base: 1ms, max: 4ms } }\n    retry_budget: { ratio: 0.2, min_per_second: 1 }\n";
    let (gw, [flaky, healthy]) = two_endpoints(settings, ECHO_ROUTE).await;
    flaky
        .control
        .set_error_rate(0.3, FaultKind::Http(StatusCode::SERVICE_UNAVAILABLE));
    const REQUESTS: usize = 600;
    let mut ok = 0;
    let mut reported_attempts = 0;
    for _ in 0..REQUESTS / 10 {
        let batch = (0..10).map(|_| gw.client.get(gw.url("/debug/echo")).send());
        for response in futures::future::join_all(batch).await {
            let response = response.unwrap();
            reported_attempts += attempts_of(&response).expect("x-gateway-attempts") as usize;
            ok += usize::from(response.status() == StatusCode::OK);
        }
    }
    let upstream = flaky.control.request_count() + healthy.control.request_count();
    assert!(
        ok * 1000 >= REQUESTS * 995,
        "{ok} of {REQUESTS} succeeded ({upstream} upstream attempts)"
    );
    // 20% of the requests, plus 1 retry/s over the 10 s window.
    let bound = REQUESTS + REQUESTS / 5 + 10;
    assert!(upstream <= bound, "{upstream} attempts > {bound}");
    assert!(upstream > REQUESTS, "some requests were retried");
    assert_eq!(
        reported_attempts, upstream,
        "the header counts every attempt"
    );
}

#[tokio::test]
async fn a_get_is_retried_on_the_other_endpoint_but_a_post_is_not_retried_once_sent() {
    let settings = "    retry: { max_attempts: 2, retry_on: [gateway_error], backoff: { base: 1ms, max: 1ms } }\n    ejection: { consecutive_failures: 1000 }\n";
    let (gw, [broken, healthy]) = two_endpoints(settings, ECHO_ROUTE).await;
    fail_always(&broken);
    for _ in 0..4 {
        let response = gw.client.get(gw.url("/debug/echo")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(matches!(attempts_of(&response), Some(1 | 2)));
    }
    let broken_gets = broken.control.request_count();
    assert!(broken_gets >= 1, "round robin reached the broken endpoint");
    assert_eq!(healthy.control.request_count(), 4, "each GET ended there");

    let mut refused = 0;
    for _ in 0..4 {
        let response = gw
            .client
            .post(gw.url("/debug/echo"))
            .body("{\"n\":1}")
            .send()
            .await
            .unwrap();
        assert_eq!(attempts_of(&response), Some(1), "never retried");
        refused += usize::from(response.status() == StatusCode::SERVICE_UNAVAILABLE);
    }
    let posts = |instance: &ServiceHandle| {
        instance
            .control
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count()
    };
    assert_eq!(
        posts(&broken),
        refused,
        "the broken endpoint got each failed POST once"
    );
    assert!(
        refused >= 1,
        "round robin sent a POST to the broken endpoint"
    );
    assert_eq!(posts(&broken) + posts(&healthy), 4, "one attempt per POST");
}

async fn upstreams(gw: &TestGateway) -> Value {
    gw.client
        .get(gw.admin_url("/upstreams"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_total_outage_opens_the_breaker_and_a_probe_closes_it() {
    let settings = "    retry: { max_attempts: 2, retry_on: [gateway_error], backoff: { base: 1ms, max: 1ms } }\n    ejection: { consecutive_failures: 2, cooldown: 50ms }\n    circuit_breaker: { consecutive_failures: 2, open_for: 2s, half_open_probes: 1 }\n";
    let (gw, instances) = two_endpoints(settings, ECHO_ROUTE).await;
    instances.iter().for_each(fail_always);
    let mut opened = None;
    for _ in 0..20 {
        let response = gw.client.get(gw.url("/debug/echo")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let retry_after = response.headers().get("retry-after").cloned();
        let body: Value = response.json().await.unwrap();
        if body["error"]["code"] == "CIRCUIT_OPEN" {
            opened = retry_after;
            break;
        }
    }
    let retry_after = opened.expect("the breaker opened, with Retry-After");
    assert!(
        matches!(retry_after.to_str(), Ok("1" | "2")),
        "{retry_after:?}"
    );
    let state = upstreams(&gw).await;
    assert_eq!(
        state["users"]["resilience"]["circuit_breaker"]["state"], "open",
        "{state}"
    );

    // Open: requests fail fast and no attempt reaches the backend.
    let count = |instances: &[ServiceHandle; 2]| {
        instances[0].control.request_count() + instances[1].control.request_count()
    };
    let before = count(&instances);
    for _ in 0..10 {
        let response = gw.client.get(gw.url("/debug/echo")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(attempts_of(&response).is_none(), "nothing was sent");
    }
    assert_eq!(
        count(&instances),
        before,
        "upstream attempts stopped growing"
    );

    // The fault goes away; after open_for a probe goes through and closes it.
    for instance in &instances {
        instance
            .control
            .set_error_rate(0.0, FaultKind::Http(StatusCode::SERVICE_UNAVAILABLE));
    }
    eventually("the half-open probe to close the breaker", || async {
        let response = gw.client.get(gw.url("/debug/echo")).send().await.unwrap();
        response.status() == StatusCode::OK
    })
    .await;
    let state = upstreams(&gw).await;
    let breaker = &state["users"]["resilience"]["circuit_breaker"];
    assert_eq!(breaker["state"], "closed", "{state}");
    assert_eq!(breaker["times_opened"], 1, "{state}");
}

#[tokio::test]
async fn a_compose_call_overrides_the_backend_policy() {
    let routes = "  - path: /composed\n    compose:\n      calls:\n        echo: { backend: users, path: /debug/echo, retry: { max_attempts: 3, retry_on: [gateway_error], backoff: { base: 1ms, max: 1ms } } }\n  - path: /debug/echo\n    backend: users\n";
    let settings = "    retry: { max_attempts: 1 }\n    ejection: { consecutive_failures: 1000 }\n";
    let (gw, instances) = two_endpoints(settings, routes).await;
    instances.iter().for_each(fail_always);
    let response = gw.client.get(gw.url("/composed")).send().await.unwrap();
    assert_eq!(attempts_of(&response), Some(3));
    let total: usize = instances.iter().map(|i| i.control.request_count()).sum();
    assert_eq!(total, 3, "the call's policy: three attempts");
    // The proxied route keeps the backend's policy: one attempt.
    let response = gw.client.get(gw.url("/debug/echo")).send().await.unwrap();
    assert_eq!(attempts_of(&response), Some(1));
    let total: usize = instances.iter().map(|i| i.control.request_count()).sum();
    assert_eq!(total, 4);
}

#[tokio::test]
async fn the_grpc_bridge_retries_unavailable() {
    let gw = TestGateway::with_default_routes_edited(|yaml| {
        yaml.replacen(
            "    protocol: h2c\n",
            "    protocol: h2c\n    retry: { max_attempts: 5, grpc_codes: [UNAVAILABLE], backoff: { base: 1ms, max: 1ms } }\n",
            1,
        )
    })
    .await;
    gw.mocks
        .orders_grpc
        .control
        .set_error_rate(1.0, FaultKind::Grpc(tonic::Code::Unavailable));
    let url = gw.url(&format!(
        "/grpc/v1/orders/{}",
        mock_backends::seed::FIRST_ORDER_ID
    ));
    let response = gw.client.get(&url).send().await.unwrap();
    assert_eq!(attempts_of(&response), Some(5));
    assert_eq!(tests::grpc::grpc_calls(&gw, "GetOrder").len(), 5);
    // Half the calls fail: with five attempts, the client hardly notices.
    gw.mocks
        .orders_grpc
        .control
        .set_error_rate(0.5, FaultKind::Grpc(tonic::Code::Unavailable));
    let mut ok = 0;
    for _ in 0..20 {
        let response = gw.client.get(&url).send().await.unwrap();
        ok += usize::from(response.status() == StatusCode::OK);
    }
    assert!(ok >= 16, "{ok} of 20");
}

#[tokio::test]
async fn the_access_log_counts_every_attempt() {
    let top = "log:\n  access_log: { enabled: true, format: json, path: access.log }\n";
    let settings = "    retry: { max_attempts: 2, retry_on: [gateway_error], backoff: { base: 1ms, max: 1ms } }\n    ejection: { consecutive_failures: 1000 }\n";
    let (gw, [broken, _healthy]) = two_endpoints_after(top, settings, ECHO_ROUTE).await;
    fail_always(&broken);
    // Round robin starts with the broken endpoint: the first GET is retried.
    let response = gw
        .client
        .get(gw.url("/debug/echo"))
        .header("x-request-id", "retried-once")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(attempts_of(&response), Some(2));
    drop(response.bytes().await);
    let log = gw.config_path().with_file_name("access.log");
    eventually("the request's access-log record", || async {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .any(|record| {
                record["request_id"] == "retried-once"
                    && record["upstream_attempts"] == 2
                    && record["status"] == 200
            })
    })
    .await;
}
