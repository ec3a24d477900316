//! Dead letters on JetStream: the `{prefix}_DLQ` stream keeps each
//! consumer's on its own subject (the event as published, the reason,
//! attempts and original position in headers; the entry's sequence
//! identifies it). Replay moves entries to the consumer's subject in the
//! `{prefix}_REPLAY` work-queue stream, which its `fetch` serves first;
//! an acked replay leaves that stream.

use std::sync::Arc;

use async_nats::jetstream::message::{PublishMessage as Publish, StreamMessage};
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind, RetentionPolicy, StorageType};

use super::NatsEventStore;
use super::decode::{self, decode_event, number_header, system_time};
use super::errors::store_error;
use super::settle::{original_place, place_headers};
use crate::events::store::{DeadLetter, DeadLetterSelection, StoreError, StoredEvent};

/// Dead letters read per request page when replaying all of them.
const REPLAY_PAGE: usize = 256;

impl NatsEventStore {
    /// The dead-letter and replay streams, shared by every topic.
    pub(super) async fn ensure_own_streams(&self) -> Result<(), StoreError> {
        self.ensure_stream(stream::Config {
            name: self.names.dead_letter_stream(),
            subjects: vec![self.names.dead_letter_subjects()],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            ..Default::default()
        })
        .await?;
        self.ensure_stream(stream::Config {
            name: self.names.replay_stream(),
            subjects: vec![self.names.replay_subjects()],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            ..Default::default()
        })
        .await
    }

    pub(super) async fn list_dead_letters(
        &self,
        topic: &str,
        consumer: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.known_topic(topic).await?;
        let entries = self.dead_letter_messages(topic, consumer, 1, limit).await?;
        Ok(entries
            .iter()
            .filter_map(|message| match dead_letter(topic, consumer, message) {
                Ok(entry) => Some(entry),
                Err(error) => {
                    tracing::warn!(topic, consumer, %error, "event store: undecodable dead letter skipped");
                    None
                }
            })
            .collect())
    }

