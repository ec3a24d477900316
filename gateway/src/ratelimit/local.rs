//! The local store: a keyed GCRA limiter from `governor` over a lock-free
//! map (`papaya`), so a check is a map read plus one compare-and-swap on
//! the key's state (governor's `InMemoryState`, an `AtomicU64`): no lock
//! on the request path, whichever worker serves the request.
//!
//! The number of keys is bounded by `rate_limits.max_keys`. When a new key
//! would pass the bound, stale keys (those whose state is back to that of
//! an idle key: governor's `retain_recent`) are swept, at most once a
//! second, off the serving thread when a runtime is there; until room is
//! made, new keys share one overflow bucket with the same quota, so a
//! flood of new keys limits itself and never evicts a busy client.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::NotUntil;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed, StateStore};

use super::Outcome;
use super::stored_key::StoredKey;
use crate::config::model::rate_limit::Quota;

type Key = StoredKey;
type Reading = <DefaultClock as Clock>::Instant;
type Keyed = governor::RateLimiter<Key, KeyMap, DefaultClock, StateInformationMiddleware>;
type Direct =
    governor::RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// Sweeps at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One limit's local state.
pub struct LocalLimiter {
    keyed: Keyed,
    /// The keyed limiter's map (shared), for the bound check.
    keys: KeyMap,
    /// Shared by new keys while the map is full.
    overflow: Direct,
    max_keys: usize,
    quota: Quota,
    sweep: SweepGate,
}

impl std::fmt::Debug for LocalLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLimiter")
            .field("quota", &self.quota)
            .field("keys", &self.keyed.len())
            .field("max_keys", &self.max_keys)
            .finish()
    }
}

impl LocalLimiter {
    pub fn new(quota: Quota, max_keys: usize) -> Self {
        let governed = governor_quota(&quota);
        let clock = DefaultClock::default();
        let keys = KeyMap::default();
        Self {
            keyed: Keyed::new(governed, keys.clone(), clock.clone()),
            keys,
            overflow: Direct::new(governed, InMemoryState::default(), clock),
            max_keys,
            quota,
            sweep: SweepGate::default(),
        }
    }

    /// Counts one request of `key`.
    pub fn check(self: &Arc<Self>, key: &[u8]) -> Outcome {
        if !self.keyed_has_room(key) {
            self.sweep_soon();
            if !self.keyed_has_room(key) {
                return self.outcome(self.overflow.check());
            }
        }
        // Built on the stack for a short key: no allocation to look it up.
        self.outcome(self.keyed.check_key(&StoredKey::new(key)))
    }

    /// The bound on keys.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Keys tracked now (approximate under concurrency).
    pub fn len(&self) -> usize {
        self.keyed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keyed.is_empty()
    }

    /// Drops the keys whose state is that of an idle key.
    pub fn sweep(&self) {
        self.keyed.retain_recent();
    }

    fn keyed_has_room(&self, key: &[u8]) -> bool {
        self.keyed.len() < self.max_keys || self.keyed_contains(key)
    }

    fn keyed_contains(&self, key: &[u8]) -> bool {
        self.keys.contains(key)
    }

    /// Sweeps on a blocking thread (inline without a runtime), at most
    /// once per [`SWEEP_EVERY`].
    fn sweep_soon(self: &Arc<Self>) {
        if !self.sweep.try_start() {
            return;
        }
        let limiter = Arc::clone(self);
        let run = move || {
            limiter.sweep();
            limiter.sweep.finish();
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(run)),
            Err(_) => run(),
        }
    }

    fn outcome(&self, result: Result<StateSnapshot, NotUntil<Reading>>) -> Outcome {
        let interval = self.quota.emission_interval();
        match result {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let used = self.quota.burst.saturating_sub(remaining);
                Outcome::Allowed {
                    remaining,
                    reset: interval.saturating_mul(used),
                }
            }
            Err(not_until) => {
                let retry_after = not_until.wait_time_from(self.keyed.clock().now());
                let refill = interval.saturating_mul(self.quota.burst.saturating_sub(1));
                Outcome::Limited {
                    retry_after,
                    reset: retry_after.saturating_add(refill),
                }
            }
        }
    }
}

/// governor's quota for ours: one cell per emission interval, `burst` at once.
fn governor_quota(quota: &Quota) -> governor::Quota {
    let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
    governor::Quota::with_period(quota.emission_interval())
        .unwrap_or_else(|| governor::Quota::per_second(burst))
        .allow_burst(burst)
}

/// Lets one sweep run at a time, and at most once per [`SWEEP_EVERY`].
#[derive(Debug)]
struct SweepGate {
    running: AtomicBool,
    /// Milliseconds since `epoch` when the last sweep started.
    last_ms: AtomicU64,
    epoch: Instant,
}

impl Default for SweepGate {
    fn default() -> Self {
        Self {
            running: AtomicBool::new(false),
            last_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl SweepGate {
    fn try_start(&self) -> bool {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < SWEEP_EVERY.as_millis() as u64 {
            return false;
        }
        if self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.last_ms.store(now.max(1), Ordering::Relaxed);
        true
    }

    fn finish(&self) {
        self.running.store(false, Ordering::Release);
    }
}

/// governor's keyed state store over papaya's lock-free map: each key's
/// state is governor's own `InMemoryState` (an `AtomicU64` updated by CAS).
/// Clones share the map: the limiter keeps one to check the bound, as
/// governor's `RateLimiter` exposes no lookup.
#[derive(Default, Clone)]
pub struct KeyMap {
    map: Arc<papaya::HashMap<Key, InMemoryState>>,
}

impl KeyMap {
    fn contains(&self, key: &[u8]) -> bool {
        self.map.pin().contains_key(key)
    }
}

impl StateStore for KeyMap {
    type Key = Key;

    fn measure_and_replace<T, F, E>(&self, key: &Key, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let map = self.map.pin();
        if let Some(state) = map.get(key) {
            return state.measure_and_replace(&NotKeyed::NonKey, f);
        }
        let state = map.get_or_insert_with(key.clone(), InMemoryState::default);
        state.measure_and_replace(&NotKeyed::NonKey, f)
    }
}

impl ShrinkableKeyedStateStore<Key> for KeyMap {
    fn retain_recent(&self, drop_below: Nanos) {
        self.map
            .pin()
            .retain(|_, state| theoretical_arrival(state) > drop_below.as_u64());
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The state's theoretical arrival time (0 for a fresh state), read
/// without changing it: the measuring closure refuses, handing it out.
fn theoretical_arrival(state: &InMemoryState) -> u64 {
    let read = state.measure_and_replace(&NotKeyed::NonKey, |tat: Option<Nanos>| {
        Err::<((), Nanos), u64>(tat.map_or(0, Nanos::as_u64))
    });
    read.err().unwrap_or(0)
}
