//! `Prefer: respond-async` (RFC 7240): whether a request on an
//! `on_request` async route asks to be stored and answered 202.

use http::HeaderMap;
use http::header::HeaderName;

use crate::config::model::events::AsyncMode;

/// `Prefer`, the request header (RFC 7240).
pub static PREFER: HeaderName = HeaderName::from_static("prefer");
/// `Preference-Applied`, the response header (RFC 7240 §3).
pub static PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// Whether this request is stored and answered 202 on a route with `mode`.
pub fn goes_async(mode: AsyncMode, headers: &HeaderMap) -> bool {
    match mode {
        AsyncMode::Always => true,
        AsyncMode::OnRequest => prefers_respond_async(headers),
    }
}

/// Whether any `Prefer` header holds the `respond-async` preference
/// (tokens are case-insensitive; parameters after `;` and other
/// preferences are ignored). A value that is not visible ASCII is ignored.
pub fn prefers_respond_async(headers: &HeaderMap) -> bool {
    headers
        .get_all(&PREFER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|preference| preference.split([';', '=']).next())
        .any(|token| token.trim().eq_ignore_ascii_case("respond-async"))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(&PREFER, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn respond_async_is_found_among_other_preferences() {
        assert!(prefers_respond_async(&headers(&["respond-async"])));
        assert!(prefers_respond_async(&headers(&["Respond-Async, wait=10"])));
        // After `;` it is a parameter of `return`, not a preference.
        assert!(!prefers_respond_async(&headers(&[
            "wait=5",
            "return=minimal; respond-async"
        ])));
        assert!(prefers_respond_async(&headers(&[
            "return=minimal",
            " respond-async ;x=1"
        ])));
        assert!(!prefers_respond_async(&headers(&[])));
        assert!(!prefers_respond_async(&headers(&[
            "respond-asynchronously"
        ])));
    }

    #[test]
    fn the_mode_decides_first() {
        assert!(goes_async(AsyncMode::Always, &headers(&[])));
        assert!(!goes_async(
            AsyncMode::OnRequest,
            &headers(&["return=minimal"])
        ));
        assert!(goes_async(
            AsyncMode::OnRequest,
            &headers(&["respond-async"])
        ));
    }
}
