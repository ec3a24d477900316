//! Unit tests of the limiters (local store) and of their carry-over.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::model::rate_limit::Quota;

fn quota(count: u32, period: Duration, burst: u32) -> Quota {
    Quota {
        count,
        period,
        burst,
    }
}

#[test]
fn exactly_the_burst_passes_then_the_key_is_limited() {
    let limiter = Arc::new(LocalLimiter::new(quota(1, Duration::from_secs(60), 3), 10));
    let outcomes: Vec<Outcome> = (0..4).map(|_| limiter.check(b"a")).collect();
    let remaining: Vec<u32> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Allowed { remaining, .. } => Some(*remaining),
            _ => None,
        })
        .collect();
    assert_eq!(remaining, [2, 1, 0]);
    let Outcome::Limited { retry_after, reset } = outcomes[3] else {
        panic!("the fourth request passed: {outcomes:?}");
    };
    assert!(retry_after > Duration::from_secs(50) && retry_after <= Duration::from_secs(60));
    assert!(reset > Duration::from_secs(170));
    // Another key has its own budget.
    assert!(matches!(
        limiter.check(b"b"),
        Outcome::Allowed { remaining: 2, .. }
    ));
}

#[test]
fn keys_past_the_bound_share_the_overflow_bucket() {
    let limiter = Arc::new(LocalLimiter::new(quota(1, Duration::from_secs(60), 2), 2));
    assert!(matches!(limiter.check(b"a"), Outcome::Allowed { .. }));
    assert!(matches!(limiter.check(b"b"), Outcome::Allowed { .. }));
    assert_eq!(limiter.len(), 2);
    // No key is stale yet: "c" and "d" share one bucket of 2.
    assert!(matches!(limiter.check(b"c"), Outcome::Allowed { .. }));
    assert!(matches!(limiter.check(b"d"), Outcome::Allowed { .. }));
    assert!(matches!(limiter.check(b"e"), Outcome::Limited { .. }));
    assert_eq!(limiter.len(), 2);
    // Known keys keep their own budget.
    assert!(matches!(
        limiter.check(b"a"),
        Outcome::Allowed { remaining: 0, .. }
    ));
}

#[test]
fn the_sweep_evicts_keys_whose_state_is_idle_again() {
    // 1000/s: a key is idle again 1 ms after its request.
    let limiter = Arc::new(LocalLimiter::new(
        quota(1000, Duration::from_secs(1), 1),
        100,
    ));
    for key in 0..50u8 {
        limiter.check(&[key]);
    }
    assert_eq!(limiter.len(), 50);
    std::thread::sleep(Duration::from_millis(5));
    limiter.sweep();
    assert_eq!(limiter.len(), 0);
}

fn config(yaml: &str) -> crate::config::GatewayConfig {
    crate::config::load_str(yaml, "routes.yaml").unwrap()
}

const LIMITED: &str = "
backends:
  b: { url: http://127.0.0.1:1 }
rate_limits:
  global:
    - { name: per-ip, key: client_ip, rate: 1/min, burst: 2 }
routes:
  - name: a
    path: /a
    backend: b
    rate_limits:
      - { name: tenant, key: { header: x-tenant }, rate: 5/s }
  - name: plain
    path: /plain
    backend: b
";

#[test]
fn every_route_gets_the_global_limits_and_its_own() {
    let config = config(LIMITED);
    let limits = RateLimits::build(&config, None);
    let names = |route: usize| {
        limits
            .layer_for(&config.routes[route])
            .map(|layer| layer.name())
    };
    assert_eq!(names(0), Some("rate_limit"));
    assert_eq!(names(1), Some("rate_limit"));
    assert_eq!(limits.global.len(), 1);
    assert_eq!(limits.routes.len(), 1);
}

#[test]
fn a_reload_keeps_the_state_of_unchanged_limits() {
    let first = config(LIMITED);
    let limits = RateLimits::build(&first, None);
    let second = config(&LIMITED.replace("rate: 5/s", "rate: 6/s"));
    let next = RateLimits::build(&second, Some(&limits));
    assert!(Arc::ptr_eq(&limits.global[0], &next.global[0]));
    let old_route = limits.routes.values().next().unwrap();
    let new_route = next.routes.values().next().unwrap();
    assert!(!Arc::ptr_eq(old_route, new_route));
}

#[test]
fn routes_without_limits_get_no_layer() {
    let config = config(
        "backends:\n  b: { url: http://127.0.0.1:1 }\nroutes:\n  - { path: /x, backend: b }\n",
    );
    let limits = RateLimits::build(&config, None);
    assert!(limits.layer_for(&config.routes[0]).is_none());
}

fn redis_config(timeout: &str) -> crate::config::GatewayConfig {
    config(&format!(
        "backends:\n  b: {{ url: http://127.0.0.1:1 }}\nrate_limits:\n  redis: {{ url: \"redis://127.0.0.1:1\", timeout: {timeout} }}\n  global:\n    - {{ name: shared, key: client_ip, rate: 5/s, store: redis }}\nroutes: []\n"
    ))
}

#[tokio::test]
async fn the_redis_client_survives_reloads_that_keep_its_settings() {
    let first = RateLimits::build(&redis_config("20ms"), None);
    let same = RateLimits::build(&redis_config("20ms"), Some(&first));
    let (Some(old), Some(kept)) = (first.redis(), same.redis()) else {
        panic!("no Redis store was built");
    };
    assert!(Arc::ptr_eq(old, kept));
    assert!(Arc::ptr_eq(&first.global[0], &same.global[0]));
    let changed = RateLimits::build(&redis_config("30ms"), Some(&same));
    assert!(!Arc::ptr_eq(kept, changed.redis().unwrap()));
    // Its limiters move to the new store.
    assert!(!Arc::ptr_eq(&same.global[0], &changed.global[0]));
}

#[tokio::test]
async fn an_unreachable_redis_answers_from_the_fallback_within_the_timeout() {
    // Nothing listens on port 1: the check fails fast, and the failure
    // mode (open: the limit's own quota, locally) answers.
    let limits = RateLimits::build(&redis_config("50ms"), None);
    let limiter = &limits.global[0];
    for remaining in [4, 3] {
        assert!(matches!(
            limiter.check(b"k").await,
            Outcome::Allowed { remaining: r, .. } if r == remaining
        ));
    }
    let store = limits.redis().unwrap();
    assert!(!store.is_up());
    assert!(store.fallbacks() >= 2);
}
