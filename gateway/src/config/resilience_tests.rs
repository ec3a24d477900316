//! The resilience keys: compiled values and every error at its line and
//! column.

use std::time::Duration;

use http::StatusCode;

use super::model::RouteAction;
use super::*;

fn errors_of(source: &str) -> String {
    match load_str(source, "routes.yaml") {
        Ok(_) => panic!("expected errors, but the config compiled"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn retry_budget_outlier_and_breaker_keys_compile() {
    let config = load_str(
        "backends:
  users:
    urls: [http://127.0.0.1:1, http://127.0.0.1:2]
    retry:
      max_attempts: 3
      retry_on: [connect_failure, timeout, gateway_error, 429]
      grpc_codes: [UNAVAILABLE, resource_exhausted]
      per_try_timeout: 150ms
      backoff: { base: 10ms, max: 100ms }
      max_buffered_body: 8KiB
    retry_budget: { ratio: 0.5, min_per_second: 2 }
    ejection: { consecutive_failures: 3, cooldown: 1s, max_cooldown: 1m, failure_ratio: 0.4, min_requests: 5, window: 5s, max_ejection_percent: 34 }
    circuit_breaker: { consecutive_failures: 4, open_for: 2s, half_open_probes: 1, max_pending: 7 }
routes:
  - path: /a
    backend: users
    retry: { max_attempts: 1 }
  - path: /b
    compose:
      calls:
        u: { backend: users, path: /x, retry: { max_attempts: 4, non_idempotent: true } }
",
        "routes.yaml",
    )
    .unwrap_or_else(|errors| panic!("{errors}"));
    let users = &config.backends["users"].resilience;
    assert_eq!(users.retry.max_attempts, 3);
    let on = &users.retry.retry_on;
    assert!(on.connect_failure && on.timeout && !on.reset);
    assert!(on.statuses.contains(StatusCode::SERVICE_UNAVAILABLE));
    assert!(on.statuses.contains(StatusCode::TOO_MANY_REQUESTS));
    assert!(!on.statuses.contains(StatusCode::INTERNAL_SERVER_ERROR));
    assert!(on.grpc_codes.contains(14) && on.grpc_codes.contains(8));
    assert_eq!(
        users.retry.per_try_timeout,
        Some(Duration::from_millis(150))
    );
    assert_eq!(users.retry.max_buffered_body, 8 * 1024);
    assert_eq!(users.budget.ratio, 0.5);
    assert_eq!(users.outlier.max_ejection_percent, 34);
    assert_eq!(users.outlier.min_requests, 5);
    let breaker = users.breaker.expect("a breaker");
    assert_eq!((breaker.half_open_probes, breaker.max_pending), (1, 7));
    assert_eq!(
        config.routes[0].retry.as_ref().map(|r| r.max_attempts),
        Some(1)
    );
    let RouteAction::Compose(compose) = &config.routes[1].action else {
        panic!("a compose route");
    };
    let call = compose.calls[0].retry.as_ref().expect("the call's policy");
    assert!(call.non_idempotent);
    assert_eq!(call.max_attempts, 4);
}

#[test]
fn bad_resilience_values_are_reported_at_their_line_and_column() {
    let errors = errors_of(
        "backends:
  users:
    url: http://127.0.0.1:1
    retry:
      max_attempts: 0
      retry_on: [connect_failure, 6xx, 302]
      grpc_codes: [UNAVAILABLE, NOPE]
    retry_budget: { ratio: 1.5 }
    ejection: { failure_ratio: -0.1, max_ejection_percent: 101 }
    circuit_breaker: { half_open_probes: 0 }
routes:
  - path: /a
    backend: users
    retry: { retry_on: [server_error] }
",
    );
    for expected in [
        "routes.yaml:5:21: backend \"users\": retry.max_attempts: must be between 1 and 10",
        "routes.yaml:6:35: backend \"users\": retry.retry_on: unknown condition or status class \"6xx\"",
        "routes.yaml:6:40: backend \"users\": retry.retry_on: unknown condition or status class \"302\"",
        "routes.yaml:7:33: backend \"users\": retry.grpc_codes: \"NOPE\" is not a gRPC error code",
        "routes.yaml:8:28: backend \"users\": retry_budget.ratio: must be between 0 and 1, not 1.5",
        "routes.yaml:9:32: backend \"users\": ejection.failure_ratio: must be between 0 and 1, not -0.1",
        "routes.yaml:9:60: backend \"users\": ejection.max_ejection_percent: must be at most 100",
        "routes.yaml:10:42: backend \"users\": circuit_breaker.half_open_probes: must be at least 1",
        "routes.yaml:14:25: route \"/a\": retry.retry_on: unknown condition or status class \"server_error\"",
    ] {
        assert!(
            errors.contains(expected),
            "missing {expected:?} in:\n{errors}"
        );
    }
}
