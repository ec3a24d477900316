//! What the admin API and the metrics read and do about the subscriptions'
//! backlogs, through the store: each subscription's lag and dead-letter
//! count (per consumer, and summed), its dead letters, replay and purge.
//! A subscription is named by its config name; one dead letter by its
//! consumer and sequence (a fanout subscription has a queue per endpoint).

use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::engine::DeliveryEngine;
use super::plan::{self, PlannedConsumer};
use crate::config::model::events::{DeliveryMode, SubscriptionSpec};
use crate::events::cloud_event::CloudEvent;
use crate::events::store::{DeadLetterSelection, StoreError};

/// Most dead letters one listing returns (`limit` is capped to it).
pub const MAX_LISTED_DEAD_LETTERS: usize = 1000;
/// Longest the metrics scrape waits for the store's backlog figures.
pub const GAUGE_REFRESH_BUDGET: Duration = Duration::from_secs(2);

/// One subscription's backlog.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionBacklog {
    pub name: String,
    pub topic: String,
    pub backend: String,
    pub path: String,
    pub mode: &'static str,
    pub types: Vec<String>,
    /// Summed over its consumers.
    pub lag: u64,
    pub dead_letters: u64,
    pub consumers: Vec<ConsumerBacklog>,
}

/// One durable consumer's backlog.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerBacklog {
    pub name: String,
    /// Fanout: the endpoint it delivers to.
    pub endpoint: Option<String>,
    pub lag: u64,
    pub dead_letters: u64,
}

/// One dead letter as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterEntry {
    pub consumer: String,
    pub sequence: u64,
    pub topic: String,
    pub position: u64,
    pub attempts: u32,
    pub last_error: String,
    pub dead_at: String,
    pub event: CloudEvent,
}

