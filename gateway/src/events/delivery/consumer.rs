//! The consumer loop, the delivery core shared by subscriptions and async
//! routes: fetch from the store what room allows (`max_in_flight` minus
//! the items running or waiting on their key), skip what the target does
//! not want (acked), hold items behind one in flight with the same
//! ordering key, attempt each through a [`Deliverer`], and settle it as
//! [`verdict::settle_for`] says.
//!
//! Retries: an item with no ordering key is settled `Retry(backoff)`, so
//! it frees its slot and the store hands it back when due; an item with a
//! key retries in place (the key stays held, so later items with that key
//! cannot overtake it), telling the store it is still in progress.
//!
//! Stop: no new fetch; running attempts finish and settle; waiting items,
//! and items between in-place retries, are left unsettled, for the store
//! to redeliver after its `ack_wait`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::ordering::OrderingGate;
use super::verdict::{self, AttemptOutcome, RetryRule};
use crate::events::store::{Delivery, Settle, SharedStore, StoreError, StoredEvent};

/// Longest a fetch waits for new items before the loop looks again.
pub const FETCH_WAIT: Duration = Duration::from_millis(500);
/// Pause after a failed fetch (the store is down or slow).
pub const FETCH_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Hands one stored item to where it goes (a subscriber's endpoint, an
/// async route's backend), one attempt at a time.
#[async_trait]
pub trait Deliverer: Send + Sync + fmt::Debug + 'static {
    /// One attempt; `attempt` is 1-based and counts redeliveries.
    async fn attempt(&self, item: &StoredEvent, attempt: u32) -> AttemptOutcome;

    /// Whether the item is for this target at all (a subscription's type
    /// filter); an unwanted item is acked with no attempt.
    fn wants(&self, _item: &StoredEvent) -> bool {
        true
    }

    /// Items with the same key go one at a time, in log order (`None`:
    /// no ordering).
    fn ordering_key(&self, _item: &StoredEvent) -> Option<String> {
        None
    }

    /// An attempt ended and was settled `how` (metrics, logs).
    fn observe(&self, _outcome: &AttemptOutcome, _how: &Settle, _took: Duration) {}
}

/// One consumer to run.
#[derive(Debug, Clone)]
pub struct ConsumerRun {
    pub topic: String,
    pub consumer: String,
    pub max_in_flight: usize,
    pub retry: RetryRule,
    /// How often items waiting on their ordering key are reported in
    /// progress (less than the consumer's `ack_wait`, so the store does
    /// not hand them out again while they wait).
    pub keep_alive: Duration,
}

type Fetch = Pin<Box<dyn Future<Output = Result<Vec<Delivery>, StoreError>> + Send>>;

