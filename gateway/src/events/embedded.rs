//! The embedded event store: one redb file (`events.redb`) in
//! `events.store.data_dir`, durable on local disk, no server needed.
//!
//! - Writes go through one writer thread ([`writer`]) that group-commits:
//!   the publishes and settles arriving within `commit_window` (or while
//!   the previous commit runs) share one transaction and one fsync; each
//!   caller is answered only after that commit.
//! - Reads run in redb read transactions on tokio's blocking pool
//!   ([`reads`]); no redb call runs on a tokio worker.
//! - Waiting (`wait_beyond`, an empty `fetch`) follows a tokio watch per
//!   topic ([`shared`]), updated after each commit.
//!
//! Memory is bounded: at most [`writer::QUEUE_CAPACITY`] requests wait for
//! the writer (callers beyond wait for room), a batch holds at most
//! [`writer::MAX_BATCH`], a fetch or read returns at most
//! [`MAX_PAGE`] events, and the retention sweep removes at most
//! [`txn::SWEEP_LIMIT`] rows per table per pass. Everything else is on
//! disk, bounded by each topic's `max_age` / `max_events`, the dedupe
//! windows and the buckets' TTLs (dead letters are kept until purged).

mod reads;
mod settler;
mod shared;
mod store_impl;
mod tables;
mod txn;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::Database;

use super::cloud_event::CloudEvent;
use super::store::{StoreError, StoredEvent};
use crate::config::model::events::EmbeddedStore;
use shared::Shared;
use tables::EventRecord;
use writer::WriterHandle;

/// The store file's name in `data_dir`.
pub const FILE_NAME: &str = "events.redb";

/// Most events one `read` or `fetch` returns.
pub const MAX_PAGE: usize = writer::MAX_BATCH;

/// The embedded store; cheap to clone.
#[derive(Debug, Clone)]
pub struct EmbeddedEventStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    db: Arc<Database>,
    writer: Option<WriterHandle>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmbeddedEventStore {
    /// Opens (creating if needed) `data_dir/events.redb` and starts the
    /// writer thread. Fails if another process (or another store in this
    /// one) has the file open.
    pub async fn open(settings: &EmbeddedStore) -> Result<Self, StoreError> {
        let path = settings.data_dir.join(FILE_NAME);
        let db = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || open_file(&path))
                .await
                .map_err(|error| StoreError::Failed(format!("open task failed: {error}")))??
        };
        let db = Arc::new(db);
        let shared = Arc::new(Shared::default());
        let (writer, thread) =
            writer::spawn(Arc::clone(&db), Arc::clone(&shared), settings.commit_window)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                db,
                writer: Some(writer),
                shared,
                thread: Some(thread),
            }),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn writer(&self) -> Result<&WriterHandle, StoreError> {
        self.inner
            .writer
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the event store is closed".into()))
    }
}

/// Creates the directory and the redb file at `path` (or opens it); a file
/// another process (or another store in this one) holds is `Unavailable`.
/// Shared by the store and the emit outbox.
pub(crate) fn create_database(path: &Path) -> Result<Database, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|error| {
            StoreError::Unavailable(format!("cannot create {}: {error}", dir.display()))
        })?;
    }
    Database::create(path).map_err(|error| match error {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Unavailable(format!(
            "{} is already open (another gateway using the same directory?)",
            path.display()
        )),
        other => StoreError::Unavailable(format!("cannot open {}: {other}", path.display())),
    })
}

/// Creates the directory and the file, and every table in it.
fn open_file(path: &Path) -> Result<Database, StoreError> {
    let db = create_database(path)?;
    let created = (|| -> Result<(), redb::Error> {
        let txn = db.begin_write()?;
        drop(txn::Tables::open(&txn, 0)?);
        txn.commit()?;
        Ok(())
    })();
    created.map_err(|error| StoreError::Failed(format!("cannot create the tables: {error}")))?;
    Ok(db)
}

impl Drop for Inner {
    /// Closes the queue and waits for the writer to finish its last
    /// commit, so the file can be opened again as soon as this returns.
    fn drop(&mut self) {
        self.writer = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A stored row as the contract's [`StoredEvent`].
fn stored_event(
    topic: &Arc<str>,
    position: u64,
    record: &EventRecord,
) -> Result<StoredEvent, StoreError> {
    let event: CloudEvent = serde_json::from_str(&record.event)
        .map_err(|error| StoreError::Failed(format!("a stored event does not decode: {error}")))?;
    Ok(StoredEvent {
        topic: Arc::clone(topic),
        position,
        event: Arc::new(event),
        stored_at: system_time(record.stored_at_ms),
    })
}

fn system_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}
