//! `rate_limits:` and a route's `rate_limits:`: what they compile to, and
//! their mistakes reported at once with their positions.

use std::time::Duration;

use super::model::rate_limit::{FailureMode, KeySource, LimitStore, MissingKey, Quota};
use super::*;

fn errors_of(source: &str) -> String {
    match load_str(source, "routes.yaml") {
        Ok(_) => panic!("config accepted"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn every_key_compiles() {
    let config = load_str(
        r#"
backends:
  b: { url: http://127.0.0.1:1 }
rate_limits:
  max_keys: 500
  redis:
    url: redis://127.0.0.1:6379/2
    timeout: 5ms
    connect_timeout: 200ms
    key_prefix: "edge:"
    failure_mode: closed
  global:
    - name: per-ip
      key: client_ip
      rate: 6000/min
      burst: 50
routes:
  - name: orders
    path: /orders
    backend: b
    rate_limits:
      - name: tenant
        key: [client_ip, { header: X-Tenant }, { claim: sub }, consumer]
        rate: 10/1m30s
        store: redis
        fallback: { rate: 2/s, burst: 4 }
        missing_key: shared
"#,
        "routes.yaml",
    )
    .unwrap_or_else(|errors| panic!("config rejected:\n{errors}"));
    let limits = &config.rate_limits;
    assert_eq!(limits.max_keys, 500);
    let redis = limits.redis.as_ref().unwrap();
    assert_eq!(redis.url, "redis://127.0.0.1:6379/2");
    assert_eq!(redis.timeout, Duration::from_millis(5));
    assert_eq!(redis.connect_timeout, Duration::from_millis(200));
    assert_eq!(redis.key_prefix, "edge:");
    assert_eq!(redis.failure_mode, FailureMode::Closed);
    let global = &limits.global[0];
    assert_eq!(global.name, "per-ip");
    assert_eq!(global.key, [KeySource::ClientIp]);
    assert_eq!(
        global.quota,
        Quota {
            count: 6000,
            period: Duration::from_secs(60),
            burst: 50
        }
    );
    assert_eq!(global.store, LimitStore::Local);
    assert_eq!(global.missing_key, MissingKey::Skip);
    let route = &config.routes[0].rate_limits[0];
    assert_eq!(
        route.key,
        [
            KeySource::ClientIp,
            KeySource::Header(http::HeaderName::from_static("x-tenant")),
            KeySource::Claim("sub".to_owned()),
            KeySource::Consumer,
        ]
    );
    // The burst defaults to the rate's count.
    assert_eq!(route.quota.burst, 10);
    assert_eq!(route.quota.period, Duration::from_secs(90));
    assert_eq!(route.store, LimitStore::Redis);
    assert_eq!(route.fallback.count, 2);
    assert_eq!(route.fallback.burst, 4);
    assert_eq!(route.missing_key, MissingKey::Shared);
}

#[test]
fn without_the_section_nothing_is_limited() {
    let config = load_str("routes: []\n", "routes.yaml").unwrap();
    assert!(config.rate_limits.global.is_empty());
    assert!(config.rate_limits.redis.is_none());
    assert_eq!(config.rate_limits.max_keys, 100_000);
}

#[test]
fn rate_limit_mistakes_are_all_reported_with_their_positions() {
    insta::assert_snapshot!(errors_of(
        r#"
backends:
  b: { url: http://127.0.0.1:1 }
rate_limits:
  max_keys: 0
  global:
    - { name: per-ip, key: client_ip, rate: 100 }
    - { name: per-ip, key: cookie, rate: 0/s }
    - { name: "bad name", key: { cookie: session }, rate: 5/fortnight, burst: 0 }
    - { name: h, key: { header: "bad header" }, rate: 1/25h }
    - { name: both, key: [client_ip, client_ip], rate: 5/s }
routes:
  - path: /x
    backend: b
    rate_limits:
      - { name: per-ip, key: consumer, rate: 5/s }
      - { name: shared, key: consumer, rate: 5/s, store: redis }
      - { name: local, key: consumer, rate: 5/s, fallback: { rate: 1/s } }
      - { name: kinds, key: [], rate: ten/s }
  - path: /y
    backend: b
    rate_limits:
      - { name: nope, key: { claim: sub }, rate: 5/s, store: memcached }
"#
    ));
}

#[test]
fn a_bad_redis_url_is_refused() {
    insta::assert_snapshot!(errors_of(
        "rate_limits:\n  redis: { url: \"http://cache:6379\", timeout: 0s }\n"
    ));
}
