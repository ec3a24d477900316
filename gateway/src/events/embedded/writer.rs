//! The embedded store's one writer thread and its group commit.
//!
//! Every change (publish, settle, fetch, consumer and dead-letter
//! changes, KV writes) is a [`Request`] on a bounded queue. The thread
//! takes the first waiting request and every one that queued while the
//! previous commit ran, then, when `commit_window` is not zero, every
//! request that arrives until the window ends, at most [`MAX_BATCH`], and
//! applies them in one redb write transaction: one commit, one fsync,
//! however many publishes it carries. Only then does any of them get its
//! answer. A batch of fetches and in-progress touches alone commits
//! without an fsync (losing one to a crash means a redelivery, which
//! at-least-once allows); the next durable commit persists it.
//!
//! The thread also runs the retention and expiry sweep about once a
//! second. redb never runs on a tokio worker: the thread has its own
//! current-thread runtime, used only to wait on the queue with a timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redb::{Database, Durability};
use tokio::sync::{mpsc, oneshot};

use super::shared::Shared;
use super::tables::now_ms;
use super::txn::{Tables, consumers::FetchOutcome};
use crate::config::model::events::TopicSpec;
use crate::events::store::{ConsumerSpec, DeadLetterSelection, Published, Settle, StoreError};

/// Requests applied in one transaction at most.
pub const MAX_BATCH: usize = 1024;
/// Requests waiting for the writer at most; a caller beyond it waits for
/// room (backpressure instead of unbounded memory).
pub const QUEUE_CAPACITY: usize = 4096;
/// How often retention and expiry run.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One change for the writer.
#[derive(Debug)]
pub enum Op {
    EnsureTopic(Arc<TopicSpec>),
    Publish {
        spec: Arc<TopicSpec>,
        event: Bytes,
        dedupe_key: Option<String>,
    },
    /// A batch: every event in this transaction, in order.
    PublishMany {
        spec: Arc<TopicSpec>,
        /// Each event's JSON and dedupe key.
        events: Vec<(Bytes, Option<String>)>,
    },
    EnsureConsumer(ConsumerSpec),
    RemoveConsumer {
        topic: String,
        name: String,
    },
    Fetch {
        topic: String,
        name: String,
        max: usize,
    },
    Settle {
        topic: Arc<str>,
        name: Arc<str>,
        position: u64,
        attempt: u32,
        how: Settle,
    },
    Touch {
        topic: Arc<str>,
        name: Arc<str>,
        position: u64,
        attempt: u32,
    },
    Replay {
        topic: String,
        name: String,
        which: DeadLetterSelection,
    },
    Purge {
        topic: String,
        name: String,
        which: DeadLetterSelection,
    },
    EnsureBucket {
        name: String,
        ttl_ms: u64,
    },
    KvCreate {
        bucket: String,
        key: String,
        value: Bytes,
    },
    KvPut {
        bucket: String,
        key: String,
        value: Bytes,
    },
}

impl Op {
    /// Whether the caller's answer must wait for an fsync.
    fn is_durable(&self) -> bool {
        !matches!(self, Op::Fetch { .. } | Op::Touch { .. })
    }
}

/// The answer to an [`Op`].
#[derive(Debug)]
pub enum Reply {
    Position(u64),
    Published(Published),
    PublishedMany(Vec<Published>),
    Fetched(FetchOutcome),
    Count(u64),
    /// `RemoveConsumer`: rows remain (call again).
    More(bool),
    Value(Option<Bytes>),
    Done,
}

/// An op and where its answer goes.
#[derive(Debug)]
pub struct Request {
    pub op: Op,
    pub reply: oneshot::Sender<Result<Reply, StoreError>>,
}

/// The async side's handle on the writer thread.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    queue: mpsc::Sender<Request>,
}

impl WriterHandle {
    pub async fn call(&self, op: Op) -> Result<Reply, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request { op, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the event store's writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the event store's writer has stopped".into()))?
    }
}

/// Starts the writer thread.
pub fn spawn(
    db: Arc<Database>,
    shared: Arc<Shared>,
    commit_window: Duration,
) -> Result<(WriterHandle, std::thread::JoinHandle<()>), StoreError> {
    let (queue, requests) = mpsc::channel(QUEUE_CAPACITY);
    let thread = std::thread::Builder::new()
        .name("event-store".into())
        .spawn(move || Writer::new(db, shared, commit_window).run(requests))
        .map_err(|error| {
            StoreError::Unavailable(format!("cannot start the writer thread: {error}"))
        })?;
    Ok((WriterHandle { queue }, thread))
}

