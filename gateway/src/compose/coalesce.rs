//! In-flight coalescing: identical concurrent calls share one upstream
//! request.
//!
//! The first caller for a key starts the fetch as a `Shared` future and
//! leaves a *weak* handle in the map; later callers with the same key
//! upgrade it and await the same result. Because the map holds only a weak
//! handle, the fetch is dropped (and its upstream request cancelled) as
//! soon as the last interested caller goes away; a later caller then finds
//! a dead entry and starts afresh. A finished fetch removes its own entry.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared, WeakShared};

use super::error::CallFailure;
use super::fetch::CallOutput;

type FetchFuture = BoxFuture<'static, Result<CallOutput, CallFailure>>;
type Fetch = Shared<FetchFuture>;
/// Key → (fetch id, weak handle on the fetch).
type InFlight = HashMap<String, (u64, WeakShared<FetchFuture>)>;

/// The in-flight calls of one route, by key.
#[derive(Debug, Default)]
pub struct Coalescer {
    in_flight: Mutex<InFlight>,
    next_id: AtomicU64,
    joined: AtomicU64,
}

/// Removes the entry when the fetch ends, if it is still this fetch's.
struct Forget {
    coalescer: Arc<Coalescer>,
    key: String,
    id: u64,
}

impl Drop for Forget {
    fn drop(&mut self) {
        let mut map = self
            .coalescer
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            map.remove(&self.key);
        }
    }
}

impl Coalescer {
    /// Joins the in-flight fetch for `key`, or starts `fetch` as it.
    /// Returns the result and whether this caller joined another's fetch.
    pub async fn run<F>(
        self: &Arc<Self>,
        key: String,
        fetch: F,
    ) -> (Result<CallOutput, CallFailure>, bool)
    where
        F: Future<Output = Result<CallOutput, CallFailure>> + Send + 'static,
    {
        let (shared, joined) = self.join_or_start(key, fetch);
        (shared.await, joined)
    }

    fn join_or_start<F>(self: &Arc<Self>, key: String, fetch: F) -> (Fetch, bool)
    where
        F: Future<Output = Result<CallOutput, CallFailure>> + Send + 'static,
    {
        let mut map = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = map.get(&key).and_then(|(_, weak)| weak.upgrade()) {
            self.joined.fetch_add(1, Ordering::Relaxed);
            return (shared, true);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let forget = Forget {
            coalescer: Arc::clone(self),
            key: key.clone(),
            id,
        };
        let shared = async move {
            let _forget_when_done_or_dropped = forget;
            fetch.await
        }
        .boxed()
        .shared();
        if let Some(weak) = shared.downgrade() {
            map.insert(key, (id, weak));
        }
        (shared, false)
    }

    /// How many calls so far joined a fetch another call had started.
    pub fn joined(&self) -> u64 {
        self.joined.load(Ordering::Relaxed)
    }

    /// How many fetches are in flight (for tests and metrics).
    pub fn in_flight(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use serde_json::Value;
    use tokio::sync::oneshot;

    use super::*;

    fn output(n: i64) -> CallOutput {
        CallOutput {
            value: Arc::new(Value::from(n)),
            cache_control: None,
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let coalescer = Arc::new(Coalescer::default());
        let started = Arc::new(AtomicUsize::new(0));
        let (release, gate) = oneshot::channel::<()>();
        let gate = gate.shared();
        let calls = (0..5).map(|_| {
            let (started, gate) = (Arc::clone(&started), gate.clone());
            let fetch = async move {
                started.fetch_add(1, Ordering::SeqCst);
                let _ = gate.await;
                Ok(output(7))
            };
            coalescer.run("k".into(), fetch)
        });
        let all = futures::future::join_all(calls);
        tokio::pin!(all);
        assert!(futures::poll!(&mut all).is_pending());
        release.send(()).unwrap();
        let results = all.await;
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert_eq!(results.iter().filter(|(_, joined)| *joined).count(), 4);
        assert!(
            results
                .iter()
                .all(|(result, _)| result.as_ref().unwrap().value.as_i64() == Some(7))
        );
        assert_eq!(coalescer.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_fetch_nobody_awaits_is_dropped_and_forgotten() {
        let coalescer = Arc::new(Coalescer::default());
        let (dropped_tx, dropped_rx) = oneshot::channel::<()>();
        let fetch = async move {
            let _signal_on_drop = dropped_tx;
            futures::future::pending::<()>().await;
            Ok(output(1))
        };
        let mut run = Box::pin(coalescer.run("k".into(), fetch));
        assert!(futures::poll!(&mut run).is_pending());
        assert_eq!(coalescer.in_flight(), 1);
        drop(run);
        assert!(dropped_rx.await.is_err(), "the fetch was dropped");
        assert_eq!(coalescer.in_flight(), 0);
    }
}
