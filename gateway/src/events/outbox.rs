//! The emit outbox: a local redb file (`outbox.redb`) holding the events
//! `emit:` could not hand to the store (it failed, or did not answer within
//! [`super::emit::PUBLISH_TIMEOUT`]). The relay ([`relay`]) publishes them
//! again, oldest first, with the same event id and dedupe key, until the
//! store takes each; a retry the store had in fact already stored is a
//! duplicate within the topic's dedupe window and stores nothing.
//!
//! The file lives in the embedded store's `data_dir`, or the NATS store's
//! `outbox_dir`, and survives restarts: what a crashed gateway left in it
//! is relayed after the next start.
//!
//! Bound: at most [`MAX_ENTRIES`] waiting events; past that an emission is
//! dropped, logged at error level and counted (`result="lost"`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::cloud_event::CloudEvent;
use super::store::{SharedStore, StoreError};
use crate::observe::metrics::Metrics;
use crate::observe::metrics::events::PublishResult;

/// The outbox file's name in its directory.
pub const FILE_NAME: &str = "outbox.redb";
/// Most events the outbox holds.
pub const MAX_ENTRIES: u64 = 100_000;
/// Events relayed per pass.
const PAGE: usize = 64;
/// The relay's pause after a failed publish: doubles up to the maximum.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// sequence → [`Entry`] JSON.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");

/// One waiting event and its topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub topic: String,
    pub event: CloudEvent,
}

/// The open outbox file.
#[derive(Debug)]
pub struct Outbox {
    db: Arc<Database>,
    path: PathBuf,
    next: AtomicU64,
    len: AtomicU64,
    max_entries: u64,
    /// Woken by each append, so the relay starts at once.
    appended: Notify,
}

impl Outbox {
    /// Opens (creating if needed) `dir/outbox.redb`.
    pub async fn open(dir: &Path) -> Result<Arc<Self>, StoreError> {
        Self::open_bounded(dir, MAX_ENTRIES).await
    }

