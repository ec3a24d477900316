//! `emit:` at run time: building a route's events from the request, the
//! response and the path parameters ([`render`]), and handing them to the
//! store ([`emit`]).
//!
//! An emission never fails the client's request. [`emit`] publishes with
//! the event's `source` + `id` as dedupe key, bounded by
//! [`PUBLISH_TIMEOUT`]; if the store fails or does not answer in time the
//! event goes to the local outbox ([`super::outbox`]), whose relay
//! publishes it later with the same id (a store that had in fact stored it
//! dedupes the retry). Only an event that can be put in neither is lost:
//! logged at error level and counted (`gateway_event_publishes_total{result="lost"}`).
//!
//! The route's response is released once [`emit`] returns, so an event is
//! durable (stored, or in the outbox) before the client sees the 2xx that
//! caused it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::bus::EventBus;
use super::cloud_event::{CloudEvent, SPEC_VERSION};
use super::store::{EncodedEvent, Published, SharedStore, StoreError};
use crate::config::model::events::EmitSpec;
use crate::observe::metrics::events::PublishResult;
use crate::router::Params;
use crate::template::eval::{Bindings, EvalError, Target};
use crate::template::value::Strictness;

/// Longest an emission waits for the store before using the outbox.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// What an emit template reads: the route's path parameters, the request
/// body and the response body (each `None` when absent or not JSON).
#[derive(Debug, Clone, Copy)]
pub struct EmitInputs<'a> {
    pub params: &'a Params,
    pub request: Option<&'a Arc<Value>>,
    pub response: Option<&'a Arc<Value>>,
    /// The request's trace context, carried as the `traceparent` extension.
    pub traceparent: Option<&'a str>,
}

/// The event `spec` emits for these inputs; `None` when its `when` does
/// not hold. Fields the template reads but the bodies lack render as
/// `null` (the subject as absent); an expression that cannot be rendered
/// at all (an object where text is needed) is an error.
pub fn render(spec: &EmitSpec, inputs: &EmitInputs<'_>) -> Result<Option<CloudEvent>, EvalError> {
    let results = [inputs.request.cloned(), inputs.response.cloned()];
    let bindings = Bindings {
        params: inputs.params,
        results: &results,
    };
    if let Some(when) = &spec.when {
        let value = match bindings.render(&when.value, Target::Text) {
            Ok(value) => value,
            Err(EvalError::Missing { .. }) => return Ok(None),
            Err(error) => return Err(error),
        };
        if value != when.equals {
            return Ok(None);
        }
    }
    let subject = match &spec.subject {
        None => None,
        Some(template) => match bindings.render(template, Target::Text) {
            Ok(subject) => Some(subject),
            Err(EvalError::Missing { .. }) => None,
            Err(error) => return Err(error),
        },
    };
    let data = spec.data.render(&bindings, Strictness::Lenient)?;
    let mut event = CloudEvent {
        specversion: SPEC_VERSION.to_owned(),
        id: uuid::Uuid::new_v4().to_string(),
        source: spec
            .source
            .clone()
            .unwrap_or_else(|| spec.topic.default_source.clone()),
        event_type: spec.event_type.clone(),
        subject,
        time: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        datacontenttype: Some("application/json".to_owned()),
        data: Some(data),
        data_base64: None,
        extensions: Default::default(),
    };
    if let Some(traceparent) = inputs.traceparent {
        event.extensions.insert(
            "traceparent".to_owned(),
            Value::String(traceparent.to_owned()),
        );
    }
    Ok(Some(event))
}

/// A body as an emit template's `request` or `response` root: `None` when
/// it is empty or not JSON.
pub fn json_body(bytes: &[u8]) -> Option<Arc<Value>> {
    serde_json::from_slice(bytes).ok().map(Arc::new)
}

/// Renders and emits each of `specs` that emits on `status` (the emit
/// layer, and an async route's worker); `id_of(n)` may fix the id of the
/// `n`th spec's event. A template that cannot be rendered emits nothing,
/// and is logged and counted (`rejected`).
pub async fn emit_all(
    bus: &EventBus,
    route: &str,
    specs: &[Arc<EmitSpec>],
    status: u16,
    inputs: &EmitInputs<'_>,
    id_of: impl Fn(usize) -> Option<String>,
) {
    for (index, spec) in specs.iter().enumerate() {
        if !spec.emits_on(status) {
            continue;
        }
        match render(spec, inputs) {
            Ok(Some(mut event)) => {
                if let Some(id) = id_of(index) {
                    event.id = id;
                }
                emit(bus, &spec.topic.name, event).await;
            }
            Ok(None) => {}
            Err(error) => {
                bus.count_publish(&spec.topic.name, PublishResult::Rejected);
                tracing::warn!(%route, event_type = %spec.event_type, %error, "an emit template could not be rendered; no event");
            }
        }
    }
}

/// Stores `event` in `topic`, or puts it in the outbox; never fails.
pub async fn emit(bus: &EventBus, topic: &str, event: CloudEvent) {
    let key = super::publish::event_dedupe_key(&event);
    let error = match publish_bounded(bus.store(), topic, &event, &key).await {
        Ok(published) => {
            bus.count_publish(topic, stored_result(published));
            return;
        }
        Err(error) => error,
    };
    bus.count_publish(topic, PublishResult::Failed);
    match bus.outbox().append(topic, &event).await {
        Ok(()) => {
            tracing::warn!(%topic, event = %event.id, %error, "emitting an event failed; it waits in the outbox")
        }
        Err(outbox_error) => {
            bus.count_publish(topic, PublishResult::Lost);
            tracing::error!(%topic, event = %event.id, %error, %outbox_error, "emitting an event failed and the outbox refused it: the event is lost");
        }
    }
}

/// One publish, bounded by [`PUBLISH_TIMEOUT`].
pub async fn publish_bounded(
    store: &SharedStore,
    topic: &str,
    event: &CloudEvent,
    dedupe_key: &str,
) -> Result<Published, StoreError> {
    let event = EncodedEvent::new(event.clone());
    tokio::time::timeout(
        PUBLISH_TIMEOUT,
        store.publish(topic, &event, Some(dedupe_key)),
    )
    .await
    .unwrap_or_else(|_| {
        Err(StoreError::Unavailable(format!(
            "no answer within {PUBLISH_TIMEOUT:?}"
        )))
    })
}

/// The metrics result of a publish the store took.
pub fn stored_result(published: Published) -> PublishResult {
    if published.duplicate {
        PublishResult::Duplicate
    } else {
        PublishResult::Stored
    }
}

#[cfg(test)]
mod tests;
