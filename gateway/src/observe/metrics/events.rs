//! The event bus's instruments: publishes by topic and result (counted
//! by the publish and emit paths), deliveries by subscription and result
//! and their latency (counted by the delivery workers), and each
//! subscription's consumer lag and dead-letter queue size (gauges set from
//! the store just before each scrape, `DeliveryEngine::refresh_gauges`).
//!
//! Labels are bounded: topic and subscription names come from the
//! config; results are fixed words.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::DurationHistogram;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicResult {
    topic: Arc<str>,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubscriptionResult {
    subscription: Arc<str>,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabel {
    topic: Arc<str>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubscriptionLabel {
    subscription: Arc<str>,
}

/// How a publish ended, for `gateway_event_publishes_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishResult {
    /// Stored durably (answered 202).
    Stored,
    /// A repeated dedupe key: nothing stored, the first event's id answered.
    Duplicate,
    /// Refused before the store: bad input (400, 413).
    Rejected,
    /// The store failed or did not answer (503; for `emit:`, the event
    /// went to the outbox).
    Failed,
    /// `emit:` only: the event could be neither stored nor put in the
    /// outbox (or the outbox held it for a topic that no longer exists).
    Lost,
}

impl PublishResult {
    pub fn label(self) -> &'static str {
        match self {
            PublishResult::Stored => "stored",
            PublishResult::Duplicate => "duplicate",
            PublishResult::Rejected => "rejected",
            PublishResult::Failed => "failed",
            PublishResult::Lost => "lost",
        }
    }
}

/// The event bus's counters, histogram and gauges.
#[derive(Debug, Default)]
pub struct EventInstruments {
    publishes: Family<TopicResult, Counter>,
    deliveries: Family<SubscriptionResult, Counter>,
    delivery_duration: Family<SubscriptionResult, DurationHistogram>,
    lag: Family<SubscriptionLabel, Gauge>,
    dead_letters: Family<SubscriptionLabel, Gauge>,
    streams: Family<TopicLabel, Gauge>,
}

impl EventInstruments {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "gateway_event_publishes",
            "Events published (publish routes, emit), by topic and result (stored, duplicate, rejected, failed, lost)",
            self.publishes.clone(),
        );
        registry.register(
            "gateway_event_deliveries",
            "Delivery attempts to subscribers, by subscription and how each settled (ack, retry, dead_letter)",
            self.deliveries.clone(),
        );
        registry.register_with_unit(
            "gateway_event_delivery_duration",
            "Duration of delivery attempts, to the end of the subscriber's response, by subscription and outcome (delivered, rejected, failed)",
            Unit::Seconds,
            self.delivery_duration.clone(),
        );
        registry.register(
            "gateway_event_consumer_lag",
            "Events of a subscription's topic not yet settled by it (all its consumers), read from the store at scrape time",
            self.lag.clone(),
        );
        registry.register(
            "gateway_event_dead_letters",
            "Events in a subscription's dead-letter queue, read from the store at scrape time",
            self.dead_letters.clone(),
        );
        registry.register(
            "gateway_event_streams",
            "Open streams of a topic to clients (SSE and WebSocket on publish routes)",
            self.streams.clone(),
        );
    }

    /// The open-streams gauge of `topic` (a stream's permit moves it).
    pub fn stream_gauge(&self, topic: &str) -> Gauge {
        self.streams
            .get_or_create(&TopicLabel {
                topic: Arc::from(topic),
            })
            .clone()
    }

    /// One publish to `topic`.
    pub fn published(&self, topic: &str, result: PublishResult) {
        self.publishes
            .get_or_create(&TopicResult {
                topic: Arc::from(topic),
                result: result.label(),
            })
            .inc();
    }

    /// One delivery attempt of `subscription`: its outcome and duration,
    /// and how it settled (`ack`, `retry`, `dead_letter`).
    pub fn delivered(
        &self,
        subscription: &Arc<str>,
        outcome: &'static str,
        settled: &'static str,
        took: Duration,
    ) {
        self.deliveries
            .get_or_create(&SubscriptionResult {
                subscription: Arc::clone(subscription),
                result: settled,
            })
            .inc();
        self.delivery_duration
            .get_or_create(&SubscriptionResult {
                subscription: Arc::clone(subscription),
                result: outcome,
            })
            .observe(took);
    }

    /// A subscription's lag and dead-letter count, as the store says now.
    pub fn set_backlog(&self, subscription: &str, lag: u64, dead_letters: u64) {
        let label = SubscriptionLabel {
            subscription: Arc::from(subscription),
        };
        let as_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.lag.get_or_create(&label).set(as_i64(lag));
        self.dead_letters
            .get_or_create(&label)
            .set(as_i64(dead_letters));
    }

    /// Drops the gauges of a subscription that no longer exists.
    pub fn forget_subscription(&self, subscription: &str) {
        let label = SubscriptionLabel {
            subscription: Arc::from(subscription),
        };
        self.lag.remove(&label);
        self.dead_letters.remove(&label);
    }
}
