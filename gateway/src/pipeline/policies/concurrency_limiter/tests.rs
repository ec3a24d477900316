use std::time::Duration;

use super::*;
use crate::config::model::{AdaptiveLimitSpec, LoadSheddingSpec};

fn spec(max: usize, queue: usize) -> LoadSheddingSpec {
    LoadSheddingSpec {
        max_concurrent_requests: max,
        queue,
        queue_timeout: Duration::from_millis(100),
        retry_after_secs: 1,
        adaptive: None,
    }
}

fn adaptive(max: usize, min: usize) -> Arc<ConcurrencyLimiter> {
    Arc::new(ConcurrencyLimiter::new(&LoadSheddingSpec {
        adaptive: Some(AdaptiveLimitSpec {
            min_concurrent_requests: min,
            latency_threshold: Duration::from_millis(100),
            backoff_ratio: 0.5,
        }),
        ..spec(max, 0)
    }))
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_refuses_at_once_and_a_freed_slot_serves_the_queue() {
    let limiter = Arc::new(ConcurrencyLimiter::new(&spec(2, 1)));
    let first = limiter.acquire().await.unwrap();
    let _second = limiter.acquire().await.unwrap();
    let queued = tokio::spawn({
        let limiter = Arc::clone(&limiter);
        async move { limiter.acquire().await.map(|_| ()) }
    });
    tokio::task::yield_now().await;
    assert_eq!(limiter.queued.load(Ordering::Relaxed), 1);
    assert_eq!(limiter.acquire().await.unwrap_err(), Refusal::QueueFull);
    drop(first);
    assert_eq!(queued.await.unwrap(), Ok(()));
    assert_eq!(limiter.queued.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn a_queued_request_times_out() {
    let limiter = Arc::new(ConcurrencyLimiter::new(&spec(1, 4)));
    let _held = limiter.acquire().await.unwrap();
    let started = tokio::time::Instant::now();
    let refused = limiter.acquire().await.unwrap_err();
    assert_eq!(refused, Refusal::QueueTimeout(Duration::from_millis(100)));
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    assert_eq!(limiter.queued.load(Ordering::Relaxed), 0);
    assert_eq!(limiter.in_flight(), 1);
}

#[tokio::test]
async fn no_queue_means_refusal_without_waiting() {
    let limiter = Arc::new(ConcurrencyLimiter::new(&spec(1, 0)));
    let _held = limiter.acquire().await.unwrap();
    assert_eq!(limiter.acquire().await.unwrap_err(), Refusal::QueueFull);
}

#[tokio::test]
async fn a_slow_response_halves_the_limit_and_slots_in_use_pay_the_debt() {
    let limiter = adaptive(10, 2);
    let mut held: Vec<Slot> = Vec::new();
    for _ in 0..8 {
        held.push(limiter.acquire().await.unwrap());
    }
    held[0].observe(Duration::from_millis(500), false);
    assert_eq!(limiter.limit(), Some(5));
    // Two free permits were forgotten; three slots in use owe the rest.
    assert_eq!(limiter.slots.available_permits(), 0);
    for _ in 0..3 {
        held.pop();
        assert_eq!(limiter.slots.available_permits(), 0);
    }
    held.pop();
    assert_eq!(limiter.slots.available_permits(), 1);
    assert_eq!(held.len() + limiter.slots.available_permits(), 5);
}

#[tokio::test]
async fn fast_responses_grow_the_limit_while_it_is_in_use_up_to_the_max() {
    let limiter = adaptive(4, 1);
    let slot = limiter.acquire().await.unwrap();
    slot.observe(Duration::from_millis(500), true);
    slot.observe(Duration::from_millis(1), true);
    assert_eq!(limiter.limit(), Some(1), "failures shrink it to the min");
    // One request in flight of a limit of 1, then of 2: in use, so it grows.
    slot.observe(Duration::from_millis(1), false);
    assert_eq!(limiter.limit(), Some(2));
    slot.observe(Duration::from_millis(1), false);
    assert_eq!(limiter.limit(), Some(3));
    slot.observe(Duration::from_millis(1), false);
    assert_eq!(
        limiter.limit(),
        Some(3),
        "1 of 3 in use: idle capacity, no growth"
    );
    let _second = limiter.acquire().await.unwrap();
    for _ in 0..10 {
        slot.observe(Duration::from_millis(1), false);
    }
    assert_eq!(limiter.limit(), Some(4), "never past the max");
    drop(slot);
    assert_eq!(limiter.slots.available_permits(), 3);
}

#[test]
fn backing_off_always_shrinks_and_respects_the_min() {
    assert_eq!(backed_off(10, 0.9, 1), 9);
    assert_eq!(backed_off(5, 0.99, 1), 4);
    assert_eq!(backed_off(1, 0.5, 1), 1);
    assert_eq!(backed_off(100, 0.1, 20), 20);
}
