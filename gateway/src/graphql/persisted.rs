//! Automatic persisted queries (APQ), the protocol Apollo Client and urql
//! speak: a request may carry `extensions.persistedQuery = {version: 1,
//! sha256Hash}` instead of (or with) its `query`.
//!
//! * hash only, known → the stored text is used;
//! * hash only, unknown → 200 with `PERSISTED_QUERY_NOT_FOUND` (message
//!   `PersistedQueryNotFound`), and the client sends hash and text;
//! * hash and text → the text's SHA-256 must equal the hash (else 400
//!   `PERSISTED_QUERY_HASH_MISMATCH`); the text is stored under it.
//!
//! With `graphql.persisted_queries.apq: false`, a hash gets 200
//! `PERSISTED_QUERY_NOT_SUPPORTED` and clients fall back to sending text.
//! The store is a moka cache sized in bytes, kept across supergraph
//! reloads (it holds texts, not plans).

use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::RequestError;
use super::request::GraphqlRequest;

/// `graphql.persisted_queries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistedSettings {
    /// Accept and register APQ hashes (default on).
    pub apq: bool,
    /// Memory for registered texts (default 16 MiB).
    pub cache_bytes: u64,
}

impl Default for PersistedSettings {
    fn default() -> Self {
        PersistedSettings {
            apq: true,
            cache_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The registered operation texts, by SHA-256.
pub struct PersistedQueries {
    settings: PersistedSettings,
    texts: moka::sync::Cache<[u8; 32], Arc<str>>,
}

impl PersistedQueries {
    pub fn new(settings: PersistedSettings) -> Self {
        let texts = moka::sync::Cache::builder()
            .max_capacity(settings.cache_bytes)
            .weigher(|_: &[u8; 32], text: &Arc<str>| {
                u32::try_from(text.len() + 64).unwrap_or(u32::MAX)
            })
            .build();
        PersistedQueries { settings, texts }
    }

    /// Fills `request.query` from the store, or registers its text.
    /// Requests without `persistedQuery` pass unchanged, but must have a
    /// query.
    pub fn resolve(&self, request: &mut GraphqlRequest) -> Result<(), RequestError> {
        let Some(persisted) = request.extensions.get("persistedQuery") else {
            if request.query.is_empty() {
                return Err(RequestError::BadRequest(
                    "the request has no `query` (and no persisted query hash)".to_owned(),
                ));
            }
            return Ok(());
        };
        if !self.settings.apq {
            return Err(RequestError::PersistedQueryNotSupported);
        }
        let hash = requested_hash(persisted)?;
        if request.query.is_empty() {
            let text = self
                .texts
                .get(&hash)
                .ok_or(RequestError::PersistedQueryNotFound)?;
            request.query = text.as_ref().to_owned();
            return Ok(());
        }
        let actual: [u8; 32] = Sha256::digest(request.query.as_bytes()).into();
        if actual != hash {
            return Err(RequestError::PersistedQueryHashMismatch);
        }
        self.texts.insert(hash, Arc::from(request.query.as_str()));
        Ok(())
    }
}

/// The 32 bytes of `persistedQuery.sha256Hash` (64 hex digits), version 1.
fn requested_hash(persisted: &Value) -> Result<[u8; 32], RequestError> {
    let bad = |what: &str| RequestError::BadRequest(format!("extensions.persistedQuery: {what}"));
    if persisted.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(bad("`version` must be 1"));
    }
    let hex = persisted
        .get("sha256Hash")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("`sha256Hash` is missing"))?;
    parse_hex(hex).ok_or_else(|| bad("`sha256Hash` must be 64 hexadecimal digits"))
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(query: &str, hash: &str) -> GraphqlRequest {
        let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        GraphqlRequest {
            query: query.to_owned(),
            extensions: extensions.as_object().unwrap().clone(),
            ..GraphqlRequest::default()
        }
    }

    fn sha256_hex(text: &str) -> String {
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn miss_register_hit() {
        let store = PersistedQueries::new(PersistedSettings::default());
        let query = "{ customers { id } }";
        let hash = sha256_hex(query);
        let error = store.resolve(&mut request("", &hash)).unwrap_err();
        assert_eq!(error.code(), "PERSISTED_QUERY_NOT_FOUND");
        store.resolve(&mut request(query, &hash)).unwrap();
        let mut hit = request("", &hash.to_uppercase());
        store.resolve(&mut hit).unwrap();
        assert_eq!(hit.query, query);
    }

    #[test]
    fn a_wrong_hash_and_bad_extensions_are_refused() {
        let store = PersistedQueries::new(PersistedSettings::default());
        let wrong = sha256_hex("{ other }");
        let error = store.resolve(&mut request("{ a }", &wrong)).unwrap_err();
        assert_eq!(error.code(), "PERSISTED_QUERY_HASH_MISMATCH");
        assert_eq!(
            store
                .resolve(&mut request("", "abc"))
                .unwrap_err()
                .to_string(),
            "extensions.persistedQuery: `sha256Hash` must be 64 hexadecimal digits"
        );
        let mut v2 = request("", &wrong);
        v2.extensions["persistedQuery"]["version"] = json!(2);
        assert_eq!(store.resolve(&mut v2).unwrap_err().code(), "BAD_REQUEST");
    }

    #[test]
    fn apq_can_be_switched_off() {
        let store = PersistedQueries::new(PersistedSettings {
            apq: false,
            ..PersistedSettings::default()
        });
        let error = store
            .resolve(&mut request("", &sha256_hex("{ a }")))
            .unwrap_err();
        assert_eq!(error.code(), "PERSISTED_QUERY_NOT_SUPPORTED");
        // Without the extension, nothing changes.
        let mut plain = GraphqlRequest {
            query: "{ a }".to_owned(),
            ..GraphqlRequest::default()
        };
        store.resolve(&mut plain).unwrap();
        assert_eq!(plain.query, "{ a }");
    }
}