    /// [`Self::open`] holding at most `max_entries` events.
    pub async fn open_bounded(dir: &Path, max_entries: u64) -> Result<Arc<Self>, StoreError> {
        let path = dir.join(FILE_NAME);
        let opened = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || open_file(&path))
                .await
                .map_err(|error| StoreError::Failed(format!("open task failed: {error}")))??
        };
        let (db, next, len) = opened;
        Ok(Arc::new(Self {
            db: Arc::new(db),
            path,
            next: AtomicU64::new(next),
            len: AtomicU64::new(len),
            max_entries,
            appended: Notify::new(),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events waiting to be relayed.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores `event` durably (fsync'd) for the relay.
    pub async fn append(&self, topic: &str, event: &CloudEvent) -> Result<(), StoreError> {
        if self.len() >= self.max_entries {
            return Err(StoreError::Unavailable(format!(
                "the outbox is full ({} events)",
                self.max_entries
            )));
        }
        let row = serde_json::to_vec(&Entry {
            topic: topic.to_owned(),
            event: event.clone(),
        })
        .map_err(|error| StoreError::Failed(format!("an outbox entry does not encode: {error}")))?;
        let sequence = self.next.fetch_add(1, Ordering::Relaxed);
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            txn.open_table(ENTRIES)?.insert(sequence, row.as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await?;
        self.len.fetch_add(1, Ordering::Relaxed);
        self.appended.notify_one();
        Ok(())
    }

    /// Up to `max` waiting entries, oldest first. An entry that does not
    /// decode is returned as `Err` with its sequence, for the relay to drop.
    pub async fn oldest(&self, max: usize) -> Result<Vec<(u64, Option<Entry>)>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(ENTRIES)?;
            let mut out = Vec::new();
            for row in table.iter()?.take(max) {
                let (sequence, value) = row?;
                out.push((sequence.value(), serde_json::from_slice(value.value()).ok()));
            }
            Ok(out)
        })
        .await
    }

    /// Removes a relayed (or undecodable) entry.
    pub async fn remove(&self, sequence: u64) -> Result<(), StoreError> {
        let removed = self
            .blocking(move |db| {
                let txn = db.begin_write()?;
                let removed = txn.open_table(ENTRIES)?.remove(sequence)?.is_some();
                txn.commit()?;
                Ok(removed)
            })
            .await?;
        if removed {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, redb::Error> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|error| StoreError::Failed(format!("outbox task failed: {error}")))?
            .map_err(|error| StoreError::Failed(format!("outbox: {error}")))
    }
}

/// Creates the directory, the file and its table; returns the next
/// sequence and the number of waiting entries.
fn open_file(path: &Path) -> Result<(Database, u64, u64), StoreError> {
    let db = super::embedded::create_database(path)?;
    let counted = (|| -> Result<(u64, u64), redb::Error> {
        let txn = db.begin_write()?;
        drop(txn.open_table(ENTRIES)?);
        txn.commit()?;
        let txn = db.begin_read()?;
        let table = txn.open_table(ENTRIES)?;
        let next = table.last()?.map_or(0, |(key, _)| key.value() + 1);
        Ok((next, table.len()?))
    })();
    let (next, len) = counted
        .map_err(|error| StoreError::Failed(format!("cannot read {}: {error}", path.display())))?;
    Ok((db, next, len))
}

/// Publishes the outbox's events to `store` until `stop`, oldest first;
/// after a failure it pauses (200 ms, doubling to 30 s) and tries the
/// same event again, so events leave the outbox in order.
pub async fn relay(
    outbox: Arc<Outbox>,
    store: SharedStore,
    metrics: Option<Arc<Metrics>>,
    stop: CancellationToken,
) {
    let mut pause = RETRY_FIRST;
    loop {
        if stop.is_cancelled() {
            return;
        }
        let waited = match relay_page(&outbox, &store, metrics.as_deref()).await {
            Ok(0) => {
                pause = RETRY_FIRST;
                // Nothing waiting: sleep until an append (or a periodic
                // look, in case a notification raced an empty read).
                Duration::from_secs(5)
            }
            Ok(_) => {
                pause = RETRY_FIRST;
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, waiting = outbox.len(), retry_in = ?pause, "relaying the emit outbox failed; trying again");
                let this = pause;
                pause = (pause * 2).min(RETRY_MAX);
                this
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = outbox.appended.notified() => {}
            () = tokio::time::sleep(waited) => {}
        }
    }
}

/// Relays one page; returns how many entries left the outbox.
async fn relay_page(
    outbox: &Outbox,
    store: &SharedStore,
    metrics: Option<&Metrics>,
) -> Result<usize, StoreError> {
    let page = outbox.oldest(PAGE).await?;
    let mut relayed = 0;
    for (sequence, entry) in page {
        let Some(Entry { topic, event }) = entry else {
            tracing::error!(
                sequence,
                "an emit outbox entry does not decode; dropping it"
            );
            outbox.remove(sequence).await?;
            continue;
        };
        let key = super::publish::event_dedupe_key(&event);
        match super::emit::publish_bounded(store, &topic, &event, &key).await {
            Ok(published) => {
                count(metrics, &topic, super::emit::stored_result(published));
                tracing::info!(%topic, event = %event.id, "emitted event relayed from the outbox");
            }
            Err(StoreError::UnknownTopic(_)) => {
                count(metrics, &topic, PublishResult::Lost);
                tracing::error!(%topic, event = %event.id, "the emit outbox holds an event for a topic the store no longer has; dropping it");
            }
            Err(error) => return Err(error),
        }
        outbox.remove(sequence).await?;
        relayed += 1;
    }
    Ok(relayed)
}

fn count(metrics: Option<&Metrics>, topic: &str, result: PublishResult) {
    if let Some(metrics) = metrics {
        metrics.events().published(topic, result);
    }
}

#[cfg(test)]
mod tests;
