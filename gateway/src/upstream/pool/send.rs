//! The attempts of one upstream request: the retry loop every handler
//! kind goes through. Each attempt picks an endpoint (another one than
//! before when there is one), passes the circuit breaker, is bounded by
//! the policy's per-try timeout, and is recorded on its endpoint (outlier
//! detection), the breaker and the request's exchange. A failed attempt
//! is retried when the policy names its failure, attempts are left, the
//! body can be replayed, the method allows it and the backend's retry
//! budget has room; first comes a backoff with full jitter. When no retry
//! follows, the last attempt's answer (a response, even an error status,
//! or its error) is the request's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::request::Parts;
use http::{Request, Response};
use smallvec::SmallVec;
use tokio::sync::OwnedSemaphorePermit;

use super::PinnedEndpoint;
use super::held_body::HeldBody;
use super::http1::{PooledBody, SendError};
use super::replay::ReplayBody;
use super::{UpstreamPool, client_fault, join_uri, request_with};
use crate::body::{self, BoxError, GatewayBody};
use crate::client_body::BodyFaultWatch;
use crate::context::EdgeContext;
use crate::observe::otel::{self, spans};
use crate::observe::{AttemptOutcome, Exchange, UpstreamAttempt};
use crate::upstream::breaker::{Admission, Ticket};
use crate::upstream::endpoint::{Endpoint, InFlightGuard};
use crate::upstream::error::{UpstreamError, describe};
use crate::upstream::idle_body::{IdleTimeoutBody, Stall};
use crate::upstream::outlier;
use crate::upstream::retry::{self, RetryScope, Verdict};

/// One attempt's answer.
type AttemptResult = Result<Response<PooledBody>, AttemptError>;

/// An attempt's answer, with what must live as long as its response body:
/// the endpoint's in-flight count and the client span.
struct Attempt {
    result: AttemptResult,
    in_flight: InFlightGuard,
    span: tracing::Span,
}

enum AttemptError {
    BadUri(http::Error),
    Connect(BoxError),
    Lost(BoxError),
    /// The backend answered with a response the gateway cannot read or
    /// forward.
    Invalid(BoxError),
    TimedOut(Duration),
    ClientBody(crate::client_body::RequestBodyFault),
}

/// The endpoints a request's attempts went to, inline while few (an
/// allocation on every request as a `Vec`).
type Tried = SmallVec<[usize; 4]>;

impl UpstreamPool {
    pub(super) async fn send_within_deadline(
        &self,
        request: Request<GatewayBody>,
        body_idle: Option<Duration>,
    ) -> Result<Response<GatewayBody>, UpstreamError> {
        // The clock is read only where it is needed (a read is a visible
        // part of a proxied request in profiles): for the breaker when
        // there is one, then once for the budget and the first pick.
        let first_ticket = match self.breaker {
            Some(_) => self.admit(Instant::now())?,
            None => None,
        };
        let permit = self.connection_slot().await?;
        let (parts, body) = request.into_parts();
        let policy = retry::policy_for(&parts.extensions, &self.spec.resilience.retry).clone();
        let idempotent = retry::is_idempotent(&parts.method, &parts.extensions, &policy);
        let retries_possible = policy.max_attempts > 1;
        let mut body = ReplayBody::prepare(body, retries_possible, policy.max_buffered_body)
            .await
            .map_err(UpstreamError::ClientBody)?;
        let body_fault = BodyFaultWatch::default();
        body.map_streamed(|streamed| body_fault.watch(streamed));
        let edge = parts.extensions.get::<EdgeContext>();
        let exchange = edge.and_then(|edge| edge.exchange.clone());
        let scope = parts.extensions.get::<Arc<RetryScope>>().cloned();
        let mut picked_at = Instant::now();
        if let Some(budget) = &self.budget {
            budget.record_request(picked_at);
        }
        let mut tried = Tried::new();
        let mut ticket = first_ticket;
        let mut attempt = 1;
        let pinned = parts.extensions.get::<PinnedEndpoint>().map(|p| p.0);
        loop {
            let (index, endpoint) = match pinned {
                Some(index) => self.pinned(index)?,
                None => self.pick(&mut tried, picked_at)?,
            };
            if let Some(scope) = &scope {
                scope.count_attempt();
            }
            let attempt_body = body.next(policy.max_buffered_body);
            let per_try = policy.per_try_timeout;
            let mut sent = self
                .attempt(
                    &parts,
                    index,
                    endpoint,
                    attempt_body,
                    exchange.clone(),
                    per_try,
                )
                .await;
            if let Err(AttemptError::Lost(error)) = &sent.result
                && let Some(fault) = client_fault(error.as_ref(), &body_fault)
            {
                // The client's own body failed: nothing to learn about
                // the endpoint, nothing to retry.
                tracing::debug!(error = %describe(error.as_ref()), "the client's body failed on its way upstream");
                sent.result = Err(AttemptError::ClientBody(fault));
                return self.finish(sent, endpoint, permit, body_idle);
            }
            let verdict = verdict_of(&sent.result);
            let now = Instant::now();
            self.record(index, verdict, ticket, now);
            let retry = attempt < policy.max_attempts
                && verdict.is_retryable(&policy, idempotent)
                && body.is_replayable()
                && self
                    .budget
                    .as_ref()
                    .is_none_or(|budget| budget.try_retry(now));
            let next_ticket = if retry { self.admit(now).ok() } else { None };
            let Some(next_ticket) = next_ticket else {
                return self.finish(sent, endpoint, permit, body_idle);
            };
            tracing::debug!(backend = %self.spec.name, endpoint = %endpoint.base, ?verdict, attempt, "retrying");
            drop(sent);
            let wait = retry::backoff_delay(&policy.backoff, attempt, &mut rand::rng());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            picked_at = Instant::now();
            ticket = next_ticket;
            attempt += 1;
        }
    }

