//! The sinks a running gateway hands its exchanges to.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::attempt::AttemptOutcome;
use super::exchange::{Exchange, ExchangeEnd, UpstreamRecord};
use super::metrics::Metrics;
use super::refused_head::{HeadRefusals, RefusedHead, SharedRefusals};
use crate::config::GatewayConfig;

/// What a finished request looked like on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Finished {
    pub status: StatusCode,
    /// The gateway's error code, when the response is a rendered error.
    pub error_code: Option<&'static str>,
    /// Response body bytes handed to the connection.
    pub bytes_out: u64,
    pub end: ExchangeEnd,
    /// From the request's arrival to its end (read once, for every sink).
    pub duration: Duration,
}

/// Something that wants to know about requests: the access log, the
/// metrics. Every method runs on the request's worker thread, so it must
/// not block (the access log hands records to a writer thread).
pub trait ExchangeSink: Send + Sync + std::fmt::Debug {
    /// The request arrived (before routing).
    fn on_start(&self, _exchange: &Exchange) {}

    /// One upstream attempt finished (a response head, or a failure).
    fn on_upstream_attempt(
        &self,
        _exchange: &Exchange,
        _record: &UpstreamRecord,
        _outcome: AttemptOutcome,
    ) {
    }

    /// The response body ended, or was dropped before its end.
    fn on_finish(&self, _exchange: &Exchange, _finished: &Finished) {}

    /// Whether this sink reads a request's details: its path, user agent,
    /// request id, wall-clock start, request body bytes and upstream
    /// summary (the access log does; counting sinks such as the metrics
    /// do not, and an exchange seen by none of them skips gathering them).
    fn needs_details(&self) -> bool {
        false
    }

    /// A request head was refused by the connection before any service
    /// saw it (no `on_start` came first).
    fn on_refused_head(&self, _head: &RefusedHead<'_>) {}
}

/// One running gateway's sinks. Empty means observation is off, and the
/// [`super::ObserveLayer`] then adds nothing to a request.
#[derive(Debug, Default)]
pub struct Observers {
    sinks: Vec<Arc<dyn ExchangeSink>>,
    /// Some sink reads a request's details (see
    /// [`ExchangeSink::needs_details`]).
    details: bool,
    /// The metrics, also among `sinks`, for the handlers that count more
    /// than an exchange shows (caches, GraphQL operations, streams).
    metrics: Option<Arc<Metrics>>,
}

/// The sinks `config` asks for: `sinks` (the access log, built by the
/// runtime), then the metrics when `metrics.enabled`.
pub fn observers_for(config: &GatewayConfig, sinks: Vec<Arc<dyn ExchangeSink>>) -> Observers {
    let mut observers = Observers::new(sinks);
    if config.metrics.enabled {
        observers = observers.with_metrics(Arc::new(Metrics::with_max_consumers(
            config.metrics.max_consumers,
        )));
    }
    observers
}

impl Observers {
    pub fn new(sinks: Vec<Arc<dyn ExchangeSink>>) -> Self {
        Self {
            details: sinks.iter().any(|sink| sink.needs_details()),
            sinks,
            metrics: None,
        }
    }

    /// Adds `metrics` as a sink and as [`Self::metrics`].
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.sinks
            .push(Arc::clone(&metrics) as Arc<dyn ExchangeSink>);
        self.metrics = Some(metrics);
        self
    }

    /// The gateway's metrics, when enabled.
    pub fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.as_ref()
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Whether exchanges gather the details some sink reads.
    pub fn wants_details(&self) -> bool {
        self.details
    }

    pub(super) fn start(&self, exchange: &Exchange) {
        for sink in &self.sinks {
            sink.on_start(exchange);
        }
    }

    pub(super) fn upstream_attempt(
        &self,
        exchange: &Exchange,
        record: &UpstreamRecord,
        outcome: AttemptOutcome,
    ) {
        for sink in &self.sinks {
            sink.on_upstream_attempt(exchange, record, outcome);
        }
    }

    pub(super) fn finish(&self, exchange: &Exchange, finished: &Finished) {
        for sink in &self.sinks {
            sink.on_finish(exchange, finished);
        }
    }

    /// These observers as the listener's reporter of refused heads
    /// (`None` when there is no sink).
    pub fn refusals(self: &Arc<Self>) -> SharedRefusals {
        (!self.is_empty()).then(|| Arc::clone(self) as Arc<dyn HeadRefusals>)
    }
}

impl HeadRefusals for Observers {
    fn refused(&self, head: &RefusedHead<'_>) {
        for sink in &self.sinks {
            sink.on_refused_head(head);
        }
    }
}
