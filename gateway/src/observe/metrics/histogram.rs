//! A duration histogram on atomics only: observing is three relaxed
//! `fetch_add`s, no lock (prometheus-client's own histogram takes a mutex
//! per observation, which every worker would contend for on a hot route).
//! The sum is kept in whole nanoseconds, so it is exact.

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

/// A cheap handle on one duration series (clones share it).
#[derive(Debug, Clone, Default)]
pub struct DurationHistogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Default for Inner {
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
        self.inner.buckets[index].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.inner.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// How many observations so far.
    pub fn count(&self) -> u64 {
        self.inner
            .buckets
            .iter()
            .map(|bucket| bucket.load(Ordering::Relaxed))
            .sum()
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
            .zip(&self.inner.buckets)
            .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        // The count is the buckets' total, so the two always agree even
        // when observations land during the scrape.
        let count = counts.iter().map(|(_, count)| count).sum();
        let sum = self.inner.sum_nanos.load(Ordering::Relaxed) as f64 / NANOS_PER_SECOND;
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
}
