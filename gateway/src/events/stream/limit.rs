//! The bound on open streams: per topic, at most `max_streams` at once on
//! this gateway (all workers, all routes publishing the topic). The counts
//! live in the event bus, so they survive reloads; each stream holds a
//! [`StreamPermit`] until its body or WebSocket session ends, however it
//! ends. The permit also moves the `gateway_event_streams{topic}` gauge.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::metrics::gauge::Gauge;

/// Open streams by topic.
#[derive(Debug, Default)]
pub struct OpenStreams {
    by_topic: Mutex<HashMap<String, Arc<AtomicUsize>>>,
}

impl OpenStreams {
    /// A permit for one more stream of `topic`, unless `max` are open.
    pub fn try_open(&self, topic: &str, max: usize) -> Option<StreamPermit> {
        let count = self.counter(topic);
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .ok()?;
        Some(StreamPermit { count, gauge: None })
    }

    /// How many streams of `topic` are open.
    pub fn open(&self, topic: &str) -> usize {
        self.counter(topic).load(Ordering::Acquire)
    }

    fn counter(&self, topic: &str) -> Arc<AtomicUsize> {
        let mut by_topic = self.by_topic.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(by_topic.entry(topic.to_owned()).or_default())
    }
}

/// One open stream, counted until dropped.
#[derive(Debug)]
pub struct StreamPermit {
    count: Arc<AtomicUsize>,
    gauge: Option<Gauge>,
}

impl StreamPermit {
    /// Also counts the stream in `gauge` while it is open.
    pub fn with_gauge(mut self, gauge: Gauge) -> Self {
        gauge.inc();
        self.gauge = Some(gauge);
        self
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
        if let Some(gauge) = &self.gauge {
            gauge.dec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_bounded_per_topic_and_returned_on_drop() {
        let streams = OpenStreams::default();
        let first = streams.try_open("orders", 2).expect("first");
        let second = streams.try_open("orders", 2).expect("second");
        assert!(
            streams.try_open("orders", 2).is_none(),
            "the third is refused"
        );
        assert!(
            streams.try_open("payments", 2).is_some(),
            "other topics count apart"
        );
        let gauge = Gauge::default();
        drop(first);
        let third = streams
            .try_open("orders", 2)
            .expect("a slot came free")
            .with_gauge(gauge.clone());
        assert_eq!((streams.open("orders"), gauge.get()), (2, 1));
        drop((second, third));
        assert_eq!((streams.open("orders"), gauge.get()), (0, 0));
    }
}
