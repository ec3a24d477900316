//! `wait_beyond` without polling: per topic, one ordered, headers-only
//! push consumer started on first use tells a `watch` channel each newly
//! stored position (it fires after the stream stored the event, never
//! before). Waiters wait on the channel; one that times out, or finds the
//! watcher gone, asks the stream itself.
//!
//! A watch with no waiter for a whole idle period (the store's
//! `watch_idle`, [`WATCH_IDLE`] by default) stops (its consumer goes, so a busy topic nobody waits on no
//! longer streams every event's headers to the gateway); the next waiter
//! starts another. A waiter subscribes under the store's `watches` lock,
//! and a watch decides to stop under the same lock, so no waiter is left
//! on a stopped watch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, push};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::NatsEventStore;
use super::errors::store_error;
use crate::events::store::StoreError;

/// Pause after a watch consumer error before reading on.
const WATCH_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// How long a watch with no waiter lives on, by default.
pub const WATCH_IDLE: Duration = Duration::from_secs(30);

/// The live watches, by topic.
type WatchMap = Mutex<HashMap<String, TopicWatch>>;

/// The store's live watches (its tasks hold them weakly).
pub type Watches = Arc<WatchMap>;

/// One topic's newest position, kept current by a background task.
pub struct TopicWatch {
    state: Arc<WatchState>,
    task: JoinHandle<()>,
}

/// What a watch's task and its waiters share.
struct WatchState {
    newest: watch::Sender<u64>,
    /// Waits begun on this watch, so its task can tell an idle one.
    waits: AtomicU64,
}

impl TopicWatch {
    fn is_alive(&self) -> bool {
        !self.task.is_finished()
    }

    /// A receiver for one wait (counted), taken under the `watches` lock.
    fn subscribe(&self) -> watch::Receiver<u64> {
        self.state.waits.fetch_add(1, Ordering::Relaxed);
        self.state.newest.subscribe()
    }
}

impl Drop for TopicWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NatsEventStore {
    pub(super) async fn wait_for_position(
        &self,
        topic: &str,
        position: u64,
        timeout: Duration,
    ) -> Result<u64, StoreError> {
        self.known_topic(topic).await?;
        let mut newest = self.watch_receiver(topic).await?;
        let reached = tokio::time::timeout(timeout, async {
            newest
                .wait_for(|seen| *seen > position)
                .await
                .map(|seen| *seen)
        })
        .await;
        match reached {
            Ok(Ok(seen)) => Ok(seen),
            // Timed out, or the watcher stopped: the stream has the answer.
            _ => self.newest_position(topic).await,
        }
    }

    /// A receiver on the topic's live watch, started if there is none.
    async fn watch_receiver(&self, topic: &str) -> Result<watch::Receiver<u64>, StoreError> {
        if let Some(receiver) = self.live_receiver(topic) {
            return Ok(receiver);
        }
        let started = self.start_watch(topic).await?;
        let mut watches = self.watches.lock().unwrap_or_else(PoisonError::into_inner);
        // Two waiters may have started one each: keep the first live one.
        match watches.get(topic) {
            Some(existing) if existing.is_alive() => Ok(existing.subscribe()),
            _ => {
                let receiver = started.subscribe();
                watches.insert(topic.to_owned(), started);
                Ok(receiver)
            }
        }
    }

    fn live_receiver(&self, topic: &str) -> Option<watch::Receiver<u64>> {
        let watches = self.watches.lock().unwrap_or_else(PoisonError::into_inner);
        watches
            .get(topic)
            .filter(|watch| watch.is_alive())
            .map(TopicWatch::subscribe)
    }

    async fn start_watch(&self, topic: &str) -> Result<TopicWatch, StoreError> {
        let stream = self
            .js
            .get_stream_no_info(self.names.topic_stream(topic))
            .await
            .map_err(|error| store_error("stream", error))?;
        let consumer = stream
            .create_consumer(push::OrderedConfig {
                deliver_subject: self.js.client().new_inbox(),
                filter_subject: self.names.topic_subject(topic),
                deliver_policy: DeliverPolicy::New,
                headers_only: true,
                ..Default::default()
            })
            .await
            .map_err(|error| store_error("watch consumer", error))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|error| store_error("watch subscription", error))?;
        // Created before this read: nothing stored in between is missed.
        let (newest, _) = watch::channel(self.newest_position(topic).await?);
        let state = Arc::new(WatchState {
            newest,
            waits: AtomicU64::new(0),
        });
        let task = tokio::spawn(follow(
            messages,
            state.clone(),
            Arc::downgrade(&self.watches),
            topic.to_owned(),
            self.watch_idle,
        ));
        Ok(TopicWatch { state, task })
    }
}

/// The watch's task: each stored position into the channel, until the
/// consumer ends or the watch has had no waiter for `idle`.
async fn follow(
    mut messages: push::Ordered,
    state: Arc<WatchState>,
    watches: Weak<WatchMap>,
    topic: String,
    idle: Duration,
) {
    let mut checks = tokio::time::interval_at(tokio::time::Instant::now() + idle, idle);
    let mut waits_seen = state.waits.load(Ordering::Relaxed);
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { break };
                let Ok(message) = message else {
                    // The ordered consumer recreates itself; do not spin.
                    tokio::time::sleep(WATCH_ERROR_PAUSE).await;
                    continue;
                };
                if let Ok(info) = message.info() {
                    let sequence = info.stream_sequence;
                    state.newest.send_if_modified(|seen| {
                        let newer = sequence > *seen;
                        if newer {
                            *seen = sequence;
                        }
                        newer
                    });
                }
            }
            _ = checks.tick() => {
                // The store is gone: so is its connection.
                let Some(watches) = watches.upgrade() else { return };
                let mut watches = watches.lock().unwrap_or_else(PoisonError::into_inner);
                let waits = state.waits.load(Ordering::Relaxed);
                if waits == waits_seen && state.newest.receiver_count() == 0 {
                    let ours = watches
                        .get(&topic)
                        .is_some_and(|watch| Arc::ptr_eq(&watch.state, &state));
                    if ours {
                        // Dropping it aborts this task, which ends here anyway.
                        watches.remove(&topic);
                    }
                    tracing::debug!(topic, "event store: idle topic watch stopped");
                    return;
                }
                waits_seen = waits;
            }
        }
    }
    tracing::debug!(topic, "event store: topic watch ended");
}
