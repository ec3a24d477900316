//! A duration histogram on atomics only: observing is two relaxed
//! `fetch_add`s, no lock (prometheus-client's own histogram takes a mutex
//! per observation, which every worker would contend for on a hot route).
//! The sum is kept in whole nanoseconds, so it is exact.
//!
//! Each worker thread counts in a shard of its own (on its own cache
//! lines), and a scrape adds the shards up: a hot series is then never a
//! cache line that the workers take from each other on every request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// The bucket bounds, in seconds: OpenTelemetry's advice for
/// `http.server.request.duration` and `http.client.request.duration`.
pub const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

const NANOS_PER_SECOND: f64 = 1e9;

/// Shards per series: one per worker (workers past this many share, by
/// index), as the access log's buffers.
const SHARDS: usize = 4;

/// A cheap handle on one duration series (clones share it).
#[derive(Debug, Clone, Default)]
pub struct DurationHistogram {
    inner: Arc<[Shard; SHARDS]>,
}

/// One worker's counts: fifteen buckets and the sum, 128 bytes.
#[derive(Debug)]
#[repr(align(128))]
struct Shard {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Default for Shard {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl DurationHistogram {
    pub fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let index = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        let shard = &self.inner[crate::workers::current_index() % SHARDS];
        shard.buckets[index].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        shard.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// How many observations so far.
    pub fn count(&self) -> u64 {
        (0..=BUCKETS.len()).map(|index| self.bucket(index)).sum()
    }

    /// Bucket `index`'s observations, over every shard.
    fn bucket(&self, index: usize) -> u64 {
        self.inner
            .iter()
            .map(|shard| shard.buckets[index].load(Ordering::Relaxed))
            .sum()
    }

    /// The sum of every observation, in nanoseconds (wrapping, as each
    /// shard's does).
    fn sum_nanos(&self) -> u64 {
        self.inner.iter().fold(0u64, |sum, shard| {
            sum.wrapping_add(shard.sum_nanos.load(Ordering::Relaxed))
        })
    }
}

impl TypedMetric for DurationHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for DurationHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let counts: Vec<(f64, u64)> = BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .enumerate()
            .map(|(index, bound)| (bound, self.bucket(index)))
            .collect();
        // The count is the buckets' total, so the two always agree even
        // when observations land during the scrape.
        let count = counts.iter().map(|(_, count)| count).sum();
        let sum = self.sum_nanos() as f64 / NANOS_PER_SECOND;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &counts, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::prometheus_text::encode;
    use prometheus_client::registry::{Registry, Unit};

    use super::*;

    #[test]
    fn observations_land_in_their_bucket_and_the_sum_is_exact() {
        let histogram = DurationHistogram::default();
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_millis(10));
        histogram.observe(Duration::from_secs(60));
        let mut registry = Registry::default();
        registry.register_with_unit("d", "help", Unit::Seconds, histogram.clone());
        let mut text = String::new();
        encode(&mut text, &registry).expect("encode");
        assert!(
            text.contains("d_seconds_bucket{le=\"0.005\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("d_seconds_bucket{le=\"0.01\"} 2\n"), "{text}");
        assert!(text.contains("d_seconds_bucket{le=\"10\"} 2\n"), "{text}");
        assert!(text.contains("d_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("d_seconds_sum 60.013\n"), "{text}");
        assert!(text.contains("d_seconds_count 3\n"), "{text}");
        assert_eq!(histogram.count(), 3);
    }

    /// Observations made on several worker threads land in their own
    /// shards and are added up by the scrape.
    #[test]
    fn the_workers_shards_add_up() {
        let histogram = DurationHistogram::default();
        std::thread::scope(|scope| {
            for worker in 0..SHARDS + 2 {
                let histogram = histogram.clone();
                scope.spawn(move || {
                    crate::workers::set_current_index_for_test(worker);
                    histogram.observe(Duration::from_millis(2));
                    histogram.observe(Duration::from_secs(20));
                });
            }
        });
        let used = histogram
            .inner
            .iter()
            .filter(|shard| shard.sum_nanos.load(Ordering::Relaxed) > 0)
            .count();
        assert_eq!(used, SHARDS);
        assert_eq!(histogram.count(), 2 * (SHARDS as u64 + 2));
        assert_eq!(histogram.bucket(0), SHARDS as u64 + 2);
        assert_eq!(histogram.bucket(BUCKETS.len()), SHARDS as u64 + 2);
        assert_eq!(histogram.sum_nanos(), (SHARDS as u64 + 2) * 20_002_000_000);
    }
}
