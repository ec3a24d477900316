//! Metrics read at scrape time from counters kept elsewhere: the open
//! streams' gauges and the access log's dropped-record counter.

use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::Gauge;

use super::StreamKind;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    kind: &'static str,
}

/// `gateway_open_streams{kind}`: the gauges [`OpenStreams`] moves.
#[derive(Debug)]
pub(super) struct StreamsCollector {
    pub(super) gauges: [(StreamKind, Gauge); 3],
}

impl Collector for StreamsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let gauge = Gauge::<i64>::default();
        let mut family = encoder.encode_descriptor(
            "gateway_open_streams",
            "Long-lived streams open now, by kind (sse, ndjson, websocket)",
            None,
            gauge.metric_type(),
        )?;
        for (kind, gauge) in &self.gauges {
            let labels = StreamLabels { kind: kind.label() };
            gauge.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// `gateway_access_log_dropped_records_total`: read from the access log's
/// own counter at scrape time (0 while no access log is writing).
#[derive(Debug)]
pub(super) struct AccessLogDropped(pub(super) Arc<OnceLock<Arc<dyn super::DroppedCount>>>);

impl Collector for AccessLogDropped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let dropped = self.0.get().map_or(0, |dropped| dropped.dropped());
        let counter = ConstCounter::new(dropped);
        let metric = encoder.encode_descriptor(
            "gateway_access_log_dropped_records",
            "Access-log records dropped because the writer's buffer was full",
            None,
            counter.metric_type(),
        )?;
        counter.encode(metric)
    }
}
