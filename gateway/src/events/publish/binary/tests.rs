use http::HeaderMap;
use serde_json::json;

use super::{binary_event, header_text, is_binary};
use crate::events::publish::parse::EventShapeError;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    headers
}

const REQUIRED: [(&str, &str); 4] = [
    ("ce-specversion", "1.0"),
    ("ce-id", "e-1"),
    ("ce-source", "/orders"),
    ("ce-type", "OrderPlaced"),
];

fn with(extra: &[(&str, &str)]) -> HeaderMap {
    let mut all = REQUIRED.to_vec();
    all.extend_from_slice(extra);
    headers(&all)
}

#[test]
fn attributes_come_from_ce_headers_and_data_from_the_body() {
    let request = with(&[
        ("content-type", "application/json; charset=utf-8"),
        ("ce-subject", "order%201"),
        ("ce-time", "2026-12-02T06:00:00Z"),
        ("ce-priority", "high"),
    ]);
    assert!(is_binary(&request));
    let event = binary_event(&request, br#"{"total": 5}"#).unwrap();
    assert_eq!(
        (
            event.id.as_str(),
            event.source.as_str(),
            event.event_type.as_str()
        ),
        ("e-1", "/orders", "OrderPlaced")
    );
    assert_eq!(event.subject.as_deref(), Some("order 1"), "percent-decoded");
    assert_eq!(event.time.as_deref(), Some("2026-12-02T06:00:00Z"));
    assert_eq!(
        event.datacontenttype.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(event.data, Some(json!({"total": 5})));
    assert_eq!(event.extensions.get("priority"), Some(&json!("high")));
    assert!(!is_binary(&headers(&[(
        "content-type",
        "application/json"
    )])));
}

#[test]
fn text_data_is_a_string_an_empty_body_no_data() {
    let text = binary_event(&with(&[("content-type", "text/plain")]), b"shipped").unwrap();
    assert_eq!(text.data, Some(json!("shipped")));
    let empty = binary_event(&with(&[]), b"").unwrap();
    assert_eq!((empty.data, empty.datacontenttype), (None, None));
}

#[test]
fn bytes_that_are_neither_json_nor_utf8_text_are_kept_as_base64() {
    let octets = binary_event(
        &with(&[("content-type", "application/octet-stream")]),
        b"\x00\x01\xfe\xff",
    )
    .unwrap();
    assert_eq!(
        (&octets.data, octets.data_base64.as_deref()),
        (&None, Some("AAH+/w=="))
    );
    assert_eq!(
        octets.binary_data().as_deref(),
        Some(&b"\x00\x01\xfe\xff"[..])
    );
    assert_eq!(
        octets.datacontenttype.as_deref(),
        Some("application/octet-stream")
    );
    // Text in another charset is not UTF-8: its bytes are kept as they are.
    let latin1 = binary_event(
        &with(&[("content-type", "text/plain; charset=iso-8859-1")]),
        b"caf\xe9",
    )
    .unwrap();
    assert_eq!(latin1.binary_data().as_deref(), Some(&b"caf\xe9"[..]));
    assert_eq!(latin1.data, None);
    // Even a body that happens to be UTF-8 stays bytes under a binary type.
    let protobuf = binary_event(
        &with(&[("content-type", "application/x-protobuf")]),
        b"hello",
    )
    .unwrap();
    assert_eq!(protobuf.data_base64.as_deref(), Some("aGVsbG8="));
}

#[test]
fn what_the_binding_forbids_or_the_gateway_cannot_store_is_refused() {
    let missing_type = headers(&REQUIRED[..3]);
    assert_eq!(
        binary_event(&missing_type, b""),
        Err(EventShapeError::MissingType)
    );
    for (request, body) in [
        (headers(&REQUIRED[1..]), &b""[..]),
        (with(&[("ce-datacontenttype", "application/json")]), b"{}"),
        (with(&[("ce-subject", "%C0%A0")]), b""),
        (with(&[("ce-Bad_Name", "x")]), b""),
        (with(&[("ce-id", "e-2")]), b""),
        (
            headers(&[
                ("ce-specversion", "0.3"),
                ("ce-id", "1"),
                ("ce-source", "/s"),
                ("ce-type", "T"),
            ]),
            b"",
        ),
    ] {
        assert!(
            matches!(
                binary_event(&request, body),
                Err(EventShapeError::BadCloudEvent(_))
            ),
            "{request:?}"
        );
    }
    assert!(matches!(
        binary_event(&with(&[("content-type", "application/json")]), b"{"),
        Err(EventShapeError::NotJson(_))
    ));
}

#[test]
fn header_values_are_unquoted_then_percent_decoded_once() {
    assert_eq!(
        header_text(b"Euro%20%E2%82%AC%20%F0%9F%98%80").as_deref(),
        Some("Euro \u{20ac} \u{1f600}")
    );
    assert_eq!(
        header_text(br#""a \"quoted\" value""#).as_deref(),
        Some("a \"quoted\" value")
    );
    assert_eq!(
        header_text(b"%2541").as_deref(),
        Some("%41"),
        "one round only"
    );
    assert_eq!(
        header_text(b"%e2%82%ac").as_deref(),
        Some("\u{20ac}"),
        "lower-case hex"
    );
    assert_eq!(header_text(b"%C0%A0"), None, "an overlong encoding");
}
