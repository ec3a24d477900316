//! An async route's `emit:` events, emitted by its worker once the backend
//! has answered (the client's 202 emits nothing): the templates read the
//! stored request body, the backend's response body and the path
//! parameters kept with the request.
//!
//! Each event's id is derived from the request's id and the event's place
//! in the route's `emit:` list, so a request delivered again (the gateway
//! stopped between the backend's answer and the settle) emits the same
//! ids, which the store deduplicates within the topic's window.

use std::sync::Arc;

use serde_json::Value;

use super::AsyncEmit;
use super::record::{QueuedRequest, StoredResponse, decode_base64};
use crate::events::emit::{EmitInputs, emit, render};
use crate::observe::metrics::events::PublishResult;
use crate::router::Params;

/// Emits the route's events for the backend's `response` to `queued`.
pub async fn emit_answered(
    emits: &AsyncEmit,
    route: &str,
    request_id: &str,
    queued: &QueuedRequest,
    response: &StoredResponse,
) {
    if !emits
        .specs
        .iter()
        .any(|spec| spec.emits_on(response.status))
    {
        return;
    }
    let params: Params = queued.params.iter().cloned().collect();
    let request = json_of(queued.body().ok().as_deref());
    let response_json = json_of(decode_base64(&response.body).ok().as_deref());
    let traceparent = queued
        .headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("traceparent") && !header.base64)
        .map(|header| header.value.as_str());
    let inputs = EmitInputs {
        params: &params,
        request: request.as_ref(),
        response: response_json.as_ref(),
        traceparent,
    };
    for (index, spec) in emits.specs.iter().enumerate() {
        if !spec.emits_on(response.status) {
            continue;
        }
        match render(spec, &inputs) {
            Ok(Some(mut event)) => {
                event.id = format!("{request_id}-{index}");
                emit(&emits.bus, &spec.topic.name, event).await;
            }
            Ok(None) => {}
            Err(error) => {
                emits
                    .bus
                    .count_publish(&spec.topic.name, PublishResult::Rejected);
                tracing::warn!(%route, request = %request_id, event_type = %spec.event_type, %error, "an emit template could not be rendered; no event");
            }
        }
    }
}

fn json_of(bytes: Option<&[u8]>) -> Option<Arc<Value>> {
    serde_json::from_slice(bytes?).ok().map(Arc::new)
}
