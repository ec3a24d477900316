//! Taking a request on an async route: read it whole (bounded), store it
//! durably on the route's topic with a `pending` status record, and
//! answer `202 Accepted` with its `Location`. An `Idempotency-Key` seen
//! before (for the same request) answers the first submission's id.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{AsyncError, MAX_IDEMPOTENCY_KEY};
use super::record::{QueuedRequest, RequestRecord, RequestState};
use super::{
    AsyncRoute, IDEMPOTENCY_BUCKET, MAX_ASYNC_BODY, PREFER, PREFERENCE_APPLIED, REQUESTS_BUCKET,
    STATUS_PATH,
};
use crate::body::GatewayBody;
use crate::client_body::RequestBodyFault;
use crate::config::model::ProxyAction;
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::events::store::EncodedEvent;
use crate::template::eval::{Bindings, Target};
use crate::upstream::outbound::Outbound;

/// `Idempotency-Key` (IETF httpapi draft).
pub static IDEMPOTENCY_KEY: http::HeaderName = http::HeaderName::from_static("idempotency-key");

/// What the idempotency bucket remembers per key.
#[derive(Debug, Serialize, Deserialize)]
struct KeyClaim {
    id: String,
    /// SHA-256 of the method, target and body: the same key with another
    /// request is refused.
    fingerprint: String,
}

/// Stores the request and answers 202 (the handler of an async route's
/// requests that go async).
pub async fn submit(
    route: &AsyncRoute,
    request: Request<GatewayBody>,
    ctx: RequestContext,
    action: &ProxyAction,
) -> Result<Response<GatewayBody>, GatewayError> {
    let (mut parts, body) = request.into_parts();
    let key = idempotency_key(&parts.headers)?;
    let target = crate::proxy::upstream_target(&parts.uri, action, &ctx)?;
    let target = target
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    parts.headers.remove(&PREFER);
    parts.headers.remove(&IDEMPOTENCY_KEY);
    Outbound::forward_client_head(&ctx, &mut parts);
    let body = read_bounded(&parts.headers, body).await?;
    let order_key = order_key(route, &ctx, &body)?;
    let fingerprint = fingerprint(&parts.method, &target, &body);
    route.ready().await.map_err(AsyncError::Store)?;
    let id = match key {
        Some(key) => match claim(route, &key, fingerprint).await? {
            Claim::Existing(id) => return Ok(accepted(&id)),
            Claim::New(id) => id,
        },
        None => uuid::Uuid::new_v4().to_string(),
    };
    let mut queued = QueuedRequest::new(&parts.method, &target, &parts.headers, &body);
    if route.emits() {
        queued.params = ctx
            .params
            .iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
    }
    let event = queued.into_event(&id, &route.topic.default_source, order_key);
    let event = EncodedEvent::new(event);
    store(route, &id, &event).await?;
    tracing::debug!(route = %route.route, id = %id, "async request stored");
    Ok(accepted(&id))
}

/// The pending record first (so the worker's final record, written after
/// it, is never overwritten), then the queue entry (deduplicated by id).
async fn store(route: &AsyncRoute, id: &str, event: &EncodedEvent) -> Result<(), AsyncError> {
    let now = SystemTime::now();
    let record = RequestRecord::pending(id, &route.route, now);
    let store = &route.store;
    store
        .kv_put(REQUESTS_BUCKET, id, record.encode())
        .await
        .map_err(AsyncError::Store)?;
    if let Err(error) = store.publish(&route.topic.name, event, Some(id)).await {
        let refused = record.finish(RequestState::NotAccepted, now, route.result_ttl());
        if let Err(also) = store.kv_put(REQUESTS_BUCKET, id, refused.encode()).await {
            tracing::warn!(id, error = %also, "could not mark an unstored async request");
        }
        return Err(AsyncError::Store(error));
    }
    Ok(())
}

enum Claim {
    /// The key was used for this request before: answer that id.
    Existing(String),
    /// Store the request under this id.
    New(String),
}

