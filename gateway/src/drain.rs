//! The drain signal: how long-lived streams learn that the gateway is
//! shutting down, and how the shutdown learns that they have ended.
//!
//! Ordinary requests are drained by the server (finish in-flight, accept
//! no more). A stream that could stay open forever (an SSE or NDJSON
//! watch, a WebSocket, a GraphQL subscription) instead ends itself when
//! the drain starts, with a last word for its client: a final event
//! saying the server is going away, or a WebSocket close 1001. Each
//! worker thread holds the [`Drain`] ([`current`], set by
//! [`crate::workers`]), so ordinary requests never touch it: only stream
//! handlers take it. WebSocket sessions, which outlive their HTTP request,
//! also hold a [`StreamGuard`] so that the workers wait for their close
//! frames before stopping.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use tokio::sync::watch;

/// A request's view of the drain: has it started, and a way to wait for it.
#[derive(Debug, Clone)]
pub struct Drain {
    started: watch::Receiver<bool>,
    open_streams: Arc<watch::Sender<usize>>,
}

/// Starts the drain; held by the runtime.
#[derive(Debug)]
pub struct DrainTrigger {
    started: watch::Sender<bool>,
    open_streams: Arc<watch::Sender<usize>>,
}

/// Counts one long-lived stream as open until dropped.
#[derive(Debug)]
pub struct StreamGuard(Arc<watch::Sender<usize>>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open = open.saturating_sub(1));
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Drain>> = const { RefCell::new(None) };
}

/// The drain of the worker running this code; outside a worker, one that
/// never starts.
pub fn current() -> Drain {
    CURRENT
        .with(|current| current.borrow().clone())
        .unwrap_or_else(|| channel().1)
}

/// Makes `drain` this thread's [`current`] one (done by each worker).
pub(crate) fn set_current(drain: Drain) {
    CURRENT.with(|current| *current.borrow_mut() = Some(drain));
}

/// A new drain signal, not started.
pub fn channel() -> (DrainTrigger, Drain) {
    let (started, receiver) = watch::channel(false);
    let open_streams = Arc::new(watch::channel(0).0);
    let drain = Drain {
        started: receiver,
        open_streams: Arc::clone(&open_streams),
    };
    (
        DrainTrigger {
            started,
            open_streams,
        },
        drain,
    )
}

impl DrainTrigger {
    /// Tells every stream to end.
    pub fn start(&self) {
        self.started.send_replace(true);
    }

    /// Resolves when every [`StreamGuard`] has been dropped.
    pub fn streams_ended(&self) -> impl Future<Output = ()> + Send + 'static {
        streams_ended(&self.open_streams)
    }
}

impl Drain {
    /// Whether the drain has started.
    pub fn is_draining(&self) -> bool {
        *self.started.borrow()
    }

    /// Resolves when the drain starts; never if its trigger is dropped
    /// unfired.
    pub fn started(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut started = self.started.clone();
        async move {
            if started.wait_for(|started| *started).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Counts a stream that outlives its request (a WebSocket session).
    pub fn track_stream(&self) -> StreamGuard {
        self.open_streams.send_modify(|open| *open += 1);
        StreamGuard(Arc::clone(&self.open_streams))
    }

    /// Resolves when every tracked stream has ended.
    pub fn streams_ended(&self) -> impl Future<Output = ()> + Send + 'static {
        streams_ended(&self.open_streams)
    }

    /// `stream`, cut short when the drain starts: then `farewell()` is its
    /// last item, after any item the stream already had ready. A stream
    /// that ends first ends as usual.
    pub fn cut_short<S, F>(&self, stream: S, farewell: F) -> BoxStream<'static, S::Item>
    where
        S: Stream + Send + 'static,
        S::Item: Send + 'static,
        F: FnOnce() -> S::Item + Send + 'static,
    {
        let state = CutShort {
            stream: stream.boxed(),
            stop: Box::pin(self.started()),
            farewell,
        };
        stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            // What the stream already has is delivered first.
            tokio::select! {
                biased;
                item = state.stream.next() => item.map(|item| (item, Some(state))),
                () = &mut state.stop => Some(((state.farewell)(), None)),
            }
        })
        .boxed()
    }
}

struct CutShort<T, F> {
    stream: BoxStream<'static, T>,
    stop: BoxFuture<'static, ()>,
    farewell: F,
}

fn streams_ended(open: &watch::Sender<usize>) -> impl Future<Output = ()> + Send + 'static {
    let mut open = open.subscribe();
    async move {
        let _ = open.wait_for(|open| *open == 0).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stream_ends_with_its_farewell_when_the_drain_starts() {
        let (trigger, drain) = channel();
        let endless = stream::iter([1, 2]).chain(stream::pending());
        let mut cut = drain.cut_short(endless, || 0);
        assert_eq!((cut.next().await, cut.next().await), (Some(1), Some(2)));
        assert!(!drain.is_draining());
        trigger.start();
        assert!(drain.is_draining());
        assert_eq!((cut.next().await, cut.next().await), (Some(0), None));
    }

    #[tokio::test]
    async fn ready_items_come_before_the_farewell() {
        let (trigger, drain) = channel();
        trigger.start();
        let cut = drain.cut_short(stream::iter([1]).chain(stream::pending()), || 0);
        assert_eq!(cut.collect::<Vec<_>>().await, vec![1, 0]);
    }

    #[tokio::test]
    async fn a_stream_that_ends_first_has_no_farewell() {
        let (_trigger, drain) = channel();
        let cut = drain.cut_short(stream::iter([1, 2]), || 0);
        assert_eq!(cut.collect::<Vec<_>>().await, vec![1, 2]);
    }

    #[tokio::test]
    async fn outside_a_worker_the_drain_never_starts() {
        let drain = current();
        let mut started = Box::pin(drain.started());
        assert!(futures::poll!(&mut started).is_pending() && !drain.is_draining());
        let (trigger, worker_drain) = channel();
        set_current(worker_drain);
        trigger.start();
        assert!(current().is_draining());
    }

    #[tokio::test]
    async fn streams_ended_waits_for_every_guard() {
        let (trigger, drain) = channel();
        let (first, second) = (drain.track_stream(), drain.track_stream());
        let mut ended = Box::pin(trigger.streams_ended());
        drop(first);
        assert!(futures::poll!(&mut ended).is_pending());
        drop(second);
        ended.await;
        drain.streams_ended().await;
    }
}
