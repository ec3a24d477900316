//! `backends.<name>.health_check` and a route's `load_shedding`: what they
//! compile to, their defaults, and their mistakes reported with their
//! line and column, all at once.

use std::time::Duration;

use super::model::{HealthProbe, LoadSheddingSpec};
use super::*;

fn errors_of(source: &str) -> String {
    match load_str(source, "routes.yaml") {
        Ok(_) => panic!("expected errors, but the config compiled"),
        Err(errors) => errors.to_string(),
    }
}

fn compiled(source: &str) -> GatewayConfig {
    load_str(source, "routes.yaml").unwrap_or_else(|errors| panic!("config rejected:\n{errors}"))
}

#[test]
fn health_checks_compile_with_their_defaults() {
    let config = compiled(
        "
backends:
  users:
    url: http://127.0.0.1:1
    health_check: { http: {} }
  orders-grpc:
    url: http://127.0.0.1:2
    protocol: h2c
    health_check:
      grpc: { service: orders.OrderService }
      interval: 1s
      jitter: 0s
      timeout: 250ms
      healthy_threshold: 1
      unhealthy_threshold: 4
  cache:
    url: http://127.0.0.1:3
    health_check: { tcp: {} }
routes: []
",
    );
    let users = config.backends["users"].health_check.clone().unwrap();
    assert_eq!(
        users.probe,
        HealthProbe::Http {
            path: "/healthz".into(),
            expected_statuses: vec![200..=299]
        }
    );
    assert_eq!(
        (users.interval, users.jitter, users.timeout),
        (
            Duration::from_secs(5),
            Duration::from_millis(500),
            Duration::from_secs(2)
        )
    );
    assert_eq!((users.healthy_threshold, users.unhealthy_threshold), (2, 3));
    let grpc = config.backends["orders-grpc"].health_check.clone().unwrap();
    assert_eq!(
        grpc.probe,
        HealthProbe::Grpc {
            service: "orders.OrderService".into()
        }
    );
    assert_eq!(
        (grpc.interval, grpc.jitter),
        (Duration::from_secs(1), Duration::ZERO)
    );
    assert_eq!((grpc.healthy_threshold, grpc.unhealthy_threshold), (1, 4));
    let cache = config.backends["cache"].health_check.clone().unwrap();
    assert_eq!(cache.probe, HealthProbe::Tcp);
}

#[test]
fn health_check_mistakes_are_all_reported_at_their_positions() {
    let errors = errors_of(
        r#"
backends:
  users:
    url: http://127.0.0.1:1
    health_check:
      http: { path: healthz, expected_statuses: [200, "299-200", 700, "2xx"] }
      interval: 0s
      healthy_threshold: 0
  orders:
    url: http://127.0.0.1:2
    health_check: { grpc: {}, tcp: {} }
  payments:
    url: http://127.0.0.1:3
    health_check: { grpc: { service: x }, timeot: 1s }
routes: []
"#,
    );
    insta::assert_snapshot!(errors, @r#"
    routes.yaml:6:21: backend "users": health_check.http.path: "healthz" must start with '/' and be a valid path (query allowed)
    routes.yaml:6:55: backend "users": health_check.http.expected_statuses: "299-200" is a range whose start is after its end
    routes.yaml:6:66: backend "users": health_check.http.expected_statuses: "700" is not a status (100-599) or a range of them, e.g. 200 or "200-399"
    routes.yaml:6:71: backend "users": health_check.http.expected_statuses: "2xx" is not a status (100-599) or a range of them, e.g. 200 or "200-399"
    routes.yaml:7:17: backend "users": health_check.interval: must be greater than zero
    routes.yaml:8:26: backend "users": health_check.healthy_threshold: must be at least 1
    routes.yaml:9:3: backend "orders": health_check: set exactly one of `http`, `grpc` or `tcp`
    routes.yaml:14:43: backend "payments": health_check: unknown key "timeot" (did you mean "timeout"?)
    "#);
}

#[test]
fn a_grpc_health_check_needs_h2c() {
    let errors = errors_of(
        "
backends:
  orders:
    url: http://127.0.0.1:2
    health_check: { grpc: { service: orders.OrderService } }
routes: []
",
    );
    assert!(
        errors.starts_with("routes.yaml:5:38: backend \"orders\": health_check.grpc: gRPC health checks need the backend's `protocol: h2c`"),
        "{errors}"
    );
}

const SHEDDING_ROUTE: &str = "
backends:
  users: { url: http://127.0.0.1:1 }
routes:
  - path: /v1/users/{id}
    backend: users
    load_shedding: SHEDDING
";

fn shedding_of(value: &str) -> LoadSheddingSpec {
    compiled(&SHEDDING_ROUTE.replace("SHEDDING", value)).routes[0]
        .load_shedding
        .clone()
        .unwrap()
}

#[test]
fn load_shedding_compiles_with_its_defaults() {
    let plain = shedding_of("{ max_concurrent_requests: 8 }");
    assert_eq!(plain.queue, 8);
    assert_eq!(plain.queue_timeout, Duration::from_millis(100));
    assert_eq!(plain.retry_after_secs, 1);
    assert_eq!(plain.adaptive, None);
    let tuned = shedding_of(
        "{ max_concurrent_requests: 64, queue: 0, queue_timeout: 20ms, retry_after: 1500ms, adaptive: { latency_threshold: 250ms } }",
    );
    assert_eq!((tuned.queue, tuned.retry_after_secs), (0, 2));
    let adaptive = tuned.adaptive.unwrap();
    assert_eq!(adaptive.min_concurrent_requests, 1);
    assert_eq!(adaptive.latency_threshold, Duration::from_millis(250));
    assert!((adaptive.backoff_ratio - 0.9).abs() < f64::EPSILON);
}

#[test]
fn load_shedding_mistakes_are_all_reported_at_their_positions() {
    let errors = errors_of(
        "
backends:
  users: { url: http://127.0.0.1:1 }
routes:
  - path: /a
    backend: users
    load_shedding: { queue: 4 }
  - path: /b
    backend: users
    load_shedding: { max_concurrent_requests: 0, queue_timeout: 0s }
  - path: /c
    backend: users
    load_shedding:
      max_concurrent_requests: 4
      adaptive: { latency_threshold: 1s, min_concurrent_requests: 5, backoff_ratio: 1.5 }
  - path: /d
    backend: users
    load_shedding: { max_concurrent_requests: 4, adaptive: { backoff_ratio: 0.5 }, queue_size: 1 }
",
    );
    insta::assert_snapshot!(errors, @r#"
    routes.yaml:5:11: route "/a": load_shedding: needs max_concurrent_requests (the route's concurrency limit)
    routes.yaml:10:47: route "/b": load_shedding.max_concurrent_requests: must be between 1 and 1048576, got 0
    routes.yaml:10:65: route "/b": load_shedding.queue_timeout: must be greater than zero
    routes.yaml:15:67: route "/c": load_shedding.adaptive.min_concurrent_requests: 5 is above max_concurrent_requests (4)
    routes.yaml:15:85: route "/c": load_shedding.adaptive.backoff_ratio: must be between 0 and 1 (exclusive), got 1.5
    routes.yaml:18:84: route "/d": load_shedding: unknown key "queue_size"; expected one of: max_concurrent_requests, queue, queue_timeout, retry_after, adaptive
    "#);
}