    /// Up to `limit` raw entries of the consumer's queue from `from` on.
    async fn dead_letter_messages(
        &self,
        topic: &str,
        consumer: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<StreamMessage>, StoreError> {
        let stream = self.dead_letter_handle().await?;
        let subject = self.names.dead_letter_subject(topic, consumer);
        let mut entries = Vec::new();
        let mut next = from.max(1);
        while entries.len() < limit {
            let found = stream
                .raw_message_builder()
                .sequence(next)
                .next_by_subject(subject.clone())
                .send()
                .await;
            match found {
                Ok(message) => {
                    next = message.sequence + 1;
                    entries.push(message);
                }
                Err(error) if matches!(error.kind(), LastRawMessageErrorKind::NoMessageFound) => {
                    break;
                }
                Err(error) => return Err(store_error("dead-letter read", error)),
            }
        }
        Ok(entries)
    }

    pub(super) async fn replay(
        &self,
        topic: &str,
        consumer: &str,
        which: DeadLetterSelection,
    ) -> Result<u64, StoreError> {
        self.known_topic(topic).await?;
        let mut replayed = 0;
        match which {
            DeadLetterSelection::One(sequence) => {
                if let Some(entry) = self.own_entry(topic, consumer, sequence).await? {
                    self.replay_entry(topic, consumer, &entry).await?;
                    replayed += 1;
                }
            }
            DeadLetterSelection::All => {
                let mut from = 1;
                loop {
                    let page = self
                        .dead_letter_messages(topic, consumer, from, REPLAY_PAGE)
                        .await?;
                    let Some(last) = page.last() else { break };
                    from = last.sequence + 1;
                    for entry in &page {
                        self.replay_entry(topic, consumer, entry).await?;
                        replayed += 1;
                    }
                }
            }
        }
        Ok(replayed)
    }

    /// Stores the entry for replay (deduped by the entry's sequence, so a
    /// retried replay stores it once), then deletes it from the queue.
    async fn replay_entry(
        &self,
        topic: &str,
        consumer: &str,
        entry: &StreamMessage,
    ) -> Result<(), StoreError> {
        let (position, stored_at) = original_place(&entry.headers)?;
        let place = StoredEvent {
            topic: Arc::from(topic),
            position,
            event: Arc::new(decode_event(&entry.payload)?),
            stored_at,
        };
        let publish = Publish::build()
            .payload(entry.payload.clone())
            .headers(place_headers(&place, consumer))
            .message_id(format!("replay-{consumer}-{}", entry.sequence));
        let ack = self
            .js
            .send_publish(self.names.replay_subject(topic, consumer), publish)
            .await
            .map_err(|error| store_error("replay publish", error))?;
        ack.await
            .map_err(|error| store_error("replay publish", error))?;
        self.dead_letter_handle()
            .await?
            .delete_message(entry.sequence)
            .await
            .map_err(|error| store_error("dead-letter delete", error))?;
        Ok(())
    }

    pub(super) async fn purge(
        &self,
        topic: &str,
        consumer: &str,
        which: DeadLetterSelection,
    ) -> Result<u64, StoreError> {
        self.known_topic(topic).await?;
        match which {
            DeadLetterSelection::All => {
                self.purge_subject(
                    &self.names.dead_letter_stream(),
                    &self.names.dead_letter_subject(topic, consumer),
                )
                .await
            }
            DeadLetterSelection::One(sequence) => {
                if self.own_entry(topic, consumer, sequence).await?.is_none() {
                    return Ok(0);
                }
                let deleted = self
                    .dead_letter_handle()
                    .await?
                    .delete_message(sequence)
                    .await
                    .map_err(|error| store_error("dead-letter delete", error))?;
                Ok(u64::from(deleted))
            }
        }
    }

    pub(super) async fn purge_subject(
        &self,
        stream_name: &str,
        subject: &str,
    ) -> Result<u64, StoreError> {
        let stream = self
            .js
            .get_stream_no_info(stream_name)
            .await
            .map_err(|error| store_error("stream", error))?;
        let purged = stream
            .purge()
            .filter(subject)
            .await
            .map_err(|error| store_error("purge", error))?;
        Ok(purged.purged)
    }

    /// The entry at `sequence` if it is one of this consumer's.
    async fn own_entry(
        &self,
        topic: &str,
        consumer: &str,
        sequence: u64,
    ) -> Result<Option<StreamMessage>, StoreError> {
        let stream = self.dead_letter_handle().await?;
        match stream.get_raw_message(sequence).await {
            Ok(message)
                if message.subject.as_str() == self.names.dead_letter_subject(topic, consumer) =>
            {
                Ok(Some(message))
            }
            Ok(_) => Ok(None),
            Err(error) if matches!(error.kind(), LastRawMessageErrorKind::NoMessageFound) => {
                Ok(None)
            }
            Err(error) => Err(store_error("dead-letter read", error)),
        }
    }

    async fn dead_letter_handle(&self) -> Result<stream::Stream<()>, StoreError> {
        self.js
            .get_stream_no_info(self.names.dead_letter_stream())
            .await
            .map_err(|error| store_error("stream", error))
    }
}

fn dead_letter(
    topic: &str,
    consumer: &str,
    message: &StreamMessage,
) -> Result<DeadLetter, StoreError> {
    let (position, stored_at) = original_place(&message.headers)?;
    Ok(DeadLetter {
        sequence: message.sequence,
        consumer: consumer.to_owned(),
        event: StoredEvent {
            topic: Arc::from(topic),
            position,
            event: Arc::new(decode_event(&message.payload)?),
            stored_at,
        },
        attempts: number_header(&message.headers, decode::ATTEMPTS)?,
        last_error: decode::header(&message.headers, decode::REASON)
            .unwrap_or_default()
            .to_owned(),
        dead_at: system_time(message.time.unix_timestamp_nanos()),
    })
}