    /// The breaker's admission (none without a breaker).
    fn admit(&self, now: Instant) -> Result<Option<Ticket<'_>>, UpstreamError> {
        let Some(breaker) = &self.breaker else {
            return Ok(None);
        };
        match breaker.admit(now) {
            Admission::Allowed(ticket) => Ok(Some(ticket)),
            Admission::Rejected { retry_after } => Err(UpstreamError::CircuitOpen {
                backend: self.spec.name.clone(),
                retry_after,
            }),
        }
    }

    /// A connection slot; with a breaker, a request that would wait
    /// behind `max_pending` others fails fast instead.
    async fn connection_slot(&self) -> Result<OwnedSemaphorePermit, UpstreamError> {
        if let Ok(permit) = Arc::clone(&self.limit).try_acquire_owned() {
            return Ok(permit);
        }
        let _waiting = match &self.breaker {
            Some(breaker) => {
                let guard = PendingGuard::enter(&self.pending);
                if guard.count > breaker.policy().max_pending {
                    return Err(UpstreamError::CircuitOpen {
                        backend: self.spec.name.clone(),
                        retry_after: Duration::from_secs(1),
                    });
                }
                Some(guard)
            }
            None => None,
        };
        Arc::clone(&self.limit)
            .acquire_owned()
            .await
            .map_err(|_| self.unavailable("pool closed", None))
    }

    /// The endpoint a request is pinned to, whatever its state (a fanout
    /// subscription delivers to each endpoint itself).
    fn pinned(&self, index: usize) -> Result<(usize, &Arc<Endpoint>), UpstreamError> {
        self.endpoints
            .get(index)
            .map(|endpoint| (index, endpoint))
            .ok_or_else(|| self.unavailable("the pinned endpoint is gone", None))
    }

    /// An endpoint not tried yet, else any (a single endpoint is retried).
    fn pick(
        &self,
        tried: &mut Tried,
        now: Instant,
    ) -> Result<(usize, &Arc<Endpoint>), UpstreamError> {
        let picked = self.balancer.pick(&self.endpoints, tried, now).or_else(|| {
            tried.clear();
            self.balancer.pick(&self.endpoints, tried, now)
        });
        let (index, endpoint) =
            picked.ok_or_else(|| self.unavailable("the backend has no endpoint", None))?;
        tried.push(index);
        Ok((index, endpoint))
    }

    async fn attempt(
        &self,
        head: &Parts,
        index: usize,
        endpoint: &Arc<Endpoint>,
        body: GatewayBody,
        exchange: Option<Arc<Exchange>>,
        per_try: Option<Duration>,
    ) -> Attempt {
        let in_flight = endpoint.start_request();
        let uri = match join_uri(&endpoint.base, &head.uri) {
            Ok(uri) => uri,
            Err(error) => {
                return Attempt {
                    result: Err(AttemptError::BadUri(error)),
                    in_flight,
                    span: tracing::Span::none(),
                };
            }
        };
        let mut request = request_with(head, uri, body);
        let unsampled = otel::enabled()
            && head
                .extensions
                .get::<EdgeContext>()
                .is_some_and(|edge| edge.unsampled_trace.is_some());
        let mut observed =
            UpstreamAttempt::start(exchange, &self.names[index], &mut request, unsampled);
        let span = observed.span().clone();
        let sent = self.send_once(index, request);
        let result = match per_try {
            Some(limit) => match tokio::time::timeout(limit, sent).await {
                Ok(result) => result,
                Err(_) => {
                    observed.finish(AttemptOutcome::Abandoned);
                    let result = Err(AttemptError::TimedOut(limit));
                    return Attempt {
                        result,
                        in_flight,
                        span,
                    };
                }
            },
            None => sent.await,
        };
        if let Err(SendError::Connect(error) | SendError::Lost(error) | SendError::Invalid(error)) =
            &result
        {
            observed.record_failure(|| describe(error.as_ref()));
        }
        if let Ok(response) = &result {
            spans::client_grpc_status(&span, response.headers());
        }
        observed.finish(match &result {
            Ok(response) => AttemptOutcome::Response(response.status()),
            Err(SendError::Connect(_)) => AttemptOutcome::ConnectFailed,
            Err(SendError::Lost(_) | SendError::Invalid(_)) => AttemptOutcome::Failed,
        });
        let result = result.map_err(|error| match error {
            SendError::Connect(error) => AttemptError::Connect(error),
            SendError::Lost(error) => AttemptError::Lost(error),
            SendError::Invalid(error) => AttemptError::Invalid(error),
        });
        Attempt {
            result,
            in_flight,
            span,
        }
    }

    /// One request over endpoint `index`'s connections: our own HTTP/1.1
    /// ones, or hyper-util's client for an HTTP/2 backend.
    async fn send_once(
        &self,
        index: usize,
        request: Request<GatewayBody>,
    ) -> Result<Response<PooledBody>, SendError> {
        let response = match &self.http1 {
            Some(http1) => http1.send(index, request).await?,
            None => match self.client().request(request).await {
                Ok(response) => response.map(PooledBody::unpooled),
                Err(error) if error.is_connect() => return Err(SendError::Connect(error.into())),
                Err(error) => return Err(SendError::after_sending(error.into())),
            },
        };
        match unforwardable(&response) {
            Some(reason) => Err(SendError::Invalid(reason.into())),
            None => Ok(response),
        }
    }

    /// Outlier detection and the breaker learn how the attempt went.
    fn record(&self, index: usize, verdict: Verdict, ticket: Option<Ticket<'_>>, now: Instant) {
        let failed = verdict.is_failure();
        if verdict == Verdict::ConnectFailure {
            self.endpoints[index].count_connect_failure();
        }
        outlier::record_attempt(&self.endpoints, index, failed, &self.spec, now);
        if let (Some(ticket), Some(breaker)) = (ticket, &self.breaker) {
            let threshold = breaker.policy().consecutive_failures;
            let all_failing = self
                .endpoints
                .iter()
                .all(|endpoint| endpoint.consecutive_failures() >= threshold);
            ticket.report(!failed, all_failing, now);
        }
    }

    /// The request's answer: the last attempt's response (held: the
    /// endpoint's in-flight count, the connection slot and the client span
    /// last until its body ends) or its error.
    fn finish(
        &self,
        attempt: Attempt,
        endpoint: &Arc<Endpoint>,
        permit: OwnedSemaphorePermit,
        body_idle: Option<Duration>,
    ) -> Result<Response<GatewayBody>, UpstreamError> {
        let Attempt {
            result,
            in_flight,
            span,
        } = attempt;
        let response = match result {
            Ok(response) => response,
            Err(AttemptError::ClientBody(fault)) => return Err(UpstreamError::ClientBody(fault)),
            Err(AttemptError::BadUri(error)) => {
                return Err(self.unavailable("bad upstream URI", Some(error.into())));
            }
            Err(AttemptError::Connect(error)) => {
                return Err(self.unavailable("connection failed", Some(error)));
            }
            Err(AttemptError::Lost(error)) => {
                return Err(self.unavailable("connection lost before a response", Some(error)));
            }
            Err(AttemptError::Invalid(error)) => {
                return Err(self.unavailable("a response that cannot be forwarded", Some(error)));
            }
            Err(AttemptError::TimedOut(after)) => {
                return Err(UpstreamError::Timeout {
                    backend: self.spec.name.clone(),
                    after,
                });
            }
        };
        let mut response = response;
        // The client hears the gateway's HTTP version, never the
        // backend's (hyper's server answers an HTTP/1.0 client in 1.0).
        *response.version_mut() = http::Version::HTTP_11;
        Ok(response.map(|incoming| {
            let held = HeldBody::new(incoming, in_flight, permit, span);
            match body_idle {
                Some(idle) => body::boxed_as_is(IdleTimeoutBody::new(
                    held,
                    idle,
                    Stall {
                        backend: Arc::clone(&self.spec),
                        endpoint: endpoint.base.clone(),
                    },
                )),
                None => body::boxed(held),
            }
        }))
    }
}

