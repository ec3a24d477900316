//! `publish: TOPIC` routes: `POST` validates the body as an event
//! (`parse`), stores it, and answers 202 with `{id, position, topic}` only
//! once the store has acknowledged it (an fsync'd commit, or a JetStream
//! ack). `Idempotency-Key` (else the event's `source` + `id`) dedupes
//! within the topic's `dedupe_window`: a repeat is answered with the first
//! event's id and position, and stores nothing.
//!
//! `GET` streams the topic instead (`super::stream`: SSE or WebSocket).
//!
//! Errors are [`PublishError`]s, rendered by `edge_error` with a stable
//! code and the request id; store failures are logged, never shown.

mod accepted;
pub mod batch;
pub mod binary;
pub mod parse;

use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;

use super::cloud_event::CloudEvent;
use super::store::{EncodedEvent, StoreError};
use crate::body::{self, GatewayBody};
use crate::config::model::events::{PublishAction, TopicSpec};
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::observe::metrics::events::PublishResult;
use parse::{EventShapeError, parse_event};

/// Why a publish was refused.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Shape(#[from] EventShapeError),
    #[error("the event is larger than the topic's {0} bytes")]
    TooLarge(usize),
    /// A batch that is not an array, is empty, or holds too many events.
    #[error("bad batch: {0}")]
    Batch(String),
    /// One element of a batch is refused (nothing of the batch is stored).
    #[error("event #{index} of the batch: {error}")]
    InBatch {
        index: usize,
        error: Box<PublishError>,
    },
    #[error("the request body could not be read: {0}")]
    Body(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("no event bus is running")]
    NoBus,
    /// `POST` publishes, `GET` streams; nothing else is served.
    #[error("method not allowed on a publish route")]
    MethodNotAllowed,
}

/// Status, stable code and client message of a refused publish.
fn describe(error: &PublishError) -> (StatusCode, &'static str, String) {
    match error {
        PublishError::Shape(EventShapeError::NotJson(_)) => (
            StatusCode::BAD_REQUEST,
            "EVENT_NOT_JSON",
            "the request body is not JSON".to_owned(),
        ),
        PublishError::Shape(EventShapeError::MissingType) => (
            StatusCode::BAD_REQUEST,
            "EVENT_MISSING_TYPE",
            "the event has no `type` (or `event_type`)".to_owned(),
        ),
        PublishError::Shape(EventShapeError::BadCloudEvent(reason)) => (
            StatusCode::BAD_REQUEST,
            "EVENT_INVALID",
            format!("the event is not a valid CloudEvent: {reason}"),
        ),
        PublishError::Batch(reason) => (
            StatusCode::BAD_REQUEST,
            "EVENT_BATCH_INVALID",
            format!("the batch is refused: {reason}"),
        ),
        PublishError::InBatch { index, error } => {
            let (status, code, message) = describe(error);
            (
                status,
                code,
                format!("event #{index} of the batch: {message}"),
            )
        }
        PublishError::TooLarge(max) => (
            StatusCode::BAD_REQUEST,
            "EVENT_TOO_LARGE",
            format!("the event is larger than this topic's limit of {max} bytes"),
        ),
        PublishError::Body(_) => (
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST_BODY",
            "the request body could not be read".to_owned(),
        ),
        PublishError::Store(StoreError::UnknownTopic(_)) => (
            StatusCode::BAD_REQUEST,
            "UNKNOWN_TOPIC",
            "the topic is not open on this gateway".to_owned(),
        ),
        PublishError::Store(_) | PublishError::NoBus => (
            StatusCode::SERVICE_UNAVAILABLE,
            "EVENT_STORE_UNAVAILABLE",
            "the event could not be stored; retry later".to_owned(),
        ),
        PublishError::MethodNotAllowed => (
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "a publish route accepts POST (publish an event) and GET (stream the topic)".to_owned(),
        ),
    }
}

impl From<PublishError> for GatewayError {
    fn from(error: PublishError) -> Self {
        let (status, code, message) = describe(&error);
        let rendered = GatewayError::new(status, code, message);
        match error {
            PublishError::MethodNotAllowed => rendered.with_header(
                http::header::ALLOW,
                http::HeaderValue::from_static("GET, POST, HEAD"),
            ),
            error => rendered.with_source(error),
        }
    }
}