/// Runs the consumer until `stop` fires, then lets its running attempts
/// finish. The durable consumer must exist (`EventStore::ensure_consumer`).
pub async fn run_consumer(
    store: SharedStore,
    run: ConsumerRun,
    deliverer: Arc<dyn Deliverer>,
    stop: CancellationToken,
) {
    let max_in_flight = run.max_in_flight.max(1);
    let mut gate: OrderingGate<Delivery> = OrderingGate::default();
    let mut running: JoinSet<Option<String>> = JoinSet::new();
    let mut fetching: Option<Fetch> = None;
    let mut keep_alive = tokio::time::interval(run.keep_alive.max(Duration::from_millis(100)));
    keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = |running: &mut JoinSet<Option<String>>, delivery: Delivery| {
        let key = deliverer.ordering_key(&delivery.event);
        running.spawn(deliver_item(
            Arc::clone(&deliverer),
            delivery,
            run.retry,
            key,
            stop.clone(),
        ));
    };
    loop {
        // Checked before waiting: a consumer stopped before its first
        // fetch has nothing to wake it in the select below.
        if stop.is_cancelled() && fetching.is_none() && running.is_empty() {
            // Waiting items stay unsettled: the store redelivers them.
            drop(gate.drain_waiting());
            return;
        }
        let room = max_in_flight.saturating_sub(running.len() + gate.waiting());
        if fetching.is_none() && room > 0 && !stop.is_cancelled() {
            fetching = Some(fetch(&store, &run, room));
        }
        tokio::select! {
            () = stop.cancelled(), if fetching.is_some() => fetching = None,
            Some(joined) = running.join_next(), if !running.is_empty() => {
                let key = joined.unwrap_or_else(|error| {
                    tracing::error!(consumer = %run.consumer, %error, "a delivery task failed");
                    None
                });
                if let Some(next) = gate.release(key.as_deref())
                    && !stop.is_cancelled()
                {
                    start(&mut running, next);
                }
            }
            _ = keep_alive.tick(), if gate.waiting() > 0 => {
                for waiting in gate.waiting_items() {
                    if let Err(error) = waiting.settler.in_progress().await {
                        tracing::warn!(consumer = %run.consumer, %error, "extending a waiting delivery's deadline failed");
                    }
                }
            }
            Some(batch) = poll_fetch(&mut fetching) => match batch {
                Ok(batch) => {
                    for delivery in batch {
                        admit(&*deliverer, &mut gate, delivery, |d| start(&mut running, d)).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(consumer = %run.consumer, topic = %run.topic, %error, "fetching deliveries failed; trying again");
                    tokio::select! {
                        () = tokio::time::sleep(FETCH_ERROR_PAUSE) => {}
                        () = stop.cancelled() => {}
                    }
                }
            },
            else => {}
        }
    }
}

fn fetch(store: &SharedStore, run: &ConsumerRun, room: usize) -> Fetch {
    let store = Arc::clone(store);
    let (topic, consumer) = (run.topic.clone(), run.consumer.clone());
    Box::pin(async move { store.fetch(&topic, &consumer, room, FETCH_WAIT).await })
}

/// The fetch's result once it is ready; pending forever without one.
async fn poll_fetch(fetching: &mut Option<Fetch>) -> Option<Result<Vec<Delivery>, StoreError>> {
    match fetching {
        Some(future) => {
            let result = future.await;
            *fetching = None;
            Some(result)
        }
        None => std::future::pending().await,
    }
}

/// An unwanted item is acked; a wanted one starts now or waits for its key.
async fn admit(
    deliverer: &dyn Deliverer,
    gate: &mut OrderingGate<Delivery>,
    delivery: Delivery,
    start: impl FnOnce(Delivery),
) {
    if !deliverer.wants(&delivery.event) {
        if let Err(error) = delivery.settle(Settle::Ack).await {
            tracing::warn!(%error, "acking an event the subscription filters out failed");
        }
        return;
    }
    let key = deliverer.ordering_key(&delivery.event);
    if let Some(ready) = gate.admit(key.as_deref(), delivery) {
        start(ready);
    }
}

/// Attempts one item until it settles (or the consumer stops between
/// in-place retries); returns its ordering key for the gate.
async fn deliver_item(
    deliverer: Arc<dyn Deliverer>,
    delivery: Delivery,
    rule: RetryRule,
    key: Option<String>,
    stop: CancellationToken,
) -> Option<String> {
    let mut attempt = delivery.attempt.max(1);
    loop {
        let started = Instant::now();
        let outcome = deliverer.attempt(&delivery.event, attempt).await;
        let how = verdict::settle_for(&outcome, attempt, &rule, &mut rand::rng());
        deliverer.observe(&outcome, &how, started.elapsed());
        match how {
            Settle::Retry(wait) if key.is_some() => {
                if let Err(error) = delivery.settler.in_progress().await {
                    tracing::warn!(%error, event = %delivery.event.event.id, "extending a delivery's deadline failed");
                }
                tokio::select! {
                    () = tokio::time::sleep(wait) => attempt += 1,
                    () = stop.cancelled() => return key,
                }
            }
            how => {
                if let Err(error) = delivery.settle(how).await {
                    tracing::warn!(%error, event = %delivery.event.event.id, "settling a delivery failed; the store will hand it out again");
                }
                return key;
            }
        }
    }
}
