//! The load generator's two modes against in-memory probes: what they
//! send and when, asserted from counts and recorded orderings, not timings.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::{CallError, LoadPlan, Measurement, Probe};

/// Every call waits until `expected` calls are in flight at once.
struct Gate {
    in_flight: AtomicUsize,
    expected: usize,
    open: watch::Sender<bool>,
}

impl Probe for Gate {
    async fn call(&self, _seq: u64) -> Result<(), CallError> {
        if self.in_flight.fetch_add(1, Ordering::SeqCst) + 1 >= self.expected {
            self.open.send_replace(true);
        }
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|open| *open).await;
        Ok(())
    }
}

#[tokio::test]
async fn open_loop_sends_on_schedule_without_waiting_for_answers() {
    // 40 requests at 1000/s; none is answered until all 40 were sent, so
    // the run only ends if sending never waits for an answer.
    let plan = LoadPlan::open(1000.0, Duration::from_millis(30), Duration::from_millis(10));
    let (open, _) = watch::channel(false);
    let gate = Arc::new(Gate {
        in_flight: AtomicUsize::new(0),
        expected: 40,
        open,
    });
    let mut measurement = Measurement::new();
    measurement.drive(&gate, plan, || 0).await;
    let stats = measurement.stats();
    assert_eq!(gate.in_flight.load(Ordering::SeqCst), 40);
    // The 10 warm-up requests are sent but not recorded.
    assert_eq!(stats.ok, 30);
    // The first measured request (intended at 10 ms) waited for the last
    // one to be sent (intended at 39 ms): its latency, taken from its
    // intended send time, is at least the 29 ms between the two.
    assert!(stats.max >= 29.0, "max latency {} ms", stats.max);
}

/// Counts the calls in flight and the most seen at once.
#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Probe for Concurrency {
    async fn call(&self, _seq: u64) -> Result<(), CallError> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        Err(CallError::new("always fails"))
    }
}

#[tokio::test]
async fn closed_loop_keeps_exactly_its_concurrency_in_flight() {
    // Long enough that every worker is running before the end, even on a
    // loaded machine.
    let plan = LoadPlan::closed(4, Duration::from_millis(300), Duration::from_millis(5));
    let probe = Arc::new(Concurrency::default());
    let mut measurement = Measurement::new();
    measurement.drive(&probe, plan, || 0).await;
    let stats = measurement.stats();
    assert_eq!(probe.most.load(Ordering::SeqCst), 4);
    assert_eq!(stats.ok, 0);
    assert!(stats.errors > 0);
    assert_eq!(
        stats.error_kinds.keys().collect::<Vec<_>>(),
        ["always fails"]
    );
}

#[tokio::test]
async fn runs_accumulate_and_bytes_are_per_call() {
    let plan = LoadPlan::open(1000.0, Duration::from_millis(10), Duration::ZERO);
    let (open, _) = watch::channel(true);
    let probe = Arc::new(Gate {
        in_flight: AtomicUsize::new(0),
        expected: 0,
        open,
    });
    // Each call "carries" 100 bytes: the counter is 100 × calls so far.
    let wire = || probe.in_flight.load(Ordering::SeqCst) as u64 * 100;
    let mut measurement = Measurement::new();
    for _ in 0..2 {
        measurement.drive(&probe, plan, wire).await;
    }
    let stats = measurement.stats();
    assert_eq!(stats.ok, 20);
    assert_eq!(stats.throughput, 1000.0);
    assert_eq!(stats.bytes_per_request, 100.0);
}
