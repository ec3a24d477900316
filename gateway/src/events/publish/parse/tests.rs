//! The three accepted shapes, and each refusal.

use serde_json::json;

use super::*;

fn parse(body: serde_json::Value, structured: bool) -> Result<CloudEvent, EventShapeError> {
    parse_event(
        body.to_string().as_bytes(),
        structured,
        "/topics/orders",
        || "generated".to_owned(),
    )
}

#[test]
fn a_structured_cloud_event_is_taken_as_it_is() {
    let event = parse(
        json!({"specversion": "1.0", "id": "e1", "source": "/shop", "type": "OrderPlaced",
               "subject": "o-1", "time": "2026-11-30T10:00:00Z", "data": {"total": 5},
               "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}),
        true,
    )
    .unwrap();
    assert_eq!(event.id, "e1");
    assert_eq!(event.source, "/shop");
    assert_eq!(event.event_type, "OrderPlaced");
    assert_eq!(event.subject.as_deref(), Some("o-1"));
    assert_eq!(event.data, Some(json!({"total": 5})));
    assert!(event.extensions.contains_key("traceparent"));
}

#[test]
fn plain_json_with_a_type_gets_an_id_a_source_and_the_spec_version() {
    let event = parse(json!({"type": "OrderShipped", "data": [1]}), false).unwrap();
    assert_eq!(event.id, "generated");
    assert_eq!(event.source, "/topics/orders");
    assert_eq!(event.specversion, "1.0");
    assert_eq!(event.data, Some(json!([1])));
}

#[test]
fn the_seed_envelope_maps_onto_cloud_events() {
    let event = parse(
        json!({"event_id": "7", "event_type": "PaymentCompleted",
               "occurred_at": "2026-11-30T10:00:00+01:00", "payload": {"order_id": "o-1"},
               "subject": "o-1"}),
        false,
    )
    .unwrap();
    assert_eq!(event.id, "7");
    assert_eq!(event.event_type, "PaymentCompleted");
    assert_eq!(event.time.as_deref(), Some("2026-11-30T10:00:00+01:00"));
    assert_eq!(event.data, Some(json!({"order_id": "o-1"})));
    assert_eq!(event.subject.as_deref(), Some("o-1"));
}

#[test]
fn binary_data_comes_as_data_base64_and_is_kept_as_sent() {
    let event = parse(
        json!({"specversion": "1.0", "id": "b-1", "source": "/s", "type": "T",
            "datacontenttype": "application/vnd.apache.thrift.binary",
            "data_base64": "AAH+/w=="}),
        true,
    )
    .unwrap();
    assert_eq!(event.data, None);
    assert_eq!(event.data_base64.as_deref(), Some("AAH+/w=="));
    assert_eq!(event.binary_data(), Some(vec![0, 1, 0xfe, 0xff]));
    let stored = serde_json::to_value(&event).unwrap();
    assert_eq!(stored["data_base64"], "AAH+/w==");
    assert!(stored.get("data").is_none());
    // A `null` on either side is no value.
    let with_null_data = parse(
        json!({"type": "T", "data": null, "data_base64": "AAE="}),
        false,
    )
    .unwrap();
    assert_eq!(
        (with_null_data.data, with_null_data.data_base64.as_deref()),
        (None, Some("AAE="))
    );
    let with_null_base64 = parse(json!({"type": "T", "data_base64": null}), false).unwrap();
    assert_eq!(with_null_base64.data_base64, None);
}

#[test]
fn each_bad_body_has_its_reason() {
    assert!(matches!(
        parse_event(b"{nope", false, "/s", String::new),
        Err(EventShapeError::NotJson(_))
    ));
    assert_eq!(
        parse(json!({"data": 1}), false),
        Err(EventShapeError::MissingType)
    );
    assert_eq!(
        parse(
            json!({"id": "1", "source": "/s", "specversion": "1.0"}),
            true
        ),
        Err(EventShapeError::MissingType)
    );
    for bad in [
        json!({"type": "T", "specversion": "0.3"}),
        json!({"type": 5}),
        json!({"type": "T", "time": "yesterday"}),
        json!({"type": "T", "Bad-Name": "x"}),
        json!({"type": "T", "ext": {"nested": true}}),
        json!({"event_type": "T", "type": "U"}),
        json!([1, 2]),
        json!({"type": "T", "data_base64": "not base64!"}),
        json!({"type": "T", "data_base64": "AAH"}),
        json!({"type": "T", "data_base64": 12}),
        json!({"type": "T", "data": {"a": 1}, "data_base64": "AAE="}),
    ] {
        assert!(
            matches!(
                parse(bad.clone(), false),
                Err(EventShapeError::BadCloudEvent(_))
            ),
            "{bad} was accepted"
        );
    }
    // Structured mode requires every attribute.
    assert!(matches!(
        parse(
            json!({"type": "T", "source": "/s", "specversion": "1.0"}),
            true
        ),
        Err(EventShapeError::BadCloudEvent(_))
    ));
}

#[test]
fn a_repeated_member_keeps_its_last_value_and_escaped_names_count() {
    let event = parse_event(
        br#"{"type":"First","ty\u0070e":"Last","id":"e-1","source":"/s"}"#,
        false,
        "/d",
        || unreachable!("the event has an id"),
    )
    .unwrap();
    assert_eq!(event.event_type, "Last");
}

#[test]
fn envelope_keys_are_extensions_unless_the_envelope_is_used() {
    // Without `event_id` or `event_type`, `payload` is just a member, and
    // not a valid extension name.
    let refused = parse(json!({"type": "T", "payload": {"a": 1}}), false).unwrap_err();
    assert!(
        matches!(&refused, EventShapeError::BadCloudEvent(message) if message.contains("`payload`")),
        "{refused:?}"
    );
    let mapped = parse(json!({"event_type": "T", "payload": {"a": 1}}), false).unwrap();
    assert_eq!(mapped.data, Some(json!({"a": 1})));
    let both = parse(json!({"event_type": "T", "type": "U"}), false).unwrap_err();
    assert_eq!(
        both,
        EventShapeError::BadCloudEvent("both `event_type` and `type` are set".to_owned())
    );
}

#[test]
fn a_body_that_is_not_an_object_or_not_json_is_refused_by_name() {
    for body in ["[1]", "\"text\"", "3", "null"] {
        assert_eq!(
            parse_event(body.as_bytes(), false, "/d", String::new),
            Err(EventShapeError::BadCloudEvent(
                "the event must be a JSON object".to_owned()
            )),
            "{body}"
        );
    }
    for body in ["", "{", r#"{"type":"A"} trailing"#] {
        assert!(
            matches!(
                parse_event(body.as_bytes(), false, "/d", String::new),
                Err(EventShapeError::NotJson(_))
            ),
            "{body}"
        );
    }
}
