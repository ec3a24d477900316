//! `headers:`: header names and values to add or remove, both directions.

use http::{HeaderName, HeaderValue};

use super::super::errors::Diagnostics;
use super::super::model::HeaderRules;
use super::super::raw::{RawHeaderEdits, RawHeaders, Text};

/// Headers a route may not add: the proxy strips hop-by-hop headers and
/// owns framing, so adding them would silently do nothing or break it.
const NOT_ADDABLE: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
];

/// Compiles `headers:`; `what` names the route in messages.
pub(super) fn compile_headers(
    raw: Option<&RawHeaders>,
    what: &str,
    diag: &mut Diagnostics,
) -> HeaderRules {
    let Some(raw) = raw else {
        return HeaderRules::default();
    };
    let (request_add, request_remove) = edits(
        raw.request.as_ref(),
        &format!("{what}: headers.request"),
        diag,
    );
    let (response_add, response_remove) = edits(
        raw.response.as_ref(),
        &format!("{what}: headers.response"),
        diag,
    );
    HeaderRules {
        request_add,
        request_remove,
        response_add,
        response_remove,
    }
}

type Edits = (Vec<(HeaderName, HeaderValue)>, Vec<HeaderName>);

fn edits(raw: Option<&RawHeaderEdits>, what: &str, diag: &mut Diagnostics) -> Edits {
    let Some(raw) = raw else {
        return Edits::default();
    };
    let add = raw
        .add
        .0
        .iter()
        .filter_map(|(name, value)| {
            let name = addable_name(name, &format!("{what}.add"), diag)?;
            Some((name, header_value(value, &format!("{what}.add"), diag)?))
        })
        .collect();
    let remove = raw
        .remove
        .iter()
        .filter_map(|name| header_name(name, &format!("{what}.remove"), diag))
        .collect();
    (add, remove)
}

fn header_name(text: &Text, what: &str, diag: &mut Diagnostics) -> Option<HeaderName> {
    HeaderName::from_bytes(text.as_bytes())
        .map_err(|_| {
            diag.error(
                text.span(),
                format!("{what}: \"{}\" is not a valid header name", text.as_str()),
            )
        })
        .ok()
}

fn addable_name(text: &Text, what: &str, diag: &mut Diagnostics) -> Option<HeaderName> {
    let name = header_name(text, what, diag)?;
    if NOT_ADDABLE.contains(&name.as_str()) {
        diag.error(
            text.span(),
            format!("{what}: \"{name}\" is managed by the proxy and cannot be added"),
        );
        return None;
    }
    Some(name)
}

fn header_value(text: &Text, what: &str, diag: &mut Diagnostics) -> Option<HeaderValue> {
    HeaderValue::from_str(text)
        .map_err(|_| {
            diag.error(
                text.span(),
                format!(
                    "{what}: the value {:?} is not a valid header value (visible ASCII only, no line breaks)",
                    text.as_str()
                ),
            )
        })
        .ok()
}