async fn claim(route: &AsyncRoute, key: &str, fingerprint: String) -> Result<Claim, AsyncError> {
    let store = &route.store;
    let bucket_key = format!("{}:{}", route.topic.name, hex::encode(Sha256::digest(key)));
    let fresh = KeyClaim {
        id: uuid::Uuid::new_v4().to_string(),
        fingerprint,
    };
    let encoded = Bytes::from(serde_json::to_vec(&fresh).unwrap_or_default());
    let existing = store
        .kv_create(IDEMPOTENCY_BUCKET, &bucket_key, encoded.clone())
        .await
        .map_err(AsyncError::Store)?;
    let Some(existing) = existing else {
        return Ok(Claim::New(fresh.id));
    };
    let Ok(first) = serde_json::from_slice::<KeyClaim>(&existing) else {
        return Err(AsyncError::Store(crate::events::store::StoreError::Failed(
            "an idempotency claim does not decode".to_owned(),
        )));
    };
    if first.fingerprint != fresh.fingerprint {
        return Err(AsyncError::IdempotencyKeyReused);
    }
    let record = store
        .kv_get(REQUESTS_BUCKET, &first.id)
        .await
        .map_err(AsyncError::Store)?
        .and_then(|bytes| RequestRecord::decode(&bytes).ok());
    match record {
        // The first submission was stored: the same answer again.
        Some(record)
            if record.state != RequestState::NotAccepted
                && !record.is_expired(SystemTime::now()) =>
        {
            Ok(Claim::Existing(first.id))
        }
        // Its result expired: the key is free again.
        Some(record) if record.is_expired(SystemTime::now()) => {
            store
                .kv_put(IDEMPOTENCY_BUCKET, &bucket_key, encoded)
                .await
                .map_err(AsyncError::Store)?;
            Ok(Claim::New(fresh.id))
        }
        // Not stored (or still being stored): store it under the first
        // id; the topic deduplicates by id.
        _ => Ok(Claim::New(first.id)),
    }
}

/// The 202 answer.
pub fn accepted(id: &str) -> Response<GatewayBody> {
    let location = format!("{STATUS_PATH}/{id}");
    let body = serde_json::json!({"id": id, "status": "pending", "location": location});
    let mut response = Response::new(crate::body::full(body.to_string()));
    *response.status_mut() = StatusCode::ACCEPTED;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(LOCATION, value);
    }
    headers.insert(
        PREFERENCE_APPLIED.clone(),
        HeaderValue::from_static("respond-async"),
    );
    response
}

/// The client's `Idempotency-Key`: 1 to 255 visible ASCII characters, a
/// structured-field string's quotes removed.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AsyncError> {
    let Some(value) = headers.get(&IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| AsyncError::BadIdempotencyKey)?
        .trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let valid = !text.is_empty()
        && text.len() <= MAX_IDEMPOTENCY_KEY
        && text.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    valid
        .then(|| Some(text.to_owned()))
        .ok_or(AsyncError::BadIdempotencyKey)
}

/// The whole body, at most [`MAX_ASYNC_BODY`] (the route's own limit was
/// applied by the dispatcher while it streams).
async fn read_bounded(headers: &HeaderMap, body: GatewayBody) -> Result<Bytes, AsyncError> {
    let limit = u64::try_from(MAX_ASYNC_BODY).unwrap_or(u64::MAX);
    let body = crate::limits::limit_body(headers, body, Some(limit))
        .map_err(|too_large| AsyncError::Body(RequestBodyFault::TooLarge(too_large)))?;
    body.collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|error| {
            AsyncError::Body(
                RequestBodyFault::find_boxed(&error).unwrap_or(RequestBodyFault::Malformed),
            )
        })
}

/// The request's order key: the route's `order_key` template rendered
/// with the path parameters and the JSON body (`None` without one).
fn order_key(
    route: &AsyncRoute,
    ctx: &RequestContext,
    body: &Bytes,
) -> Result<Option<String>, AsyncError> {
    let Some(template) = &route.spec.order_key else {
        return Ok(None);
    };
    let json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .map(Arc::new);
    let results = [json];
    let bindings = Bindings {
        params: &ctx.params,
        results: &results,
    };
    bindings
        .render(template, Target::Text)
        .map(Some)
        .map_err(|e| AsyncError::OrderKey(e.to_string()))
}

fn fingerprint(method: &http::Method, target: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str());
    hash.update([0]);
    hash.update(target);
    hash.update([0]);
    hash.update(body);
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(value: &'static [u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(&IDEMPOTENCY_KEY, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn idempotency_keys_are_checked_and_unquoted() {
        assert_eq!(idempotency_key(&HeaderMap::new()).unwrap(), None);
        assert_eq!(
            idempotency_key(&with_key(b"abc-1")).unwrap().as_deref(),
            Some("abc-1")
        );
        assert_eq!(
            idempotency_key(&with_key(b"\"abc\"")).unwrap().as_deref(),
            Some("abc")
        );
        assert!(idempotency_key(&with_key(b"\"\"")).is_err());
        assert!(idempotency_key(&with_key(b"caf\xe9")).is_err());
        let long = vec![b'k'; MAX_IDEMPOTENCY_KEY + 1].leak();
        assert!(idempotency_key(&with_key(long)).is_err());
    }

    #[test]
    fn the_answer_points_at_the_status_resource() {
        let response = accepted("0b4c");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(response.headers()[LOCATION], "/v1/requests/0b4c");
        assert_eq!(response.headers()[&PREFERENCE_APPLIED], "respond-async");
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let a = fingerprint(&http::Method::POST, "/a", b"x");
        assert_eq!(a, fingerprint(&http::Method::POST, "/a", b"x"));
        assert_ne!(a, fingerprint(&http::Method::PUT, "/a", b"x"));
        assert_ne!(a, fingerprint(&http::Method::POST, "/a", b"y"));
    }
}
