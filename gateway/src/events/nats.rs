//! The event store on NATS JetStream (`events.store.kind: nats`), for
//! several gateway instances sharing topics, consumers and dead letters.
//!
//! The layout on the server is in [`names`]: a stream per topic whose
//! sequence is the event's position, durable pull consumers with explicit
//! acks, a dead-letter stream with a subject per consumer, a work-queue
//! stream of replayed dead letters that `fetch` serves first, and
//! JetStream KV buckets. A publish with a dedupe key carries it as
//! `Nats-Msg-Id`, so the stream's `duplicate_window` dedupes both repeated
//! client publishes and this store's own retries; topic publishes and
//! their acks go through the store's own reply subscription
//! (`ack_inbox`). docs/events.md#nats-jetstream has the guarantees and
//! limits.

mod ack_inbox;
mod batch;
mod connect;
mod consumers;
mod dead_letters;
mod decode;
mod errors;
mod io_thread;
mod kv;
mod names;
mod settle;
mod topics;
mod watch;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_nats::jetstream;
use async_trait::async_trait;
use bytes::Bytes;

use super::store::{
    BucketSpec, ConsumerSpec, DeadLetter, DeadLetterSelection, Delivery, EncodedEvent, EventStore,
    Published, SharedStore, StoreError, StoredEvent,
};
use crate::config::model::events::{NatsStore, TopicSpec};
use ack_inbox::AckInbox;
use consumers::ConsumerHandles;
use io_thread::IoThread;
use names::Names;
use watch::Watches;

/// Connects to NATS, checks that JetStream answers, and ensures the
/// store's own streams (dead letters, replays).
pub async fn open(settings: &NatsStore) -> Result<SharedStore, StoreError> {
    Ok(Arc::new(NatsEventStore::open(settings).await?))
}

/// [`EventStore`] on JetStream. Cheap to share: one NATS connection
/// (multiplexed, reconnecting) serves every operation.
pub struct NatsEventStore {
    js: jetstream::Context,
    /// Topic publishes and their acks (the hot path; `js` serves the rest).
    acks: AckInbox,
    names: Names,
    request_timeout: Duration,
    /// Topics known to exist (ensured here, or found on the server).
    topics: RwLock<HashSet<String>>,
    /// Consumers by name (unique per store).
    consumers: RwLock<HashMap<String, Arc<ConsumerHandles>>>,
    buckets: RwLock<HashMap<String, jetstream::kv::Store>>,
    /// Per topic, the newest position seen (for `wait_beyond`).
    watches: Watches,
    /// How long a topic watch with no waiter lives on.
    watch_idle: Duration,
    /// Attempts of deliveries this store retried and that are not settled
    /// yet (`settle::RetriedAttempts`): the server's delivery count does
    /// not always count a redelivery after a delayed NAK.
    retried: settle::RetriedAttempts,
    /// The client's own thread; last, so that it stops after the rest
    /// is dropped.
    _io: IoThread,
}

impl std::fmt::Debug for NatsEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsEventStore")
            .field("prefix", &self.names.prefix())
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl NatsEventStore {
    pub async fn open(settings: &NatsStore) -> Result<NatsEventStore, StoreError> {
        let names = Names::new(&settings.stream_prefix).map_err(StoreError::Failed)?;
        let io = IoThread::start()?;
        let connecting = settings.clone();
        let (js, acks) = io
            .run(async move {
                let js = connect::connect(&connecting).await?;
                let acks = AckInbox::open(js.client())
                    .await
                    .map_err(|error| StoreError::Unavailable(format!("NATS subscribe: {error}")))?;
                Ok::<_, StoreError>((js, acks))
            })
            .await??;
        let store = NatsEventStore {
            js,
            acks,
            names,
            request_timeout: settings.request_timeout,
            topics: RwLock::default(),
            consumers: RwLock::default(),
            buckets: RwLock::default(),
            watches: Watches::default(),
            watch_idle: watch::WATCH_IDLE,
            retried: settle::RetriedAttempts::default(),
            _io: io,
        };
        store.ensure_own_streams().await?;
        Ok(store)
    }

    /// With `idle` instead of 30 s as how long a topic watch (behind
    /// `wait_beyond`) with no waiter lives on (tests shorten it).
    pub fn with_watch_idle(mut self, idle: Duration) -> Self {
        self.watch_idle = idle;
        self
    }

    /// The NATS client (for tests and the benchmark's raw reference).
    pub fn context(&self) -> &jetstream::Context {
        &self.js
    }

    fn remember_topic(&self, topic: &str) {
        self.topics
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.to_owned());
    }

    fn topic_is_known(&self, topic: &str) -> bool {
        self.topics
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(topic)
    }
}

#[async_trait]
impl EventStore for NatsEventStore {
    fn kind(&self) -> &'static str {
        "nats"
    }

    async fn ensure_topic(&self, topic: &TopicSpec) -> Result<(), StoreError> {
        self.ensure_topic_stream(topic).await
    }

    async fn publish(
        &self,
        topic: &str,
        event: &EncodedEvent,
        dedupe_key: Option<&str>,
    ) -> Result<Published, StoreError> {
        self.publish_event(topic, event, dedupe_key).await
    }

    async fn publish_many(
        &self,
        topic: &str,
        events: &[(EncodedEvent, Option<String>)],
    ) -> Result<Vec<Published>, StoreError> {
        self.publish_events(topic, events).await
    }

    async fn read(
        &self,
        topic: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.read_events(topic, from, max).await
    }

    async fn last_position(&self, topic: &str) -> Result<u64, StoreError> {
        self.newest_position(topic).await
    }

    async fn wait_beyond(
        &self,
        topic: &str,
        position: u64,
        timeout: Duration,
    ) -> Result<u64, StoreError> {
        self.wait_for_position(topic, position, timeout).await
    }

    async fn ensure_consumer(&self, consumer: &ConsumerSpec) -> Result<(), StoreError> {
        self.ensure_durable(consumer).await
    }

    async fn remove_consumer(&self, topic: &str, name: &str) -> Result<(), StoreError> {
        self.remove_durable(topic, name).await
    }

    async fn fetch(
        &self,
        topic: &str,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.fetch_deliveries(topic, consumer, max, wait).await
    }

    async fn pending(&self, topic: &str, consumer: &str) -> Result<u64, StoreError> {
        self.unsettled(topic, consumer).await
    }

    async fn dead_letters(
        &self,
        topic: &str,
        consumer: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.list_dead_letters(topic, consumer, limit).await
    }

    async fn replay_dead_letters(
        &self,
        topic: &str,
        consumer: &str,
        which: DeadLetterSelection,
    ) -> Result<u64, StoreError> {
        self.replay(topic, consumer, which).await
    }

    async fn purge_dead_letters(
        &self,
        topic: &str,
        consumer: &str,
        which: DeadLetterSelection,
    ) -> Result<u64, StoreError> {
        self.purge(topic, consumer, which).await
    }

    async fn ensure_bucket(&self, bucket: &BucketSpec) -> Result<(), StoreError> {
        self.ensure_kv_bucket(bucket).await
    }

    async fn kv_create(
        &self,
        bucket: &str,
        key: &str,
        value: Bytes,
    ) -> Result<Option<Bytes>, StoreError> {
        self.kv_create_entry(bucket, key, value).await
    }

    async fn kv_put(&self, bucket: &str, key: &str, value: Bytes) -> Result<(), StoreError> {
        self.kv_put_entry(bucket, key, value).await
    }

    async fn kv_get(&self, bucket: &str, key: &str) -> Result<Option<Bytes>, StoreError> {
        self.kv_get_entry(bucket, key).await
    }
}
