//! A gauge every request moves twice (`http_server_active_requests`),
//! kept as one counter per worker and added up at scrape time, as the
//! duration histograms are: one shared atomic would be written by every
//! worker for every request, its cache line bouncing between the cores.
//! A request may end on another worker than the one it started on; a
//! shard can then go below zero, and the sum is still exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;

/// Shards: one per worker (workers past this many share, by index).
const SHARDS: usize = 4;

/// A cheap handle (clones share the counters).
#[derive(Debug, Clone, Default)]
pub struct ShardedGauge {
    shards: Arc<[Shard; SHARDS]>,
}

/// One worker's counter, on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(AtomicI64);

impl ShardedGauge {
    fn shard(&self) -> &AtomicI64 {
        &self.shards[crate::workers::current_index() % SHARDS].0
    }

    pub fn inc(&self) {
        self.shard().fetch_add(1, Ordering::Relaxed);
    }

    pub fn dec(&self) {
        self.shard().fetch_sub(1, Ordering::Relaxed);
    }

    /// The gauge's value: every shard added up.
    pub fn get(&self) -> i64 {
        self.shards
            .iter()
            .map(|shard| shard.0.load(Ordering::Relaxed))
            .sum()
    }
}

impl EncodeMetric for ShardedGauge {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.get())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_the_sum_even_when_a_request_ends_on_another_worker() {
        let gauge = ShardedGauge::default();
        crate::workers::set_current_index_for_test(0);
        gauge.inc();
        gauge.inc();
        crate::workers::set_current_index_for_test(1);
        gauge.dec();
        crate::workers::set_current_index_for_test(SHARDS + 1);
        gauge.inc();
        assert_eq!(gauge.get(), 2);
        assert_eq!(gauge.clone().get(), 2);
    }
}
