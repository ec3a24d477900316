//! Read-only queries of the embedded store, each in a redb read
//! transaction on the blocking pool (never on a tokio worker). Readers do
//! not wait for the writer: they see the last committed state.

use std::sync::Arc;

use bytes::Bytes;
use redb::{Database, ReadTransaction, ReadableDatabase};

use super::tables::{
    CONSUMERS, ConsumerRecord, DEAD, DeadRecord, EVENTS, EventRecord, KV, PENDING, REPLAY, decode,
};
use super::txn::kv::expired;
use crate::events::store::StoreError;

/// Runs `query` in a read transaction on the blocking pool.
pub async fn query<T, F>(db: &Arc<Database>, query: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&ReadTransaction) -> Result<Result<T, StoreError>, redb::Error> + Send + 'static,
{
    let db = Arc::clone(db);
    tokio::task::spawn_blocking(move || {
        let txn = db.begin_read().map_err(redb::Error::from)?;
        query(&txn)
    })
    .await
    .map_err(|error| StoreError::Failed(format!("read task failed: {error}")))?
    .map_err(|error| StoreError::Failed(error.to_string()))?
}

/// Up to `max` events of `topic` from `from` on.
pub fn events(
    txn: &ReadTransaction,
    topic: &str,
    from: u64,
    max: usize,
) -> Result<Result<Vec<(u64, EventRecord)>, StoreError>, redb::Error> {
    let table = txn.open_table(EVENTS)?;
    let mut out = Vec::new();
    for entry in table.range((topic, from)..=(topic, u64::MAX))?.take(max) {
        let (key, row) = entry?;
        match EventRecord::from_row(row.value()) {
            Ok(record) => out.push((key.value().1, record)),
            Err(error) => return Ok(Err(error)),
        }
    }
    Ok(Ok(out))
}

/// The consumer's record, if it reads `topic`.
pub fn consumer(
    txn: &ReadTransaction,
    topic: &str,
    name: &str,
) -> Result<Result<ConsumerRecord, StoreError>, redb::Error> {
    let table = txn.open_table(CONSUMERS)?;
    let missing = || StoreError::Failed(format!("no consumer {name} on topic {topic}"));
    let Some(row) = table.get(name)? else {
        return Ok(Err(missing()));
    };
    Ok(
        decode::<ConsumerRecord>("consumers", row.value()).and_then(|record| {
            if record.topic == topic {
                Ok(record)
            } else {
                Err(missing())
            }
        }),
    )
}

/// Events the consumer has not settled: unsettled deliveries, replays
/// waiting, and the log beyond its cursor (up to `last`).
pub fn pending(
    txn: &ReadTransaction,
    topic: &str,
    name: &str,
    last: u64,
) -> Result<Result<u64, StoreError>, redb::Error> {
    let record = match consumer(txn, topic, name)? {
        Ok(record) => record,
        Err(error) => return Ok(Err(error)),
    };
    let mut count = (last + 1).saturating_sub(record.next);
    for definition in [PENDING, REPLAY] {
        let table = txn.open_table(definition)?;
        count += table.range((name, 0)..=(name, u64::MAX))?.count() as u64;
    }
    Ok(Ok(count))
}

/// The consumer's dead letters, oldest first.
pub fn dead_letters(
    txn: &ReadTransaction,
    topic: &str,
    name: &str,
    limit: usize,
) -> Result<Result<Vec<(u64, DeadRecord)>, StoreError>, redb::Error> {
    if let Err(error) = consumer(txn, topic, name)? {
        return Ok(Err(error));
    }
    let table = txn.open_table(DEAD)?;
    let mut out = Vec::new();
    for entry in table.range((name, 0)..=(name, u64::MAX))?.take(limit) {
        let (key, row) = entry?;
        match decode::<DeadRecord>("dead_letters", row.value()) {
            Ok(record) => out.push((key.value().1, record)),
            Err(error) => return Ok(Err(error)),
        }
    }
    Ok(Ok(out))
}

/// The live value under `key`.
pub fn kv_get(
    txn: &ReadTransaction,
    bucket: &str,
    key: &str,
    ttl_ms: u64,
    now: u64,
) -> Result<Result<Option<Bytes>, StoreError>, redb::Error> {
    let table = txn.open_table(KV)?;
    let Some(row) = table.get((bucket, key))? else {
        return Ok(Ok(None));
    };
    let (written, value) = row.value();
    if expired(written, ttl_ms, now) {
        return Ok(Ok(None));
    }
    Ok(Ok(Some(Bytes::copy_from_slice(value))))
}
