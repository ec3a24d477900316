//! [`RemoteKeys`]: a JWKS fetched through a backend's [`UpstreamPool`] (so
//! the fetch gets the pool's timeouts, balancing and ejection), cached,
//! refreshed in the background every `refresh_interval`, and on demand
//! when a token names an unknown `kid`, but never more often than
//! `min_refresh_interval`: however many random `kid`s an attacker sends,
//! the JWKS endpoint sees at most one fetch per floor. A failed fetch keeps
//! the keys it had. The document read is bounded ([`MAX_JWKS_BYTES`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::{Method, Request, header};
use http_body_util::BodyExt;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::keyset::KeySet;
use crate::body;
use crate::config::model::security::JwksEndpoint;
use crate::upstream::UpstreamPool;

/// The largest JWKS document read (a set of a few hundred RSA keys).
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

const NEVER: u64 = u64::MAX;

/// A provider's remote key set.
pub struct RemoteKeys {
    provider: String,
    pub(super) endpoint: JwksEndpoint,
    pub(super) pool: Arc<UpstreamPool>,
    keys: ArcSwap<KeySet>,
    epoch: Instant,
    /// Milliseconds since `epoch` of the last fetch attempt, or [`NEVER`].
    last_attempt: AtomicU64,
    /// One fetch at a time; waiters re-check the floor after it.
    fetching: tokio::sync::Mutex<()>,
    /// Stops the background refresh when the key set is dropped (a reload
    /// that changed the provider).
    _stop: DropGuard,
    stop: CancellationToken,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("provider", &self.provider)
            .field("keys", &self.keys.load())
            .finish()
    }
}

impl RemoteKeys {
    /// An empty set for `endpoint`, refreshed in the background from now on
    /// when a tokio runtime is running (the first fetch starts at once).
    pub fn start(provider: &str, endpoint: JwksEndpoint, pool: Arc<UpstreamPool>) -> Arc<Self> {
        let stop = CancellationToken::new();
        let keys = Arc::new(Self {
            provider: provider.to_owned(),
            endpoint,
            pool,
            keys: ArcSwap::from_pointee(KeySet::default()),
            epoch: Instant::now(),
            last_attempt: AtomicU64::new(NEVER),
            fetching: tokio::sync::Mutex::new(()),
            _stop: stop.clone().drop_guard(),
            stop: stop.clone(),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(refresh_in_background(Arc::downgrade(&keys), stop));
        }
        keys
    }

    /// The keys as last fetched.
    pub fn current(&self) -> Arc<KeySet> {
        self.keys.load_full()
    }

    /// A token named a `kid` the set lacks: fetch again if the floor
    /// allows (else keep the set), then return the set.
    pub async fn refresh_for_unknown_kid(&self) -> Arc<KeySet> {
        self.refresh(self.endpoint.min_refresh_interval).await;
        self.current()
    }

    /// Fetches unless an attempt was made less than `floor` ago (one
    /// fetch at a time; a caller that waited for another's fetch sees its
    /// attempt and does not fetch again).
    async fn refresh(&self, floor: Duration) {
        let _one_at_a_time = self.fetching.lock().await;
        if !self.due(floor) {
            return;
        }
        self.mark_attempt();
        match self.fetch().await {
            Ok(set) => {
                tracing::debug!(provider = %self.provider, keys = set.len(), "JWKS refreshed");
                self.keys.store(Arc::new(set));
            }
            Err(problem) => tracing::warn!(
                provider = %self.provider,
                backend = %self.endpoint.backend.name,
                path = %self.endpoint.path,
                problem = %problem,
                "JWKS fetch failed; keeping the previous keys"
            ),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    fn due(&self, floor: Duration) -> bool {
        let last = self.last_attempt.load(Ordering::Acquire);
        last == NEVER
            || self.now_ms().saturating_sub(last) >= u64::try_from(floor.as_millis()).unwrap_or(0)
    }

    fn mark_attempt(&self) {
        self.last_attempt.store(self.now_ms(), Ordering::Release);
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(self.endpoint.path.as_str())
            .header(header::ACCEPT, "application/json, application/jwk-set+json")
            .body(body::empty())
            .map_err(|e| format!("bad JWKS request: {e}"))?;
        let timeout = self.endpoint.backend.request_timeout;
        let response = self
            .pool
            .send(request, timeout)
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("the JWKS endpoint answered {}", response.status()));
        }
        let bytes = tokio::time::timeout(timeout, read_limited(response.into_body()))
            .await
            .map_err(|_| "the JWKS body took too long".to_owned())??;
        let set = KeySet::from_jwks(&bytes).ok_or("the body is not a JWKS document")?;
        if set.is_empty() {
            return Err("the JWKS holds no usable signing key".to_owned());
        }
        Ok(set)
    }

    /// Stops the background refresh now.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

/// The body, up to [`MAX_JWKS_BYTES`].
async fn read_limited(mut body: body::GatewayBody) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the JWKS body: {e}"))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > MAX_JWKS_BYTES {
                return Err(format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

async fn refresh_in_background(keys: std::sync::Weak<RemoteKeys>, stop: CancellationToken) {
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let Some(keys) = keys.upgrade() else { return };
        let floor = keys.endpoint.min_refresh_interval;
        keys.refresh(floor).await;
        wait = keys.endpoint.refresh_interval;
    }
}
