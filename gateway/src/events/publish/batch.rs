//! Batch publish: the CloudEvents HTTP binding's batched content mode
//! (`Content-Type: application/cloudevents-batch+json`, a JSON array of
//! events). Every element is validated as a single publish's body would
//! be (`application/json`: a structured CloudEvent, or plain JSON with
//! `type`, or the seed's envelope); one bad element refuses the whole
//! batch, naming its index, and nothing is stored. The events are then
//! stored with one call to the store ([`EventStore::publish_many`]): one
//! atomic write on the embedded store, pipelined publishes on JetStream.
//!
//! Bounds: the body at most [`MAX_BATCH_BYTES`], at most
//! [`MAX_BATCH_EVENTS`] events, each at most the topic's
//! `max_event_bytes` once encoded.
//!
//! [`EventStore::publish_many`]: crate::events::store::EventStore::publish_many

use http::HeaderMap;

use super::PublishError;
use super::parse::members::{Elements, batch_elements};
use super::parse::{EventShapeError, event_from_element};
use crate::events::store::EncodedEvent;

/// Largest batch body.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 1000;

/// Whether the request is a batch (`application/cloudevents-batch+json`).
pub fn is_batch(headers: &HeaderMap) -> bool {
    super::has_media_type(headers, "application/cloudevents-batch+json")
}

/// One validated event of a batch, encoded, and whether the gateway made
/// its id.
#[derive(Debug)]
pub struct BatchEvent {
    pub event: EncodedEvent,
    pub id_generated: bool,
}

/// The batch body → its events, in order, each given `traceparent` unless
/// it has its own; the first bad element refuses the batch
/// ([`PublishError::InBatch`] names its index).
pub fn parse_batch(
    body: &[u8],
    default_source: &str,
    max_event_bytes: usize,
    traceparent: Option<&str>,
) -> Result<Vec<BatchEvent>, PublishError> {
    let read = batch_elements(body, MAX_BATCH_EVENTS)
        .map_err(|error| EventShapeError::NotJson(error.to_string()))?;
    let Elements::Array {
        kept: elements,
        count,
    } = read
    else {
        return Err(PublishError::Batch(
            "a batch must be a JSON array of events".to_owned(),
        ));
    };
    if count == 0 {
        return Err(PublishError::Batch("the batch holds no event".to_owned()));
    }
    if count > MAX_BATCH_EVENTS {
        return Err(PublishError::Batch(format!(
            "the batch holds {count} events; at most {MAX_BATCH_EVENTS}"
        )));
    }
    let mut events = Vec::with_capacity(elements.len());
    for (index, element) in elements.into_iter().enumerate() {
        let in_batch = |error: PublishError| PublishError::InBatch {
            index,
            error: Box::new(error),
        };
        let mut id_generated = false;
        let mut event = event_from_element(element, false, default_source, || {
            id_generated = true;
            uuid::Uuid::new_v4().to_string()
        })
        .map_err(|error| in_batch(error.into()))?;
        super::add_traceparent(&mut event, traceparent);
        let event = super::encode_within(event, max_event_bytes).map_err(in_batch)?;
        events.push(BatchEvent {
            event,
            id_generated,
        });
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::CONTENT_TYPE;

    fn parse(body: &str) -> Result<Vec<BatchEvent>, PublishError> {
        parse_batch(body.as_bytes(), "/default", 1024, None)
    }

    #[test]
    fn each_element_is_read_as_a_single_publish_would_be() {
        let events = parse(
            r#"[{"type":"A"},
                {"specversion":"1.0","id":"e-2","source":"/s","type":"B"},
                {"event_type":"C","event_id":"e-3","payload":{"n":1}}]"#,
        )
        .unwrap();
        let kinds: Vec<_> = events
            .iter()
            .map(|e| e.event.event().event_type.as_str())
            .collect();
        assert_eq!(kinds, ["A", "B", "C"]);
        assert!(events[0].id_generated);
        assert_eq!(events[0].event.event().source, "/default");
        assert!(!events[1].id_generated);
        assert_eq!(events[2].event.event().id, "e-3");
    }

    #[test]
    fn a_bad_element_refuses_the_batch_and_names_its_index() {
        match parse(r#"[{"type":"A"},{"data":1}]"#) {
            Err(PublishError::InBatch { index: 1, error }) => {
                assert!(matches!(
                    *error,
                    PublishError::Shape(EventShapeError::MissingType)
                ));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_element_over_the_topics_limit_is_too_large() {
        let big = format!(r#"[{{"type":"A","data":"{}"}}]"#, "x".repeat(2000));
        assert!(matches!(
            parse(&big),
            Err(PublishError::InBatch { index: 0, error }) if matches!(*error, PublishError::TooLarge(1024))
        ));
    }

    #[test]
    fn not_an_array_empty_and_too_many_are_refused() {
        for body in [r#"{"type":"A"}"#.to_owned(), "[]".to_owned()] {
            assert!(
                matches!(parse(&body), Err(PublishError::Batch(_))),
                "{body}"
            );
        }
        let many = format!(
            "[{}]",
            vec![r#"{"type":"A"}"#; MAX_BATCH_EVENTS + 1].join(",")
        );
        assert!(matches!(
            parse_batch(many.as_bytes(), "/d", 1024, None),
            Err(PublishError::Batch(message)) if message.contains("1001")
        ));
        assert!(matches!(
            parse("[1,"),
            Err(PublishError::Shape(EventShapeError::NotJson(_)))
        ));
    }

    #[test]
    fn the_batch_content_type_is_recognised_with_parameters() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "Application/CloudEvents-Batch+JSON; charset=utf-8"
                .parse()
                .unwrap(),
        );
        assert!(is_batch(&headers));
        headers.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(!is_batch(&headers));
    }
}
