//! A subscription's [`Deliverer`]: each event `POST`ed to the
//! subscription's path on its backend, in the CloudEvents binary binding
//! ([`binding`]), through the backend's [`UpstreamPool`] (one attempt
//! there: the subscription's own retry rule applies) and the shared
//! request builder ([`Outbound::detached`]: request id, trace context).
//! A `fanout` consumer pins its endpoint; a `queue` consumer lets the
//! pool's balancer choose. The whole attempt (response head and body) is
//! bounded by the subscription's `timeout`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::HeaderValue;
use http_body_util::BodyExt;
use tracing::Instrument;

use super::binding;
use super::consumer::Deliverer;
use super::verdict::AttemptOutcome;
use crate::body::GatewayBody;
use crate::config::model::RetryPolicy;
use crate::config::model::events::SubscriptionSpec;
use crate::events::store::{Settle, StoredEvent};
use crate::observe::metrics::Metrics;
use crate::observe::otel::spans;
use crate::upstream::outbound::Outbound;
use crate::upstream::retry::CallRetry;
use crate::upstream::{PinnedEndpoint, UpstreamPool};

/// The header that tells a subscriber which attempt this is (1-based).
pub const ATTEMPT_HEADER: &str = "x-gateway-delivery-attempt";
/// The header naming the subscription that delivers.
pub const SUBSCRIPTION_HEADER: &str = "x-gateway-subscription";
/// Most bytes of a refusing response kept as the dead letter's reason.
pub const MAX_REASON_BYTES: usize = 512;
/// Most bytes of a response body read (then the connection is dropped).
const MAX_DRAINED_BYTES: usize = 64 * 1024;

/// Delivers one subscription's events to one endpoint (fanout) or to the
/// backend (queue).
#[derive(Debug)]
pub struct SubscriberTarget {
    pub spec: Arc<SubscriptionSpec>,
    pub pool: Arc<UpstreamPool>,
    /// `Some` for a fanout consumer: the endpoint's index in `urls`.
    pub endpoint: Option<usize>,
    pub metrics: Option<Arc<Metrics>>,
    label: Arc<str>,
    single_attempt: Arc<RetryPolicy>,
}

impl SubscriberTarget {
    pub fn new(
        spec: Arc<SubscriptionSpec>,
        pool: Arc<UpstreamPool>,
        endpoint: Option<usize>,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        Self {
            label: Arc::from(spec.name.as_str()),
            single_attempt: Arc::new(RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            }),
            spec,
            pool,
            endpoint,
            metrics,
        }
    }

    fn request(
        &self,
        item: &StoredEvent,
        attempt: u32,
    ) -> Result<http::Request<GatewayBody>, String> {
        let mut request = binding::binary_request(&item.event, &self.spec.path)
            .map_err(|error| error.to_string())?;
        let headers = request.headers_mut();
        headers.insert(ATTEMPT_HEADER, HeaderValue::from(attempt));
        if let Ok(name) = HeaderValue::from_str(&self.spec.name) {
            headers.insert(SUBSCRIPTION_HEADER, name);
        }
        Outbound::detached(&uuid::Uuid::new_v4().to_string()).finish(&mut request);
        let extensions = request.extensions_mut();
        extensions.insert(CallRetry(Arc::clone(&self.single_attempt)));
        if let Some(index) = self.endpoint {
            extensions.insert(PinnedEndpoint(index));
        }
        Ok(request)
    }

    async fn send(&self, item: &StoredEvent, attempt: u32) -> AttemptOutcome {
        let request = match self.request(item, attempt) {
            Ok(request) => request,
            Err(reason) => {
                return AttemptOutcome::Rejected {
                    status: http::StatusCode::BAD_REQUEST,
                    reason: format!("the event cannot be sent over HTTP: {reason}"),
                };
            }
        };
        let deadline = tokio::time::Instant::now() + self.spec.timeout;
        let response = match self.pool.send(request, self.spec.timeout).await {
            Ok(response) => response,
            Err(error) => {
                return AttemptOutcome::Failed {
                    reason: error.to_string(),
                };
            }
        };
        let status = response.status();
        match tokio::time::timeout_at(deadline, read_start(response.into_body())).await {
            Ok(Ok(start)) => AttemptOutcome::of_status(status, || reason_text(status, &start)),
            Ok(Err(error)) => AttemptOutcome::Failed {
                reason: format!("the response body failed after {status}: {error}"),
            },
            Err(_) => AttemptOutcome::Failed {
                reason: format!(
                    "the response body did not end within {:?} after {status}",
                    self.spec.timeout
                ),
            },
        }
    }
}

#[async_trait]
impl Deliverer for SubscriberTarget {
    async fn attempt(&self, item: &StoredEvent, attempt: u32) -> AttemptOutcome {
        let traceparent = item
            .event
            .extensions
            .get("traceparent")
            .and_then(|value| value.as_str());
        let span = spans::delivery(
            &self.spec.name,
            &item.topic,
            &item.event.id,
            attempt,
            traceparent,
        );
        let outcome = self.send(item, attempt).instrument(span.clone()).await;
        let detail = match &outcome {
            AttemptOutcome::Delivered(_) => None,
            AttemptOutcome::Rejected { reason, .. } | AttemptOutcome::Failed { reason } => {
                Some(reason.as_str())
            }
        };
        spans::delivery_result(&span, outcome.label(), detail);
        if let Some(reason) = detail {
            tracing::debug!(subscription = %self.spec.name, event = %item.event.id, attempt, %reason, "delivery attempt failed");
        }
        outcome
    }

    fn wants(&self, item: &StoredEvent) -> bool {
        self.spec.types.is_empty() || self.spec.types.contains(&item.event.event_type)
    }

    fn ordering_key(&self, item: &StoredEvent) -> Option<String> {
        if self.spec.ordered_by_subject {
            item.event.subject.clone()
        } else {
            None
        }
    }

    fn observe(&self, outcome: &AttemptOutcome, how: &Settle, took: Duration) {
        let settled = match how {
            Settle::Ack => "ack",
            Settle::Retry(_) => "retry",
            Settle::DeadLetter(reason) => {
                tracing::warn!(subscription = %self.spec.name, %reason, "an event went to the dead-letter queue");
                "dead_letter"
            }
        };
        if let Some(metrics) = &self.metrics {
            metrics
                .events()
                .delivered(&self.label, outcome.label(), settled, took);
        }
    }
}

/// The first [`MAX_REASON_BYTES`] of the body; the rest is read and
/// dropped up to [`MAX_DRAINED_BYTES`] (so the connection can be reused).
async fn read_start(mut body: GatewayBody) -> Result<Vec<u8>, crate::body::BoxError> {
    let (mut start, mut read) = (Vec::new(), 0usize);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let room = MAX_REASON_BYTES.saturating_sub(start.len());
            start.extend_from_slice(&data[..data.len().min(room)]);
            read += data.len();
            if read > MAX_DRAINED_BYTES {
                break;
            }
        }
    }
    Ok(start)
}

/// `503 Service Unavailable: {"error": ...}` (the body's start, lossy).
fn reason_text(status: http::StatusCode, start: &[u8]) -> String {
    let text = String::from_utf8_lossy(start);
    let text = text.trim();
    if text.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {text}")
    }
}
