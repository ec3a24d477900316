//! The CloudEvents HTTP binding, binary content mode, pure: an event
//! becomes a `POST` whose body is its `data` and whose `ce-*` headers are
//! its attributes (`ce-specversion`, `ce-id`, `ce-source`, `ce-type`,
//! `ce-subject`, `ce-time` and each extension), with `Content-Type` from
//! `datacontenttype` (`application/json` when absent, as in the JSON
//! format; `application/octet-stream` for binary data of no stated type).
//! Binary data (`data_base64`) goes as its decoded bytes. Header values
//! are percent-encoded as the binding says (space, `"`, `%` and anything
//! outside printable ASCII).
//!
//! The `traceparent` / `tracestate` extensions (distributed tracing) also
//! become the request's own `traceparent` / `tracestate`, so the
//! subscriber continues the publisher's trace; with traces on, the
//! gateway's delivery span replaces the request's `traceparent` with its
//! own, a child in the same trace.

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request};

use crate::body::{self, GatewayBody};
use crate::events::cloud_event::{CloudEvent, is_json_media_type};

/// The content type of `data` when `datacontenttype` is absent.
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";

/// The content type of `data_base64`'s bytes when `datacontenttype` is
/// absent: bytes of no stated type.
pub const DEFAULT_BINARY_CONTENT_TYPE: &str = "application/octet-stream";

/// An attribute that cannot travel as a header.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("attribute {0} cannot be sent as a header")]
pub struct BindingError(pub String);

/// The request (origin-form `path`) carrying `event` in binary mode.
pub fn binary_request(
    event: &CloudEvent,
    path: &str,
) -> Result<Request<GatewayBody>, BindingError> {
    let mut request = Request::new(body::full(data_bytes(event)));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = path.parse().map_err(|_| BindingError("path".to_owned()))?;
    *request.headers_mut() = binary_headers(event)?;
    Ok(request)
}

