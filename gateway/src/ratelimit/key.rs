//! Pure: a request's key for one limit, from its client address, a
//! header, the principal's claim or consumer (else its JWT subject, as
//! the access log names it), or several of these.
//!
//! Parts are joined with 0x1F (a byte no header value may hold), so two
//! different part lists never make the same key. A key longer than
//! [`MAX_KEY_BYTES`] is replaced by its SHA-256, so what a limiter stores
//! per key is bounded whatever the client sends.

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::config::model::rate_limit::{KeySource, MissingKey};
use crate::context::Principal;
use crate::ip_text::IpText;

/// Longest key kept as is; longer keys are hashed.
pub const MAX_KEY_BYTES: usize = 128;
/// Joins the parts of a composite key.
const SEPARATOR: u8 = 0x1f;
/// The key of the requests without a value when `missing_key: shared`.
const SHARED_MISSING: &[u8] = b"\x1fmissing";
/// Before the client address, when `missing_key: client_ip` (the
/// separator first: no key value can be the same bytes).
const CLIENT_IP_MISSING: &[u8] = b"\x1fip:";

/// What a key is read from.
pub struct KeyInputs<'a> {
    pub client_ip: std::net::IpAddr,
    pub headers: &'a HeaderMap,
    pub principal: Option<&'a Principal>,
}

/// The key of `inputs` for a limit keyed on `sources`; `None` when the
/// limit does not apply (a part is missing and `missing` is `skip`).
pub fn key_for(
    sources: &[KeySource],
    missing: MissingKey,
    inputs: &KeyInputs<'_>,
) -> Option<Vec<u8>> {
    let mut key = Vec::with_capacity(48);
    write_key(&mut key, sources, missing, inputs).then_some(key)
}

/// [`key_for`] into `key` (cleared first), a buffer the caller reuses:
/// `false` when the limit does not apply.
pub fn write_key(
    key: &mut Vec<u8>,
    sources: &[KeySource],
    missing: MissingKey,
    inputs: &KeyInputs<'_>,
) -> bool {
    key.clear();
    for (index, source) in sources.iter().enumerate() {
        if index > 0 {
            key.push(SEPARATOR);
        }
        if !append_part(key, source, inputs) {
            key.clear();
            return match missing {
                MissingKey::Skip => false,
                MissingKey::Shared => {
                    key.extend_from_slice(SHARED_MISSING);
                    true
                }
                MissingKey::ClientIp => {
                    key.extend_from_slice(CLIENT_IP_MISSING);
                    append_part(key, &KeySource::ClientIp, inputs);
                    true
                }
            };
        }
    }
    if key.len() > MAX_KEY_BYTES {
        // The separator first: no header value can forge a hashed key.
        let digest = hex::encode(Sha256::digest(&key));
        key.clear();
        key.push(SEPARATOR);
        key.extend_from_slice(digest.as_bytes());
    }
    true
}

