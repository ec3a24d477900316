//! A fetched JetStream message as a [`Delivery`], and how it is settled:
//! `Ack` and `Retry` (a nak with delay) are acks the server confirms
//! ("double ack"); `DeadLetter` first stores the event in the consumer's
//! dead-letter subject (with a JetStream ack), then terminates the
//! message, so a crash in between dead-letters it twice at worst (the
//! second copy is deduped within the DLQ stream's window) and never loses
//! it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use async_nats::HeaderMap;
use async_nats::jetstream::message::{Acker, PublishMessage as Publish};
use async_nats::jetstream::{self, AckKind, Message};
use async_trait::async_trait;

use super::NatsEventStore;
use super::decode::{self, decode_event, number_header, system_time, unix_nanos};
use super::errors::{ack_error, store_error};
use crate::events::store::{Delivery, Settle, Settler, StoreError, StoredEvent};

/// The attempt number of each delivery this store retried (delayed NAK)
/// and that is not settled since, by its dead-letter message id (unique
/// per consumer and message). JetStream's own delivery count did not
/// always include the redelivery after a delayed NAK (nats-server 2.9: the
/// store's conformance test saw attempt 1 for a retried message in about
/// one run in five), so a delivery's attempt is the larger of the two.
/// Bound: [`MAX_RETRIED`] entries; past it, the server's count alone.
#[derive(Debug, Default, Clone)]
pub struct RetriedAttempts(Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>);

/// Most retried deliveries remembered at once.
const MAX_RETRIED: usize = 100_000;

impl RetriedAttempts {
    fn floor(&self, key: &str) -> u32 {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key).map_or(0, |attempt| attempt + 1)
    }

    fn retried(&self, key: &str, attempt: u32) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() < MAX_RETRIED || map.contains_key(key) {
            map.insert(key.to_owned(), attempt);
        }
    }

    fn settled(&self, key: &str) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(key);
    }
}

/// Where a delivered message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The topic's stream: its sequence is the position.
    Topic,
    /// The replay stream: the position is in its headers.
    Replay,
}

/// Turns a fetched message into a delivery; a message that does not
/// decode (not written by a gateway) is terminated and logged.
pub fn delivery_from(
    store: &NatsEventStore,
    topic: &Arc<str>,
    consumer: &str,
    message: Message,
    origin: Origin,
) -> Option<Delivery> {
    let described = describe(topic, &message, origin);
    let (message, acker) = message.split();
    match described {
        Ok((event, attempt, source_sequence)) => {
            let message_id = match origin {
                Origin::Topic => format!("dlq-{consumer}-{}", event.position),
                Origin::Replay => format!("dlq-{consumer}-r{source_sequence}"),
            };
            let attempt = attempt.max(store.retried.floor(&message_id));
            let dead_letter = DeadLetterRoute {
                js: store.context_for_settle(),
                subject: store.names.dead_letter_subject(topic, consumer),
                consumer: consumer.to_owned(),
                message_id,
                payload: message.payload.clone(),
                event: event.clone(),
                attempts: attempt,
            };
            Some(Delivery {
                event,
                attempt,
                settler: Arc::new(NatsSettler {
                    acker,
                    dead_letter,
                    settled: AtomicBool::new(false),
                    retried: store.retried.clone(),
                }),
            })
        }
        Err(error) => {
            tracing::warn!(topic = &**topic, consumer, %error, "event store: undecodable message terminated");
            tokio::spawn(async move {
                let _ = acker.ack_with(AckKind::Term).await;
            });
            None
        }
    }
}

/// The event, the attempt number, and the message's own stream sequence.
fn describe(
    topic: &Arc<str>,
    message: &Message,
    origin: Origin,
) -> Result<(StoredEvent, u32, u64), StoreError> {
    let info = message
        .info()
        .map_err(|error| StoreError::Failed(format!("NATS ack metadata: {error}")))?;
    let attempt = u32::try_from(info.delivered).unwrap_or(u32::MAX).max(1);
    let (position, stored_at) = match origin {
        Origin::Topic => (
            info.stream_sequence,
            system_time(info.published.unix_timestamp_nanos()),
        ),
        Origin::Replay => {
            let headers = message.headers.clone().unwrap_or_default();
            original_place(&headers)?
        }
    };
    let event = StoredEvent {
        topic: topic.clone(),
        position,
        event: Arc::new(decode_event(&message.payload)?),
        stored_at,
    };
    Ok((event, attempt, info.stream_sequence))
}

