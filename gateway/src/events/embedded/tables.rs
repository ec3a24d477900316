//! The redb tables of the embedded store and the records kept in them.
//!
//! Keys are tuples so one consumer's (or one topic's) rows are one
//! contiguous range. Values that hold an event keep its CloudEvent JSON
//! exactly as published, so a dead letter or a replay delivers the same
//! bytes (and the same `id`) as the first delivery.

use redb::TableDefinition;
use serde::{Deserialize, Serialize};

/// `(topic, position)` → [`EventRecord::to_row`].
pub const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("events");
/// `topic` → the newest position ever assigned (kept when retention
/// empties the log, so positions only grow).
pub const TOPICS: TableDefinition<&str, u64> = TableDefinition::new("topics");
/// `(topic, dedupe key)` → `(position, expires at ms)`.
pub const DEDUPE: TableDefinition<(&str, &str), (u64, u64)> = TableDefinition::new("dedupe");
/// `(expires at ms, topic, dedupe key)`: the expiry index of [`DEDUPE`].
pub const DEDUPE_EXPIRY: TableDefinition<(u64, &str, &str), ()> =
    TableDefinition::new("dedupe_expiry");
/// consumer name → [`ConsumerRecord`] JSON.
pub const CONSUMERS: TableDefinition<&str, &[u8]> = TableDefinition::new("consumers");
/// `(consumer, position)` → [`PendingRecord`] JSON: delivered (or waiting
/// for a retry) and not yet settled.
pub const PENDING: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("pending");
/// `(consumer, due at ms, position)`: when each pending event is due
/// again (its `ack_wait` deadline, or the end of its retry delay).
pub const PENDING_DUE: TableDefinition<(&str, u64, u64), ()> = TableDefinition::new("pending_due");
/// `(consumer, sequence)` → [`DeadRecord`] JSON.
pub const DEAD: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("dead_letters");
/// `(consumer, sequence)` → [`DeadRecord`] JSON: replayed dead letters
/// waiting for their consumer's next fetch.
pub const REPLAY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("replay");
/// bucket name → TTL in ms (0: entries are kept).
pub const BUCKETS: TableDefinition<&str, u64> = TableDefinition::new("buckets");
/// `(bucket, key)` → `(written at ms, value)`.
pub const KV: TableDefinition<(&str, &str), (u64, &[u8])> = TableDefinition::new("kv");
/// `(expires at ms, bucket, key)`: the expiry index of [`KV`].
pub const KV_EXPIRY: TableDefinition<(u64, &str, &str), ()> = TableDefinition::new("kv_expiry");

/// One stored event: when it was accepted and its CloudEvent JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRecord {
    pub stored_at_ms: u64,
    pub event: String,
}

impl EventRecord {
    /// The [`EVENTS`] row: 8 bytes of `stored_at_ms` (big-endian), then
    /// the JSON.
    pub fn to_row(stored_at_ms: u64, event: &[u8]) -> Vec<u8> {
        let mut row = Vec::with_capacity(8 + event.len());
        row.extend_from_slice(&stored_at_ms.to_be_bytes());
        row.extend_from_slice(event);
        row
    }

    pub fn from_row(row: &[u8]) -> Result<Self, super::super::store::StoreError> {
        let bad =
            || super::super::store::StoreError::Failed("an events row does not decode".into());
        let (stamp, json) = row.split_at_checked(8).ok_or_else(bad)?;
        let stored_at_ms = u64::from_be_bytes(stamp.try_into().map_err(|_| bad())?);
        let event = std::str::from_utf8(json).map_err(|_| bad())?.to_owned();
        Ok(Self {
            stored_at_ms,
            event,
        })
    }

    /// `stored_at_ms` of an [`EVENTS`] row without decoding the rest.
    pub fn stored_at_of(row: &[u8]) -> u64 {
        row.first_chunk::<8>()
            .map_or(0, |stamp| u64::from_be_bytes(*stamp))
    }
}

/// A durable consumer's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsumerRecord {
    pub topic: String,
    /// The next position never delivered to this consumer.
    pub next: u64,
    pub ack_wait_ms: u64,
    /// The sequence number the next dead letter gets.
    pub next_dead: u64,
}

/// An unsettled delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingRecord {
    /// Deliveries so far.
    pub attempt: u32,
    pub due_ms: u64,
    /// A replayed dead letter carries its event (the log may have dropped
    /// it by now); others are read from [`EVENTS`].
    pub replayed: Option<EventRecord>,
}

/// A dead letter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadRecord {
    pub position: u64,
    pub event: EventRecord,
    pub attempts: u32,
    pub last_error: String,
    pub dead_at_ms: u64,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// A duration in ms, saturating.
pub fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Encodes a record as JSON.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

/// Decodes a record, naming the table in the error.
pub fn decode<'a, T: Deserialize<'a>>(
    table: &str,
    bytes: &'a [u8],
) -> Result<T, super::super::store::StoreError> {
    serde_json::from_slice(bytes).map_err(|error| {
        super::super::store::StoreError::Failed(format!("a {table} row does not decode: {error}"))
    })
}
