//! The event bus, compiled: the `events:` section (store, topics,
//! subscriptions) and the event keys of routes (`publish:`, `emit:`,
//! `async:`). Plain data: the store, the delivery workers and the outbox
//! are built from these at start and with each snapshot (the `events` module).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::BackendSpec;
use super::resilience::Backoff;

/// `events:`
#[derive(Debug, Clone, PartialEq)]
pub struct EventsSettings {
    /// Where events are stored (read at start; a reload that changes it is
    /// refused with an error, like a changed `listen`).
    pub store: StoreSettings,
    /// Topics by name.
    pub topics: BTreeMap<String, Arc<TopicSpec>>,
    /// Subscriptions in file order; names are unique.
    pub subscriptions: Vec<Arc<SubscriptionSpec>>,
}

/// `events.store:`
#[derive(Debug, Clone, PartialEq)]
pub enum StoreSettings {
    /// `kind: embedded` (the default): a redb file in `data_dir`.
    Embedded(EmbeddedStore),
    /// `kind: nats`: NATS JetStream.
    Nats(NatsStore),
}

/// `events.store` with `kind: embedded`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedStore {
    /// The directory holding the store file (created if missing).
    pub data_dir: PathBuf,
    /// Longest a publish waits for others to share its fsync (group
    /// commit); zero commits each publish on its own.
    pub commit_window: Duration,
}

/// `events.store` with `kind: nats`.
#[derive(Debug, Clone, PartialEq)]
pub struct NatsStore {
    /// `nats://host:port`, one or more (the client fails over).
    pub urls: Vec<String>,
    /// Prefix of the JetStream stream and consumer names this gateway
    /// creates (several gateways sharing it share the streams).
    pub stream_prefix: String,
    /// Bound on connecting and on each JetStream request.
    pub request_timeout: Duration,
    /// The local directory of the emit outbox (a redb file).
    pub outbox_dir: PathBuf,
}

/// `events.topics.NAME`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicSpec {
    pub name: String,
    /// Largest accepted event (the whole CloudEvent JSON), in bytes.
    pub max_event_bytes: usize,
    /// How long an `Idempotency-Key` / event `id` is remembered, to dedupe
    /// a repeated publish.
    pub dedupe_window: Duration,
    /// Events older than this are removed from the log (`None`: kept).
    pub max_age: Option<Duration>,
    /// At most this many events are kept; the oldest go first (`None`: no bound).
    pub max_events: Option<u64>,
    /// The CloudEvents `source` of events published by routes that do not
    /// set one.
    pub default_source: String,
    /// Open streams of this topic (`GET` on its publish routes, SSE or
    /// WebSocket) at once on this gateway; one more is refused with 503.
    pub max_streams: usize,
}

/// How a subscription shares events among the endpoints of its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryMode {
    /// Every endpoint (instance) of the backend gets every event.
    Fanout,
    /// The endpoints share the work: each event goes to one of them.
    Queue,
}

/// `events.subscriptions[]`: deliver a topic to an HTTP endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionSpec {
    /// Unique; names the durable consumer, the dead-letter queue, metrics.
    pub name: String,
    pub topic: Arc<TopicSpec>,
    pub backend: Arc<BackendSpec>,
    /// Path on the backend the events are POSTed to.
    pub path: String,
    pub mode: DeliveryMode,
    /// Only events whose `type` is one of these (empty: every type).
    pub types: Vec<String>,
    /// Retry backoff between attempts (exponential with jitter).
    pub backoff: Backoff,
    /// Attempts before the event goes to the dead-letter queue.
    pub max_attempts: u32,
    /// Bound on one delivery (to the response head and body).
    pub timeout: Duration,
    /// Deliveries in flight at once for this subscription.
    pub max_in_flight: usize,
    /// `ordering: subject`: events with the same subject are delivered one
    /// at a time, in log order.
    pub ordered_by_subject: bool,
    /// Where a new subscription starts reading.
    pub start: StartFrom,
}

/// Where a new durable consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartFrom {
    /// Only events published after it was created (the default).
    New,
    /// Every event still in the log.
    Earliest,
}

/// `publish: TOPIC` on a route: `POST` stores the body as an event and
/// answers 202; `GET` streams the topic (SSE, or WebSocket on upgrade).
#[derive(Debug, Clone, PartialEq)]
pub struct PublishAction {
    pub topic: Arc<TopicSpec>,
}

/// `emit:` on a proxy, gRPC or compose route: after a 2xx response, an
/// event built from the request, the response and the path parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct EmitSpec {
    pub topic: Arc<TopicSpec>,
    /// The CloudEvents `type` (`OrderPlaced`).
    pub event_type: String,
    /// Only these response statuses emit (default: every 2xx).
    pub statuses: Vec<u16>,
    /// Emit only when this template renders to `true` or to this string
    /// (`when: {value: "{request.status}", equals: "shipped"}`).
    pub when: Option<EmitCondition>,
    /// The CloudEvents `subject` (for example the order id).
    pub subject: Option<crate::template::StringTemplate>,
    /// The CloudEvents `source` (default: the topic's `default_source`).
    pub source: Option<String>,
    /// The event's `data`.
    pub data: crate::template::value::ValueTemplate,
}

