//! In-flight deduplication of subgraph requests (Hive Router's
//! `traffic_shaping.dedupe_enabled`, Apollo Router's query deduplication):
//! identical subgraph requests in flight at the same time share one
//! upstream request and its answer.
//!
//! Identical means: the same subgraph pool, the same request body (query
//! and variables, byte for byte) and the same propagated client headers
//! (the `propagate:` rules' output, which is what a subgraph may answer
//! differently by; the gateway's own per-request headers, such as the
//! request id and forwarding headers, are not part of it, and the shared
//! request carries those of the caller that started it). Mutations are
//! never deduplicated.
//!
//! The table is process-wide, as Hive Router's is: requests on every
//! worker share. It is one mutex held only to look up, insert or remove
//! an entry (never across an await or a subgraph call). What is shared is
//! the *parsed* answer ([`SubgraphResponse`] behind an `Arc`), so callers
//! that join a request skip its JSON parsing too. The table holds weak
//! handles, as `compose::coalesce` does: when every caller of a request
//! has gone, the request is dropped (cancelled) and its entry is dead; a
//! finished request removes its own entry.
//!
//! The key holds whole request bodies (kilobytes for an entity fetch), so
//! the table hashes with `foldhash`'s quality hasher (seeded per process)
//! rather than SipHash, which was a measurable part of each fetch.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use bytes::Bytes;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared, WeakShared};
use http::HeaderMap;

use super::subgraph_call::SubgraphResponse;

/// A subgraph's parsed answer, or why there is none: `(code, detail)`,
/// shared by every caller that joined the request.
pub(crate) type FetchResult = Result<Arc<SubgraphResponse>, (&'static str, String)>;

type FetchFuture = BoxFuture<'static, FetchResult>;

/// What makes two subgraph requests the same request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FetchKey {
    /// The pool's address: the same subgraph URL and settings.
    pool: usize,
    body: Bytes,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl FetchKey {
    pub(crate) fn new<T>(pool: &Arc<T>, body: Bytes, propagated: &HeaderMap) -> Self {
        Self {
            pool: Arc::as_ptr(pool) as *const () as usize,
            body,
            headers: propagated
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        }
    }
}

/// Entry id (to tell a restarted request's entry from an older one's) and
/// the weak handle on the request.
type Entry = (u64, WeakShared<FetchFuture>);

/// The last entry id, and the requests in flight.
type Table = (
    u64,
    HashMap<FetchKey, Entry, foldhash::quality::RandomState>,
);

static IN_FLIGHT: LazyLock<Mutex<Table>> = LazyLock::new(|| Mutex::new((0, HashMap::default())));

fn table() -> std::sync::MutexGuard<'static, Table> {
    IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Joins the in-flight request for `key`, or starts `fetch` as it.
/// Returns the answer and whether this caller joined another's request.
pub(crate) async fn join_or_start<F>(key: FetchKey, fetch: F) -> (FetchResult, bool)
where
    F: Future<Output = FetchResult> + Send + 'static,
{
    // Under the lock: look up, upgrade, insert. A strong handle is only
    // ever dropped after the lock is released (dropping the last one
    // drops the request, whose `Forget` takes the lock).
    let (shared, joined) = {
        let mut table = table();
        if let Some(shared) = table.1.get(&key).and_then(|(_, weak)| weak.upgrade()) {
            (shared, true)
        } else {
            (start(&mut table, key, fetch), false)
        }
    };
    (shared.await, joined)
}

/// Starts `fetch` as the request for `key` and records its weak handle.
fn start<F>(table: &mut Table, key: FetchKey, fetch: F) -> Shared<FetchFuture>
where
    F: Future<Output = FetchResult> + Send + 'static,
{
    table.0 += 1;
    let id = table.0;
    let forget = Forget {
        key: key.clone(),
        id,
    };
    let future: FetchFuture = async move {
        let _forget = forget;
        fetch.await
    }
    .boxed();
    let shared: Shared<FetchFuture> = future.shared();
    if let Some(weak) = shared.downgrade() {
        table.1.insert(key, (id, weak));
    }
    shared
}

/// Removes the entry when its request ends or is dropped, if the entry is
/// still this request's.
struct Forget {
    key: FetchKey,
    id: u64,
}

impl Drop for Forget {
    fn drop(&mut self) {
        let mut table = table();
        if table.1.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            table.1.remove(&self.key);
        }
    }
}

