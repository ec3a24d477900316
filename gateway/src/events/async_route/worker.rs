//! The worker of one async route: reads the route's topic with its
//! durable consumer and delivers each stored request to the backend, in
//! order per order key (the whole route in order without one), retrying
//! with exponential backoff and full jitter while the backend is down,
//! and dead-lettering a request after `max_attempts`.
//!
//! ```text
//! fetcher ─(at most MAX_HELD held, a permit each)─▶ dispatcher ─▶ lane per key: head only in flight
//!                                                               └─▶ deliver: attempt, backoff, record, settle
//! ```
//!
//! A lane's head is retried in place (never settled `Retry`), so the
//! requests behind it wait: that is what keeps the order. Held requests
//! are kept alive in the store with `in_progress` so they are not
//! redelivered while they wait; after a crash they are (at least once).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use super::AsyncRoute;
use super::REQUESTS_BUCKET;
use super::deliver::{self, Attempt};
use super::record::{QueuedRequest, RequestRecord, RequestState};
use crate::events::store::{Delivery, Settle, Settler};

/// A request fetched but not settled within this is delivered again
/// (held ones are kept alive well within it).
pub const ACK_WAIT: Duration = Duration::from_secs(30);
/// Requests a worker holds at once (in flight or waiting in a lane).
pub const MAX_HELD: usize = 256;
/// Lanes (order keys) delivering at once.
pub const MAX_RUNNING_LANES: usize = 32;
const FETCH_BATCH: usize = 64;
const FETCH_WAIT: Duration = Duration::from_secs(1);
const KEEP_ALIVE: Duration = Duration::from_secs(10);
const STORE_RETRY: Duration = Duration::from_millis(500);

/// A running worker; dropping it stops it (held requests are delivered
/// again by whichever worker reads the consumer next).
#[derive(Debug)]
pub struct WorkerHandle {
    task: JoinHandle<()>,
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the route's worker on the current runtime.
pub fn spawn(route: Arc<AsyncRoute>) -> WorkerHandle {
    WorkerHandle {
        task: tokio::spawn(run(route)),
    }
}

struct Held {
    delivery: Delivery,
    _permit: OwnedSemaphorePermit,
}

impl Held {
    fn id(&self) -> &str {
        &self.delivery.event.event.id
    }

    fn lane(&self) -> String {
        self.delivery
            .event
            .event
            .subject
            .clone()
            .unwrap_or_default()
    }
}

async fn run(route: Arc<AsyncRoute>) {
    while let Err(error) = route.ready().await {
        tracing::warn!(route = %route.route, %error, "async route: store not ready, retrying");
        tokio::time::sleep(STORE_RETRY).await;
    }
    let (sender, receiver) = mpsc::channel(MAX_HELD);
    let permits = Arc::new(Semaphore::new(MAX_HELD));
    let fetcher = AbortOnDrop(tokio::spawn(fetch_loop(
        Arc::clone(&route),
        permits,
        sender,
    )));
    Dispatcher::default().run(route, receiver).await;
    drop(fetcher);
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn fetch_loop(route: Arc<AsyncRoute>, permits: Arc<Semaphore>, sender: mpsc::Sender<Held>) {
    let consumer = route.consumer();
    loop {
        let Ok(first) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < FETCH_BATCH {
            match Arc::clone(&permits).try_acquire_owned() {
                Ok(permit) => batch.push(permit),
                Err(_) => break,
            }
        }
        let fetched = route
            .store
            .fetch(&consumer.topic, &consumer.name, batch.len(), FETCH_WAIT)
            .await;
        match fetched {
            Ok(deliveries) => {
                for (delivery, permit) in deliveries.into_iter().zip(batch.drain(..)) {
                    let held = Held {
                        delivery,
                        _permit: permit,
                    };
                    if sender.send(held).await.is_err() {
                        return;
                    }
                }
            }
            Err(error) => {
                tracing::warn!(route = %route.route, %error, "async route: fetch failed");
                tokio::time::sleep(STORE_RETRY).await;
            }
        }
    }
}

/// The lanes: per order key, the held requests in log order; only a
/// lane's head is being delivered.
#[derive(Default)]
struct Dispatcher {
    lanes: HashMap<String, VecDeque<Held>>,
    running: HashSet<String>,
    /// Lanes with work waiting for a running slot.
    ready: VecDeque<String>,
    /// Ids held, to drop a redelivery of one still being worked on.
    held: HashSet<String>,
    tasks: JoinSet<String>,
}

impl Dispatcher {
    async fn run(mut self, route: Arc<AsyncRoute>, mut receiver: mpsc::Receiver<Held>) {
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        loop {
            tokio::select! {
                held = receiver.recv() => match held {
                    Some(held) => self.accept(held, &route),
                    None => return,
                },
                Some(done) = self.tasks.join_next() => {
                    if let Ok(lane) = done {
                        self.finish(lane, &route);
                    }
                }
                _ = keep_alive.tick() => self.keep_waiting_alive(),
            }
        }
    }

    fn accept(&mut self, held: Held, route: &Arc<AsyncRoute>) {
        if !self.held.insert(held.id().to_owned()) {
            return; // a redelivery of one still held
        }
        let lane = held.lane();
        self.lanes.entry(lane.clone()).or_default().push_back(held);
        if !self.running.contains(&lane) && !self.ready.contains(&lane) {
            self.ready.push_back(lane);
        }
        self.start_ready(route);
    }

    fn finish(&mut self, lane: String, route: &Arc<AsyncRoute>) {
        self.running.remove(&lane);
        if let Some(queue) = self.lanes.get_mut(&lane) {
            if let Some(done) = queue.pop_front() {
                self.held.remove(done.id());
            }
            if queue.is_empty() {
                self.lanes.remove(&lane);
            } else {
                self.ready.push_back(lane);
            }
        }
        self.start_ready(route);
    }

    fn start_ready(&mut self, route: &Arc<AsyncRoute>) {
        while self.running.len() < MAX_RUNNING_LANES {
            let Some(lane) = self.ready.pop_front() else {
                return;
            };
            let Some(head) = self.lanes.get(&lane).and_then(VecDeque::front) else {
                continue;
            };
            let delivery = head.delivery.clone();
            self.running.insert(lane.clone());
            let route = Arc::clone(route);
            self.tasks.spawn(async move {
                deliver_until_settled(route, delivery).await;
                lane
            });
        }
    }

    /// `in_progress` for the requests waiting behind a lane's head.
    fn keep_waiting_alive(&self) {
        let settlers: Vec<Arc<dyn Settler>> = self
            .lanes
            .values()
            .flat_map(|queue| queue.iter().skip(1))
            .map(|held| Arc::clone(&held.delivery.settler))
            .collect();
        if settlers.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for settler in settlers {
                if let Err(error) = settler.in_progress().await {
                    tracing::debug!(%error, "async route: keep-alive failed");
                }
            }
        });
    }
}

