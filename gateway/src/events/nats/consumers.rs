//! Durable pull consumers: one per subscription on its topic's stream
//! (explicit acks, `ack_wait`, unlimited redeliveries: the delivery engine
//! decides when to dead-letter), and its twin on the replay stream.
//! `fetch` serves replayed dead letters first, then waits for new or due
//! events with a single-message pull, so no pull request is left open
//! holding events nobody reads.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, FromConsumer, PullConsumer, pull};
use async_nats::jetstream::context::{ConsumerInfoError, ConsumerInfoErrorKind};
use async_nats::jetstream::{self, Message};
use futures::StreamExt;

use super::NatsEventStore;
use super::errors::{is_not_found, store_error};
use super::names::consumer_token;
use super::settle::{Origin, delivery_from};
use crate::config::model::events::StartFrom;
use crate::events::store::{ConsumerSpec, Delivery, StoreError};

/// Deliveries a consumer may have unsettled at once (across every
/// gateway sharing it); past it the server holds further events back.
const MAX_ACK_PENDING: i64 = 10_000;

/// A subscription's two consumers.
pub struct ConsumerHandles {
    pub topic: Arc<str>,
    pub main: PullConsumer,
    pub replay: PullConsumer,
}

impl NatsEventStore {
    pub(super) async fn ensure_durable(&self, spec: &ConsumerSpec) -> Result<(), StoreError> {
        self.known_topic(&spec.topic).await?;
        let durable = consumer_token(&spec.name).into_owned();
        let main = self
            .ensure_pull(
                &self.names.topic_stream(&spec.topic),
                pull::Config {
                    durable_name: Some(durable.clone()),
                    filter_subject: self.names.topic_subject(&spec.topic),
                    deliver_policy: match spec.start {
                        StartFrom::New => DeliverPolicy::New,
                        StartFrom::Earliest => DeliverPolicy::All,
                    },
                    ..consumer_defaults(spec.ack_wait)
                },
            )
            .await?;
        let replay = self
            .ensure_pull(
                &self.names.replay_stream(),
                pull::Config {
                    durable_name: Some(durable),
                    filter_subject: self.names.replay_subject(&spec.topic, &spec.name),
                    deliver_policy: DeliverPolicy::All,
                    ..consumer_defaults(spec.ack_wait)
                },
            )
            .await?;
        let handles = ConsumerHandles {
            topic: Arc::from(spec.topic.as_str()),
            main,
            replay,
        };
        self.consumers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(spec.name.clone(), Arc::new(handles));
        Ok(())
    }

    /// Creates the consumer, or keeps an existing one (and its cursor),
    /// updating only its `ack_wait`.
    async fn ensure_pull(
        &self,
        stream_name: &str,
        wanted: pull::Config,
    ) -> Result<PullConsumer, StoreError> {
        let stream = self
            .js
            .get_stream_no_info(stream_name)
            .await
            .map_err(|error| store_error("stream", error))?;
        let name = wanted.durable_name.clone().unwrap_or_default();
        let config = match stream.consumer_info(&name).await {
            Ok(info) if info.config.ack_wait == wanted.ack_wait => {
                return stream.get_consumer(&name).await.map_err(|error| {
                    StoreError::Unavailable(format!("NATS consumer {name}: {error}"))
                });
            }
            Ok(info) => {
                let mut config = pull::Config::try_from_consumer_config(info.config.clone())
                    .map_err(|error| {
                        StoreError::Failed(format!("NATS consumer {name}: {error}"))
                    })?;
                config.ack_wait = wanted.ack_wait;
                config
            }
            Err(error) if consumer_missing(&error) => wanted,
            Err(error) => {
                return Err(StoreError::Unavailable(format!(
                    "NATS consumer info {name}: {error}"
                )));
            }
        };
        stream
            .create_consumer(config)
            .await
            .map_err(|error| store_error("consumer create", error))
    }

    pub(super) async fn remove_durable(&self, topic: &str, name: &str) -> Result<(), StoreError> {
        self.known_topic(topic).await?;
        self.consumers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        for stream_name in [self.names.topic_stream(topic), self.names.replay_stream()] {
            let stream = self
                .js
                .get_stream_no_info(&stream_name)
                .await
                .map_err(|error| store_error("stream", error))?;
            if let Err(error) = stream.delete_consumer(&consumer_token(name)).await {
                let missing = matches!(error.kind(),
                    async_nats::jetstream::stream::ConsumerErrorKind::JetStream(ref e) if is_not_found(e));
                if !missing {
                    return Err(store_error("consumer delete", error));
                }
            }
        }
        self.purge_subject(
            &self.names.replay_stream(),
            &self.names.replay_subject(topic, name),
        )
        .await?;
        self.purge_subject(
            &self.names.dead_letter_stream(),
            &self.names.dead_letter_subject(topic, name),
        )
        .await?;
        Ok(())
    }

