//! One upstream attempt, as the pools report it: started just before the
//! request is sent to an endpoint, finished with its outcome. Dropped
//! unfinished (the call's deadline passed, or the caller went away), it
//! reports itself abandoned. With traces on, each attempt is a client span
//! (the parent the upstream sees in its `traceparent`), ended with it.

use std::sync::Arc;
use std::time::Instant;

use http::{Request, StatusCode};
use tracing::Span;

use super::endpoint_name::EndpointName;
use super::exchange::{Exchange, UpstreamRecord};
use super::otel::spans;
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

/// The exchange an attempt reports to, and the name its record carries
/// (moved into the record, never cloned again).
#[derive(Debug)]
struct Observed {
    exchange: Arc<Exchange>,
    name: Arc<EndpointName>,
}

/// An attempt in progress; report it with [`UpstreamAttempt::finish`].
#[derive(Debug)]
pub struct UpstreamAttempt {
    /// Whom the attempt is reported to, when a request is observed.
    observed: Option<Observed>,
    started: Instant,
    finished: bool,
    /// The client span (`Span::none()` with traces off).
    span: Span,
    /// Why the attempt failed, for the span.
    failure: Option<String>,
}

impl UpstreamAttempt {
    /// Starts an attempt to the endpoint `name` on behalf of `exchange`
    /// (none for the gateway's own calls, such as fetching subgraph
    /// schemas): opens its client span and writes the trace context into
    /// `request`'s headers (the request as it will be sent, its URI
    /// absolute). `unsampled`: the edge decided not to sample the request
    /// (see `otel::sampling`), so no span is opened and the current one is
    /// not looked up (a lookup through the subscriber's registry on 99% of
    /// requests at 1% sampling); its `traceparent` is already set.
    pub fn start<B>(
        exchange: Option<Arc<Exchange>>,
        name: &Arc<EndpointName>,
        request: &mut Request<B>,
        unsampled: bool,
    ) -> Self {
        let span = if unsampled {
            Span::none()
        } else {
            spans::client(request, &name.backend)
        };
        trace_context::inject_span(&span, request.headers_mut());
        Self {
            observed: exchange.map(|exchange| Observed {
                exchange,
                name: Arc::clone(name),
            }),
            started: Instant::now(),
            finished: false,
            span,
            failure: None,
        }
    }

    /// Notes why the attempt failed (the connection's error), for its
    /// span; call before [`UpstreamAttempt::finish`].
    /// `describe` only runs with traces on.
    pub fn record_failure(&mut self, describe: impl FnOnce() -> String) {
        if !self.span.is_none() {
            self.failure = Some(describe());
        }
    }

    /// Reports how the attempt ended (at its response head, or failure).
    pub fn finish(mut self, outcome: AttemptOutcome) {
        self.report(outcome);
    }

    /// The attempt's client span, for the pool to keep open until the
    /// response body ends (`Span::none()` with traces off).
    pub fn span(&self) -> &Span {
        &self.span
    }

    fn report(&mut self, outcome: AttemptOutcome) {
        self.finished = true;
        spans::client_outcome(&self.span, outcome, self.failure.as_deref());
        let Some(Observed { exchange, name }) = self.observed.take() else {
            return;
        };
        let record = UpstreamRecord {
            name,
            status: match outcome {
                AttemptOutcome::Response(status) => Some(status),
                _ => None,
            },
            duration: self.started.elapsed(),
        };
        exchange
            .observers
            .upstream_attempt(&exchange, &record, outcome);
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
