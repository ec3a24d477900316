//! The shared state of a route's `load_shedding`: a concurrency limit,
//! a bounded queue with a timeout, and an optional adaptive (AIMD) limit.
//!
//! The slots are a tokio [`Semaphore`] whose permits are the current
//! limit: taking a free slot is one atomic compare-and-swap, and only a
//! request that must wait joins the semaphore's queue. The queue's length
//! is an atomic counter checked before waiting, so a full queue refuses at
//! once. The adaptive limit lives in atomics too: it grows by adding
//! permits, and shrinks by forgetting free permits or, when none is free,
//! by keeping a "debt" that returning slots pay off instead of being
//! released.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::model::{AdaptiveLimitSpec, LoadSheddingSpec};

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("every slot is taken and the queue is full")]
    QueueFull,
    #[error("no slot came free within the queue timeout ({0:?})")]
    QueueTimeout(Duration),
}

/// One route's slots and queue.
#[derive(Debug)]
pub struct ConcurrencyLimiter {
    slots: Arc<Semaphore>,
    queued: AtomicUsize,
    in_flight: AtomicUsize,
    max_queued: usize,
    queue_timeout: Duration,
    adaptive: Option<AimdLimit>,
}

impl ConcurrencyLimiter {
    pub fn new(spec: &LoadSheddingSpec) -> Self {
        let max = spec
            .max_concurrent_requests
            .clamp(1, Semaphore::MAX_PERMITS);
        Self {
            slots: Arc::new(Semaphore::new(max)),
            queued: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_queued: spec.queue,
            queue_timeout: spec.queue_timeout,
            adaptive: spec.adaptive.as_ref().map(|a| AimdLimit::new(a, max)),
        }
    }

    /// A slot: at once if one is free, else after waiting in the queue
    /// (if it has room) for at most the queue timeout.
    pub async fn acquire(self: &Arc<Self>) -> Result<Slot, Refusal> {
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => self.wait_in_queue().await?,
        };
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(Slot {
            permit: Some(permit),
            limiter: Arc::clone(self),
        })
    }

    async fn wait_in_queue(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        let position = self.queued.fetch_add(1, Ordering::Relaxed);
        let _leave = QueueSeat(&self.queued);
        if position >= self.max_queued {
            return Err(Refusal::QueueFull);
        }
        match tokio::time::timeout(self.queue_timeout, Arc::clone(&self.slots).acquire_owned())
            .await
        {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a closed one refuses like a full queue.
            Ok(Err(_)) => Err(Refusal::QueueFull),
            Err(_) => Err(Refusal::QueueTimeout(self.queue_timeout)),
        }
    }

    /// The current adaptive limit (`None` without `adaptive`).
    #[cfg(test)]
    pub fn limit(&self) -> Option<usize> {
        self.adaptive
            .as_ref()
            .map(|aimd| aimd.limit.load(Ordering::Relaxed))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// Leaves the queue when dropped (served, refused or cancelled).
struct QueueSeat<'a>(&'a AtomicUsize);

impl Drop for QueueSeat<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A taken slot; dropping it frees the slot (or pays an adaptive debt).
#[derive(Debug)]
pub struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    limiter: Arc<ConcurrencyLimiter>,
}

impl Slot {
    /// Feeds one response to the adaptive limit: `latency` to the
    /// response head, `failed` for an error or a 5xx.
    pub fn observe(&self, latency: Duration, failed: bool) {
        let limiter = &self.limiter;
        if let Some(aimd) = &limiter.adaptive {
            aimd.observe(&limiter.slots, latency, failed, limiter.in_flight());
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limiter.in_flight.fetch_sub(1, Ordering::Relaxed);
        let Some(permit) = self.permit.take() else {
            return;
        };
        let paid_debt = self
            .limiter
            .adaptive
            .as_ref()
            .is_some_and(AimdLimit::take_debt);
        if paid_debt {
            permit.forget();
        }
    }
}

/// Additive increase, multiplicative decrease of the limit on latency.
#[derive(Debug)]
struct AimdLimit {
    limit: AtomicUsize,
    /// Permits still to remove: slots in use when the limit shrank.
    debt: AtomicUsize,
    min: usize,
    max: usize,
    latency_threshold: Duration,
    backoff_ratio: f64,
}

impl AimdLimit {
    fn new(spec: &AdaptiveLimitSpec, max: usize) -> Self {
        Self {
            limit: AtomicUsize::new(max),
            debt: AtomicUsize::new(0),
            min: spec.min_concurrent_requests.clamp(1, max),
            max,
            latency_threshold: spec.latency_threshold,
            backoff_ratio: spec.backoff_ratio,
        }
    }

    fn observe(&self, slots: &Semaphore, latency: Duration, failed: bool, in_flight: usize) {
        if failed || latency > self.latency_threshold {
            self.decrease(slots);
        } else {
            self.increase(slots, in_flight);
        }
    }

    /// One more slot, while the limit is in use (at least half taken: an
    /// idle route learns nothing about its capacity) and below the max.
    fn increase(&self, slots: &Semaphore, in_flight: usize) {
        let grown = self
            .limit
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |limit| {
                (limit < self.max && in_flight.saturating_mul(2) >= limit).then_some(limit + 1)
            });
        if grown.is_ok() && !self.take_debt() {
            slots.add_permits(1);
        }
    }

    fn decrease(&self, slots: &Semaphore) {
        let shrunk = self
            .limit
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |limit| {
                let next = backed_off(limit, self.backoff_ratio, self.min);
                (next < limit).then_some(next)
            });
        if let Ok(before) = shrunk {
            let remove = before - backed_off(before, self.backoff_ratio, self.min);
            let forgotten = slots.forget_permits(remove);
            self.debt.fetch_add(remove - forgotten, Ordering::Relaxed);
        }
    }

    /// Pays one unit of debt, if any.
    fn take_debt(&self) -> bool {
        self.debt
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |debt| {
                debt.checked_sub(1)
            })
            .is_ok()
    }
}

/// `limit × ratio`, rounded down, at least one less than `limit`, never
/// below `min`.
fn backed_off(limit: usize, ratio: f64, min: usize) -> usize {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let scaled = (limit as f64 * ratio).floor() as usize;
    scaled.min(limit.saturating_sub(1)).max(min)
}

#[cfg(test)]
mod tests;
