//! The event store contract: durable topics, durable consumers with
//! explicit acknowledgement, per-subscription dead-letter queues, and a
//! small key-value space (async requests, idempotency keys).
//!
//! Two implementations keep it (the embedded redb store and NATS
//! JetStream), and one test suite checks each against it. What callers
//! may rely on:
//! - [`EventStore::publish`] returns only once the event is durable (an
//!   fsync'd commit, or a JetStream ack); a repeated dedupe key within
//!   the topic's window returns the first event's position with
//!   `duplicate: true` and stores nothing;
//! - positions are per topic, start at 1 and only grow; an event keeps
//!   its position for as long as it is retained;
//! - a consumer sees every event at least once, from where it started,
//!   until it is settled: one not settled within `ack_wait` (a crash, a
//!   lost gateway) is delivered again with a higher attempt count;
//! - dead letters keep the original event (same `id`), the last error
//!   and the attempt count; a replayed one is delivered again to that
//!   consumer only.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use super::cloud_event::CloudEvent;
use crate::config::model::events::{StartFrom, TopicSpec};

/// Why a store operation failed. The message is for the log; clients see
/// only the stable code the caller maps it to.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The topic was never ensured.
    #[error("unknown topic {0}")]
    UnknownTopic(String),
    /// The store could not be reached or did not answer in time.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with an error, or its data did not decode.
    #[error("store failed: {0}")]
    Failed(String),
}

/// An event with its JSON (the CloudEvents JSON format), encoded once:
/// a publish checks its size on, stores, and sends these same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    event: CloudEvent,
    json: Bytes,
}

impl EncodedEvent {
    pub fn new(event: CloudEvent) -> Self {
        let json = Bytes::from(event.to_json());
        Self { event, json }
    }

    pub fn event(&self) -> &CloudEvent {
        &self.event
    }

    /// The event's JSON.
    pub fn json(&self) -> &Bytes {
        &self.json
    }
}

/// What a publish stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub position: u64,
    /// The dedupe key was seen within the window: nothing was stored and
    /// `position` is the first event's.
    pub duplicate: bool,
}

/// One event in a topic's log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub topic: Arc<str>,
    pub position: u64,
    pub event: Arc<CloudEvent>,
    /// When the store accepted it.
    pub stored_at: SystemTime,
}

/// A durable consumer: a named cursor on one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    pub topic: String,
    /// Unique per store; stable across restarts and reloads.
    pub name: String,
    pub start: StartFrom,
    /// An event delivered but not settled within this is delivered again.
    pub ack_wait: Duration,
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Done: never delivered to this consumer again.
    Ack,
    /// Deliver again, not before this delay.
    Retry(Duration),
    /// Move to the consumer's dead-letter queue with this reason.
    DeadLetter(String),
}

/// Settles one delivery; implemented by each store.
#[async_trait]
pub trait Settler: Send + Sync + fmt::Debug {
    async fn settle(&self, how: Settle) -> Result<(), StoreError>;
    /// Tells the store the delivery is still being worked on (pushes its
    /// `ack_wait` deadline back).
    async fn in_progress(&self) -> Result<(), StoreError>;
}

/// One event handed to a consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: StoredEvent,
    /// 1 on the first delivery to this consumer; counts redeliveries.
    /// A replayed dead letter starts again at 1.
    pub attempt: u32,
    pub settler: Arc<dyn Settler>,
}

impl Delivery {
    pub async fn settle(&self, how: Settle) -> Result<(), StoreError> {
        self.settler.settle(how).await
    }
}

/// One entry of a dead-letter queue.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Identifies the entry within its queue (for replay and purge).
    pub sequence: u64,
    pub consumer: String,
    pub event: StoredEvent,
    pub attempts: u32,
    pub last_error: String,
    pub dead_at: SystemTime,
}

/// Which dead letters an operation applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterSelection {
    All,
    One(u64),
}

/// A key-value bucket (async requests, idempotency keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    pub name: String,
    /// Entries older than this are removed (`None`: kept).
    pub ttl: Option<Duration>,
}

