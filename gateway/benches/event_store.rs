//! The embedded event store's durable publish: every publish returns only
//! after an fsync'd commit.
//!
//! - `event_store_publish/{window}/{publishers}`: throughput with N
//!   concurrent publishers, group commit with a 2 ms window against the
//!   default `commit_window` 0 (commit as soon as the writer is free,
//!   with whatever queued meanwhile). Criterion's throughput line is
//!   events per second.
//! - `paced 1000/s`: publishes at a steady 1,000 events/s for 3 s (one
//!   task per event, as concurrent clients) and prints the p50 / p99 /
//!   max latency each publisher saw.
//!
//! The store file lives in a temporary directory under the current one
//! (the package directory under `cargo bench`), on the real disk.
//!
//! `cargo bench -p gateway --bench event_store`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gateway::config::model::events::{EmbeddedStore, TopicSpec};
use gateway::events::cloud_event::{CloudEvent, SPEC_VERSION};
use gateway::events::embedded::EmbeddedEventStore;
use gateway::events::store::{EncodedEvent, EventStore};

/// Events per measured iteration (shared by the publishers).
const EVENTS_PER_ITERATION: usize = 2_000;

fn topic() -> TopicSpec {
    TopicSpec {
        name: "orders".into(),
        max_event_bytes: 64 * 1024,
        dedupe_window: Duration::from_secs(120),
        max_age: None,
        max_events: Some(200_000),
        default_source: "/bench".into(),
        max_streams: TopicSpec::DEFAULT_MAX_STREAMS,
    }
}

/// Event `n` as the store takes it (encoding is part of each publish).
fn encoded(n: usize) -> EncodedEvent {
    EncodedEvent::new(event(n))
}

fn event(n: usize) -> CloudEvent {
    CloudEvent {
        specversion: SPEC_VERSION.into(),
        id: format!("evt-{n}"),
        source: "/bench/orders".into(),
        event_type: "OrderPlaced".into(),
        subject: Some(format!("order-{}", n % 1000)),
        time: Some("2026-11-30T12:00:00Z".into()),
        datacontenttype: Some("application/json".into()),
        data: Some(serde_json::json!({"order_id": n, "customer_id": "c-17", "total": 129.95})),
        data_base64: None,
        extensions: Default::default(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn open(dir: &tempfile::TempDir, commit_window: Duration) -> Arc<EmbeddedEventStore> {
    let settings = EmbeddedStore {
        data_dir: dir.path().to_path_buf(),
        commit_window,
    };
    let store = EmbeddedEventStore::open(&settings).await.expect("open");
    store.ensure_topic(&topic()).await.expect("topic");
    Arc::new(store)
}

/// `total` publishes (with a dedupe key) by `publishers` tasks.
async fn publish_all(
    store: &Arc<EmbeddedEventStore>,
    publishers: usize,
    total: usize,
    base: usize,
) {
    let per = total / publishers;
    let tasks: Vec<_> = (0..publishers)
        .map(|p| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                for i in 0..per {
                    let n = base + p * per + i;
                    let key = format!("key-{n}");
                    store
                        .publish("orders", &encoded(n), Some(&key))
                        .await
                        .expect("publish");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("publisher");
    }
}

fn bench_throughput(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("event_store_publish");
    group.throughput(Throughput::Elements(EVENTS_PER_ITERATION as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for (label, window) in [
        ("group_commit_2ms", Duration::from_millis(2)),
        ("no_window", Duration::ZERO),
    ] {
        for publishers in [1, 16, 64] {
            let dir = tempfile::tempdir_in(".").expect("tempdir");
            let store = rt.block_on(open(&dir, window));
            let mut base = 0;
            group.bench_function(BenchmarkId::new(label, publishers), |b| {
                b.iter_custom(|iterations| {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        rt.block_on(publish_all(&store, publishers, EVENTS_PER_ITERATION, base));
                        base += EVENTS_PER_ITERATION;
                    }
                    started.elapsed()
                })
            });
            drop(store);
        }
    }
    group.finish();
}

/// 1,000 events/s for 3 s: each event published by its own task at its
/// scheduled time; prints the latency percentiles.
fn paced_latency(c: &mut Criterion) {
    let _ = c;
    let rt = runtime();
    let dir = tempfile::tempdir_in(".").expect("tempdir");
    let store = rt.block_on(open(&dir, Duration::from_millis(2)));
    let histogram = rt.block_on(async {
        let mut ticker = tokio::time::interval(Duration::from_millis(1));
        let mut tasks = Vec::with_capacity(3_000);
        for n in 0..3_000 {
            ticker.tick().await;
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let started = Instant::now();
                store
                    .publish("orders", &encoded(n), None)
                    .await
                    .expect("publish");
                started.elapsed()
            }));
        }
        let mut histogram = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
        for task in tasks {
            let micros = u64::try_from(task.await.expect("task").as_micros()).unwrap_or(u64::MAX);
            histogram.record(micros).expect("record");
        }
        histogram
    });
    println!(
        "event_store paced 1000/s (3,000 events, commit_window 2ms): p50 {} us, p99 {} us, max {} us",
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
        histogram.max()
    );
}

criterion_group!(benches, paced_latency, bench_throughput);
criterion_main!(benches);
