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
//! The table is per worker thread (a `thread_local`): a client connection
//! stays on its worker, so the request path takes no lock, and requests on
//! other workers simply do not share. The table holds weak handles, as
//! `compose::coalesce` does: when every caller of a request has gone, the
//! request is dropped (cancelled) and its entry is dead; a finished
//! request removes its own entry.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared, WeakShared};
use http::{HeaderMap, StatusCode};

/// A subgraph's answer, or why there is none: `(code, detail)`, cloned to
/// every caller that shared the request.
pub(crate) type FetchResult = Result<(StatusCode, Bytes), (&'static str, String)>;

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

thread_local! {
    static IN_FLIGHT: RefCell<(u64, HashMap<FetchKey, Entry>)> = RefCell::new((0, HashMap::new()));
}

/// Joins the in-flight request for `key`, or starts `fetch` as it.
/// Returns the answer and whether this caller joined another's request.
pub(crate) async fn join_or_start<F>(key: FetchKey, fetch: F) -> (FetchResult, bool)
where
    F: Future<Output = FetchResult> + Send + 'static,
{
    let joined = IN_FLIGHT.with(|table| {
        let table = table.borrow();
        table.1.get(&key).and_then(|(_, weak)| weak.upgrade())
    });
    if let Some(shared) = joined {
        return (shared.await, true);
    }
    let shared = IN_FLIGHT.with(|table| {
        let mut table = table.borrow_mut();
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
    });
    (shared.await, false)
}

/// Removes the entry when its request ends or is dropped, if the entry is
/// still this request's.
struct Forget {
    key: FetchKey,
    id: u64,
}

impl Drop for Forget {
    fn drop(&mut self) {
        let _ = IN_FLIGHT.try_with(|table| {
            let Ok(mut table) = table.try_borrow_mut() else {
                return;
            };
            if table.1.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
                table.1.remove(&self.key);
            }
        });
    }
}

/// How many requests are in the table (tests).
#[cfg(test)]
fn in_flight() -> usize {
    IN_FLIGHT.with(|table| table.borrow().1.len())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn key(body: &'static str) -> FetchKey {
        FetchKey::new(
            &Arc::new(()),
            Bytes::from_static(body.as_bytes()),
            &HeaderMap::new(),
        )
    }

    #[tokio::test]
    async fn identical_requests_in_flight_share_one_fetch() {
        let pool = Arc::new(());
        let make_key = || FetchKey::new(&pool, Bytes::from_static(b"{}"), &HeaderMap::new());
        let started = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let gate = gate.shared();
        let fetch = |started: Arc<AtomicUsize>, gate: futures::future::Shared<_>| async move {
            started.fetch_add(1, Ordering::SeqCst);
            let _ = gate.await;
            Ok((StatusCode::OK, Bytes::from_static(b"answer")))
        };
        let first = join_or_start(make_key(), fetch(started.clone(), gate.clone()));
        let second = join_or_start(make_key(), fetch(started.clone(), gate.clone()));
        let both = async { futures::join!(first, second) };
        let releaser = async {
            tokio::task::yield_now().await;
            let _ = release.send(());
        };
        let ((a, a_joined), (b, b_joined)) = futures::join!(both, releaser).0;
        assert_eq!(started.load(Ordering::SeqCst), 1, "one upstream request");
        assert_eq!(a.unwrap().1, "answer");
        assert_eq!(b.unwrap().1, "answer");
        assert!(!a_joined && b_joined);
        assert_eq!(in_flight(), 0, "a finished request leaves the table");
    }

    #[tokio::test]
    async fn different_bodies_or_headers_do_not_share() {
        let pool = Arc::new(());
        let mut auth = HeaderMap::new();
        auth.insert("authorization", "Bearer a".parse().unwrap());
        let a = FetchKey::new(&pool, Bytes::from_static(b"{}"), &HeaderMap::new());
        let b = FetchKey::new(&pool, Bytes::from_static(b"{}"), &auth);
        assert_ne!(a, b);
        assert_ne!(key("{\"a\":1}"), key("{\"a\":2}"));
    }

    #[tokio::test]
    async fn a_request_every_caller_dropped_leaves_the_table() {
        let pending = join_or_start(key("{}"), futures::future::pending());
        let mut pending = Box::pin(pending);
        assert!(futures::poll!(pending.as_mut()).is_pending());
        assert_eq!(in_flight(), 1);
        drop(pending);
        assert_eq!(in_flight(), 0);
    }
}
