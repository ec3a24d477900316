//! `wait_beyond` without polling: per topic, one ordered, headers-only
//! push consumer started on first use tells a `watch` channel each newly
//! stored position (it fires after the stream stored the event, never
//! before). Waiters wait on the channel; one that times out, or finds the
//! watcher gone, asks the stream itself.

use std::sync::{Arc, PoisonError};
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

/// One topic's newest position, kept current by a background task.
pub struct TopicWatch {
    newest: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl TopicWatch {
    fn is_alive(&self) -> bool {
        !self.task.is_finished()
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
        let watch = self.topic_watch(topic).await?;
        let mut newest = watch.newest.subscribe();
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

    async fn topic_watch(&self, topic: &str) -> Result<Arc<TopicWatch>, StoreError> {
        if let Some(watch) = self.live_watch(topic) {
            return Ok(watch);
        }
        let started = Arc::new(self.start_watch(topic).await?);
        let mut watches = self.watches.lock().unwrap_or_else(PoisonError::into_inner);
        // Two waiters may have started one each: keep the first live one.
        let kept = match watches.get(topic) {
            Some(existing) if existing.is_alive() => existing.clone(),
            _ => {
                watches.insert(topic.to_owned(), started.clone());
                started
            }
        };
        Ok(kept)
    }

    fn live_watch(&self, topic: &str) -> Option<Arc<TopicWatch>> {
        let watches = self.watches.lock().unwrap_or_else(PoisonError::into_inner);
        watches.get(topic).filter(|watch| watch.is_alive()).cloned()
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
        let mut messages = consumer
            .messages()
            .await
            .map_err(|error| store_error("watch subscription", error))?;
        // Created before this read: nothing stored in between is missed.
        let (newest, _) = watch::channel(self.newest_position(topic).await?);
        let sender = newest.clone();
        let topic = topic.to_owned();
        let task = tokio::spawn(async move {
            while let Some(message) = messages.next().await {
                let Ok(message) = message else {
                    // The ordered consumer recreates itself; do not spin.
                    tokio::time::sleep(WATCH_ERROR_PAUSE).await;
                    continue;
                };
                if let Ok(info) = message.info() {
                    let sequence = info.stream_sequence;
                    sender.send_if_modified(|seen| {
                        let newer = sequence > *seen;
                        if newer {
                            *seen = sequence;
                        }
                        newer
                    });
                }
            }
            tracing::debug!(topic, "event store: topic watch ended");
        });
        Ok(TopicWatch { newest, task })
    }
}