/// `emit[].when`
#[derive(Debug, Clone, PartialEq)]
pub struct EmitCondition {
    pub value: crate::template::StringTemplate,
    pub equals: String,
}

/// `async:` on a proxy route (the temporal-coupling fix): the request is
/// stored and answered 202 with `Location: /v1/requests/{id}`, then
/// delivered to the backend in order, retried while it is down.
#[derive(Debug, Clone, PartialEq)]
pub struct AsyncSpec {
    /// `always`: every request is stored; `on_request`: only those whose
    /// `Prefer` header says `respond-async`.
    pub mode: AsyncMode,
    /// Requests with the same key are delivered one at a time, in order
    /// (`None`: the route's whole queue is ordered).
    pub order_key: Option<crate::template::StringTemplate>,
    pub backoff: Backoff,
    /// Attempts before the request goes to the dead-letter queue.
    pub max_attempts: u32,
    /// How long the stored response stays readable at its `Location`.
    pub result_ttl: Duration,
}

/// When an async route stores the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsyncMode {
    Always,
    OnRequest,
}

impl EventsSettings {
    /// The topic names, for messages.
    pub fn topic_names(&self) -> impl Iterator<Item = &str> {
        self.topics.keys().map(String::as_str)
    }
}

impl EmbeddedStore {
    /// `data_dir` when it is left out, relative to the config file's
    /// directory.
    pub const DEFAULT_DATA_DIR: &'static str = "data/events";
    pub const DEFAULT_COMMIT_WINDOW: Duration = Duration::ZERO;
    /// Largest `commit_window` (a publish may wait this long for its ack).
    pub const MAX_COMMIT_WINDOW: Duration = Duration::from_millis(100);
}

impl NatsStore {
    pub const DEFAULT_STREAM_PREFIX: &'static str = "gateway";
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
    /// `outbox_dir` when it is left out, relative to the config file's
    /// directory.
    pub const DEFAULT_OUTBOX_DIR: &'static str = "data/outbox";
}

impl TopicSpec {
    pub const DEFAULT_MAX_EVENT_BYTES: usize = 256 * 1024;
    /// Largest `max_event_bytes` (NATS's default `max_payload` is 1 MiB).
    pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
    /// JetStream's default duplicate window.
    pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(120);
    /// Longest `dedupe_window` (every key in it is remembered).
    pub const MAX_DEDUPE_WINDOW: Duration = Duration::from_secs(24 * 3600);
    pub const DEFAULT_MAX_AGE: Option<Duration> = Some(Duration::from_secs(7 * 24 * 3600));
    pub const DEFAULT_MAX_EVENTS: Option<u64> = Some(1_000_000);
    pub const DEFAULT_MAX_STREAMS: usize = 1000;

    /// `default_source` when it is left out: `/topics/NAME`.
    pub fn default_source_for(name: &str) -> String {
        format!("/topics/{name}")
    }
}

impl SubscriptionSpec {
    pub const DEFAULT_BACKOFF: Backoff = Backoff {
        base: Duration::from_millis(500),
        max: Duration::from_secs(30),
    };
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
    pub const MAX_ATTEMPTS: u32 = 100;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 16;
    pub const MAX_IN_FLIGHT: usize = 1024;
}

impl AsyncSpec {
    pub const DEFAULT_BACKOFF: Backoff = Backoff {
        base: Duration::from_millis(500),
        max: Duration::from_secs(30),
    };
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
    pub const MAX_ATTEMPTS: u32 = 100;
    pub const DEFAULT_RESULT_TTL: Duration = Duration::from_secs(3600);
}

impl EmitSpec {
    /// The template roots an emit template may read, besides the route's
    /// path parameters: the request body and the response body (JSON).
    pub const ROOTS: [&'static str; 2] = ["request", "response"];

    /// Whether a template reads the request body (the `request` root,
    /// call index 0 of [`Self::ROOTS`]): the emit layer then reads it
    /// whole before the route's handler.
    pub fn reads_request(&self) -> bool {
        let reads = |call: Option<usize>| call == Some(0);
        self.data.exprs().iter().any(|expr| reads(expr.call()))
            || self
                .subject
                .iter()
                .flat_map(|subject| subject.exprs())
                .any(|expr| reads(expr.call()))
            || self
                .when
                .iter()
                .flat_map(|when| when.value.exprs())
                .any(|expr| reads(expr.call()))
    }

    /// Whether a response with this status emits the event (before `when`).
    pub fn emits_on(&self, status: u16) -> bool {
        if self.statuses.is_empty() {
            (200..300).contains(&status)
        } else {
            self.statuses.contains(&status)
        }
    }
}
