//! Outlier detection across a backend's endpoints: each attempt's outcome
//! is recorded on its endpoint; consecutive failures or a failure ratio
//! over the window eject it, unless that would leave too few endpoints
//! (`max_ejection_percent`, and never the last one in rotation).

use std::sync::Arc;
use std::time::Instant;

use super::endpoint::Endpoint;
use crate::config::model::BackendSpec;

/// Records one attempt on `endpoints[index]`; ejects it when the policy
/// says so and the others allow it.
pub fn record_attempt(
    endpoints: &[Arc<Endpoint>],
    index: usize,
    failed: bool,
    spec: &BackendSpec,
    now: Instant,
) {
    let endpoint = &endpoints[index];
    if !failed {
        endpoint.record_attempt_success(now);
        return;
    }
    let outlier = &spec.resilience.outlier;
    let consecutive = endpoint.record_attempt_failure(now);
    let reason = if consecutive >= spec.ejection.consecutive_failures {
        "consecutive failures"
    } else if endpoint.failure_ratio_exceeded(outlier, now) {
        "failure ratio"
    } else {
        return;
    };
    if !endpoint.is_available(now) || !may_eject(endpoints, outlier.max_ejection_percent, now) {
        return;
    }
    let cooldown = endpoint.eject(spec.ejection.cooldown, outlier, now);
    tracing::warn!(
        backend = %spec.name,
        endpoint = %endpoint.label,
        reason,
        consecutive_failures = consecutive,
        failure_ratio = endpoint.failure_ratio(now),
        ?cooldown,
        "endpoint ejected"
    );
}

/// Whether one more endpoint may leave the rotation: at least one always
/// stays, and at most `max_percent` of them are out (but one may always
/// be, as in Envoy, unless the percentage is 0).
pub fn may_eject(endpoints: &[Arc<Endpoint>], max_percent: u32, now: Instant) -> bool {
    if max_percent == 0 {
        return false;
    }
    let total = endpoints.len();
    let ejected = endpoints.iter().filter(|e| !e.is_available(now)).count();
    let after = ejected + 1;
    after < total && (ejected == 0 || after * 100 <= max_percent as usize * total)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::model::{
        EjectionPolicy, LoadBalancing, OutlierPolicy, Resilience, UpstreamProtocol,
    };

    fn spec(outlier: OutlierPolicy) -> BackendSpec {
        BackendSpec {
            name: "b".into(),
            urls: vec![],
            protocol: UpstreamProtocol::Http1,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            body_idle_timeout: Duration::from_secs(1),
            max_connections: 1,
            load_balancing: LoadBalancing::RoundRobin,
            ejection: EjectionPolicy {
                consecutive_failures: 3,
                cooldown: Duration::from_secs(10),
            },
            health_check: None,
            tls: Default::default(),
            resilience: Resilience {
                outlier,
                ..Default::default()
            },
        }
    }

    fn endpoints(n: usize, epoch: Instant) -> Vec<Arc<Endpoint>> {
        (0..n)
            .map(|i| {
                Arc::new(Endpoint::new(
                    format!("http://e{i}").parse().unwrap(),
                    epoch,
                ))
            })
            .collect()
    }

    #[test]
    fn consecutive_failures_eject_with_a_growing_cooldown() {
        let t0 = Instant::now();
        let eps = endpoints(2, t0);
        let spec = spec(OutlierPolicy::default());
        for _ in 0..3 {
            record_attempt(&eps, 0, true, &spec, t0);
        }
        assert!(!eps[0].is_available(t0 + Duration::from_secs(9)));
        assert!(eps[0].is_available(t0 + Duration::from_secs(10)));
        // Ejected again soon after: twice the cool-down.
        let t1 = t0 + Duration::from_secs(10);
        record_attempt(&eps, 0, true, &spec, t1);
        assert!(!eps[0].is_available(t1 + Duration::from_secs(19)));
        assert!(eps[0].is_available(t1 + Duration::from_secs(20)));
        assert_eq!(eps[0].ejections(), 2);
    }

    #[test]
    fn the_last_endpoint_in_rotation_is_never_ejected() {
        let t0 = Instant::now();
        let eps = endpoints(2, t0);
        let spec = spec(OutlierPolicy {
            max_ejection_percent: 100,
            ..OutlierPolicy::default()
        });
        for _ in 0..3 {
            record_attempt(&eps, 0, true, &spec, t0);
            record_attempt(&eps, 1, true, &spec, t0);
        }
        assert!(!eps[0].is_available(t0));
        assert!(eps[1].is_available(t0));
        assert_eq!(eps[1].consecutive_failures(), 3);
    }

    #[test]
    fn a_failure_ratio_over_the_minimum_ejects() {
        let t0 = Instant::now();
        let eps = endpoints(3, t0);
        let spec = spec(OutlierPolicy {
            failure_ratio: 0.3,
            min_requests: 10,
            ..OutlierPolicy::default()
        });
        // 4 failures in 10, never 3 in a row.
        for outcome in [true, false, true, false, false, true, false, false, false] {
            record_attempt(&eps, 2, outcome, &spec, t0);
        }
        assert!(eps[2].is_available(t0), "below the minimum count");
        record_attempt(&eps, 2, true, &spec, t0);
        assert!(!eps[2].is_available(t0));
    }

    #[test]
    fn max_ejection_percent_bounds_ejections() {
        let t0 = Instant::now();
        let eps = endpoints(4, t0);
        assert!(may_eject(&eps, 10, t0), "one may always go");
        eps[0].eject(Duration::from_secs(5), &OutlierPolicy::default(), t0);
        assert!(!may_eject(&eps, 25, t0));
        assert!(may_eject(&eps, 50, t0));
        assert!(!may_eject(&eps, 0, t0));
    }
}
