//! Delivering topics to subscribers: at least once, over HTTP in the
//! CloudEvents binary binding, with retries, a dead-letter queue and
//! optional ordering by subject (docs/events.md#subscriptions).
//!
//! - [`engine`]: [`DeliveryEngine`], the workers of every subscription on
//!   the control runtime, following the snapshot ([`follow`]);
//! - [`plan`]: the durable consumers a subscription needs (`queue`: one;
//!   `fanout`: one per endpoint, `NAME@ENDPOINT`);
//! - [`consumer`]: the consumer loop, the delivery core shared with async
//!   routes ("deliver this stored item with this retry rule, settle it"):
//!   fetch within `max_in_flight`, order by key, attempt, settle;
//! - [`subscriber`]: a subscription's [`consumer::Deliverer`], through the
//!   backend's `UpstreamPool` and the shared request builder;
//! - [`binding`]: the CloudEvents HTTP binary binding, pure;
//! - [`verdict`]: attempt outcome → ack, retry with backoff, dead letter;
//! - [`ordering`]: the per-key gate;
//! - [`backlog`]: lag, dead letters, replay and purge for the admin API
//!   and the metrics.

pub mod backlog;
pub mod binding;
pub mod consumer;
pub mod engine;
pub mod ordering;
pub mod plan;
pub mod subscriber;
pub mod verdict;

pub use backlog::BacklogError;
pub use engine::DeliveryEngine;

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::model::events::SubscriptionSpec;
use crate::events::store::{SharedStore, StoreError};
use crate::snapshot::Snapshot;

/// Creates (or updates) the durable consumers of `subscriptions` in the
/// store. Called before a config is served, at start and on each reload:
/// a subscription that starts at `new` must exist before the first
/// publish it should see is acknowledged. Were it left to the worker,
/// events published between the listener opening (or the swap) and the
/// worker's first step would be behind the consumer's start and never
/// delivered to it.
pub async fn ensure_consumers(
    store: &SharedStore,
    subscriptions: &[Arc<SubscriptionSpec>],
) -> Result<(), StoreError> {
    for planned in plan::plan(subscriptions) {
        store.ensure_consumer(&planned.consumer_spec()).await?;
    }
    Ok(())
}

/// The subscriptions a snapshot delivers.
pub type SubscriptionsOf = fn(&Snapshot) -> Vec<Arc<SubscriptionSpec>>;

/// Applies the current snapshot's subscriptions to `engine`, then again
/// after each reload (`versions` changes), until `stop`; then stops the
/// workers (in-flight attempts finish).
pub async fn follow(
    engine: Arc<DeliveryEngine>,
    current: Arc<ArcSwap<Snapshot>>,
    mut versions: watch::Receiver<u64>,
    subscriptions_of: SubscriptionsOf,
    stop: CancellationToken,
) {
    loop {
        let snapshot = current.load_full();
        engine.apply(&subscriptions_of(&snapshot), &snapshot.upstreams);
        versions.mark_unchanged();
        tokio::select! {
            changed = versions.changed() => if changed.is_err() { break },
            () = stop.cancelled() => break,
        }
    }
    engine.stop().await;
}
