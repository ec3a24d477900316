//! API-key verification: the presented key is hashed (SHA-256) and
//! compared with every configured hash in constant time (`subtle`), so
//! neither the answer's timing nor an early exit tells how close a guess
//! was or where in the list a key sits. The cost is one hash plus one
//! 32-byte comparison per configured key: linear in the set's size, which
//! the config bounds.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::config::model::security::{ApiKeyEntry, ApiKeySet};
use crate::context::Principal;

/// The longest API key read (bytes).
pub const MAX_API_KEY_BYTES: usize = 512;

/// The entry whose hash is the key's, if any.
pub fn lookup<'a>(set: &'a ApiKeySet, key: &str) -> Option<&'a ApiKeyEntry> {
    if key.is_empty() || key.len() > MAX_API_KEY_BYTES {
        return None;
    }
    let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    let mut found = 0u32;
    let mut index = 0u32;
    for (position, entry) in set.keys.iter().enumerate() {
        let matched = entry.sha256.ct_eq(&hash);
        let position = u32::try_from(position + 1).unwrap_or(u32::MAX);
        index.conditional_assign(&position, matched);
        found |= u32::from(matched.unwrap_u8());
    }
    (found == 1)
        .then(|| set.keys.get(usize::try_from(index).ok()?.checked_sub(1)?))
        .flatten()
}

/// The principal an API key stands for.
pub fn principal(entry: &ApiKeyEntry) -> Principal {
    Principal {
        subject: None,
        consumer: Some(Arc::clone(&entry.consumer)),
        scopes: entry.scopes.iter().cloned().collect(),
        claims: Arc::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> ApiKeySet {
        let entry = |key: &str, consumer: &str| ApiKeyEntry {
            sha256: Sha256::digest(key.as_bytes()).into(),
            consumer: Arc::from(consumer),
            scopes: vec![Arc::from("orders:read")],
        };
        ApiKeySet {
            name: "partners".into(),
            header: None,
            query: None,
            keys: vec![entry("alpha-key", "alpha"), entry("beta-key", "beta")],
        }
    }

    #[test]
    fn a_key_maps_to_its_consumer_and_scopes() {
        let set = set();
        assert_eq!(&*lookup(&set, "beta-key").unwrap().consumer, "beta");
        assert_eq!(&*lookup(&set, "alpha-key").unwrap().consumer, "alpha");
        assert!(lookup(&set, "gamma-key").is_none());
        assert!(lookup(&set, "").is_none());
        let principal = principal(lookup(&set, "alpha-key").unwrap());
        assert!(principal.has_scopes(["orders:read"]));
        assert_eq!(principal.consumer.as_deref(), Some("alpha"));
    }
}