/// The store behind the event bus.
#[async_trait]
pub trait EventStore: Send + Sync + fmt::Debug + 'static {
    /// `embedded` or `nats`, for logs and metrics.
    fn kind(&self) -> &'static str;

    /// Creates the topic, or updates its retention and dedupe window.
    async fn ensure_topic(&self, topic: &TopicSpec) -> Result<(), StoreError>;

    /// Appends durably. `dedupe_key` (an `Idempotency-Key`, or the event's
    /// `source` + `id`) is remembered for the topic's dedupe window.
    async fn publish(
        &self,
        topic: &str,
        event: &EncodedEvent,
        dedupe_key: Option<&str>,
    ) -> Result<Published, StoreError>;

    /// Appends several events (a batch publish), answering one
    /// [`Published`] per event, in the batch's order, as [`publish`] would
    /// for each (a key repeated inside the batch is a duplicate of its
    /// first event). The embedded store writes them in one atomic
    /// transaction; JetStream pipelines them and is not atomic (on an
    /// error some may be stored).
    ///
    /// [`publish`]: EventStore::publish
    async fn publish_many(
        &self,
        topic: &str,
        events: &[(EncodedEvent, Option<String>)],
    ) -> Result<Vec<Published>, StoreError>;

    /// Up to `max` retained events with a position of at least `from`, in
    /// order (the SSE resume path).
    async fn read(
        &self,
        topic: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// The newest position (0 for an empty topic).
    async fn last_position(&self, topic: &str) -> Result<u64, StoreError>;

    /// Resolves once the topic's newest position is beyond `position`, or
    /// after `timeout` (whichever is first); returns the newest position.
    async fn wait_beyond(
        &self,
        topic: &str,
        position: u64,
        timeout: Duration,
    ) -> Result<u64, StoreError>;

    /// Creates the durable consumer if it does not exist (an existing one
    /// keeps its cursor).
    async fn ensure_consumer(&self, consumer: &ConsumerSpec) -> Result<(), StoreError>;

    /// Removes a consumer, its cursor and its dead letters.
    async fn remove_consumer(&self, topic: &str, name: &str) -> Result<(), StoreError>;

    /// Up to `max` deliveries: replayed dead letters first, then events
    /// due again, then new ones; waits up to `wait` when there are none.
    async fn fetch(
        &self,
        topic: &str,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Events the consumer has not yet settled (its lag).
    async fn pending(&self, topic: &str, consumer: &str) -> Result<u64, StoreError>;

    /// The consumer's dead letters, oldest first, at most `limit`.
    async fn dead_letters(
        &self,
        topic: &str,
        consumer: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError>;

    /// How many dead letters the consumer has. The default counts what
    /// [`Self::dead_letters`] lists; stores override it with a count.
    async fn dead_letter_count(&self, topic: &str, consumer: &str) -> Result<u64, StoreError> {
        let listed = self.dead_letters(topic, consumer, usize::MAX).await?;
        Ok(u64::try_from(listed.len()).unwrap_or(u64::MAX))
    }

    /// Moves dead letters back for delivery to that consumer only; returns
    /// how many.
    async fn replay_dead_letters(
        &self,
        topic: &str,
        consumer: &str,
        which: DeadLetterSelection,
    ) -> Result<u64, StoreError>;

    /// Deletes dead letters; returns how many.
    async fn purge_dead_letters(
        &self,
        topic: &str,
        consumer: &str,
        which: DeadLetterSelection,
    ) -> Result<u64, StoreError>;

    /// Creates the bucket if it does not exist.
    async fn ensure_bucket(&self, bucket: &BucketSpec) -> Result<(), StoreError>;

    /// Stores `value` under `key` only if the key is absent; returns the
    /// value already there otherwise (idempotency keys).
    async fn kv_create(
        &self,
        bucket: &str,
        key: &str,
        value: Bytes,
    ) -> Result<Option<Bytes>, StoreError>;

    /// Stores `value` under `key`, durably.
    async fn kv_put(&self, bucket: &str, key: &str, value: Bytes) -> Result<(), StoreError>;

    async fn kv_get(&self, bucket: &str, key: &str) -> Result<Option<Bytes>, StoreError>;
}

/// The store, shared by every part of the event bus.
pub type SharedStore = Arc<dyn EventStore>;
