//! Strong entity tags over a JSON representation, and `If-None-Match`
//! matching (weak comparison, as RFC 9110 asks for GET).

use http::HeaderMap;
use http::header::IF_NONE_MATCH;
use sha2::{Digest, Sha256};

/// A quoted strong ETag: the first 16 hex digits of the body's SHA-256.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", &hex::encode(digest)[..16])
}

/// Whether the request's `If-None-Match` matches `etag` (or is `*`).
pub fn if_none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn matches_exact_weak_listed_and_star() {
        let etag = etag_of(b"{}");
        assert_eq!(etag.len(), 18);
        for header in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"x\", {etag}"),
            "*".to_owned(),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(IF_NONE_MATCH, HeaderValue::from_str(&header).unwrap());
            assert!(if_none_match_hits(&headers, &etag), "{header}");
        }
        let mut headers = HeaderMap::new();
        assert!(!if_none_match_hits(&headers, &etag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!if_none_match_hits(&headers, &etag));
    }
}
