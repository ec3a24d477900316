//! A batch publish on JetStream, pipelined: every event is sent in the
//! batch's order before any ack is awaited, so the batch costs about one
//! round trip instead of one per event, and the stream holds the events
//! in the batch's order. JetStream has no atomic multi-message publish
//! (in the servers this targets), so a batch is not atomic: an event
//! whose first ack does not come is retried on its own with the same
//! `Nats-Msg-Id` (the stream dedupes it if the first attempt landed), and
//! a failure after the retries fails the call with some events stored.

use async_nats::Subject;
use tokio::time::{Instant, timeout_at};

use super::NatsEventStore;
use super::decode;
use crate::events::store::{EncodedEvent, Published, StoreError};

impl NatsEventStore {
    pub(super) async fn publish_events(
        &self,
        topic: &str,
        events: &[(EncodedEvent, Option<String>)],
    ) -> Result<Vec<Published>, StoreError> {
        self.known_topic(topic).await?;
        let subject = Subject::from(self.names.topic_subject(topic));
        // The pipelined first attempts have one `request_timeout`; an
        // event not acknowledged by then is retried on its own, within
        // `publish_retried`'s deadline.
        let first_deadline = Instant::now() + self.request_timeout;
        let mut sent = Vec::with_capacity(events.len());
        for (event, key) in events {
            let payload = event.json().clone();
            let message_id = key.as_deref().map(decode::message_id);
            let pending = timeout_at(
                first_deadline,
                self.acks
                    .send(&subject, payload.clone(), message_id.as_deref()),
            )
            .await
            .ok()
            .and_then(Result::ok);
            sent.push((payload, message_id, pending));
        }
        let mut published = Vec::with_capacity(events.len());
        for (payload, message_id, pending) in sent {
            let acked = match pending {
                Some(pending) => timeout_at(first_deadline, pending.ack())
                    .await
                    .ok()
                    .and_then(Result::ok),
                None => None,
            };
            published.push(match acked {
                Some(stored) => stored,
                None => {
                    self.publish_retried(topic, &subject, payload, message_id.as_deref(), 1)
                        .await?
                }
            });
        }
        Ok(published)
    }
}