    pub(super) async fn consumer(
        &self,
        topic: &str,
        name: &str,
    ) -> Result<Arc<ConsumerHandles>, StoreError> {
        let cached = self
            .consumers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned();
        match cached {
            Some(handles) if &*handles.topic == topic => Ok(handles),
            _ => {
                self.known_topic(topic).await?;
                Err(StoreError::Failed(format!(
                    "consumer {name} of topic {topic} was never ensured"
                )))
            }
        }
    }

    pub(super) async fn fetch_deliveries(
        &self,
        topic: &str,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, StoreError> {
        let handles = self.consumer(topic, consumer).await?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut deliveries = Vec::new();
        for message in available(&handles.replay, max).await? {
            deliveries.extend(self.delivery(&handles, message, Origin::Replay));
        }
        let room = max - deliveries.len();
        if room > 0 {
            for message in available(&handles.main, room).await? {
                deliveries.extend(self.delivery(&handles, message, Origin::Topic));
            }
        }
        if deliveries.is_empty() && !wait.is_zero() {
            let Some(first) = first_within(&handles.main, wait).await? else {
                return Ok(deliveries);
            };
            deliveries.extend(self.delivery(&handles, first, Origin::Topic));
            for message in available(&handles.main, max - 1).await? {
                deliveries.extend(self.delivery(&handles, message, Origin::Topic));
            }
        }
        Ok(deliveries)
    }

    fn delivery(
        &self,
        handles: &ConsumerHandles,
        message: Message,
        origin: Origin,
    ) -> Option<Delivery> {
        let consumer = handles.main.cached_info().name.clone();
        delivery_from(self, &handles.topic, &consumer, message, origin)
    }

    pub(super) async fn unsettled(&self, topic: &str, consumer: &str) -> Result<u64, StoreError> {
        let handles = self.consumer(topic, consumer).await?;
        let mut total = 0;
        for pull in [&handles.main, &handles.replay] {
            let info = pull
                .get_info()
                .await
                .map_err(|error| store_error("consumer info", error))?;
            total += info.num_pending + u64::try_from(info.num_ack_pending).unwrap_or(0);
        }
        Ok(total)
    }

    pub(super) fn context_for_settle(&self) -> jetstream::Context {
        self.js.clone()
    }
}

fn consumer_defaults(ack_wait: Duration) -> pull::Config {
    pull::Config {
        ack_policy: AckPolicy::Explicit,
        ack_wait,
        max_deliver: -1,
        max_ack_pending: MAX_ACK_PENDING,
        ..Default::default()
    }
}

/// What the consumer has for us right now (a no-wait pull).
async fn available(consumer: &PullConsumer, max: usize) -> Result<Vec<Message>, StoreError> {
    if max == 0 {
        return Ok(Vec::new());
    }
    let mut batch = consumer
        .fetch()
        .max_messages(max)
        .messages()
        .await
        .map_err(|error| store_error("fetch", error))?;
    let mut messages = Vec::new();
    while let Some(message) = batch.next().await {
        messages.push(
            message.map_err(|error| StoreError::Unavailable(format!("NATS fetch: {error}")))?,
        );
    }
    Ok(messages)
}

/// The first message to arrive within `wait`, if any.
async fn first_within(
    consumer: &PullConsumer,
    wait: Duration,
) -> Result<Option<Message>, StoreError> {
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(wait)
        .messages()
        .await
        .map_err(|error| store_error("fetch", error))?;
    match batch.next().await {
        Some(Ok(message)) => Ok(Some(message)),
        Some(Err(error)) => Err(StoreError::Unavailable(format!("NATS fetch: {error}"))),
        None => Ok(None),
    }
}

fn consumer_missing(error: &ConsumerInfoError) -> bool {
    match error.kind() {
        ConsumerInfoErrorKind::NotFound => true,
        ConsumerInfoErrorKind::JetStream(error) => is_not_found(&error),
        _ => false,
    }
}