/// Why a response head cannot be forwarded as it is, if it cannot
/// (nginx refuses the same with 502):
/// - a 101: upgrades go through `pool/upgrade`, so this one was not asked
///   for, and would turn the client's connection into a tunnel;
/// - `Transfer-Encoding` with `Content-Length`: the length is not the
///   body's, and forwarding it would cut the client's response short or
///   desynchronise its connection (RFC 9112 §6.3);
/// - a transfer coding other than `chunked` (which hyper decodes): the
///   body would reach the client still encoded, with nothing saying so
///   (`Transfer-Encoding` is hop-by-hop and not forwarded).
fn unforwardable<B>(response: &Response<B>) -> Option<&'static str> {
    if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        return Some("a 101 Switching Protocols response to a request that asked for no upgrade");
    }
    let headers = response.headers();
    if !headers.contains_key(http::header::TRANSFER_ENCODING) {
        return None;
    }
    if headers.contains_key(http::header::CONTENT_LENGTH) {
        return Some("a response with both Transfer-Encoding and Content-Length");
    }
    let mut codings = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|coding| !coding.is_empty());
    let only_chunked = codings
        .next()
        .is_some_and(|coding| coding.eq_ignore_ascii_case(b"chunked"))
        && codings.next().is_none();
    (!only_chunked).then_some("a transfer coding other than chunked")
}

