//! The trusted-documents manifest: the operations a locked-down
//! deployment serves, by id. Two formats are read:
//!
//! * Apollo's persisted query manifest, as `generate-persisted-query-manifest`
//!   writes it: `{"format": "apollo-persisted-query-manifest", "version": 1,
//!   "operations": [{"id": "…", "body": "…", "name": "…", "type": "query"}]}`;
//! * a flat object of id → document, as Relay, urql's and GraphQL Code
//!   Generator's persisted-documents output write it.
//!
//! Clients send the id as `extensions.persistedQuery.sha256Hash`. A request
//! that sends the full text instead matches when the text's SHA-256 is
//! the SHA-256 of a manifest document.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

const APOLLO_FORMAT: &str = "apollo-persisted-query-manifest";

/// A loaded manifest. Two manifests are equal when their files are.
#[derive(Debug)]
pub struct Manifest {
    by_id: HashMap<String, Arc<str>>,
    bodies: HashSet<[u8; 32]>,
    digest: [u8; 32],
}

impl PartialEq for Manifest {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}

impl Manifest {
    /// Reads a manifest file's bytes; the error says what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let json: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
        let Value::Object(object) = json else {
            return Err(shape_error());
        };
        let entries: Vec<(String, String)> =
            if object.get("format").and_then(Value::as_str) == Some(APOLLO_FORMAT) {
                apollo_operations(&object)?
            } else {
                object
                    .into_iter()
                    .map(|(id, body)| match body {
                        Value::String(body) => Ok((id, body)),
                        _ => Err(shape_error()),
                    })
                    .collect::<Result<_, _>>()?
            };
        let mut manifest = Manifest {
            by_id: HashMap::with_capacity(entries.len()),
            bodies: HashSet::with_capacity(entries.len()),
            digest: Sha256::digest(bytes).into(),
        };
        for (id, body) in entries {
            manifest
                .bodies
                .insert(Sha256::digest(body.as_bytes()).into());
            manifest.by_id.insert(id, Arc::from(body));
        }
        Ok(manifest)
    }

    /// The document with `id` (hex ids match in any case).
    pub fn document(&self, id: &str) -> Option<&Arc<str>> {
        self.by_id
            .get(id)
            .or_else(|| self.by_id.get(&id.to_ascii_lowercase()))
    }

    /// Whether `text` is one of the manifest's documents.
    pub fn contains_text(&self, text: &str) -> bool {
        let hash: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        self.bodies.contains(&hash)
    }

    /// The SHA-256 of the file.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

fn shape_error() -> String {
    format!(
        "expected an Apollo persisted query manifest ({{\"format\": \"{APOLLO_FORMAT}\", \"operations\": [{{\"id\", \"body\"}}]}}) or an object of id → document"
    )
}

fn apollo_operations(
    object: &serde_json::Map<String, Value>,
) -> Result<Vec<(String, String)>, String> {
    if object.get("version").and_then(Value::as_u64) != Some(1) {
        return Err("only version 1 of the Apollo manifest format is known".to_owned());
    }
    let operations = object
        .get("operations")
        .and_then(Value::as_array)
        .ok_or_else(|| "`operations` must be a list".to_owned())?;
    operations
        .iter()
        .enumerate()
        .map(|(index, operation)| {
            let field = |name: &str| {
                operation
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("operations[{index}] needs a string `{name}`"))
            };
            Ok((field("id")?, field("body")?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_are_read() {
        let apollo = br#"{"format":"apollo-persisted-query-manifest","version":1,
            "operations":[{"id":"ABC","body":"{ a }","name":"A","type":"query"}]}"#;
        let manifest = Manifest::parse(apollo).unwrap();
        assert_eq!(manifest.document("ABC").map(|d| d.as_ref()), Some("{ a }"));
        assert!(manifest.contains_text("{ a }"));
        assert!(!manifest.contains_text("{ a b }"));
        let flat = Manifest::parse(br#"{"abc": "{ b }"}"#).unwrap();
        assert_eq!(flat.document("ABC").map(|d| d.as_ref()), Some("{ b }"));
        assert_eq!(flat.len(), 1);
    }

    #[test]
    fn a_wrong_file_says_what_is_wrong() {
        assert!(
            Manifest::parse(b"[")
                .unwrap_err()
                .starts_with("not valid JSON")
        );
        assert!(
            Manifest::parse(b"[]")
                .unwrap_err()
                .starts_with("expected an Apollo")
        );
        assert!(
            Manifest::parse(br#"{"a": 1}"#)
                .unwrap_err()
                .starts_with("expected an Apollo")
        );
        let missing_body =
            br#"{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"x"}]}"#;
        assert_eq!(
            Manifest::parse(missing_body).unwrap_err(),
            "operations[0] needs a string `body`"
        );
    }
}