/// Delivers one request until it is answered or dead-lettered, then
/// records the outcome and settles it.
async fn deliver_until_settled(route: Arc<AsyncRoute>, delivery: Delivery) {
    let (route, delivery) = (&*route, &delivery);
    let id = delivery.event.event.id.as_str();
    let mut record = load_record(route, delivery).await;
    let queued = QueuedRequest::from_event(&delivery.event.event)
        .and_then(|queued| deliver::is_sendable(&queued).map(|()| queued));
    let queued = match queued {
        Ok(queued) => queued,
        Err(reason) => {
            tracing::error!(route = %route.route, id, %reason, "async request cannot be sent");
            return conclude(route, delivery, record, Err(reason)).await;
        }
    };
    let mut attempt = record.attempts.max(delivery.attempt.saturating_sub(1)) + 1;
    loop {
        record.attempts = attempt;
        match deliver::attempt(route, &queued, id).await {
            Attempt::Answered(response) => {
                if let Some(emits) = &route.emit {
                    super::emit_answer::emit_answered(emits, &route.route, id, &queued, &response)
                        .await;
                }
                record.response = Some(response);
                return conclude(route, delivery, record, Ok(())).await;
            }
            Attempt::Failed(reason) if attempt >= route.spec.max_attempts => {
                record.last_error = Some(reason.clone());
                return conclude(route, delivery, record, Err(reason)).await;
            }
            Attempt::Failed(reason) => {
                record.last_error = Some(reason);
                record.updated_at_ms = super::record::unix_ms(SystemTime::now());
                if let Err(error) = put_record(route, &record).await {
                    tracing::debug!(id, %error, "async route: pending record not updated");
                }
                wait_before_retry(route, delivery, attempt).await;
                attempt += 1;
            }
        }
    }
}

/// The backoff before retry `attempt`, keeping the delivery alive.
async fn wait_before_retry(route: &AsyncRoute, delivery: &Delivery, attempt: u32) {
    let delay = {
        let mut rng = rand::rng();
        crate::upstream::retry::backoff_delay(&route.spec.backoff, attempt, &mut rng)
    };
    let deadline = tokio::time::Instant::now() + delay;
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return;
        }
        tokio::time::sleep((deadline - now).min(KEEP_ALIVE)).await;
        if tokio::time::Instant::now() < deadline {
            let _ = delivery.settler.in_progress().await;
        }
    }
}

/// Writes the final record, then settles: `Ok` acks, `Err` dead-letters.
/// A record that cannot be written leaves the request unsettled, so it is
/// delivered again rather than answered with a lost result.
async fn conclude(
    route: &AsyncRoute,
    delivery: &Delivery,
    record: RequestRecord,
    outcome: Result<(), String>,
) {
    let (state, settle) = match outcome {
        Ok(()) => (RequestState::Completed, Settle::Ack),
        Err(reason) => (RequestState::DeadLettered, Settle::DeadLetter(reason)),
    };
    let record = record.finish(state, SystemTime::now(), route.result_ttl());
    if let Err(error) = put_record(route, &record).await {
        tracing::error!(route = %route.route, id = %record.id, %error, "async route: final record not stored; the request will be delivered again");
        return;
    }
    if state == RequestState::DeadLettered {
        tracing::warn!(route = %route.route, id = %record.id, attempts = record.attempts, "async request dead-lettered");
    }
    if let Err(error) = delivery.settle(settle).await {
        tracing::warn!(route = %route.route, id = %record.id, %error, "async route: settle failed; the request will be delivered again");
    }
}

async fn load_record(route: &AsyncRoute, delivery: &Delivery) -> RequestRecord {
    let id = &delivery.event.event.id;
    let stored = route.store.kv_get(REQUESTS_BUCKET, id).await.ok().flatten();
    stored
        .and_then(|bytes| RequestRecord::decode(&bytes).ok())
        .filter(|record| record.state == RequestState::Pending)
        .unwrap_or_else(|| RequestRecord::pending(id, &route.route, delivery.event.stored_at))
}

/// Stores the record, retrying a few times (the store may be restarting).
async fn put_record(
    route: &AsyncRoute,
    record: &RequestRecord,
) -> Result<(), crate::events::store::StoreError> {
    let mut tries = 0;
    loop {
        match route
            .store
            .kv_put(REQUESTS_BUCKET, &record.id, record.encode())
            .await
        {
            Ok(()) => return Ok(()),
            Err(error) if tries >= 3 => return Err(error),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(STORE_RETRY).await;
            }
        }
    }
}