/// [`handle`] as a boxed `Send + 'static` future: it owns everything it
/// reads (the request, its context, the action), so the route handler's
/// future does not carry its borrows into the store's future.
pub fn handle_boxed(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    action: PublishAction,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<GatewayBody>, GatewayError>> + Send>,
> {
    Box::pin(handle(request, ctx, action))
}

/// Serves one request on a publish route: `POST` publishes, `GET` streams
/// the topic (`super::stream`; `HEAD` answers its head only); any other
/// method is 405 with `Allow: GET, POST, HEAD` (the router answers them
/// first with the same list).
pub async fn handle(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    action: PublishAction,
) -> Result<Response<GatewayBody>, GatewayError> {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return Ok(super::stream::handle(request, ctx, action).await?);
    }
    if request.method() != Method::POST {
        return Err(PublishError::MethodNotAllowed.into());
    }
    let bus = ctx.snapshot.events.clone();
    let topic = action.topic.name.clone();
    let result = publish(request, ctx, action.topic).await;
    if let (Some(bus), Err(error)) = (&bus, &result) {
        let counted = match error {
            PublishError::Store(_) | PublishError::NoBus => PublishResult::Failed,
            _ => PublishResult::Rejected,
        };
        bus.count_publish(&topic, counted);
    }
    Ok(result?)
}

async fn publish(
    request: Request<GatewayBody>,
    ctx: RequestContext,
    topic: Arc<TopicSpec>,
) -> Result<Response<GatewayBody>, PublishError> {
    let bus = ctx.snapshot.events.clone().ok_or(PublishError::NoBus)?;
    let (head, body) = request.into_parts();
    if batch::is_batch(&head.headers) {
        return publish_batch(&head, body, &bus, &topic).await;
    }
    let bytes = read_body(body, topic.max_event_bytes).await?;
    let id_generated = std::cell::Cell::new(false);
    let structured = is_structured(&head.headers);
    let mut event = if !structured && binary::is_binary(&head.headers) {
        binary::binary_event(&head.headers, &bytes)?
    } else {
        parse_event(&bytes, structured, &topic.default_source, || {
            id_generated.set(true);
            uuid::Uuid::new_v4().to_string()
        })?
    };
    let id_generated = id_generated.get();
    add_traceparent(&mut event, request_traceparent(&head).as_deref());
    let event = encode_within(event, topic.max_event_bytes)?;
    let dedupe_key = dedupe_key(&head.headers, event.event(), id_generated);
    let published = bus
        .store()
        .publish(&topic.name, &event, dedupe_key.as_deref())
        .await?;
    bus.count_publish(&topic.name, super::emit::stored_result(published));
    let id = answered_id(&bus, &topic.name, published, &event.event().id).await?;
    Ok(accepted_response(accepted::one(
        &id,
        published.position,
        &topic.name,
    )))
}

/// A batch ([`batch`]): all its events validated, then stored in one call;
/// 202 with each event's id and position, in order. An `Idempotency-Key`
/// dedupes each event under the key and its index.
async fn publish_batch(
    head: &http::request::Parts,
    body: GatewayBody,
    bus: &super::bus::EventBus,
    topic: &TopicSpec,
) -> Result<Response<GatewayBody>, PublishError> {
    let bytes = read_body(body, batch::MAX_BATCH_BYTES).await?;
    let traceparent = request_traceparent(head);
    let parsed = batch::parse_batch(
        &bytes,
        &topic.default_source,
        topic.max_event_bytes,
        traceparent.as_deref(),
    )?;
    let idempotency = idempotency_key(&head.headers);
    let mut events = Vec::with_capacity(parsed.len());
    for (index, one) in parsed.into_iter().enumerate() {
        let key = match idempotency {
            Some(key) => Some(format!("key:{key}#{index}")),
            None if one.id_generated => None,
            None => Some(event_dedupe_key(one.event.event())),
        };
        events.push((one.event, key));
    }
    let published = bus.store().publish_many(&topic.name, &events).await?;
    let mut answer = accepted::BatchBody::new(&topic.name, published.len());
    for ((event, _), one) in events.iter().zip(published) {
        bus.count_publish(&topic.name, super::emit::stored_result(one));
        let id = answered_id(bus, &topic.name, one, &event.event().id).await?;
        answer.push(&id, one.position);
    }
    Ok(accepted_response(answer.finish()))
}

/// `event` encoded, refused if its JSON is over the topic's `max` bytes.
fn encode_within(event: CloudEvent, max: usize) -> Result<EncodedEvent, PublishError> {
    let encoded = EncodedEvent::new(event);
    if encoded.json().len() > max {
        return Err(PublishError::TooLarge(max));
    }
    Ok(encoded)
}