/// The batch that starts with `first`: every request already queued,
/// then, with a non-zero `window`, those arriving until it ends; at most
/// [`MAX_BATCH`].
fn collect(
    runtime: &tokio::runtime::Runtime,
    requests: &mut mpsc::Receiver<Request>,
    first: Request,
    window: Duration,
) -> Vec<Request> {
    let mut batch = vec![first];
    let deadline = Instant::now() + window;
    while batch.len() < MAX_BATCH {
        if let Ok(request) = requests.try_recv() {
            batch.push(request);
            continue;
        }
        if window.is_zero() {
            break;
        }
        let next = runtime
            .block_on(async { tokio::time::timeout_at(deadline.into(), requests.recv()).await });
        match next {
            Ok(Some(request)) => batch.push(request),
            _ => break,
        }
    }
    batch
}

struct Writer {
    db: Arc<Database>,
    shared: Arc<Shared>,
    commit_window: Duration,
    /// Topic specs as last ensured (retention and dedupe windows).
    topics: HashMap<String, Arc<TopicSpec>>,
}

impl Writer {
    fn new(db: Arc<Database>, shared: Arc<Shared>, commit_window: Duration) -> Self {
        Self {
            db,
            shared,
            commit_window,
            topics: HashMap::new(),
        }
    }

    fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        else {
            tracing::error!("the event store's writer cannot start its timer runtime");
            return;
        };
        let mut last_sweep = Instant::now();
        loop {
            let first = runtime
                .block_on(async { tokio::time::timeout(SWEEP_EVERY, requests.recv()).await });
            let batch = match first {
                Ok(None) => break,
                Ok(Some(request)) => collect(&runtime, &mut requests, request, self.commit_window),
                Err(_) => Vec::new(),
            };
            if !batch.is_empty() {
                self.commit_batch(batch);
            }
            if last_sweep.elapsed() >= SWEEP_EVERY {
                self.sweep();
                last_sweep = Instant::now();
            }
        }
    }

    fn commit_batch(&mut self, batch: Vec<Request>) {
        let (ops, replies): (Vec<Op>, Vec<_>) = batch
            .into_iter()
            .map(|request| (request.op, request.reply))
            .unzip();
        match self.apply(&ops) {
            Ok(results) => {
                self.notify(&ops, &results);
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(error) => {
                tracing::error!(%error, requests = ops.len(), "event store commit failed");
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Failed(format!("commit failed: {error}"))));
                }
            }
        }
    }

    /// Applies the ops in one transaction and commits it.
    fn apply(&mut self, ops: &[Op]) -> Result<Vec<Result<Reply, StoreError>>, redb::Error> {
        let mut txn = self.db.begin_write()?;
        if !ops.iter().any(Op::is_durable) {
            txn.set_durability(Durability::None)?;
        }
        let results = {
            let mut tables = Tables::open(&txn, now_ms())?;
            let mut results = Vec::with_capacity(ops.len());
            for op in ops {
                results.push(self.apply_one(&mut tables, op)?);
            }
            results
        };
        txn.commit()?;
        Ok(results)
    }

    fn apply_one(
        &mut self,
        tables: &mut Tables<'_>,
        op: &Op,
    ) -> Result<Result<Reply, StoreError>, redb::Error> {
        Ok(match op {
            Op::EnsureTopic(spec) => {
                self.topics.insert(spec.name.clone(), Arc::clone(spec));
                Ok(Reply::Position(tables.ensure_topic(&spec.name)?))
            }
            Op::Publish {
                spec,
                event,
                dedupe_key,
            } => tables
                .publish(spec, event, dedupe_key.as_deref())?
                .map(Reply::Published),
            Op::PublishMany { spec, events } => {
                let mut published = Vec::with_capacity(events.len());
                for (event, dedupe_key) in events {
                    match tables.publish(spec, event, dedupe_key.as_deref())? {
                        Ok(one) => published.push(one),
                        // Only an unknown topic fails a publish, so the
                        // first event fails and nothing is written.
                        Err(error) => return Ok(Err(error)),
                    }
                }
                Ok(Reply::PublishedMany(published))
            }
            Op::EnsureConsumer(spec) => tables.ensure_consumer(spec)?.map(|()| Reply::Done),
            Op::RemoveConsumer { topic, name } => {
                tables.remove_consumer(topic, name)?.map(Reply::More)
            }
            Op::Fetch { topic, name, max } => tables.fetch(topic, name, *max)?.map(Reply::Fetched),
            Op::Settle {
                topic,
                name,
                position,
                attempt,
                how,
            } => tables
                .settle(topic, name, *position, *attempt, how)?
                .map(|()| Reply::Done),
            Op::Touch {
                topic,
                name,
                position,
                attempt,
            } => tables
                .touch(topic, name, *position, *attempt)?
                .map(|()| Reply::Done),
            Op::Replay { topic, name, which } => {
                tables.replay(topic, name, which)?.map(Reply::Count)
            }
            Op::Purge { topic, name, which } => tables.purge(topic, name, which)?.map(Reply::Count),
            Op::EnsureBucket { name, ttl_ms } => {
                tables.ensure_bucket(name, *ttl_ms)?;
                Ok(Reply::Done)
            }
            Op::KvCreate { bucket, key, value } => {
                tables.kv_create(bucket, key, value)?.map(Reply::Value)
            }
            Op::KvPut { bucket, key, value } => {
                tables.kv_put(bucket, key, value)?.map(|()| Reply::Done)
            }
        })
    }

    /// Wakes the readers of topics that changed (after the commit).
    fn notify(&self, ops: &[Op], results: &[Result<Reply, StoreError>]) {
        for (op, result) in ops.iter().zip(results) {
            match (op, result) {
                (Op::Publish { spec, .. }, Ok(Reply::Published(published)))
                    if !published.duplicate =>
                {
                    self.shared.advance(&spec.name, published.position);
                }
                (Op::PublishMany { spec, .. }, Ok(Reply::PublishedMany(published))) => {
                    if let Some(last) = published
                        .iter()
                        .filter(|one| !one.duplicate)
                        .map(|one| one.position)
                        .max()
                    {
                        self.shared.advance(&spec.name, last);
                    }
                }
                (Op::EnsureTopic(spec), Ok(Reply::Position(last))) => {
                    self.shared.advance(&spec.name, *last);
                }
                (Op::Replay { topic, .. }, Ok(Reply::Count(moved))) if *moved > 0 => {
                    self.shared.wake(topic);
                }
                _ => {}
            }
        }
    }

    fn sweep(&mut self) {
        let result = (|| -> Result<(), redb::Error> {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(Durability::None)?;
            {
                let mut tables = Tables::open(&txn, now_ms())?;
                tables.sweep(self.topics.values().map(|spec| spec.as_ref()))?;
            }
            txn.commit()?;
            Ok(())
        })();
        if let Err(error) = result {
            tracing::warn!(%error, "event store retention sweep failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        let (reply, _) = oneshot::channel();
        Request {
            op: Op::EnsureBucket {
                name: "b".into(),
                ttl_ms: 1,
            },
            reply,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn without_a_window_the_batch_is_everything_already_queued() {
        let (queue, mut requests) = mpsc::channel(QUEUE_CAPACITY);
        for _ in 0..5 {
            queue.try_send(request()).unwrap();
        }
        let runtime = runtime();
        let batch = collect(&runtime, &mut requests, request(), Duration::ZERO);
        assert_eq!(batch.len(), 6);
        assert!(requests.try_recv().is_err(), "the queue is drained");
    }

    #[test]
    fn a_batch_holds_at_most_max_batch() {
        let (queue, mut requests) = mpsc::channel(QUEUE_CAPACITY);
        for _ in 0..MAX_BATCH + 10 {
            queue.try_send(request()).unwrap();
        }
        let runtime = runtime();
        let batch = collect(&runtime, &mut requests, request(), Duration::ZERO);
        assert_eq!(batch.len(), MAX_BATCH);
        assert_eq!(requests.len(), 11);
    }

    #[test]
    fn a_window_also_takes_requests_arriving_within_it() {
        let (queue, mut requests) = mpsc::channel(QUEUE_CAPACITY);
        let runtime = runtime();
        // Sent from another thread, before or during the window; then
        // the sender is dropped, which ends the window early.
        let late = std::thread::spawn(move || {
            queue.blocking_send(request()).unwrap();
        });
        let batch = collect(&runtime, &mut requests, request(), Duration::from_secs(5));
        late.join().unwrap();
        assert_eq!(
            batch.len(),
            2,
            "the late request joined, then the sender closed"
        );
    }
}