/// Why an admin operation on the backlog failed.
#[derive(Debug, thiserror::Error)]
pub enum BacklogError {
    #[error("no subscription named {0:?}")]
    UnknownSubscription(String),
    #[error("subscription {subscription:?} has no consumer {consumer:?}")]
    UnknownConsumer {
        subscription: String,
        consumer: String,
    },
    #[error(
        "subscription {0:?} delivers to several endpoints (fanout); name the dead letter's queue with ?consumer="
    )]
    ConsumerRequired(String),
    #[error("no dead letter {sequence} in {consumer:?}")]
    UnknownDeadLetter { consumer: String, sequence: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BacklogError {
    /// The stable code of the admin API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            BacklogError::UnknownSubscription(_) => "UNKNOWN_SUBSCRIPTION",
            BacklogError::UnknownConsumer { .. } => "UNKNOWN_CONSUMER",
            BacklogError::ConsumerRequired(_) => "CONSUMER_REQUIRED",
            BacklogError::UnknownDeadLetter { .. } => "UNKNOWN_DEAD_LETTER",
            BacklogError::Store(StoreError::Unavailable(_)) => "STORE_UNAVAILABLE",
            BacklogError::Store(_) => "STORE_FAILED",
        }
    }

    /// The HTTP status of the admin API's answer.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            BacklogError::UnknownSubscription(_)
            | BacklogError::UnknownConsumer { .. }
            | BacklogError::UnknownDeadLetter { .. } => StatusCode::NOT_FOUND,
            BacklogError::ConsumerRequired(_) => StatusCode::BAD_REQUEST,
            BacklogError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            BacklogError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl DeliveryEngine {
    fn subscriptions_now(&self) -> Vec<Arc<SubscriptionSpec>> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.subscriptions.clone()
    }

    fn subscription(&self, name: &str) -> Result<Arc<SubscriptionSpec>, BacklogError> {
        self.subscriptions_now()
            .into_iter()
            .find(|spec| spec.name == name)
            .ok_or_else(|| BacklogError::UnknownSubscription(name.to_owned()))
    }

    /// Every subscription's backlog, in config order.
    pub async fn backlogs(&self) -> Result<Vec<SubscriptionBacklog>, BacklogError> {
        let mut out = Vec::new();
        for spec in self.subscriptions_now() {
            out.push(self.backlog_of(&spec).await?);
        }
        Ok(out)
    }

    async fn backlog_of(
        &self,
        spec: &Arc<SubscriptionSpec>,
    ) -> Result<SubscriptionBacklog, BacklogError> {
        let mut consumers = Vec::new();
        for planned in plan::consumers_of(spec) {
            let topic = &spec.topic.name;
            consumers.push(ConsumerBacklog {
                lag: self.store.pending(topic, &planned.name).await?,
                dead_letters: self.store.dead_letter_count(topic, &planned.name).await?,
                endpoint: planned.endpoint.map(|(_, id)| id),
                name: planned.name,
            });
        }
        Ok(SubscriptionBacklog {
            name: spec.name.clone(),
            topic: spec.topic.name.clone(),
            backend: spec.backend.name.clone(),
            path: spec.path.clone(),
            mode: match spec.mode {
                DeliveryMode::Fanout => "fanout",
                DeliveryMode::Queue => "queue",
            },
            types: spec.types.clone(),
            lag: consumers.iter().map(|c| c.lag).sum(),
            dead_letters: consumers.iter().map(|c| c.dead_letters).sum(),
            consumers,
        })
    }

    /// The subscription's dead letters, oldest first per consumer, at
    /// most `limit` (capped to [`MAX_LISTED_DEAD_LETTERS`]) in all.
    pub async fn dead_letters(
        &self,
        subscription: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetterEntry>, BacklogError> {
        let spec = self.subscription(subscription)?;
        let mut left = limit.min(MAX_LISTED_DEAD_LETTERS);
        let mut out = Vec::new();
        for planned in plan::consumers_of(&spec) {
            if left == 0 {
                break;
            }
            let letters = self
                .store
                .dead_letters(&spec.topic.name, &planned.name, left)
                .await?;
            left -= letters.len().min(left);
            out.extend(letters.into_iter().map(|letter| DeadLetterEntry {
                consumer: letter.consumer,
                sequence: letter.sequence,
                topic: letter.event.topic.to_string(),
                position: letter.event.position,
                attempts: letter.attempts,
                last_error: letter.last_error,
                dead_at: rfc3339(letter.dead_at),
                event: (*letter.event.event).clone(),
            }));
        }
        Ok(out)
    }

    /// Replays dead letters (every consumer's with `All`; one, named by
    /// its consumer and sequence, with `One`); returns how many.
    pub async fn replay(
        &self,
        subscription: &str,
        consumer: Option<&str>,
        which: DeadLetterSelection,
    ) -> Result<u64, BacklogError> {
        self.on_dead_letters(subscription, consumer, which, Operation::Replay)
            .await
    }

    /// Deletes dead letters, as [`Self::replay`] selects them.
    pub async fn purge(
        &self,
        subscription: &str,
        consumer: Option<&str>,
        which: DeadLetterSelection,
    ) -> Result<u64, BacklogError> {
        self.on_dead_letters(subscription, consumer, which, Operation::Purge)
            .await
    }

    async fn on_dead_letters(
        &self,
        subscription: &str,
        consumer: Option<&str>,
        which: DeadLetterSelection,
        operation: Operation,
    ) -> Result<u64, BacklogError> {
        let spec = self.subscription(subscription)?;
        let consumers = selected_consumers(&spec, consumer, &which)?;
        let mut done = 0;
        for planned in &consumers {
            let (topic, name) = (&spec.topic.name, &planned.name);
            done += match operation {
                Operation::Replay => {
                    self.store
                        .replay_dead_letters(topic, name, which.clone())
                        .await?
                }
                Operation::Purge => {
                    self.store
                        .purge_dead_letters(topic, name, which.clone())
                        .await?
                }
            };
        }
        if let (DeadLetterSelection::One(sequence), 0, Some(planned)) =
            (&which, done, consumers.first())
        {
            return Err(BacklogError::UnknownDeadLetter {
                consumer: planned.name.clone(),
                sequence: *sequence,
            });
        }
        Ok(done)
    }

    /// Sets the lag and dead-letter gauges from the store (before a
    /// scrape), within [`GAUGE_REFRESH_BUDGET`]; on failure the gauges
    /// keep their last values.
    pub async fn refresh_gauges(&self) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        match tokio::time::timeout(GAUGE_REFRESH_BUDGET, self.backlogs()).await {
            Ok(Ok(backlogs)) => {
                for backlog in backlogs {
                    metrics
                        .events()
                        .set_backlog(&backlog.name, backlog.lag, backlog.dead_letters);
                }
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "reading the subscriptions' backlog for the metrics failed")
            }
            Err(_) => tracing::warn!(
                "the store did not report the subscriptions' backlog in time for the metrics"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Operation {
    Replay,
    Purge,
}

/// The consumers an operation applies to: the named one, else all of
/// them for `All`, else the only one.
fn selected_consumers(
    spec: &Arc<SubscriptionSpec>,
    consumer: Option<&str>,
    which: &DeadLetterSelection,
) -> Result<Vec<PlannedConsumer>, BacklogError> {
    let all = plan::consumers_of(spec);
    match consumer {
        Some(name) => all
            .into_iter()
            .find(|planned| planned.name == name)
            .map(|planned| vec![planned])
            .ok_or_else(|| BacklogError::UnknownConsumer {
                subscription: spec.name.clone(),
                consumer: name.to_owned(),
            }),
        None if matches!(which, DeadLetterSelection::All) || all.len() == 1 => Ok(all),
        None => Err(BacklogError::ConsumerRequired(spec.name.clone())),
    }
}

fn rfc3339(at: SystemTime) -> String {
    DateTime::<Utc>::from(at).to_rfc3339()
}
