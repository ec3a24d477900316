//! A limiter's key as its map stores it: short keys (a client address, a
//! tenant or consumer name) inline, longer ones on the heap.
//!
//! With `Box<[u8]>` keys every check allocated a key just to look it up
//! (governor's keyed limiter takes the map's own key type), about a tenth
//! of the local limiter's cost per request in callgrind
//! (docs/latency-comparison.md, "The local rate limiter, cheaper"). A key
//! of at most [`INLINE`] bytes (an IPv6 address in text is at most 45) is
//! now built on the stack; the map's entries stay as small as before.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Longest key kept inline.
const INLINE: usize = 46;

#[derive(Clone)]
pub enum StoredKey {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl StoredKey {
    pub fn new(key: &[u8]) -> Self {
        if key.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..key.len()].copy_from_slice(key);
            // At most INLINE (46): fits a byte.
            Self::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            Self::Heap(key.into())
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Heap(bytes) => bytes,
        }
    }
}

// Equality and hashing are those of the bytes, so that a map of these
// can be searched with a `&[u8]` (`Borrow`).
impl PartialEq for StoredKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for StoredKey {}

impl Hash for StoredKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl Borrow<[u8]> for StoredKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StoredKey({:?})",
            String::from_utf8_lossy(self.as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn short_and_long_keys_keep_their_bytes() {
        let short = StoredKey::new(b"203.0.113.9");
        assert!(matches!(short, StoredKey::Inline { .. }));
        assert_eq!(short.as_bytes(), b"203.0.113.9");
        let edge = [7u8; INLINE];
        assert!(matches!(StoredKey::new(&edge), StoredKey::Inline { .. }));
        assert_eq!(StoredKey::new(&edge).as_bytes(), edge);
        let long = [9u8; INLINE + 1];
        assert!(matches!(StoredKey::new(&long), StoredKey::Heap(_)));
        assert_eq!(StoredKey::new(&long).as_bytes(), long);
        assert_eq!(StoredKey::new(b"").as_bytes(), b"");
    }

    #[test]
    fn keys_equal_and_hash_as_their_bytes() {
        let hasher = std::collections::hash_map::RandomState::new();
        for key in [&b"a"[..], &[1u8; 60][..], b""] {
            let stored = StoredKey::new(key);
            assert_eq!(hasher.hash_one(&stored), hasher.hash_one(key));
        }
        assert_ne!(StoredKey::new(b"ab"), StoredKey::new(b"ab\0"));
        let mut map = HashMap::new();
        map.insert(StoredKey::new(b"10.0.0.1"), 1);
        map.insert(StoredKey::new(&[5u8; 100]), 2);
        assert_eq!(map.get(&b"10.0.0.1"[..]), Some(&1));
        assert_eq!(map.get(&[5u8; 100][..]), Some(&2));
        assert_eq!(map.get(&b"10.0.0.2"[..]), None);
    }
}
