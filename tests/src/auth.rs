//! Authentication test kit: signing keys generated in the test (RS256,
//! ES256, EdDSA, HS256), tokens signed with them, and [`MockJwks`], a real
//! HTTP server on 127.0.0.1 port 0 serving a JWKS that the test rotates,
//! counting every fetch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    CommonParameters, EllipticCurve, Jwk, OctetKeyPairParameters, OctetKeyPairType,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// A private key with its `kid` and the public JWK a JWKS publishes.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Option<Jwk>,
    /// The public key in PEM (SPKI), for `key_pem` providers (RSA keys).
    pub public_pem: Option<String>,
}

impl SigningKey {
    /// A fresh RSA 2048 key (RS256).
    pub fn rsa(kid: &str) -> Self {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("rsa key");
        let der = private.to_pkcs1_der().expect("pkcs1");
        let public_pem = rsa::pkcs8::EncodePublicKey::to_public_key_pem(
            &private.to_public_key(),
            rsa::pkcs8::LineEnding::LF,
        )
        .expect("public PEM");
        Self {
            public_pem: Some(public_pem),
            ..Self::asymmetric(
                kid,
                Algorithm::RS256,
                EncodingKey::from_rsa_der(der.as_bytes()),
            )
        }
    }

    /// A fresh P-256 key (ES256).
    pub fn ec(kid: &str) -> Self {
        use p256::pkcs8::EncodePrivateKey;
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let der = secret.to_pkcs8_der().expect("pkcs8");
        Self::asymmetric(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(der.as_bytes()),
        )
    }

    /// A fresh Ed25519 key (EdDSA).
    pub fn ed(kid: &str) -> Self {
        let seed: [u8; 32] = rand::random();
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        // PKCS#8 v1 (RFC 8410): the fixed prefix, then the 32-byte seed.
        let mut der = hex::decode("302e020100300506032b657004220420").expect("hex");
        der.extend_from_slice(&seed);
        let jwk = Jwk {
            common: CommonParameters {
                key_id: Some(kid.to_owned()),
                key_algorithm: Some(jsonwebtoken::jwk::KeyAlgorithm::EdDSA),
                ..Default::default()
            },
            algorithm: jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(
                OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes()),
                },
            ),
        };
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(&der),
            jwk: Some(jwk),
            public_pem: None,
        }
    }

    /// An HMAC key (HS256) from a shared secret.
    pub fn hmac(secret: &[u8]) -> Self {
        Self {
            kid: String::new(),
            alg: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret),
            jwk: None,
            public_pem: None,
        }
    }

    fn asymmetric(kid: &str, alg: Algorithm, encoding: EncodingKey) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).expect("jwk");
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk: Some(jwk),
            public_pem: None,
        }
    }

    /// A token over `claims`, with this key's `kid` (if any).
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = (!self.kid.is_empty()).then(|| self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }

    /// A token over `claims` whose header also names `crit` extensions
    /// (RFC 7515 §4.1.11), validly signed by this key.
    pub fn sign_critical(&self, crit: &[&str], claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = (!self.kid.is_empty()).then(|| self.kid.clone());
        header.crit = Some(crit.iter().map(|name| (*name).to_owned()).collect());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }

    /// A token signed by this key but claiming `kid` instead.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

/// Two RSA keys generated once per test binary (RSA generation is the
/// slow part of these tests).
pub fn rsa_keys() -> &'static (SigningKey, SigningKey) {
    static KEYS: OnceLock<(SigningKey, SigningKey)> = OnceLock::new();
    KEYS.get_or_init(|| (SigningKey::rsa("rsa-1"), SigningKey::rsa("rsa-2")))
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An unsigned token (`alg: none`) over `claims`.
pub fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// `token` with one character of its signature changed.
pub fn tampered(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = bytes.len() - 3;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ascii")
}

/// A JWKS endpoint the test controls.
pub struct MockJwks {
    pub addr: std::net::SocketAddr,
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicUsize>,
}

impl MockJwks {
    /// Serves `GET /jwks.json` with `keys`' public JWKs.
    pub async fn start(keys: &[&SigningKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let jwks = Self {
            addr,
            keys: Arc::default(),
            fetches: Arc::default(),
        };
        jwks.set_keys(keys);
        let (state, fetches) = (Arc::clone(&jwks.keys), Arc::clone(&jwks.fetches));
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let (state, fetches) = (Arc::clone(&state), Arc::clone(&fetches));
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    let keys = state.lock().expect("keys").clone();
                    axum::Json(json!({ "keys": keys }))
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        jwks
    }

    /// Publishes exactly `keys` from now on (a rotation).
    pub fn set_keys(&self, keys: &[&SigningKey]) {
        *self.keys.lock().expect("keys") = keys.iter().filter_map(|k| k.jwk.clone()).collect();
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
