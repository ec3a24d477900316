use std::collections::BTreeMap;

use serde_json::json;

use crate::events::cloud_event::{CloudEvent, SPEC_VERSION};

fn full() -> CloudEvent {
    CloudEvent {
        specversion: SPEC_VERSION.to_owned(),
        id: "3273b2e9-bb75-8508-88c2-1f861d3d39fe".to_owned(),
        source: "/orders-service".to_owned(),
        event_type: "OrderPlaced".to_owned(),
        subject: Some("order-1".to_owned()),
        time: Some("2026-12-03T01:02:03.456Z".to_owned()),
        datacontenttype: Some("application/json".to_owned()),
        data: Some(json!({
            "order_id": "o-1",
            "zeta": [1, -2, 3.5, 1e300, null, true, false],
            "alpha": {"nested": "\u{1f600} \"quoted\" \\ \u{7}"},
        })),
        data_base64: None,
        extensions: BTreeMap::from([
            (
                "traceparent".to_owned(),
                json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ),
            ("region".to_owned(), json!("eu")),
            ("count".to_owned(), json!(3)),
        ]),
    }
}

fn assert_as_serde_json_writes(event: &CloudEvent) {
    let expected = serde_json::to_vec(event).unwrap();
    assert_eq!(
        String::from_utf8(event.to_json()).unwrap(),
        String::from_utf8(expected).unwrap()
    );
}

#[test]
fn a_full_event_is_written_as_serde_json_writes_it() {
    assert_as_serde_json_writes(&full());
}

#[test]
fn absent_attributes_are_left_out_as_serde_json_leaves_them_out() {
    let mut event = full();
    event.subject = None;
    event.time = None;
    event.datacontenttype = None;
    event.data = None;
    event.extensions.clear();
    assert_as_serde_json_writes(&event);
    event.data_base64 = Some("AAEC/w==".to_owned());
    event.datacontenttype = Some("application/octet-stream".to_owned());
    assert_as_serde_json_writes(&event);
    event.data = Some(json!("plain text"));
    event.data_base64 = None;
    assert_as_serde_json_writes(&event);
}

#[test]
fn every_string_attribute_is_escaped_as_serde_json_escapes_it() {
    let awkward = [
        "",
        "plain",
        "quote \" and backslash \\",
        "controls \u{0} \u{1f} \n \r \t \u{8} \u{c}",
        "a long value with an escape near the end of a word: 0123456789\"",
        "non-ASCII: é ü 中文 \u{1f600}",
        "\u{7f} is not escaped",
    ];
    for text in awkward {
        let mut event = full();
        event.id = text.to_owned();
        event.source = text.to_owned();
        event.event_type = text.to_owned();
        event.subject = Some(text.to_owned());
        event.time = Some(text.to_owned());
        event.datacontenttype = Some(text.to_owned());
        event.data = Some(json!({ text: text }));
        event.extensions = BTreeMap::from([(text.to_owned(), json!(text))]);
        assert_as_serde_json_writes(&event);
    }
}
