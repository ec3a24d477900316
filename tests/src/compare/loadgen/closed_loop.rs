//! Closed loop: `concurrency` workers, each sending its next request as
//! soon as the previous one is answered, until the run's end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::recorder::Recorder;
use super::{LoadPlan, Probe};

pub(super) async fn run<P: Probe>(
    probe: Arc<P>,
    concurrency: usize,
    plan: LoadPlan,
    recorder: Arc<Recorder>,
) {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let next_seq = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (probe, recorder, next_seq) = (
            Arc::clone(&probe),
            Arc::clone(&recorder),
            Arc::clone(&next_seq),
        );
        workers.spawn(async move {
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let seq = next_seq.fetch_add(1, Ordering::Relaxed);
                let result = probe.call(seq).await;
                // Only requests sent and answered inside the window count,
                // so throughput is not inflated by work done after it.
                let done = Instant::now();
                let measured = sent >= measure_from && done <= end;
                recorder.record(measured, done - sent, result);
            }
        });
    }
    while workers.join_next().await.is_some() {}
}
