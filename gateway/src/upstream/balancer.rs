//! Endpoint choice: round-robin, or power of two choices on fewest
//! in-flight requests. Ejected endpoints, and those active health checks
//! hold out, are skipped unless every endpoint is, in which case all are
//! candidates again (a guess beats a certain failure).

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use smallvec::SmallVec;

use super::endpoint::Endpoint;
use crate::config::model::LoadBalancing;

#[derive(Debug)]
pub struct Balancer {
    policy: LoadBalancing,
    next: AtomicUsize,
}

impl Balancer {
    pub fn new(policy: LoadBalancing) -> Self {
        Self {
            policy,
            next: AtomicUsize::new(0),
        }
    }

    /// Picks an endpoint, never one in `exclude` if another is available.
    pub fn pick<'a>(
        &self,
        endpoints: &'a [Arc<Endpoint>],
        exclude: &[usize],
        now: Instant,
    ) -> Option<(usize, &'a Arc<Endpoint>)> {
        // Inline up to eight: a backend's endpoints are usually few, and
        // this runs on every upstream request (a `Vec` was an allocation
        // each time, callgrind).
        let mut candidates: Candidates = (0..endpoints.len())
            .filter(|i| {
                let endpoint = &endpoints[*i];
                !exclude.contains(i) && endpoint.is_available(now) && endpoint.health().admits()
            })
            .collect();
        if candidates.is_empty() {
            candidates = (0..endpoints.len())
                .filter(|i| !exclude.contains(i))
                .collect();
        }
        let chosen = match candidates.len() {
            0 => return None,
            1 => candidates[0],
            n => match self.policy {
                LoadBalancing::RoundRobin => {
                    candidates[self.next.fetch_add(1, Ordering::Relaxed) % n]
                }
                LoadBalancing::LeastRequest => least_of_two(endpoints, &candidates),
            },
        };
        Some((chosen, &endpoints[chosen]))
    }
}

/// The endpoints a pick chooses among.
type Candidates = SmallVec<[usize; 8]>;

thread_local! {
    /// The two choices' draws: a fast generator per thread (a choice
    /// between endpoints needs no cryptographic randomness, which
    /// `rand::rng()` pays for on every request).
    static DRAWS: RefCell<SmallRng> = RefCell::new(SmallRng::from_os_rng());
}

fn least_of_two(endpoints: &[Arc<Endpoint>], candidates: &[usize]) -> usize {
    let (first, mut second) = DRAWS.with_borrow_mut(|rng| {
        (
            rng.random_range(0..candidates.len()),
            rng.random_range(0..candidates.len() - 1),
        )
    });
    if second >= first {
        second += 1;
    }
    let (a, b) = (candidates[first], candidates[second]);
    if endpoints[b].in_flight() < endpoints[a].in_flight() {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::EjectionPolicy;
    use std::time::Duration;

    fn endpoints(n: usize) -> Vec<Arc<Endpoint>> {
        let epoch = Instant::now();
        (0..n)
            .map(|i| {
                Arc::new(Endpoint::new(
                    format!("http://127.0.0.1:{}", 1000 + i).parse().unwrap(),
                    epoch,
                ))
            })
            .collect()
    }

    #[test]
    fn round_robin_cycles() {
        let eps = endpoints(3);
        let balancer = Balancer::new(LoadBalancing::RoundRobin);
        let picks: Vec<usize> = (0..6)
            .map(|_| balancer.pick(&eps, &[], Instant::now()).unwrap().0)
            .collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn least_request_avoids_the_busy_endpoint() {
        let eps = endpoints(2);
        let _busy: Vec<_> = (0..5).map(|_| eps[0].start_request()).collect();
        let balancer = Balancer::new(LoadBalancing::LeastRequest);
        for _ in 0..20 {
            assert_eq!(balancer.pick(&eps, &[], Instant::now()).unwrap().0, 1);
        }
    }

    #[test]
    fn ejected_endpoints_are_skipped_until_cooldown_ends() {
        let eps = endpoints(2);
        let policy = EjectionPolicy {
            consecutive_failures: 2,
            cooldown: Duration::from_secs(10),
        };
        let now = Instant::now();
        assert!(!eps[0].record_connect_failure(&policy, now));
        assert!(eps[0].record_connect_failure(&policy, now));
        let balancer = Balancer::new(LoadBalancing::RoundRobin);
        for _ in 0..4 {
            assert_eq!(balancer.pick(&eps, &[], now).unwrap().0, 1);
        }
        let later = now + Duration::from_secs(11);
        let picks: Vec<usize> = (0..4)
            .map(|_| balancer.pick(&eps, &[], later).unwrap().0)
            .collect();
        assert!(picks.contains(&0), "{picks:?}");
    }

    #[test]
    fn all_ejected_means_all_are_candidates_and_exclusions_hold() {
        let eps = endpoints(2);
        let policy = EjectionPolicy {
            consecutive_failures: 1,
            cooldown: Duration::from_secs(10),
        };
        let now = Instant::now();
        eps[0].record_connect_failure(&policy, now);
        eps[1].record_connect_failure(&policy, now);
        let balancer = Balancer::new(LoadBalancing::LeastRequest);
        assert_eq!(balancer.pick(&eps, &[1], now).unwrap().0, 0);
        assert!(balancer.pick(&eps, &[0, 1], now).is_none());
    }
}
