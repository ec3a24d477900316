//! `async:` proxy routes (the seed's temporal-coupling fix): the request
//! is stored durably and answered `202 Accepted` with
//! `Location: /v1/requests/{id}`; a worker per route delivers it to the
//! backend later, in order, retrying while the backend is down, and keeps
//! the backend's response at that location for `result_ttl`.
//!
//! ```text
//! client ─POST─▶ submit: head as the proxy would forward it + body ─▶ topic `async-ROUTE` (ordered queue)
//!        ◀─202 Location─┘      status record `pending` ─▶ bucket `gateway-async-requests`
//! worker: fetch ─▶ lane per order key ─▶ UpstreamPool::send ─▶ record `completed` (or dead letter)
//! client ─GET /v1/requests/{id}─▶ status: 202 pending │ the backend's status, headers, body │ 502 failed
//! ```
//!
//! Bounds: a stored body is at most [`MAX_ASYNC_BODY`] (and the route's
//! own body limit); a stored response body too (a larger one is dropped
//! and flagged); a worker holds at most [`worker::MAX_HELD`] requests.

mod deliver;
mod emit_answer;
mod error;
pub mod prefer;
mod record;
mod status;
mod submit;
pub mod worker;

pub use error::AsyncError;
pub use prefer::{PREFER, PREFERENCE_APPLIED, goes_async, prefers_respond_async};
pub use record::{QueuedRequest, RequestRecord, RequestState, StoredResponse};
pub use status::read_status;
pub use submit::submit;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::model::events::{AsyncSpec, EmitSpec, StartFrom, TopicSpec};
use crate::events::bus::EventBus;
use crate::events::store::{BucketSpec, ConsumerSpec, SharedStore, StoreError};
use crate::upstream::UpstreamPool;

/// The largest request (and stored response) body, in bytes.
pub const MAX_ASYNC_BODY: usize = 1024 * 1024;
/// The bucket of status records, shared by every async route (the id is
/// a UUID, unique across routes).
pub const REQUESTS_BUCKET: &str = "gateway-async-requests";
/// The bucket of `Idempotency-Key`s, per route.
pub const IDEMPOTENCY_BUCKET: &str = "gateway-async-idempotency";
/// The longest a status record (and an idempotency key) is kept after
/// its last change, whatever `result_ttl` says.
pub const RECORD_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The path prefix of the status resource.
pub const STATUS_PATH: &str = "/v1/requests";

/// An async route's `emit:` events and the bus they go to.
#[derive(Debug, Clone)]
pub struct AsyncEmit {
    pub specs: Vec<Arc<EmitSpec>>,
    pub bus: Arc<EventBus>,
}

/// An async route's runtime: its spec, names in the store, pool and store.
#[derive(Debug)]
pub struct AsyncRoute {
    pub route: String,
    pub spec: Arc<AsyncSpec>,
    /// The route's internal topic and the worker's durable consumer (and
    /// dead-letter queue) on it.
    pub topic: TopicSpec,
    pub pool: Arc<UpstreamPool>,
    pub store: SharedStore,
    /// The route's request timeout (else the backend's), per attempt.
    pub timeout: Duration,
    /// The route's `emit:` events and the bus they go to, emitted once the
    /// backend has answered (the client's 202 emits nothing).
    pub emit: Option<AsyncEmit>,
    /// Set once [`AsyncRoute::ensure`] has succeeded (by the worker or by
    /// the first submission, whichever comes first).
    ready: tokio::sync::OnceCell<()>,
}

impl AsyncRoute {
    pub fn new(
        route: &str,
        spec: Arc<AsyncSpec>,
        pool: Arc<UpstreamPool>,
        store: SharedStore,
        timeout: Option<Duration>,
    ) -> Self {
        let timeout = timeout.unwrap_or(pool.spec().request_timeout);
        Self {
            route: route.to_owned(),
            topic: internal_topic(route, &spec),
            spec,
            pool,
            store,
            timeout,
            emit: None,
            ready: tokio::sync::OnceCell::new(),
        }
    }

    /// The route with its `emit:` events (none: the route emits nothing).
    pub fn with_emit(mut self, specs: &[Arc<EmitSpec>], bus: &Arc<EventBus>) -> Self {
        self.emit = (!specs.is_empty()).then(|| AsyncEmit {
            specs: specs.to_vec(),
            bus: Arc::clone(bus),
        });
        self
    }

    /// Whether the route emits events after the backend's answer.
    pub fn emits(&self) -> bool {
        self.emit.is_some()
    }

    /// The durable consumer the worker reads with; the dead-letter queue
    /// is this consumer's.
    pub fn consumer(&self) -> ConsumerSpec {
        ConsumerSpec {
            topic: self.topic.name.clone(),
            name: self.topic.name.clone(),
            start: StartFrom::Earliest,
            ack_wait: worker::ACK_WAIT,
        }
    }

    /// Creates the topic, the consumer and the buckets (idempotent).
    pub async fn ensure(&self) -> Result<(), StoreError> {
        self.store.ensure_topic(&self.topic).await?;
        self.store.ensure_consumer(&self.consumer()).await?;
        for name in [REQUESTS_BUCKET, IDEMPOTENCY_BUCKET] {
            self.store
                .ensure_bucket(&BucketSpec {
                    name: name.to_owned(),
                    ttl: Some(RECORD_RETENTION),
                })
                .await?;
        }
        Ok(())
    }

    /// [`AsyncRoute::ensure`], once: a submission that arrives before the
    /// worker made the topic and buckets makes them itself.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.ready
            .get_or_try_init(|| self.ensure())
            .await
            .map(|_| ())
    }

    /// How long a finished record stays readable.
    pub fn result_ttl(&self) -> Duration {
        self.spec.result_ttl.min(RECORD_RETENTION)
    }
}

/// The route's internal topic: `async-` + a slug of the route name + a
/// short hash (route names hold spaces and slashes; stores want names of
/// `[a-z0-9-]`). Sized for a whole stored request.
pub fn internal_topic(route: &str, spec: &AsyncSpec) -> TopicSpec {
    let slug: String = route
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug: String = slug.chars().take(40).collect();
    let hash = hex::encode(&Sha256::digest(route.as_bytes())[..4]);
    TopicSpec {
        name: format!("async-{slug}-{hash}"),
        // Base64 grows the body by a third; the head and envelope fit in
        // the rest (the edge bounds header sizes).
        max_event_bytes: MAX_ASYNC_BODY * 4 / 3 + 256 * 1024,
        dedupe_window: spec.result_ttl.min(RECORD_RETENTION),
        // Delivered requests are settled; the log keeps them a day.
        max_age: Some(Duration::from_secs(24 * 3600)),
        max_events: None,
        default_source: format!("/gateway/async/{slug}"),
        // Never streamed: its routes are proxy routes, not publish routes.
        max_streams: TopicSpec::DEFAULT_MAX_STREAMS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::events::AsyncMode;

    fn spec() -> AsyncSpec {
        AsyncSpec {
            mode: AsyncMode::Always,
            order_key: None,
            backoff: Default::default(),
            max_attempts: 5,
            result_ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn topic_names_are_store_safe_and_distinct() {
        let a = internal_topic("POST /v1/orders", &spec());
        let b = internal_topic("post v1 orders", &spec());
        assert!(a.name.starts_with("async-post-v1-orders-"));
        assert!(
            a.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_ne!(a.name, b.name);
        assert!(a.max_event_bytes > MAX_ASYNC_BODY * 4 / 3);
    }
}
