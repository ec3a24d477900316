//! Raw serde types of the event bus: the `events:` section (store,
//! topics, subscriptions) and the route keys `publish:`, `emit:` and
//! `async:`. Checked in `compile/events.rs` and `compile/events/`.
//!
//! The section is read piece by piece (`sections/events.rs`): the store,
//! each topic and each subscription go through serde on their own, so a
//! typo in one does not hide the mistakes of the others.

use marked_yaml::Spanned;
use serde::Deserialize;

use super::raw::{RawBackoff, Text, YamlTree};

/// `events:`, as read: its parts that deserialised.
#[derive(Debug)]
pub(crate) struct RawEvents {
    pub store: Option<RawStore>,
    /// Topic name → settings (`None` when they failed to deserialise; the
    /// name is still declared, so references to it are not reported).
    pub topics: Vec<(Text, Option<RawTopic>)>,
    /// In file order; one that failed to deserialise is left out (its
    /// errors are recorded).
    pub subscriptions: Vec<RawSubscription>,
}

/// `events.store:` (one mapping for both kinds; keys of the other kind
/// are errors).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub kind: Option<Spanned<RawStoreKind>>,
    // embedded
    pub data_dir: Option<Text>,
    pub commit_window: Option<Text>,
    // nats
    pub url: Option<Text>,
    pub urls: Option<Spanned<Vec<Text>>>,
    pub stream_prefix: Option<Text>,
    pub request_timeout: Option<Text>,
    pub outbox_dir: Option<Text>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawStoreKind {
    Embedded,
    Nats,
}

/// `events.topics.NAME:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTopic {
    pub max_event_bytes: Option<Text>,
    pub dedupe_window: Option<Text>,
    /// A duration, or `unlimited`.
    pub max_age: Option<Text>,
    /// A count, or `unlimited` (a string, so both fit one key).
    pub max_events: Option<Text>,
    pub default_source: Option<Text>,
    /// Open streams (SSE, WebSocket) of the topic at once, per gateway.
    pub max_streams: Option<Text>,
}

/// One entry of `events.subscriptions:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSubscription {
    pub name: Text,
    pub topic: Text,
    pub backend: Text,
    pub path: Text,
    pub mode: Option<Spanned<RawDeliveryMode>>,
    pub types: Option<Vec<Text>>,
    pub backoff: Option<RawBackoff>,
    pub max_attempts: Option<Spanned<u32>>,
    pub timeout: Option<Text>,
    pub max_in_flight: Option<Spanned<u64>>,
    pub ordering: Option<Spanned<RawOrdering>>,
    pub start: Option<Spanned<RawStart>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawDeliveryMode {
    Fanout,
    Queue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawOrdering {
    /// Events with the same `subject` one at a time, in log order.
    Subject,
    None,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawStart {
    New,
    Earliest,
}

/// One entry of a route's `emit:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmit {
    pub topic: Text,
    #[serde(rename = "type")]
    pub event_type: Text,
    pub statuses: Option<Vec<Spanned<u16>>>,
    pub when: Option<RawEmitWhen>,
    pub subject: Option<Text>,
    pub source: Option<Text>,
    pub data: Option<YamlTree>,
}

/// `emit[].when:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmitWhen {
    pub value: Text,
    pub equals: Text,
}

/// A route's `async:` (`async: true` is read as `async: {}`, and
/// `async: false` as no `async:` at all; see `sections`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAsync {
    pub mode: Option<Spanned<RawAsyncMode>>,
    pub order_key: Option<Text>,
    pub backoff: Option<RawBackoff>,
    pub max_attempts: Option<Spanned<u32>>,
    pub result_ttl: Option<Text>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawAsyncMode {
    Always,
    OnRequest,
}
