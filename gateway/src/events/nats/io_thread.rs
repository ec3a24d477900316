//! The thread the NATS client runs on: a single-threaded runtime of its
//! own for the connection's reader and writer task and the ack
//! dispatcher ([`super::ack_inbox`]).
//!
//! On the gateway's control runtime (multi-threaded, one thread per
//! core) the connection task and the dispatcher woke each other across
//! its threads: batched JetStream publishes measured about 0.8 µs less
//! system time per event and 4–5% more events/s with that runtime cut to
//! one thread (`/proc` CPU per event, docs/latency-comparison.md
//! "JetStream acks through the store's own inbox"). Everything else the
//! store does talks to the client over its channels from any runtime.
//!
//! Dropping the [`IoThread`] stops its runtime, which drops the
//! connection (and so closes it) and the dispatcher.

use std::future::Future;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::events::store::StoreError;

pub(super) struct IoThread {
    runtime: Handle,
    /// Dropped to stop the thread.
    _stop: oneshot::Sender<()>,
}

impl IoThread {
    pub(super) fn start() -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| StoreError::Failed(format!("NATS client runtime: {error}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("gateway-nats".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    // Ends when the sender is dropped.
                    let _ = stopped.await;
                });
            })
            .map_err(|error| StoreError::Failed(format!("NATS client thread: {error}")))?;
        Ok(Self {
            runtime: handle,
            _stop: stop,
        })
    }

    /// Runs `future` on this thread (where the tasks it spawns live) and
    /// returns its output.
    pub(super) async fn run<F>(&self, future: F) -> Result<F::Output, StoreError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime
            .spawn(future)
            .await
            .map_err(|error| StoreError::Failed(format!("NATS client thread: {error}")))
    }
}
