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
        let make_backend = || (Arc::clone(&record.backend), ReadMostly::default());
        self.endpoints
            .with(&*record.backend, make_backend, |backend| {
                let make_endpoint = || {
                    let series = EndpointSeries::new(
                        Arc::clone(&record.backend),
                        Arc::clone(&record.endpoint),
                    );
                    (Arc::clone(&record.endpoint), series)
                };
                backend.with(&*record.endpoint, make_endpoint, |endpoint| {
                    endpoint
                        .histogram(&self.client_duration, outcome)
                        .observe(record.duration);
                })
            });
    }

    fn on_finish(&self, exchange: &Exchange, finished: &Finished) {
        self.active_requests.dec();
        let route = exchange
            .route()
            .map_or(UNMATCHED_ROUTE, |route| route.name.as_str());
        let make_series = || {
            let name: Arc<str> = Arc::from(route);
            (Arc::clone(&name), RouteSeries::new(name))
        };
        self.routes.with(route, make_series, |series| {
            series
                .histogram(&self.server_duration, &exchange.method, finished.status)
                .observe(finished.duration);
        });
        if let Some(consumer) = exchange.consumer() {
            self.consumers.count(consumer, route, finished.status);
        }
    }
}