/// The `ce-*` headers, `Content-Type` and the trace context.
pub fn binary_headers(event: &CloudEvent) -> Result<HeaderMap, BindingError> {
    let mut headers = HeaderMap::new();
    let mut put = |name: &str, value: &str| -> Result<(), BindingError> {
        let header = HeaderName::try_from(format!("ce-{name}"))
            .map_err(|_| BindingError(name.to_owned()))?;
        let value = HeaderValue::try_from(percent_encode(value))
            .map_err(|_| BindingError(name.to_owned()))?;
        headers.insert(header, value);
        Ok(())
    };
    put("specversion", &event.specversion)?;
    put("id", &event.id)?;
    put("source", &event.source)?;
    put("type", &event.event_type)?;
    if let Some(subject) = &event.subject {
        put("subject", subject)?;
    }
    if let Some(time) = &event.time {
        put("time", time)?;
    }
    for (name, value) in &event.extensions {
        put(name, &extension_text(value))?;
    }
    let content_type = match (&event.datacontenttype, &event.data_base64) {
        (Some(content_type), _) => content_type.as_str(),
        (None, Some(_)) => DEFAULT_BINARY_CONTENT_TYPE,
        (None, None) => DEFAULT_CONTENT_TYPE,
    };
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::try_from(content_type).map_err(|_| BindingError("datacontenttype".into()))?,
    );
    for name in ["traceparent", "tracestate"] {
        if let Some(value) = event.extensions.get(name).map(extension_text)
            && let Ok(value) = HeaderValue::try_from(value)
        {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    Ok(headers)
}

/// The body: JSON data as JSON; a string with a non-JSON content type as
/// its text; binary data (`data_base64`) decoded, as the bytes it was;
/// no data, nothing.
pub fn data_bytes(event: &CloudEvent) -> Vec<u8> {
    if let Some(bytes) = event.binary_data() {
        return bytes;
    }
    let Some(data) = &event.data else {
        return Vec::new();
    };
    let json = event
        .datacontenttype
        .as_deref()
        .is_none_or(is_json_media_type);
    match data {
        serde_json::Value::String(text) if !json => text.clone().into_bytes(),
        other => serde_json::to_vec(other).unwrap_or_default(),
    }
}

/// An extension's value as its canonical string (strings as they are,
/// booleans and numbers as JSON writes them).
fn extension_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Percent-encodes space, `"`, `%` and every byte outside `!`..=`~`
/// (UTF-8 first), as the HTTP binding requires of `ce-*` values.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (0x21..=0x7e).contains(&byte) && byte != b'"' && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn event() -> CloudEvent {
        CloudEvent {
            specversion: "1.0".into(),
            id: "evt-1".into(),
            source: "/orders".into(),
            event_type: "OrderPlaced".into(),
            subject: Some("order 42".into()),
            time: Some("2026-11-30T21:00:00Z".into()),
            datacontenttype: None,
            data: Some(serde_json::json!({"order_id": "42", "total": 12.5})),
            data_base64: None,
            extensions: BTreeMap::from([
                (
                    "traceparent".to_owned(),
                    serde_json::json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                ),
                ("priority".to_owned(), serde_json::json!(3)),
            ]),
        }
    }

    #[test]
    fn attributes_become_ce_headers_and_data_the_body() {
        let request = binary_request(&event(), "/events").unwrap();
        let headers = request.headers();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "/events");
        assert_eq!(headers["ce-specversion"], "1.0");
        assert_eq!(headers["ce-id"], "evt-1");
        assert_eq!(headers["ce-source"], "/orders");
        assert_eq!(headers["ce-type"], "OrderPlaced");
        assert_eq!(headers["ce-subject"], "order%2042");
        assert_eq!(headers["ce-time"], "2026-11-30T21:00:00Z");
        assert_eq!(headers["ce-priority"], "3");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            headers["traceparent"],
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
        assert_eq!(headers["ce-traceparent"], headers["traceparent"]);
        let body: serde_json::Value = serde_json::from_slice(&data_bytes(&event())).unwrap();
        assert_eq!(body, serde_json::json!({"order_id": "42", "total": 12.5}));
    }

    #[test]
    fn text_data_goes_as_is_and_absent_data_as_nothing() {
        let mut text = event();
        text.datacontenttype = Some("text/plain; charset=utf-8".into());
        text.data = Some(serde_json::json!("hello"));
        assert_eq!(data_bytes(&text), b"hello");
        assert_eq!(
            binary_headers(&text).unwrap()["content-type"],
            "text/plain; charset=utf-8"
        );
        let mut json_string = event();
        json_string.datacontenttype = Some("application/cloudevents+json".into());
        json_string.data = Some(serde_json::json!("hello"));
        assert_eq!(data_bytes(&json_string), b"\"hello\"");
        let mut empty = event();
        empty.data = None;
        assert!(data_bytes(&empty).is_empty());
    }

    #[test]
    fn binary_data_goes_as_its_bytes() {
        let mut binary = event();
        binary.data = None;
        binary.data_base64 = Some("AAH+/w==".into());
        assert_eq!(data_bytes(&binary), [0, 1, 0xfe, 0xff]);
        assert_eq!(
            binary_headers(&binary).unwrap()["content-type"],
            DEFAULT_BINARY_CONTENT_TYPE
        );
        binary.datacontenttype = Some("image/png".into());
        assert_eq!(
            binary_headers(&binary).unwrap()["content-type"],
            "image/png"
        );
    }

    #[test]
    fn header_values_are_percent_encoded() {
        assert_eq!(percent_encode("a b\"c%d"), "a%20b%22c%25d");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("plain-ASCII_1.2~"), "plain-ASCII_1.2~");
    }

    #[test]
    fn a_bad_extension_name_is_an_error() {
        let mut bad = event();
        bad.extensions
            .insert("bad name".into(), serde_json::json!("x"));
        assert_eq!(
            binary_headers(&bad).unwrap_err(),
            BindingError("bad name".into())
        );
    }
}
