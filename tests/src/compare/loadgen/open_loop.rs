//! Open loop: a pacer thread emits each request's intended send time at a
//! constant rate; the async side starts the request at once and measures
//! its latency from that intended time.
//!
//! The pacer is an OS thread because tokio's timer has a 1 ms resolution,
//! which would add up to a millisecond of scheduling error to every
//! sub-millisecond latency. `std::thread::sleep` wakes within tens of
//! microseconds on Linux; a late wake-up still counts against the target,
//! since latency is taken from the intended time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::recorder::{CallError, Recorder};
use super::{LoadPlan, MAX_IN_FLIGHT, Probe};

/// One scheduled request.
struct Tick {
    seq: u64,
    intended: Instant,
}

pub(super) async fn run<P: Probe>(
    probe: Arc<P>,
    rate: f64,
    plan: LoadPlan,
    recorder: Arc<Recorder>,
) {
    let start = Instant::now() + Duration::from_millis(5);
    let measure_from = start + plan.warmup;
    let count = (plan.total().as_secs_f64() * rate).round() as u64;
    let (ticks, mut scheduled) = mpsc::unbounded_channel();
    let pacer = std::thread::spawn(move || pace(start, rate, count, &ticks));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(Tick { seq, intended }) = scheduled.recv().await {
        let measured = intended >= measure_from;
        if in_flight.fetch_add(1, Ordering::Relaxed) >= MAX_IN_FLIGHT {
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let saturated =
                CallError::new("not sent: too many requests in flight (target saturated)");
            recorder.record(measured, intended.elapsed(), Err(saturated));
            continue;
        }
        let (probe, recorder, in_flight) = (
            Arc::clone(&probe),
            Arc::clone(&recorder),
            Arc::clone(&in_flight),
        );
        tasks.spawn(async move {
            let result = probe.call(seq).await;
            recorder.record(measured, intended.elapsed(), result);
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let _ = pacer.join();
}

/// Sends `count` ticks, the n-th at `start + n / rate`.
fn pace(start: Instant, rate: f64, count: u64, ticks: &mpsc::UnboundedSender<Tick>) {
    for seq in 0..count {
        let intended = start + Duration::from_secs_f64(seq as f64 / rate);
        if let Some(wait) = intended.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if ticks.send(Tick { seq, intended }).is_err() {
            return;
        }
    }
}
