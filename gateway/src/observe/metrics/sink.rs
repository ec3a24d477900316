//! [`Metrics`] as an [`ExchangeSink`]: the server and upstream series of
//! every request, through the lock-free per-route and per-endpoint tables,
//! and the per-consumer counter of authenticated ones.

use std::cell::RefCell;
use std::sync::Arc;

use super::EndpointSeriesSlot;
use super::labels::{OTHER_METHOD, UNMATCHED_ROUTE};
use super::series::{EndpointSeries, ReadMostly, RouteSeries};
use super::{Metrics, RefusedLabels};
use crate::config::model::RouteSpec;
use crate::observe::RefusedHead;
use crate::observe::{AttemptOutcome, Exchange, ExchangeSink, Finished, UpstreamRecord};
use http::Method;

impl Metrics {
    /// The series of `endpoint` of `backend`, made the first time.
    fn endpoint_series(&self, backend: &Arc<str>, endpoint: &Arc<str>) -> Arc<EndpointSeries> {
        let make_backend = || (Arc::clone(backend), ReadMostly::default());
        let backend_series = self.endpoints.get_or_insert(&**backend, make_backend);
        backend_series.get_or_insert(&**endpoint, || {
            let series = EndpointSeries::new(Arc::clone(backend), Arc::clone(endpoint));
            (Arc::clone(endpoint), series)
        })
    }
}

/// The route series a worker used last: the route, the metrics it was
/// looked up in, and the series.
struct LastRoute {
    metrics: u64,
    /// Held, so its address cannot be reused by another route while
    /// it is compared.
    route: Arc<RouteSpec>,
    series: Arc<RouteSeries>,
}

thread_local! {
    /// Requests of one kept-alive connection (or of one busy route) are
    /// finished on one worker one after the other: each worker keeps the
    /// series it used last and skips the lookup by name (an atomic load,
    /// a hash of the name and a probe) while the route stays the same.
    static LAST_ROUTE: RefCell<Option<LastRoute>> = const { RefCell::new(None) };
}

impl Metrics {
    /// Runs `observe` on the series of `route`.
    fn with_route_series(&self, route: &Arc<RouteSpec>, observe: impl FnOnce(&RouteSeries)) {
        LAST_ROUTE.with_borrow_mut(|last| {
            if let Some(last) = last
                && last.metrics == self.id
                && Arc::ptr_eq(&last.route, route)
            {
                return observe(&last.series);
            }
            let series = self.routes.get_or_insert(route.name.as_str(), || {
                let name: Arc<str> = Arc::from(route.name.as_str());
                (Arc::clone(&name), RouteSeries::new(name))
            });
            observe(&series);
            *last = Some(LastRoute {
                metrics: self.id,
                route: Arc::clone(route),
                series,
            });
        });
    }
}

impl Metrics {
    /// Runs `observe` on the series of requests no route matched.
    fn with_unmatched_series(&self, observe: impl FnOnce(&RouteSeries)) {
        let make_series = || {
            let name: Arc<str> = Arc::from(UNMATCHED_ROUTE);
            (Arc::clone(&name), RouteSeries::new(name))
        };
        self.routes.with(UNMATCHED_ROUTE, make_series, observe);
    }
}

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
        let observe = |series: &EndpointSeries| {
            series
                .histogram(&self.client_duration, outcome)
                .observe(record.duration);
        };
        // The endpoint's series is kept in its name after the first
        // lookup (by this gateway's metrics: a name only ever reports to
        // one, but the slot says which).
        let slot = record.name.series_slot();
        if let Some(resolved) = slot.get()
            && resolved.metrics == self.id
        {
            return observe(&resolved.series);
        }
        let series = self.endpoint_series(&record.name.backend, &record.name.endpoint);
        observe(&series);
        let _ = slot.set(EndpointSeriesSlot {
            metrics: self.id,
            series,
        });
    }

    fn on_finish(&self, exchange: &Exchange, finished: &Finished) {
        self.active_requests.dec();
        let observe = |series: &RouteSeries| {
            series
                .histogram(&self.server_duration, &exchange.method, finished.status)
                .observe(finished.duration);
        };
        let route_name = match exchange.route() {
            Some(route) => {
                self.with_route_series(route, observe);
                route.name.as_str()
            }
            None => {
                self.with_unmatched_series(observe);
                UNMATCHED_ROUTE
            }
        };
        if let Some(consumer) = exchange.consumer() {
            self.consumers.count(consumer, route_name, finished.status);
        }
    }

    fn on_refused_head(&self, head: &RefusedHead<'_>) {
        self.refused
            .get_or_create(&RefusedLabels { code: head.code })
            .inc();
        // No method was read: the `_OTHER` slot.
        let unknown = Method::from_bytes(OTHER_METHOD.as_bytes()).unwrap_or_default();
        self.with_unmatched_series(|series| {
            series
                .histogram(&self.server_duration, &unknown, head.status)
                .observe(head.duration);
        });
    }
}
