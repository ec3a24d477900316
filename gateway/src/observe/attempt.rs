//! One upstream attempt, as the pools report it: started just before the
//! request is sent to an endpoint, finished with its outcome. Dropped
//! unfinished (the call's deadline passed, or the caller went away), it
//! reports itself abandoned.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, StatusCode};

use super::exchange::{Exchange, UpstreamRecord};
use super::trace_context;

/// How an upstream attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A response head arrived.
    Response(StatusCode),
    /// No connection could be made.
    ConnectFailed,
    /// The connection failed before a response head.
    Failed,
    /// The deadline passed or the caller went away first.
    Abandoned,
}

/// An attempt in progress; report it with [`UpstreamAttempt::finish`].
#[derive(Debug)]
pub struct UpstreamAttempt {
    exchange: Option<Arc<Exchange>>,
    backend: Arc<str>,
    endpoint: Arc<str>,
    started: Instant,
    finished: bool,
}

impl UpstreamAttempt {
    /// Starts an attempt to `endpoint` of `backend` on behalf of
    /// `exchange` (none for the gateway's own calls, such as fetching
    /// subgraph schemas), and writes the trace context into `headers`.
    pub fn start(
        exchange: Option<Arc<Exchange>>,
        backend: &Arc<str>,
        endpoint: &Arc<str>,
        headers: &mut HeaderMap,
    ) -> Self {
        trace_context::inject(headers);
        Self {
            exchange,
            backend: Arc::clone(backend),
            endpoint: Arc::clone(endpoint),
            started: Instant::now(),
            finished: false,
        }
    }

    /// Reports how the attempt ended.
    pub fn finish(mut self, outcome: AttemptOutcome) {
        self.report(outcome);
    }

    fn report(&mut self, outcome: AttemptOutcome) {
        self.finished = true;
        let Some(exchange) = &self.exchange else {
            return;
        };
        let record = UpstreamRecord {
            backend: Arc::clone(&self.backend),
            endpoint: Arc::clone(&self.endpoint),
            status: match outcome {
                AttemptOutcome::Response(status) => Some(status),
                _ => None,
            },
            duration: self.started.elapsed(),
        };
        exchange
            .observers
            .upstream_attempt(exchange, &record, outcome);
        exchange.record_upstream(record);
    }
}

impl Drop for UpstreamAttempt {
    fn drop(&mut self) {
        if !self.finished {
            self.report(AttemptOutcome::Abandoned);
        }
    }
}
