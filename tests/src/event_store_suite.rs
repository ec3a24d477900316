//! The event store conformance suite: every promise of the
//! `gateway::events::store::EventStore` contract, as public async
//! functions that each take a [`StoreFactory`]. The embedded store runs
//! it in `tests/tests/e2e/event_store_embedded.rs`; the NATS JetStream
//! store runs the same functions against a real `nats-server`.
//!
//! Each function uses its own scope and topic names, so they can run in
//! parallel against one server. Time-based promises (ack wait, retry
//! delay, dedupe window, TTL, max age) use short durations and await the
//! outcome with a bounded deadline; nothing asserts on elapsed time.

mod consumers;
mod dead_letters;
mod log;
mod retention;

use std::time::Duration;

use async_trait::async_trait;
use gateway::config::model::events::TopicSpec;
use gateway::events::cloud_event::{CloudEvent, SPEC_VERSION};
use gateway::events::store::{ConsumerSpec, Delivery, EncodedEvent, SharedStore};

pub use consumers::{consumer_start_and_remove, redelivery_after_ack_wait, retry_delay};
pub use dead_letters::dead_letter_replay_purge;
pub use log::{
    concurrent_publishes_get_their_own_positions, dedupe_window, durable_across_reopen,
    positions_and_read, publish_many_in_order, wait_beyond,
};
pub use retention::{kv_buckets, retention_max_age, retention_max_events};

/// Opens stores for the suite.
#[async_trait]
pub trait StoreFactory: Send + Sync {
    /// Opens the store for `scope` (one per suite function). Opening the
    /// same scope again, once every handle to the previous store (and
    /// every delivery from it) is dropped, must find the same data.
    async fn open(&self, scope: &str) -> SharedStore;
}

/// Runs every function of the suite, one after the other.
pub async fn run_all(factory: &dyn StoreFactory) {
    durable_across_reopen(factory).await;
    positions_and_read(factory).await;
    publish_many_in_order(factory).await;
    concurrent_publishes_get_their_own_positions(factory).await;
    dedupe_window(factory).await;
    wait_beyond(factory).await;
    consumer_start_and_remove(factory).await;
    redelivery_after_ack_wait(factory).await;
    retry_delay(factory).await;
    dead_letter_replay_purge(factory).await;
    retention_max_events(factory).await;
    retention_max_age(factory).await;
    kv_buckets(factory).await;
}

/// Longest any awaited outcome may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A topic with a long dedupe window and no retention.
pub fn topic(name: &str) -> TopicSpec {
    TopicSpec {
        name: name.to_owned(),
        max_event_bytes: 64 * 1024,
        dedupe_window: Duration::from_secs(120),
        max_age: None,
        max_events: None,
        default_source: "/tests".to_owned(),
        max_streams: TopicSpec::DEFAULT_MAX_STREAMS,
    }
}

/// An `OrderPlaced` event with this id and subject.
/// `event` as the store takes it.
pub fn encoded(event: &CloudEvent) -> EncodedEvent {
    EncodedEvent::new(event.clone())
}

pub fn event(id: &str, subject: &str) -> CloudEvent {
    CloudEvent {
        specversion: SPEC_VERSION.to_owned(),
        id: id.to_owned(),
        source: "/tests/orders".to_owned(),
        event_type: "OrderPlaced".to_owned(),
        subject: Some(subject.to_owned()),
        time: Some("2026-11-30T12:00:00Z".to_owned()),
        datacontenttype: Some("application/json".to_owned()),
        data: Some(serde_json::json!({"order_id": subject, "total": 42.5})),
        data_base64: None,
        extensions: [(
            "traceparent".to_owned(),
            serde_json::json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        )]
        .into(),
    }
}

pub fn consumer(topic: &str, name: &str, ack_wait: Duration) -> ConsumerSpec {
    ConsumerSpec {
        topic: topic.to_owned(),
        name: name.to_owned(),
        start: gateway::config::model::events::StartFrom::Earliest,
        ack_wait,
    }
}

/// Fetches until `count` deliveries came (or [`PATIENCE`] ran out).
pub async fn fetch_n(store: &SharedStore, topic: &str, name: &str, count: usize) -> Vec<Delivery> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut out = Vec::new();
    while out.len() < count {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(
            !left.is_zero(),
            "{name}: {} of {count} deliveries came",
            out.len()
        );
        let batch = store
            .fetch(
                topic,
                name,
                count - out.len(),
                left.min(Duration::from_secs(2)),
            )
            .await
            .expect("fetch");
        out.extend(batch);
    }
    out
}

/// The ids of deliveries, in order.
pub fn ids(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| d.event.event.id.clone())
        .collect()
}

/// Publishes events `prefix-1..=prefix-n`; returns their positions.
pub async fn publish_n(store: &SharedStore, topic: &str, prefix: &str, n: usize) -> Vec<u64> {
    let mut positions = Vec::new();
    for i in 1..=n {
        let published = store
            .publish(
                topic,
                &encoded(&event(&format!("{prefix}-{i}"), "order-1")),
                None,
            )
            .await
            .expect("publish");
        assert!(!published.duplicate);
        positions.push(published.position);
    }
    positions
}
