//! `gateway_consumer_requests_total`: requests by the consumer the route's
//! authentication verified (an API key's consumer, a JWT's consumer claim
//! or else its subject), route and status class.
//!
//! Consumers come from tokens as well as from the config, so the label is
//! bounded: the first `metrics.max_consumers` distinct names seen since
//! start keep their own series, every later one (and any name longer than
//! [`MAX_LABEL_LENGTH`](super::MAX_LABEL_LENGTH)) is counted under
//! [`OTHER_NAME`]. On the request path this is the lock-free lookup of
//! [`ReadMostly`]: once the cap is reached, a new name costs no lock
//! either. A request without a verified consumer is not counted here.

use std::sync::{Arc, OnceLock};

use http::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use super::labels::{OTHER_NAME, STATUS_CLASSES, status_class_index};
use super::series::ReadMostly;

/// `gateway_consumer_requests_total` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ConsumerLabels {
    pub consumer: Arc<str>,
    pub route: Arc<str>,
    pub status_class: &'static str,
}

/// The per-consumer counters, at most `max` consumers plus `_other`.
#[derive(Debug)]
pub(super) struct ConsumerCounts {
    max: usize,
    max_len: usize,
    pub(super) family: Family<ConsumerLabels, Counter>,
    consumers: ReadMostly<Arc<str>, ConsumerSeries>,
    overflow: Arc<ConsumerSeries>,
}

/// One consumer's counters, by route.
#[derive(Debug)]
struct ConsumerSeries {
    consumer: Arc<str>,
    routes: ReadMostly<Arc<str>, RouteCounters>,
}

/// One consumer's counters on one route: a slot per status class.
#[derive(Debug)]
struct RouteCounters {
    consumer: Arc<str>,
    route: Arc<str>,
    slots: [OnceLock<Counter>; STATUS_CLASSES.len()],
}

impl ConsumerSeries {
    fn new(consumer: Arc<str>) -> Self {
        Self {
            consumer,
            routes: ReadMostly::default(),
        }
    }
}

impl ConsumerCounts {
    /// Keeps `max` consumer names (0: nothing is counted), each at most
    /// `max_len` bytes.
    pub(super) fn new(max: usize, max_len: usize) -> Self {
        Self {
            max,
            max_len,
            family: Family::default(),
            consumers: ReadMostly::default(),
            overflow: Arc::new(ConsumerSeries::new(Arc::from(OTHER_NAME))),
        }
    }

    /// Whether the counter is on (`max_consumers` above 0).
    pub(super) fn enabled(&self) -> bool {
        self.max > 0
    }

    /// Counts one finished request of `consumer` on `route`.
    pub(super) fn count(&self, consumer: &str, route: &str, status: StatusCode) {
        if !self.enabled() {
            return;
        }
        let series = self.series(consumer);
        let counters = series.routes.get_or_insert(route, || {
            let route: Arc<str> = Arc::from(route);
            let counters = RouteCounters {
                consumer: Arc::clone(&series.consumer),
                route: Arc::clone(&route),
                slots: Default::default(),
            };
            (route, counters)
        });
        let class = status_class_index(status);
        counters.slots[class]
            .get_or_init(|| {
                self.family.get_or_create_owned(&ConsumerLabels {
                    consumer: Arc::clone(&counters.consumer),
                    route: Arc::clone(&counters.route),
                    status_class: STATUS_CLASSES[class],
                })
            })
            .inc();
    }

    /// The series of `consumer`, or `_other` past the cap.
    fn series(&self, consumer: &str) -> Arc<ConsumerSeries> {
        if consumer.len() > self.max_len || consumer == OTHER_NAME {
            return Arc::clone(&self.overflow);
        }
        self.consumers
            .get_or_insert_bounded(consumer, self.max, || {
                let name: Arc<str> = Arc::from(consumer);
                (Arc::clone(&name), ConsumerSeries::new(name))
            })
            .unwrap_or_else(|| Arc::clone(&self.overflow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(counts: &ConsumerCounts) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("c", "c", counts.family.clone());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encode");
        out
    }

    #[test]
    fn the_first_consumers_keep_their_names_and_later_ones_are_other() {
        let counts = ConsumerCounts::new(2, 8);
        let ok = StatusCode::OK;
        counts.count("acme", "r", ok);
        counts.count("globex", "r", ok);
        counts.count("initech", "r", ok);
        counts.count("umbrella", "r", StatusCode::FORBIDDEN);
        counts.count("acme", "r", ok);
        counts.count("far-too-long-a-name", "r", ok);
        let text = encoded(&counts);
        let line = |consumer: &str, class: &str, n: u32| {
            format!("c_total{{consumer=\"{consumer}\",route=\"r\",status_class=\"{class}\"}} {n}\n")
        };
        assert!(text.contains(&line("acme", "2xx", 2)), "{text}");
        assert!(text.contains(&line("globex", "2xx", 1)), "{text}");
        assert!(text.contains(&line("_other", "2xx", 2)), "{text}");
        assert!(text.contains(&line("_other", "4xx", 1)), "{text}");
        assert!(!text.contains("initech"), "{text}");
    }

    #[test]
    fn a_consumer_named_like_the_overflow_label_is_counted_with_it() {
        let counts = ConsumerCounts::new(5, 64);
        counts.count("_other", "r", StatusCode::OK);
        counts.count("acme", "r", StatusCode::OK);
        let text = encoded(&counts);
        assert!(text.contains("consumer=\"_other\""), "{text}");
        assert!(text.contains("consumer=\"acme\""), "{text}");
        assert_eq!(counts.consumers.len(), 1, "_other takes no slot");
    }

    #[test]
    fn zero_turns_the_counter_off() {
        let counts = ConsumerCounts::new(0, 64);
        counts.count("acme", "r", StatusCode::OK);
        assert!(!encoded(&counts).contains("acme"));
    }
}
