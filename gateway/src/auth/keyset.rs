//! [`KeySet`]: a provider's decoding keys, indexed by `kid`, and the rule
//! that picks the key for a token: same `kid` (when the token names one;
//! a key that names none may verify any token),
//! a key type that fits the token's `alg`, and the key's own `alg` (when
//! the JWK states one) equal to it. A key never verifies a token of
//! another family, so an RSA public key can never be used as an HMAC
//! secret.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

/// One usable key.
#[derive(Clone)]
pub struct KeyEntry {
    pub kid: Option<String>,
    /// The JWK's `alg`, when stated.
    pub alg: Option<Algorithm>,
    /// The EC curve, for ES256 / ES384.
    pub curve: Option<EllipticCurve>,
    pub key: DecodingKey,
}

/// The keys one provider verifies with.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<KeyEntry>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|k| k.kid.as_deref()).collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    pub fn single(key: DecodingKey) -> Self {
        Self {
            keys: vec![KeyEntry {
                kid: None,
                alg: None,
                curve: None,
                key,
            }],
        }
    }

    /// The usable keys of a JWKS document; keys of unknown types, or meant
    /// for encryption (`use: enc`), are skipped. `None` when the document
    /// is not a JWKS.
    pub fn from_jwks(document: &[u8]) -> Option<Self> {
        let set: JwkSet = serde_json::from_slice(document).ok()?;
        let keys = set.keys.iter().filter_map(entry).collect();
        Some(Self { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with this `kid` is in the set.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The keys that may verify a token with this header, best first: for
    /// a token naming a `kid`, the keys with that `kid`, then the keys
    /// that name none (a `key_pem` or `secret` key, a JWK without `kid`:
    /// a token's `kid` is only a hint, and identity providers put one in
    /// every token); for a token naming none, every key.
    pub fn candidates<'a>(
        &'a self,
        alg: Algorithm,
        kid: Option<&'a str>,
    ) -> impl Iterator<Item = &'a DecodingKey> + 'a {
        let named = self
            .keys
            .iter()
            .filter(move |entry| kid.is_some() && entry.kid.as_deref() == kid);
        let unnamed = self
            .keys
            .iter()
            .filter(move |entry| kid.is_none() || entry.kid.is_none());
        named
            .chain(unnamed)
            .filter(move |entry| fits(entry, alg))
            .map(|entry| &entry.key)
    }
}

/// Whether `entry` may verify a token signed with `alg`.
fn fits(entry: &KeyEntry, alg: Algorithm) -> bool {
    if entry.key.family() != alg.family() || entry.alg.is_some_and(|own| own != alg) {
        return false;
    }
    match (alg, &entry.curve) {
        (Algorithm::ES256, Some(curve)) => *curve == EllipticCurve::P256,
        (Algorithm::ES384, Some(curve)) => *curve == EllipticCurve::P384,
        _ => true,
    }
}

fn entry(jwk: &Jwk) -> Option<KeyEntry> {
    use jsonwebtoken::jwk::PublicKeyUse;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let curve = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(params) => Some(params.curve.clone()),
        AlgorithmParameters::OctetKeyPair(params) if params.curve != EllipticCurve::Ed25519 => {
            return None;
        }
        _ => None,
    };
    // A JWK whose `alg` the gateway does not know is not usable.
    let alg = match jwk.common.key_algorithm {
        Some(alg) => Some(alg.to_string().parse::<Algorithm>().ok()?),
        None => None,
    };
    if key.family() == AlgorithmFamily::Hmac {
        // Symmetric keys come from `secret:` only, never from a JWKS.
        return None;
    }
    Some(KeyEntry {
        kid: jwk.common.key_id.clone(),
        alg,
        curve,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_JWK: &str = r#"{"keys":[{"kty":"RSA","kid":"r1","alg":"RS256","use":"sig","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"},{"kty":"EC","kid":"e1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},{"kty":"oct","kid":"h1","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"}]}"#;

    #[test]
    fn a_jwks_yields_its_asymmetric_keys_only() {
        let set = KeySet::from_jwks(RSA_JWK.as_bytes()).unwrap();
        assert_eq!(set.len(), 2, "{set:?}");
        assert!(set.has_kid("r1") && set.has_kid("e1") && !set.has_kid("h1"));
    }

    #[test]
    fn a_key_verifies_only_tokens_of_its_own_family_curve_and_alg() {
        let set = KeySet::from_jwks(RSA_JWK.as_bytes()).unwrap();
        assert_eq!(set.candidates(Algorithm::RS256, Some("r1")).count(), 1);
        // The JWK says RS256: PS256 with the same key is refused.
        assert_eq!(set.candidates(Algorithm::PS256, Some("r1")).count(), 0);
        // An RSA key is never an HMAC secret.
        assert_eq!(set.candidates(Algorithm::HS256, Some("r1")).count(), 0);
        assert_eq!(set.candidates(Algorithm::HS256, None).count(), 0);
        assert_eq!(set.candidates(Algorithm::ES256, Some("e1")).count(), 1);
        // A P-256 key does not verify ES384.
        assert_eq!(set.candidates(Algorithm::ES384, Some("e1")).count(), 0);
        assert_eq!(set.candidates(Algorithm::ES256, Some("r1")).count(), 0);
        assert_eq!(set.candidates(Algorithm::RS256, Some("nope")).count(), 0);
    }

    #[test]
    fn a_key_without_a_kid_verifies_tokens_that_name_one() {
        let pem = DecodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let single = KeySet::single(pem);
        assert_eq!(single.candidates(Algorithm::HS256, Some("any")).count(), 1);
        assert_eq!(single.candidates(Algorithm::HS256, None).count(), 1);
        // A JWKS key with a kid serves its own kid only; one without
        // serves every kid, after the named ones.
        let set = KeySet::from_jwks(br#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#).unwrap();
        assert_eq!(set.candidates(Algorithm::ES256, Some("k9")).count(), 1);
        let named = KeySet::from_jwks(RSA_JWK.as_bytes()).unwrap();
        assert_eq!(named.candidates(Algorithm::RS256, Some("other")).count(), 0);
    }

    #[test]
    fn a_document_that_is_not_a_jwks_is_refused() {
        assert!(KeySet::from_jwks(b"{\"keys\": 3}").is_none());
        assert!(KeySet::from_jwks(b"<html>").is_none());
    }
}