/// Appends one part; `false` when the request has no value for it (an
/// empty header value counts as none, as in nginx).
fn append_part(key: &mut Vec<u8>, source: &KeySource, inputs: &KeyInputs<'_>) -> bool {
    match source {
        KeySource::ClientIp => {
            key.extend_from_slice(
                IpText::of(inputs.client_ip.to_canonical())
                    .as_str()
                    .as_bytes(),
            );
            true
        }
        KeySource::Header(name) => match inputs.headers.get(name) {
            Some(value) if !value.is_empty() => {
                key.extend_from_slice(value.as_bytes());
                true
            }
            _ => false,
        },
        KeySource::Consumer => match inputs.principal.and_then(Principal::consumer_name) {
            Some(consumer) => {
                key.extend_from_slice(consumer.as_bytes());
                true
            }
            None => false,
        },
        KeySource::Claim(claim) => {
            let value = inputs.principal.and_then(|p| p.claims.get(claim));
            match value {
                None | Some(serde_json::Value::Null) => false,
                Some(serde_json::Value::String(text)) if text.is_empty() => false,
                Some(serde_json::Value::String(text)) => {
                    key.extend_from_slice(text.as_bytes());
                    true
                }
                Some(other) => {
                    key.extend_from_slice(other.to_string().as_bytes());
                    true
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::{HeaderMap, HeaderName, HeaderValue};
    use serde_json::json;

    use super::*;

    fn inputs<'a>(headers: &'a HeaderMap, principal: Option<&'a Principal>) -> KeyInputs<'a> {
        KeyInputs {
            client_ip: "203.0.113.9".parse().unwrap(),
            headers,
            principal,
        }
    }

    fn tenant() -> KeySource {
        KeySource::Header(HeaderName::from_static("x-tenant"))
    }

    #[test]
    fn each_source_reads_its_value() {
        let mut headers = HeaderMap::new();
        headers.insert("x-tenant", HeaderValue::from_static("acme"));
        let principal = Principal {
            consumer: Some(Arc::from("mobile-app")),
            claims: Arc::new(json!({"sub": "u1", "org": 42}).as_object().unwrap().clone()),
            ..Principal::default()
        };
        let inputs = inputs(&headers, Some(&principal));
        let key = |source: KeySource| key_for(&[source], MissingKey::Skip, &inputs);
        assert_eq!(key(KeySource::ClientIp).unwrap(), b"203.0.113.9");
        assert_eq!(key(tenant()).unwrap(), b"acme");
        assert_eq!(key(KeySource::Consumer).unwrap(), b"mobile-app");
        assert_eq!(key(KeySource::Claim("sub".into())).unwrap(), b"u1");
        assert_eq!(key(KeySource::Claim("org".into())).unwrap(), b"42");
        let composite = key_for(&[KeySource::ClientIp, tenant()], MissingKey::Skip, &inputs);
        assert_eq!(composite.unwrap(), b"203.0.113.9\x1facme");
    }

    #[test]
    fn the_consumer_key_falls_back_to_the_jwt_subject() {
        let headers = HeaderMap::new();
        let token = |consumer: Option<&str>, subject: Option<&str>| Principal {
            consumer: consumer.map(Arc::from),
            subject: subject.map(Arc::from),
            ..Principal::default()
        };
        let key = |principal: &Principal| {
            key_for(
                &[KeySource::Consumer],
                MissingKey::Skip,
                &inputs(&headers, Some(principal)),
            )
        };
        assert_eq!(key(&token(None, Some("u1"))).unwrap(), b"u1");
        assert_eq!(key(&token(Some("app"), Some("u1"))).unwrap(), b"app");
        assert_eq!(key(&token(Some(""), Some("u1"))).unwrap(), b"u1");
        assert_eq!(key(&token(None, Some(""))), None);
        assert_eq!(key(&token(None, None)), None);
    }

    #[test]
    fn a_missing_part_skips_the_limit_or_shares_one_bucket() {
        let headers = HeaderMap::new();
        let inputs = inputs(&headers, None);
        let sources = [KeySource::ClientIp, tenant()];
        assert_eq!(key_for(&sources, MissingKey::Skip, &inputs), None);
        assert_eq!(
            key_for(&[KeySource::Consumer], MissingKey::Shared, &inputs).unwrap(),
            SHARED_MISSING
        );
        assert_eq!(
            key_for(&[KeySource::Claim("sub".into())], MissingKey::Skip, &inputs),
            None
        );
    }

    #[test]
    fn a_missing_part_can_fall_back_to_the_client_address_apart_from_keyed_buckets() {
        let headers = HeaderMap::new();
        let anonymous = inputs(&headers, None);
        let fallback = key_for(&[KeySource::Consumer], MissingKey::ClientIp, &anonymous).unwrap();
        assert_eq!(fallback, b"\x1fip:203.0.113.9");
        // A consumer named like the address has a bucket of its own.
        let principal = Principal {
            consumer: Some(Arc::from("203.0.113.9")),
            ..Principal::default()
        };
        let named = inputs(&headers, Some(&principal));
        let keyed = key_for(&[KeySource::Consumer], MissingKey::ClientIp, &named).unwrap();
        assert_eq!(keyed, b"203.0.113.9");
        assert_ne!(keyed, fallback);
    }

    /// A reused buffer gives the same key as a fresh one, whatever it
    /// held before, for every outcome.
    #[test]
    fn writing_into_a_reused_buffer_gives_the_same_keys() {
        let mut headers = HeaderMap::new();
        headers.insert("x-tenant", HeaderValue::from_static("acme"));
        let long = HeaderMap::from_iter([(
            HeaderName::from_static("x-tenant"),
            HeaderValue::from_str(&"y".repeat(500)).unwrap(),
        )]);
        let empty = HeaderMap::new();
        let mut buffer = b"left over from another request".to_vec();
        for headers in [&headers, &long, &empty] {
            for missing in [MissingKey::Skip, MissingKey::Shared, MissingKey::ClientIp] {
                for sources in [vec![tenant()], vec![KeySource::ClientIp, tenant()]] {
                    let inputs = inputs(headers, None);
                    let fresh = key_for(&sources, missing, &inputs);
                    let applies = write_key(&mut buffer, &sources, missing, &inputs);
                    assert_eq!(fresh.is_some(), applies);
                    if let Some(fresh) = fresh {
                        assert_eq!(fresh, buffer);
                    }
                }
            }
        }
    }

    #[test]
    fn an_empty_header_is_no_value() {
        let mut headers = HeaderMap::new();
        headers.insert("x-tenant", HeaderValue::from_static(""));
        assert_eq!(
            key_for(&[tenant()], MissingKey::Skip, &inputs(&headers, None)),
            None
        );
    }

    #[test]
    fn long_keys_are_hashed_to_a_bounded_size() {
        let mut headers = HeaderMap::new();
        let long = "x".repeat(10_000);
        headers.insert("x-tenant", HeaderValue::from_str(&long).unwrap());
        let key = key_for(&[tenant()], MissingKey::Skip, &inputs(&headers, None)).unwrap();
        assert_eq!(key.len(), 65);
        headers.insert(
            "x-tenant",
            HeaderValue::from_str(&format!("{long}y")).unwrap(),
        );
        let other = key_for(&[tenant()], MissingKey::Skip, &inputs(&headers, None)).unwrap();
        assert_ne!(key, other);
    }
}
