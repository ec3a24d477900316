//! [`EventStore`] for [`EmbeddedEventStore`]: changes through the writer,
//! reads in read transactions, waits on the topic's watch.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::settler::{EmbeddedSettler, expect_done, unexpected};
use super::tables::{millis, now_ms};
use super::txn::FetchOutcome;
use super::writer::{Op, Reply};
use super::{EmbeddedEventStore, MAX_PAGE, reads, stored_event, system_time};
use crate::config::model::events::TopicSpec;
use crate::events::store::{
    BucketSpec, ConsumerSpec, DeadLetter, DeadLetterSelection, Delivery, EncodedEvent, EventStore,
    Published, StoreError, StoredEvent,
};

#[async_trait]
impl EventStore for EmbeddedEventStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn ensure_topic(&self, topic: &TopicSpec) -> Result<(), StoreError> {
        let spec = Arc::new(topic.clone());
        self.inner.shared.put_topic(Arc::clone(&spec));
        match self.writer()?.call(Op::EnsureTopic(spec)).await? {
            Reply::Position(_) => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn publish(
        &self,
        topic: &str,
        event: &EncodedEvent,
        dedupe_key: Option<&str>,
    ) -> Result<Published, StoreError> {
        let spec = self.inner.shared.topic(topic)?.spec.load_full();
        let op = Op::Publish {
            spec,
            event: event.json().clone(),
            dedupe_key: dedupe_key.map(str::to_owned),
        };
        match self.writer()?.call(op).await? {
            Reply::Published(published) => Ok(published),
            other => Err(unexpected(&other)),
        }
    }

    /// One atomic write: all the batch's events are stored, or none.
    async fn publish_many(
        &self,
        topic: &str,
        events: &[(EncodedEvent, Option<String>)],
    ) -> Result<Vec<Published>, StoreError> {
        let spec = self.inner.shared.topic(topic)?.spec.load_full();
        let encoded = events
            .iter()
            .map(|(event, key)| (event.json().clone(), key.clone()))
            .collect();
        match self
            .writer()?
            .call(Op::PublishMany {
                spec,
                events: encoded,
            })
            .await?
        {
            Reply::PublishedMany(published) => Ok(published),
            other => Err(unexpected(&other)),
        }
    }

    async fn read(
        &self,
        topic: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.shared.topic(topic)?;
        let name: Arc<str> = Arc::from(topic);
        let max = max.min(MAX_PAGE);
        let key = Arc::clone(&name);
        let rows = reads::query(&self.inner.db, move |txn| {
            reads::events(txn, &key, from, max)
        })
        .await?;
        rows.iter()
            .map(|(position, record)| stored_event(&name, *position, record))
            .collect()
    }

    async fn last_position(&self, topic: &str) -> Result<u64, StoreError> {
        Ok(self.inner.shared.topic(topic)?.signal.borrow().last)
    }

    async fn wait_beyond(
        &self,
        topic: &str,
        position: u64,
        timeout: Duration,
    ) -> Result<u64, StoreError> {
        let handle = self.inner.shared.topic(topic)?;
        let mut signal = handle.signal.subscribe();
        let waited = tokio::time::timeout(timeout, signal.wait_for(|s| s.last > position)).await;
        drop(waited);
        let last = handle.signal.borrow().last;
        Ok(last)
    }

    async fn ensure_consumer(&self, consumer: &ConsumerSpec) -> Result<(), StoreError> {
        self.inner.shared.topic(&consumer.topic)?;
        expect_done(
            self.writer()?
                .call(Op::EnsureConsumer(consumer.clone()))
                .await?,
        )
    }

    async fn remove_consumer(&self, topic: &str, name: &str) -> Result<(), StoreError> {
        loop {
            let op = Op::RemoveConsumer {
                topic: topic.to_owned(),
                name: name.to_owned(),
            };
            match self.writer()?.call(op).await? {
                Reply::More(true) => continue,
                Reply::More(false) => return Ok(()),
                other => return Err(unexpected(&other)),
            }
        }
    }

    async fn fetch(
        &self,
        topic: &str,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        let handle = self.inner.shared.topic(topic)?;
        let deadline = tokio::time::Instant::now() + wait;
        let mut signal = handle.signal.subscribe();
        loop {
            signal.borrow_and_update();
            let op = Op::Fetch {
                topic: topic.to_owned(),
                name: consumer.to_owned(),
                max: max.clamp(1, MAX_PAGE),
            };
            let outcome = match self.writer()?.call(op).await? {
                Reply::Fetched(outcome) => outcome,
                other => return Err(unexpected(&other)),
            };
            if !outcome.deliveries.is_empty() || tokio::time::Instant::now() >= deadline {
                return self.deliveries(topic, consumer, outcome);
            }
            let wake_at = match outcome.next_due_ms {
                Some(due) => {
                    let until_due = Duration::from_millis(due.saturating_sub(now_ms()) + 1);
                    deadline.min(tokio::time::Instant::now() + until_due)
                }
                None => deadline,
            };
            let _ = tokio::time::timeout_at(wake_at, signal.changed()).await;
        }
    }

    async fn pending(&self, topic: &str, consumer: &str) -> Result<u64, StoreError> {
        let last = self.last_position(topic).await?;
        let (topic, consumer) = (topic.to_owned(), consumer.to_owned());
        reads::query(&self.inner.db, move |txn| {
            reads::pending(txn, &topic, &consumer, last)
        })
        .await
    }

    async fn dead_letters(
        &self,
        topic: &str,
        consumer: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.inner.shared.topic(topic)?;
        let name: Arc<str> = Arc::from(topic);
        let (key, owner) = (Arc::clone(&name), consumer.to_owned());
        let limit = limit.min(MAX_PAGE);
        let rows = reads::query(&self.inner.db, move |txn| {
            reads::dead_letters(txn, &key, &owner, limit)
        })
        .await?;
        rows.into_iter()
            .map(|(sequence, dead)| {
                Ok(DeadLetter {
                    sequence,
                    consumer: consumer.to_owned(),
                    event: stored_event(&name, dead.position, &dead.event)?,
                    attempts: dead.attempts,
                    last_error: dead.last_error,
                    dead_at: system_time(dead.dead_at_ms),
                })
            })
            .collect()
    }

    async fn replay_dead_letters(
        &self,
        topic: &str,
        consumer: &str,
        which: DeadLetterSelection,
    ) -> Result<u64, StoreError> {
        let op = |which: DeadLetterSelection| Op::Replay {
            topic: topic.to_owned(),
            name: consumer.to_owned(),
            which,
        };
        self.repeat_counting(op, which).await
    }

    async fn purge_dead_letters(
        &self,
        topic: &str,
        consumer: &str,
        which: DeadLetterSelection,
    ) -> Result<u64, StoreError> {
        let op = |which: DeadLetterSelection| Op::Purge {
            topic: topic.to_owned(),
            name: consumer.to_owned(),
            which,
        };
        self.repeat_counting(op, which).await
    }

    async fn ensure_bucket(&self, bucket: &BucketSpec) -> Result<(), StoreError> {
        let ttl_ms = bucket.ttl.map_or(0, |ttl| millis(ttl).max(1));
        let op = Op::EnsureBucket {
            name: bucket.name.clone(),
            ttl_ms,
        };
        expect_done(self.writer()?.call(op).await?)?;
        self.inner.shared.put_bucket(&bucket.name, ttl_ms);
        Ok(())
    }

    async fn kv_create(
        &self,
        bucket: &str,
        key: &str,
        value: Bytes,
    ) -> Result<Option<Bytes>, StoreError> {
        self.inner.shared.bucket_ttl(bucket)?;
        let op = Op::KvCreate {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            value,
        };
        match self.writer()?.call(op).await? {
            Reply::Value(existing) => Ok(existing),
            other => Err(unexpected(&other)),
        }
    }

    async fn kv_put(&self, bucket: &str, key: &str, value: Bytes) -> Result<(), StoreError> {
        self.inner.shared.bucket_ttl(bucket)?;
        let op = Op::KvPut {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            value,
        };
        expect_done(self.writer()?.call(op).await?)
    }

    async fn kv_get(&self, bucket: &str, key: &str) -> Result<Option<Bytes>, StoreError> {
        let ttl = self.inner.shared.bucket_ttl(bucket)?;
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let now = now_ms();
        reads::query(&self.inner.db, move |txn| {
            reads::kv_get(txn, &bucket, &key, ttl, now)
        })
        .await
    }
}

impl EmbeddedEventStore {
    /// A fetch's rows as deliveries with their settlers.
    fn deliveries(
        &self,
        topic: &str,
        consumer: &str,
        outcome: FetchOutcome,
    ) -> Result<Vec<Delivery>, StoreError> {
        let topic: Arc<str> = Arc::from(topic);
        let consumer: Arc<str> = Arc::from(consumer);
        outcome
            .deliveries
            .into_iter()
            .map(|fetched| {
                let settler = EmbeddedSettler {
                    store: self.clone(),
                    topic: Arc::clone(&topic),
                    consumer: Arc::clone(&consumer),
                    position: fetched.position,
                    attempt: fetched.attempt,
                };
                Ok(Delivery {
                    event: stored_event(&topic, fetched.position, &fetched.record)?,
                    attempt: fetched.attempt,
                    settler: Arc::new(settler),
                })
            })
            .collect()
    }

    /// Runs a replay or purge until it has covered every selected dead
    /// letter (one transaction moves at most `SWEEP_LIMIT`).
    async fn repeat_counting(
        &self,
        op: impl Fn(DeadLetterSelection) -> Op,
        which: DeadLetterSelection,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let count = match self.writer()?.call(op(which.clone())).await? {
                Reply::Count(count) => count,
                other => return Err(unexpected(&other)),
            };
            total += count;
            if which != DeadLetterSelection::All || count < super::txn::SWEEP_LIMIT as u64 {
                return Ok(total);
            }
        }
    }
}
