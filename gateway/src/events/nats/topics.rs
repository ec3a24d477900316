//! Topics as streams: creating and updating them, publishing with a
//! JetStream ack (retried through a server restart, deduped by
//! `Nats-Msg-Id`), reading the log by position.

use std::sync::Arc;
use std::time::Duration;

use async_nats::Subject;
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use futures::StreamExt;
use tokio::time::{Instant, timeout_at};

use super::NatsEventStore;
use super::ack_inbox::AckError;
use super::decode::{self, decode_event, system_time};
use super::errors::{is_not_found, store_error};
use crate::config::model::events::TopicSpec;
use crate::events::store::{EncodedEvent, Published, StoreError, StoredEvent};

/// A publish is retried until this many `request_timeout`s after it
/// began (each attempt waits at most `request_timeout` for its ack), then
/// fails with `Unavailable`. docs/events.md#nats-jetstream.
const PUBLISH_DEADLINE_TIMEOUTS: u32 = 2;

/// Pause between publish attempts: doubling from the first, capped.
const PUBLISH_RETRY_FIRST: Duration = Duration::from_millis(25);
const PUBLISH_RETRY_MAX: Duration = Duration::from_millis(500);

/// Messages read from a stream at once by `read`.
const READ_CONCURRENCY: usize = 16;

/// The smallest dedupe window JetStream is given (zero means its
/// two-minute default to the server).
const MIN_DUPLICATE_WINDOW: Duration = Duration::from_millis(1);

impl NatsEventStore {
    pub(super) async fn ensure_topic_stream(&self, topic: &TopicSpec) -> Result<(), StoreError> {
        self.names
            .check_topic(&topic.name)
            .map_err(StoreError::Failed)?;
        let wanted = self.topic_stream_config(topic);
        self.ensure_stream(wanted).await?;
        self.remember_topic(&topic.name);
        Ok(())
    }

    /// Creates the stream, or updates the fields the store owns (subjects
    /// and limits) on an existing one, keeping what an operator set
    /// (replicas, placement, storage).
    pub(super) async fn ensure_stream(&self, wanted: stream::Config) -> Result<(), StoreError> {
        for _ in 0..2 {
            match self.js.get_stream(&wanted.name).await {
                Ok(existing) => {
                    let mut config = existing.cached_info().config.clone();
                    if !owned_fields_differ(&config, &wanted) {
                        return Ok(());
                    }
                    config.subjects = wanted.subjects.clone();
                    config.max_age = wanted.max_age;
                    config.max_messages = wanted.max_messages;
                    config.duplicate_window = wanted.duplicate_window;
                    self.js
                        .update_stream(config)
                        .await
                        .map_err(|error| store_error("stream update", error))?;
                    return Ok(());
                }
                Err(error) => {
                    let missing = matches!(error.kind(),
                        async_nats::jetstream::context::GetStreamErrorKind::JetStream(ref e) if is_not_found(e));
                    if !missing {
                        return Err(store_error("stream info", error));
                    }
                }
            }
            // Another gateway may create it first: then look again.
            if self.js.create_stream(wanted.clone()).await.is_ok() {
                return Ok(());
            }
        }
        Err(StoreError::Failed(format!(
            "NATS stream {} could not be created",
            wanted.name
        )))
    }

    fn topic_stream_config(&self, topic: &TopicSpec) -> stream::Config {
        let max_age = topic.max_age.unwrap_or_default();
        let mut window = topic.dedupe_window.max(MIN_DUPLICATE_WINDOW);
        if !max_age.is_zero() {
            // JetStream refuses a dedupe window longer than the retention.
            window = window.min(max_age);
        }
        stream::Config {
            name: self.names.topic_stream(&topic.name),
            subjects: vec![self.names.topic_subject(&topic.name)],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            discard: DiscardPolicy::Old,
            max_age,
            max_messages: topic
                .max_events
                .map_or(-1, |max| i64::try_from(max).unwrap_or(i64::MAX)),
            duplicate_window: window,
            ..Default::default()
        }
    }

    /// `Ok` when the topic's stream exists (ensured here, or by another
    /// gateway on the same server).
    pub(super) async fn known_topic(&self, topic: &str) -> Result<(), StoreError> {
        if self.topic_is_known(topic) {
            return Ok(());
        }
        if self.names.check_topic(topic).is_err() {
            return Err(StoreError::UnknownTopic(topic.to_owned()));
        }
        match self.js.get_stream(self.names.topic_stream(topic)).await {
            Ok(_) => {
                self.remember_topic(topic);
                Ok(())
            }
            Err(error) => match error.kind() {
                async_nats::jetstream::context::GetStreamErrorKind::JetStream(e)
                    if is_not_found(&e) =>
                {
                    Err(StoreError::UnknownTopic(topic.to_owned()))
                }
                _ => Err(store_error("stream info", error)),
            },
        }
    }

