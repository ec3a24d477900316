//! [`Metrics`] as an [`ExchangeSink`]: the server and upstream series of
//! every request, through the lock-free per-route and per-endpoint tables,
//! and the per-consumer counter of authenticated ones.

use std::sync::Arc;

use super::Metrics;
use super::labels::UNMATCHED_ROUTE;
use super::series::{EndpointSeries, ReadMostly, RouteSeries};
use crate::observe::{AttemptOutcome, Exchange, ExchangeSink, Finished, UpstreamRecord};

impl ExchangeSink for Metrics {
    fn on_start(&self, _exchange: &Exchange) {
        self.active_requests.inc();
    }

    fn on_upstream_attempt(
        &self,
        _exchange: &Exchange,
        record: &UpstreamRecord,
        outcome: AttemptOutcome,
    ) {
        let backend = self.endpoints.get_or_insert(&*record.backend, || {
            (Arc::clone(&record.backend), ReadMostly::default())
        });
        let endpoint = backend.get_or_insert(&*record.endpoint, || {
            let series =
                EndpointSeries::new(Arc::clone(&record.backend), Arc::clone(&record.endpoint));
            (Arc::clone(&record.endpoint), series)
        });
        endpoint
            .histogram(&self.client_duration, outcome)
            .observe(record.duration);
    }

    fn on_finish(&self, exchange: &Exchange, finished: &Finished) {
        self.active_requests.dec();
        let route = exchange
            .route()
            .map_or(UNMATCHED_ROUTE, |route| route.name.as_str());
        let series = self.routes.get_or_insert(route, || {
            let name: Arc<str> = Arc::from(route);
            (Arc::clone(&name), RouteSeries::new(name))
        });
        series
            .histogram(&self.server_duration, &exchange.method, finished.status)
            .observe(exchange.started.elapsed());
        if let Some(consumer) = exchange.consumer() {
            self.consumers.count(consumer, route, finished.status);
        }
    }
}
