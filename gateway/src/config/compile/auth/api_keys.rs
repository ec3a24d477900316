//! `auth.api_keys.<name>`: where the key is read (header, query parameter),
//! and the keys as SHA-256 hashes with their consumer, written inline or in
//! a `keys_file` (a YAML list of the same entries, read when the config is
//! loaded; its errors name the file's own line and column).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use http::HeaderName;
use marked_yaml::{Span, Spanned};

use super::super::super::errors::Diagnostics;
use super::super::super::model::security::{ApiKeyEntry, ApiKeySet};
use super::super::super::raw::Text;
use super::super::super::raw_security::{RawApiKey, RawApiKeySet};

/// The header read when a set names neither a header nor a query parameter.
const DEFAULT_HEADER: &str = "x-api-key";

pub(super) fn compile_set(
    name: &Text,
    raw: &Spanned<RawApiKeySet>,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<ApiKeySet> {
    let label = format!("auth.api_keys.{}", name.as_str());
    let before = diag.error_count();
    let header = match &raw.header {
        Some(text) => HeaderName::from_bytes(text.trim().as_bytes())
            .map_err(|_| {
                diag.error(
                    text.span(),
                    format!(
                        "{label}: header: \"{}\" is not a header name",
                        text.as_str()
                    ),
                )
            })
            .ok(),
        None if raw.query.is_none() => Some(HeaderName::from_static(DEFAULT_HEADER)),
        None => None,
    };
    let mut keys = Vec::new();
    for entry in &raw.keys {
        keys.extend(compile_key(entry, None, &label, diag));
    }
    if let Some(file) = &raw.keys_file {
        keys.extend(keys_from_file(file, base_dir, &label, diag));
    }
    if keys.is_empty() && diag.error_count() == before {
        diag.error(
            raw.span(),
            format!("{label}: lists no key; add `keys:` or `keys_file:`"),
        );
    }
    check_unique(&keys, raw.span(), &label, diag);
    (diag.error_count() == before).then(|| ApiKeySet {
        name: name.as_str().to_owned(),
        header,
        query: raw.query.as_ref().map(|q| q.as_str().to_owned()),
        keys,
    })
}

/// One entry; `at` replaces the entry's own positions (entries read from
/// a `keys_file` are reported at the `keys_file` key, with their place in
/// that file in the message).
fn compile_key(
    raw: &RawApiKey,
    at: Option<(&Span, &str)>,
    label: &str,
    diag: &mut Diagnostics,
) -> Option<ApiKeyEntry> {
    let mut report = |text: &Text, message: String| match at {
        Some((span, file)) => {
            let mark = text.span().start();
            let (line, column) = mark.map_or((0, 0), |m| (m.line(), m.column()));
            diag.error(span, format!("{label}: {file}:{line}:{column}: {message}"));
        }
        None => diag.error(text.span(), format!("{label}: {message}")),
    };
    let sha256 = match parse_sha256(&raw.sha256) {
        Ok(hash) => Some(hash),
        Err(message) => {
            report(&raw.sha256, message);
            None
        }
    };
    if raw.consumer.trim().is_empty() {
        report(&raw.consumer, "consumer: must not be empty".to_owned());
        return None;
    }
    Some(ApiKeyEntry {
        sha256: sha256?,
        consumer: Arc::from(raw.consumer.trim()),
        scopes: raw.scopes.iter().map(|s| Arc::from(s.as_str())).collect(),
    })
}

/// 64 hex digits (either case).
pub(crate) fn parse_sha256(text: &str) -> Result<[u8; 32], String> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut hash).map_err(|_| {
        format!(
            "sha256: \"{text}\" is not a SHA-256 hash (64 hex digits, e.g. the output of `printf %s KEY | sha256sum`)"
        )
    })?;
    Ok(hash)
}

fn keys_from_file(
    file: &Text,
    base_dir: &Path,
    label: &str,
    diag: &mut Diagnostics,
) -> Vec<ApiKeyEntry> {
    let path = base_dir.join(file.as_str());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => {
            diag.error(
                file.span(),
                format!(
                    "{label}: keys_file: cannot read {}: {error}",
                    path.display()
                ),
            );
            return Vec::new();
        }
    };
    let options = marked_yaml::LoaderOptions::default().toplevel_sequence();
    let parsed = marked_yaml::parse_yaml_with_options(0, &text, options)
        .map_err(|error| error.to_string())
        .and_then(|node| {
            marked_yaml::from_node::<Vec<RawApiKey>>(&node).map_err(|error| error.to_string())
        });
    match parsed {
        Ok(entries) => entries
            .iter()
            .filter_map(|entry| compile_key(entry, Some((file.span(), file.as_str())), label, diag))
            .collect(),
        Err(error) => {
            diag.error(
                file.span(),
                format!(
                    "{label}: keys_file {}: expected a list of {{consumer, sha256, scopes}} entries: {error}",
                    file.as_str()
                ),
            );
            Vec::new()
        }
    }
}

fn check_unique(keys: &[ApiKeyEntry], span: &Span, label: &str, diag: &mut Diagnostics) {
    let mut seen: HashMap<[u8; 32], &str> = HashMap::new();
    for key in keys {
        if let Some(first) = seen.insert(key.sha256, &key.consumer) {
            diag.error(
                span,
                format!(
                    "{label}: the same key hash is listed for \"{first}\" and \"{}\"",
                    key.consumer
                ),
            );
        }
    }
}