    pub(super) async fn publish_event(
        &self,
        topic: &str,
        event: &EncodedEvent,
        dedupe_key: Option<&str>,
    ) -> Result<Published, StoreError> {
        self.known_topic(topic).await?;
        let payload = event.json().clone();
        let message_id = dedupe_key.map(decode::message_id);
        let subject = Subject::from(self.names.topic_subject(topic));
        self.publish_retried(topic, &subject, payload, message_id.as_deref(), 0)
            .await
    }

    /// Publishes until acknowledged or the deadline; `earlier_attempts`
    /// were made already with the same `message_id` (a batch's pipelined
    /// first attempt). The message carries a `Nats-Msg-Id` only when the
    /// publish has a dedupe key: a keyless publish (the gateway made the
    /// event's id, and there is no `Idempotency-Key`) is at least once,
    /// like a client's own retry of it. JetStream's dedupe costs its server
    /// about a fifth of its publish throughput
    /// (docs/events.md#nats-jetstream), and a retry after a lost ack may
    /// then store the event twice, with the same CloudEvents `id`, which
    /// subscribers dedupe by.
    pub(super) async fn publish_retried(
        &self,
        topic: &str,
        subject: &Subject,
        payload: bytes::Bytes,
        message_id: Option<&str>,
        earlier_attempts: u32,
    ) -> Result<Published, StoreError> {
        let started = Instant::now();
        let deadline = started + self.request_timeout * PUBLISH_DEADLINE_TIMEOUTS;
        let mut pause = PUBLISH_RETRY_FIRST;
        let mut attempt = earlier_attempts + 1;
        loop {
            match self
                .publish_once(subject, payload.clone(), message_id, deadline)
                .await
            {
                Ok(published) => return Ok(published),
                Err(error) if error.is_transient() && Instant::now() + pause < deadline => {
                    tracing::debug!(topic, attempt, %error, "event store: publish retried");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(PUBLISH_RETRY_MAX);
                    attempt += 1;
                }
                Err(error) => {
                    return Err(StoreError::Unavailable(format!(
                        "NATS publish to {topic} not acknowledged after {attempt} attempts in {:?}: {error}",
                        started.elapsed()
                    )));
                }
            }
        }
    }

    /// One attempt: send, then await the ack, within `request_timeout`
    /// and `deadline`.
    async fn publish_once(
        &self,
        subject: &Subject,
        payload: bytes::Bytes,
        message_id: Option<&str>,
        deadline: Instant,
    ) -> Result<Published, AckError> {
        let attempt = async {
            let pending = self.acks.send(subject, payload, message_id).await?;
            pending.ack().await
        };
        timeout_at(deadline.min(Instant::now() + self.request_timeout), attempt)
            .await
            .unwrap_or(Err(AckError::TimedOut))
    }

    pub(super) async fn read_events(
        &self,
        topic: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.known_topic(topic).await?;
        let name = self.names.topic_stream(topic);
        let stream = self
            .js
            .get_stream(&name)
            .await
            .map_err(|error| store_error("stream info", error))?;
        let state = &stream.cached_info().state;
        let first = from.max(state.first_sequence).max(1);
        if max == 0 || first > state.last_sequence {
            return Ok(Vec::new());
        }
        let last = state
            .last_sequence
            .min(first.saturating_add(u64::try_from(max).unwrap_or(u64::MAX) - 1));
        let topic: Arc<str> = Arc::from(topic);
        let fetched: Vec<_> = futures::stream::iter(first..=last)
            .map(|sequence| {
                let stream = &stream;
                async move { stream.get_raw_message(sequence).await }
            })
            .buffered(READ_CONCURRENCY)
            .collect()
            .await;
        let mut events = Vec::with_capacity(fetched.len());
        for message in fetched {
            let message = match message {
                Ok(message) => message,
                // Removed by retention while being read, or deleted.
                Err(error)
                    if matches!(
                        error.kind(),
                        async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound
                    ) =>
                {
                    continue;
                }
                Err(error) => return Err(store_error("message get", error)),
            };
            events.push(StoredEvent {
                topic: topic.clone(),
                position: message.sequence,
                event: Arc::new(decode_event(&message.payload)?),
                stored_at: system_time(message.time.unix_timestamp_nanos()),
            });
        }
        Ok(events)
    }

    pub(super) async fn newest_position(&self, topic: &str) -> Result<u64, StoreError> {
        self.known_topic(topic).await?;
        let stream = self
            .js
            .get_stream(self.names.topic_stream(topic))
            .await
            .map_err(|error| store_error("stream info", error))?;
        Ok(stream.cached_info().state.last_sequence)
    }
}

fn owned_fields_differ(current: &stream::Config, wanted: &stream::Config) -> bool {
    current.subjects != wanted.subjects
        || current.max_age != wanted.max_age
        || current.max_messages != wanted.max_messages
        || current.duplicate_window != wanted.duplicate_window
}
