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
//!
//! A **manifest** of trusted documents ([`Manifest`]) adds operations
//! known by id. With `trusted_only: true` (trusted-documents mode) only
//! they are served: by id, or as text equal to a manifest document;
//! anything else gets 400 `PERSISTED_QUERY_NOT_IN_LIST`, and APQ
//! registration is off.

use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::RequestError;
use super::request::GraphqlRequest;
pub use crate::config::model::{Manifest, PersistedSettings};

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

    /// Fills `request.query` from the manifest or the store, or registers
    /// its text; in trusted-documents mode, refuses what the manifest does
    /// not hold. Requests without `persistedQuery` must have a query.
    pub fn resolve(&self, request: &mut GraphqlRequest) -> Result<(), RequestError> {
        let manifest = self.settings.manifest.as_deref();
        let Some(persisted) = request.extensions.get("persistedQuery") else {
            if request.query.is_empty() {
                return Err(RequestError::BadRequest(
                    "the request has no `query` (and no persisted query hash)".to_owned(),
                ));
            }
            if self.settings.trusted_only
                && !manifest.is_some_and(|m| m.contains_text(&request.query))
            {
                return Err(RequestError::PersistedQueryNotInList);
            }
            return Ok(());
        };
        check_version(persisted)?;
        let id = persisted
            .get("sha256Hash")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_extension("`sha256Hash` is missing"))?
            .to_owned();
        let id = id.as_str();
        if let Some(document) = manifest.and_then(|m| m.document(id)) {
            if request.query.is_empty() {
                request.query = document.as_ref().to_owned();
            } else if request.query != document.as_ref() {
                return Err(RequestError::PersistedQueryHashMismatch);
            }
            return Ok(());
        }
        if self.settings.trusted_only {
            return Err(RequestError::PersistedQueryNotInList);
        }
        self.automatic(request, id)
    }

    /// The APQ protocol for a hash the manifest does not hold.
    fn automatic(&self, request: &mut GraphqlRequest, id: &str) -> Result<(), RequestError> {
        if !self.settings.apq {
            return Err(RequestError::PersistedQueryNotSupported);
        }
        let hash = parse_hex(id)
            .ok_or_else(|| bad_extension("`sha256Hash` must be 64 hexadecimal digits"))?;
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

fn bad_extension(what: &str) -> RequestError {
    RequestError::BadRequest(format!("extensions.persistedQuery: {what}"))
}

fn check_version(persisted: &Value) -> Result<(), RequestError> {
    if persisted.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(bad_extension("`version` must be 1"));
    }
    Ok(())
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
    fn trusted_documents_mode_serves_only_the_manifest() {
        let manifest = Manifest::parse(br#"{"op-1": "{ customers { id } }"}"#).unwrap();
        let store = PersistedQueries::new(PersistedSettings {
            manifest: Some(Arc::new(manifest)),
            trusted_only: true,
            ..PersistedSettings::default()
        });
        let mut by_id = request("", "op-1");
        store.resolve(&mut by_id).unwrap();
        assert_eq!(by_id.query, "{ customers { id } }");
        let mut by_text = GraphqlRequest {
            query: "{ customers { id } }".to_owned(),
            ..GraphqlRequest::default()
        };
        store.resolve(&mut by_text).unwrap();
        let mut unknown_text = GraphqlRequest {
            query: "{ customers { name } }".to_owned(),
            ..GraphqlRequest::default()
        };
        let code = |r: Result<(), RequestError>| r.unwrap_err().code();
        assert_eq!(
            code(store.resolve(&mut unknown_text)),
            "PERSISTED_QUERY_NOT_IN_LIST"
        );
        let query = "{ customers { name } }";
        // APQ registration is off in this mode.
        let mut register = request(query, &sha256_hex(query));
        assert_eq!(
            code(store.resolve(&mut register)),
            "PERSISTED_QUERY_NOT_IN_LIST"
        );
        let mut wrong_text = request("{ other }", "op-1");
        assert_eq!(
            code(store.resolve(&mut wrong_text)),
            "PERSISTED_QUERY_HASH_MISMATCH"
        );
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