/// The position and store time a dead letter or replay carries.
pub fn original_place(headers: &HeaderMap) -> Result<(u64, SystemTime), StoreError> {
    let position = number_header(headers, decode::POSITION)?;
    let stored_at: i128 = number_header(headers, decode::STORED_AT)?;
    Ok((position, system_time(stored_at)))
}

/// The headers that keep an event's place (position, store time).
pub fn place_headers(event: &StoredEvent, consumer: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(decode::TOPIC, &*event.topic);
    headers.insert(decode::CONSUMER, consumer);
    headers.insert(decode::POSITION, event.position.to_string().as_str());
    headers.insert(
        decode::STORED_AT,
        unix_nanos(event.stored_at).to_string().as_str(),
    );
    headers
}

/// Everything needed to dead-letter one delivery.
#[derive(Debug)]
struct DeadLetterRoute {
    js: jetstream::Context,
    subject: String,
    consumer: String,
    message_id: String,
    payload: bytes::Bytes,
    event: StoredEvent,
    attempts: u32,
}

impl DeadLetterRoute {
    async fn store(&self, reason: &str) -> Result<(), StoreError> {
        let mut headers = place_headers(&self.event, &self.consumer);
        headers.insert(decode::ATTEMPTS, self.attempts.to_string().as_str());
        headers.insert(decode::REASON, decode::header_text(reason).as_str());
        let publish = Publish::build()
            .payload(self.payload.clone())
            .headers(headers)
            .message_id(&self.message_id);
        let ack = self
            .js
            .send_publish(self.subject.clone(), publish)
            .await
            .map_err(|error| store_error("dead-letter publish", error))?;
        ack.await
            .map_err(|error| store_error("dead-letter publish", error))?;
        Ok(())
    }
}

pub struct NatsSettler {
    acker: Acker,
    dead_letter: DeadLetterRoute,
    settled: AtomicBool,
    retried: RetriedAttempts,
}

impl std::fmt::Debug for NatsSettler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSettler")
            .field("consumer", &self.dead_letter.consumer)
            .field("position", &self.dead_letter.event.position)
            .field("settled", &self.settled)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Settler for NatsSettler {
    async fn settle(&self, how: Settle) -> Result<(), StoreError> {
        if self.settled.swap(true, Ordering::AcqRel) {
            return Err(StoreError::Failed("delivery already settled".to_owned()));
        }
        let key = &self.dead_letter.message_id;
        let retrying = matches!(how, Settle::Retry(_));
        if retrying {
            // Before the NAK: its redelivery may arrive before its reply.
            self.retried.retried(key, self.dead_letter.attempts);
        }
        let result = match how {
            Settle::Ack => self.acker.double_ack().await,
            Settle::Retry(delay) if delay.is_zero() => {
                self.acker.double_ack_with(AckKind::Nak(None)).await
            }
            Settle::Retry(delay) => self.acker.double_ack_with(AckKind::Nak(Some(delay))).await,
            Settle::DeadLetter(reason) => {
                if let Err(error) = self.dead_letter.store(&reason).await {
                    self.settled.store(false, Ordering::Release);
                    return Err(error);
                }
                self.acker.double_ack_with(AckKind::Term).await
            }
        };
        if result.is_ok() && !retrying {
            self.retried.settled(key);
        }
        result.map_err(|error| {
            // Not confirmed: the caller may try again (the server
            // redelivers after ack_wait either way).
            self.settled.store(false, Ordering::Release);
            ack_error("ack", &error)
        })
    }

    async fn in_progress(&self) -> Result<(), StoreError> {
        self.acker
            .ack_with(AckKind::Progress)
            .await
            .map_err(|error| ack_error("in-progress ack", &error))
    }
}

#[cfg(test)]
mod retried_tests {
    use super::*;

    #[test]
    fn a_retried_delivery_counts_at_least_one_more_until_settled() {
        let retried = RetriedAttempts::default();
        assert_eq!(
            retried.floor("dlq-c-1"),
            0,
            "never retried: the server's count"
        );
        retried.retried("dlq-c-1", 1);
        assert_eq!(retried.floor("dlq-c-1"), 2);
        retried.retried("dlq-c-1", 2);
        assert_eq!(retried.floor("dlq-c-1"), 3);
        assert_eq!(retried.floor("dlq-c-2"), 0, "per delivery");
        retried.settled("dlq-c-1");
        assert_eq!(retried.floor("dlq-c-1"), 0);
    }
}