/// Whether a request for `key` is in the table (tests; other tests run
/// in the same process, so only their own keys are counted).
#[cfg(test)]
fn in_flight(key: &FetchKey) -> bool {
    table().1.contains_key(key)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;

    fn key(pool: &Arc<()>, body: &'static str) -> FetchKey {
        FetchKey::new(pool, Bytes::from_static(body.as_bytes()), &HeaderMap::new())
    }

    fn answer() -> FetchResult {
        Ok(Arc::new(SubgraphResponse {
            data: Some(json!({"answer": 1})),
            errors: Vec::new(),
        }))
    }

    #[tokio::test]
    async fn identical_requests_in_flight_share_one_fetch_and_its_parsed_answer() {
        let pool = Arc::new(());
        let started = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let gate = gate.shared();
        let fetch = |started: Arc<AtomicUsize>, gate: futures::future::Shared<_>| async move {
            started.fetch_add(1, Ordering::SeqCst);
            let _ = gate.await;
            answer()
        };
        let first = join_or_start(key(&pool, "{}"), fetch(started.clone(), gate.clone()));
        let second = join_or_start(key(&pool, "{}"), fetch(started.clone(), gate.clone()));
        let both = async { futures::join!(first, second) };
        let releaser = async {
            tokio::task::yield_now().await;
            let _ = release.send(());
        };
        let ((a, a_joined), (b, b_joined)) = futures::join!(both, releaser).0;
        assert_eq!(started.load(Ordering::SeqCst), 1, "one upstream request");
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.data, Some(json!({"answer": 1})));
        assert!(Arc::ptr_eq(&a, &b), "one parsed answer, shared");
        assert!(!a_joined && b_joined);
        assert!(
            !in_flight(&key(&pool, "{}")),
            "a finished request leaves the table"
        );
    }

    #[tokio::test]
    async fn requests_on_different_threads_share_one_fetch() {
        let pool = Arc::new(());
        let started = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let gate = gate.shared();
        let first = {
            let (started, gate) = (started.clone(), gate.clone());
            join_or_start(key(&pool, "{\"t\":1}"), async move {
                started.fetch_add(1, Ordering::SeqCst);
                let _ = gate.await;
                answer()
            })
        };
        let mut first = Box::pin(first);
        assert!(futures::poll!(first.as_mut()).is_pending());
        let other_thread = {
            let (pool, started) = (pool.clone(), started.clone());
            std::thread::spawn(move || {
                futures::executor::block_on(join_or_start(key(&pool, "{\"t\":1}"), async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    answer()
                }))
            })
        };
        while started.load(Ordering::SeqCst) == 0 || !other_thread_waits(&pool) {
            tokio::task::yield_now().await;
        }
        let _ = release.send(());
        let (_, first_joined) = first.await;
        let (_, other_joined) = other_thread.join().unwrap();
        assert_eq!(started.load(Ordering::SeqCst), 1, "one upstream request");
        assert!(!first_joined && other_joined);
    }

    /// Whether the other thread joined: it holds a second strong handle.
    fn other_thread_waits(pool: &Arc<()>) -> bool {
        let table = table();
        table
            .1
            .get(&key(pool, "{\"t\":1}"))
            .and_then(|(_, weak)| weak.upgrade())
            .and_then(|shared| shared.strong_count())
            .is_some_and(|count| count >= 3)
    }

    #[tokio::test]
    async fn different_bodies_or_headers_do_not_share() {
        let pool = Arc::new(());
        let mut auth = HeaderMap::new();
        auth.insert("authorization", "Bearer a".parse().unwrap());
        let a = FetchKey::new(&pool, Bytes::from_static(b"{}"), &HeaderMap::new());
        let b = FetchKey::new(&pool, Bytes::from_static(b"{}"), &auth);
        assert_ne!(a, b);
        assert_ne!(key(&pool, "{\"a\":1}"), key(&pool, "{\"a\":2}"));
    }

    #[tokio::test]
    async fn a_request_every_caller_dropped_leaves_the_table() {
        let pool = Arc::new(());
        let pending = join_or_start(key(&pool, "{}"), futures::future::pending());
        let mut pending = Box::pin(pending);
        assert!(futures::poll!(pending.as_mut()).is_pending());
        assert!(in_flight(&key(&pool, "{}")));
        drop(pending);
        assert!(!in_flight(&key(&pool, "{}")));
    }
}