fn verdict_of(result: &AttemptResult) -> Verdict {
    match result {
        Ok(response) => Verdict::of_response(response.status(), response.headers()),
        Err(AttemptError::Connect(_)) => Verdict::ConnectFailure,
        Err(AttemptError::Lost(_)) => Verdict::Reset,
        // The backend answered, badly: its 502, retried only where a
        // policy retries 5xx or 502 (nginx's `invalid_header` is not
        // retried by default either).
        Err(AttemptError::Invalid(_)) => Verdict::ErrorResponse {
            status: http::StatusCode::BAD_GATEWAY,
            grpc: None,
        },
        Err(AttemptError::TimedOut(_)) => Verdict::Timeout,
        Err(AttemptError::BadUri(_) | AttemptError::ClientBody(_)) => Verdict::Success,
    }
}

/// Counts a request waiting for a connection slot.
struct PendingGuard<'a> {
    pending: &'a std::sync::atomic::AtomicUsize,
    count: usize,
}

impl<'a> PendingGuard<'a> {
    fn enter(pending: &'a std::sync::atomic::AtomicUsize) -> Self {
        let count = pending.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        Self { pending, count }
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.pending
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::unforwardable;

    fn verdict(status: u16, headers: &[(&str, &str)]) -> Option<&'static str> {
        let mut response = http::Response::builder().status(status);
        for (name, value) in headers {
            response = response.header(*name, *value);
        }
        unforwardable(&response.body(()).unwrap())
    }

    #[test]
    fn only_chunked_alone_passes_and_every_other_framing_mix_is_refused() {
        assert_eq!(verdict(200, &[("content-length", "5")]), None);
        assert_eq!(verdict(200, &[]), None);
        for chunked in ["chunked", "Chunked", " chunked ", "chunked,"] {
            assert_eq!(
                verdict(200, &[("transfer-encoding", chunked)]),
                None,
                "{chunked:?}"
            );
        }
        let refused = [
            vec![("transfer-encoding", "chunked"), ("content-length", "5")],
            vec![("transfer-encoding", "gzip")],
            vec![("transfer-encoding", "gzip, chunked")],
            vec![
                ("transfer-encoding", "gzip"),
                ("transfer-encoding", "chunked"),
            ],
            vec![("transfer-encoding", "chunked, chunked")],
            vec![("transfer-encoding", "")],
        ];
        for headers in refused {
            assert!(verdict(200, &headers).is_some(), "{headers:?}");
        }
        assert!(verdict(101, &[("upgrade", "websocket")]).is_some());
    }
}