/// The id to answer with: the event's own, or, for a duplicate, the id of
/// the event first stored under its dedupe key.
async fn answered_id(
    bus: &super::bus::EventBus,
    topic: &str,
    published: super::store::Published,
    own: &str,
) -> Result<String, PublishError> {
    if !published.duplicate {
        return Ok(own.to_owned());
    }
    let first = bus.store().read(topic, published.position, 1).await?;
    Ok(first
        .into_iter()
        .find(|stored| stored.position == published.position)
        .map_or_else(|| own.to_owned(), |stored| stored.event.id.clone()))
}

/// 202 with `json` (an [`accepted`] body).
fn accepted_response(json: Vec<u8>) -> Response<GatewayBody> {
    let mut response = Response::new(body::full(json));
    *response.status_mut() = StatusCode::ACCEPTED;
    response.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The body, refused past `max` bytes without reading further. Read frame
/// by frame rather than through `http_body_util::Limited`, whose error
/// conversion makes the handler's future not `Send` for every lifetime.
async fn read_body(mut body: GatewayBody, max: usize) -> Result<Bytes, PublishError> {
    let mut collected = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| PublishError::Body(error.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > max {
                return Err(PublishError::TooLarge(max));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

fn is_structured(headers: &HeaderMap) -> bool {
    has_media_type(headers, "application/cloudevents+json")
}

/// Whether `Content-Type` is `media` (any case, parameters allowed).
fn has_media_type(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with(media))
}

/// `Idempotency-Key`, else the event's `source` and `id`; none when the
/// gateway made the id up (a fresh UUID cannot repeat, and a dedupe entry
/// is a random-key B-tree insert: most of an embedded publish's write
/// cost).
fn dedupe_key(headers: &HeaderMap, event: &CloudEvent, id_generated: bool) -> Option<String> {
    match idempotency_key(headers) {
        Some(key) => Some(format!("key:{key}")),
        None if id_generated => None,
        None => Some(event_dedupe_key(event)),
    }
}

/// A non-empty `Idempotency-Key`.
fn idempotency_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .filter(|key| !key.is_empty())
}
/// The dedupe key of an event published without an `Idempotency-Key`
/// (and of every emitted event): its `source` and `id`.
pub fn event_dedupe_key(event: &CloudEvent) -> String {
    format!("event:{}\u{1f}{}", event.source, event.id)
}

/// The `traceparent` extension: the event's own if it has one, else the
/// request's ([`request_traceparent`]).
fn add_traceparent(event: &mut CloudEvent, traceparent: Option<&str>) {
    if let Some(traceparent) = traceparent
        && !event.extensions.contains_key("traceparent")
    {
        event.extensions.insert(
            "traceparent".to_owned(),
            serde_json::Value::String(traceparent.to_owned()),
        );
    }
}

/// The gateway's trace context for this request, else the client's
/// `traceparent` header.
fn request_traceparent(head: &http::request::Parts) -> Option<String> {
    let mut injected = HeaderMap::new();
    crate::observe::trace_context::inject(&mut injected, head.extensions.get());
    injected
        .get("traceparent")
        .or_else(|| head.headers.get("traceparent"))
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> CloudEvent {
        parse_event(
            br#"{"type":"OrderPlaced","source":"/orders","id":"e-1"}"#,
            false,
            "/default",
            || unreachable!("the event has an id"),
        )
        .map(|mut event| {
            event.id = id.to_owned();
            event
        })
        .unwrap()
    }

    #[test]
    fn an_idempotency_key_is_the_dedupe_key_whoever_made_the_id() {
        let mut headers = HeaderMap::new();
        headers.insert("idempotency-key", "k-7".parse().unwrap());
        for generated in [false, true] {
            assert_eq!(
                dedupe_key(&headers, &event("e-1"), generated).as_deref(),
                Some("key:k-7")
            );
        }
    }

    #[test]
    fn a_client_chosen_id_is_deduped_by_source_and_id() {
        let key = dedupe_key(&HeaderMap::new(), &event("e-1"), false);
        assert_eq!(key.as_deref(), Some("event:/orders\u{1f}e-1"));
    }

    #[test]
    fn a_gateway_generated_id_stores_no_dedupe_entry() {
        assert_eq!(dedupe_key(&HeaderMap::new(), &event("fresh"), true), None);
    }
}
