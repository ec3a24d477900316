//! One write transaction of the embedded store: every table opened once,
//! and the operations the writer thread applies to them (a batch of
//! publishes, settles and fetches shares one transaction and one fsync).
//!
//! Each operation returns `Ok(Err(StoreError))` for a refusal that leaves
//! the transaction untouched (an unknown topic), and `Err(redb::Error)`
//! when the storage failed, which aborts the whole batch.

pub mod consumers;
mod dead_letters;
pub mod kv;
mod log;
mod sweep;

use redb::{ReadableTable, Table, WriteTransaction};

use super::tables::{
    BUCKETS, CONSUMERS, ConsumerRecord, DEAD, DEDUPE, DEDUPE_EXPIRY, EVENTS, KV, KV_EXPIRY,
    PENDING, PENDING_DUE, REPLAY, TOPICS, decode, encode,
};
use crate::events::store::StoreError;

pub use consumers::FetchOutcome;

/// What an operation returns inside the transaction.
pub type Applied<T> = Result<Result<T, StoreError>, redb::Error>;

/// Rows removed at most per table by one retention or expiry pass, so a
/// pass never holds the writer for long; the next pass goes on.
pub const SWEEP_LIMIT: usize = 4096;

/// The tables of one write transaction.
pub struct Tables<'t> {
    pub events: Table<'t, (&'static str, u64), &'static [u8]>,
    pub topics: Table<'t, &'static str, u64>,
    pub dedupe: Table<'t, (&'static str, &'static str), (u64, u64)>,
    pub dedupe_expiry: Table<'t, (u64, &'static str, &'static str), ()>,
    pub consumers: Table<'t, &'static str, &'static [u8]>,
    pub pending: Table<'t, (&'static str, u64), &'static [u8]>,
    pub pending_due: Table<'t, (&'static str, u64, u64), ()>,
    pub dead: Table<'t, (&'static str, u64), &'static [u8]>,
    pub replay: Table<'t, (&'static str, u64), &'static [u8]>,
    pub buckets: Table<'t, &'static str, u64>,
    pub kv: Table<'t, (&'static str, &'static str), (u64, &'static [u8])>,
    pub kv_expiry: Table<'t, (u64, &'static str, &'static str), ()>,
    /// The transaction's clock (ms since the epoch).
    pub now: u64,
}

impl<'t> Tables<'t> {
    /// Opens (creating on first use) every table.
    pub fn open(txn: &'t WriteTransaction, now: u64) -> Result<Self, redb::Error> {
        Ok(Self {
            events: txn.open_table(EVENTS)?,
            topics: txn.open_table(TOPICS)?,
            dedupe: txn.open_table(DEDUPE)?,
            dedupe_expiry: txn.open_table(DEDUPE_EXPIRY)?,
            consumers: txn.open_table(CONSUMERS)?,
            pending: txn.open_table(PENDING)?,
            pending_due: txn.open_table(PENDING_DUE)?,
            dead: txn.open_table(DEAD)?,
            replay: txn.open_table(REPLAY)?,
            buckets: txn.open_table(BUCKETS)?,
            kv: txn.open_table(KV)?,
            kv_expiry: txn.open_table(KV_EXPIRY)?,
            now,
        })
    }

    /// The consumer's record, checked to read `topic`.
    pub fn consumer(&self, topic: &str, name: &str) -> Applied<ConsumerRecord> {
        let Some(bytes) = self.consumers.get(name)?.map(|row| row.value().to_vec()) else {
            return Ok(Err(unknown_consumer(topic, name)));
        };
        let record: ConsumerRecord = match decode("consumers", &bytes) {
            Ok(record) => record,
            Err(error) => return Ok(Err(error)),
        };
        if record.topic != topic {
            return Ok(Err(unknown_consumer(topic, name)));
        }
        Ok(Ok(record))
    }

    pub fn put_consumer(&mut self, name: &str, record: &ConsumerRecord) -> Result<(), redb::Error> {
        self.consumers.insert(name, encode(record).as_slice())?;
        Ok(())
    }
}

pub fn unknown_consumer(topic: &str, name: &str) -> StoreError {
    StoreError::Failed(format!("no consumer {name} on topic {topic}"))
}

/// The positions (second key part) of up to `limit` rows of a
/// `(name, u64)` range, collected before they are changed (a table cannot
/// change while a range over it is open).
pub fn positions_in(
    table: &Table<'_, (&'static str, u64), &'static [u8]>,
    name: &str,
    from: u64,
    to: u64,
    limit: usize,
) -> Result<Vec<u64>, redb::Error> {
    let mut positions = Vec::new();
    for entry in table.range((name, from)..=(name, to))?.take(limit) {
        let (key, _) = entry?;
        positions.push(key.value().1);
    }
    Ok(positions)
}
