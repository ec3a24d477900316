//! An async route's `emit:` events, emitted by its worker once the backend
//! has answered (the client's 202 emits nothing): the templates read the
//! stored request body, the backend's response body and the path
//! parameters kept with the request.
//!
//! Each event's id is derived from the request's id and the event's place
//! in the route's `emit:` list, so a request delivered again (the gateway
//! stopped between the backend's answer and the settle) emits the same
//! ids, which the store deduplicates within the topic's window.

use super::AsyncEmit;
use super::record::{QueuedRequest, StoredResponse, decode_base64};
use crate::events::emit::{EmitInputs, emit_all, json_body};
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
    let request = queued.body().ok().as_deref().and_then(json_body);
    let response_json = decode_base64(&response.body)
        .ok()
        .as_deref()
        .and_then(json_body);
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
    emit_all(
        &emits.bus,
        route,
        &emits.specs,
        response.status,
        &inputs,
        |index| Some(format!("{request_id}-{index}")),
    )
    .await;
}
