//! Two caches, both moka with a time to live per entry.
//!
//! * [`CallCache`]: one call's parsed JSON value, keyed like the coalescer
//!   (backend, method, rendered URI, body, `authorization`), so a cached
//!   value is never served to a different caller identity. Its TTL is the
//!   configured `ttl`, lowered by the backend's `Cache-Control: max-age`
//!   (or `s-maxage`); `no-store`, `no-cache` and `private` answers are not
//!   kept, unless `honor_cache_control: false`.
//! * [`ResponseCache`]: whole composed bodies, keyed on the route, its path
//!   parameters and the values of chosen request headers. Only complete
//!   (non-partial) responses are stored.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use moka::Expiry;
use moka::future::Cache;
use serde_json::Value;

pub use crate::config::model::compose::{CallCacheSettings, ResponseCacheSettings};
use crate::router::Params;

thread_local! {
    /// Caches built on this thread: tests prove with it that compiling a
    /// config (`gateway check`) builds none and a snapshot builds them.
    static BUILT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many caches (call or response) this thread has built so far.
pub fn built_on_this_thread() -> u64 {
    BUILT.with(std::cell::Cell::get)
}

fn count_built() {
    BUILT.with(|built| built.set(built.get() + 1));
}

/// A value with the TTL chosen for it.
#[derive(Debug, Clone)]
struct Timed<V> {
    value: V,
    ttl: Duration,
}

/// Reads each entry's own TTL.
struct PerEntryTtl;

impl<K, V> Expiry<K, Timed<V>> for PerEntryTtl {
    fn expire_after_create(&self, _key: &K, value: &Timed<V>, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &K,
        value: &Timed<V>,
        _now: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

fn build_cache<V: Clone + Send + Sync + 'static>(max_entries: u64) -> Cache<String, Timed<V>> {
    Cache::builder()
        .max_capacity(max_entries)
        .expire_after(PerEntryTtl)
        .build()
}

/// One call's value cache.
#[derive(Clone)]
pub struct CallCache {
    settings: CallCacheSettings,
    entries: Cache<String, Timed<Arc<Value>>>,
}

impl CallCache {
    pub fn new(settings: CallCacheSettings) -> Self {
        count_built();
        let entries = build_cache(settings.max_entries);
        Self { settings, entries }
    }

    pub async fn get(&self, key: &str) -> Option<Arc<Value>> {
        self.entries.get(key).await.map(|timed| timed.value)
    }

    /// Stores `value` for as long as the settings and `cache_control` allow.
    pub async fn store(&self, key: String, value: Arc<Value>, cache_control: Option<&str>) {
        if let Some(ttl) = call_ttl(&self.settings, cache_control) {
            self.entries.insert(key, Timed { value, ttl }).await;
        }
    }
}

impl fmt::Debug for CallCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallCache")
            .field("settings", &self.settings)
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

/// How long a call's answer may be kept; `None`: not at all.
pub fn call_ttl(settings: &CallCacheSettings, cache_control: Option<&str>) -> Option<Duration> {
    let configured = Some(settings.ttl).filter(|ttl| !ttl.is_zero());
    if !settings.honor_cache_control {
        return configured;
    }
    let Some(header) = cache_control else {
        return configured;
    };
    let mut max_age = None;
    for directive in header.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        match directive.split_once('=') {
            None if matches!(directive.as_str(), "no-store" | "no-cache" | "private") => {
                return None;
            }
            Some(("s-maxage", seconds)) => {
                max_age = seconds
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs)
            }
            Some(("max-age", seconds)) if max_age.is_none() => {
                max_age = seconds
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs);
            }
            _ => {}
        }
    }
    match max_age {
        Some(age) => Some(age.min(settings.ttl)).filter(|ttl| !ttl.is_zero()),
        None => configured,
    }
}

/// The composed-response cache of one route.
#[derive(Clone)]
pub struct ResponseCache {
    settings: ResponseCacheSettings,
    entries: Cache<String, Timed<Bytes>>,
}

impl ResponseCache {
    pub fn new(settings: ResponseCacheSettings) -> Self {
        count_built();
        let entries = build_cache(settings.max_entries);
        Self { settings, entries }
    }

    /// The key: every path parameter and every `vary` header, in order.
    pub fn key(&self, params: &Params, headers: &HeaderMap) -> String {
        let mut key = String::new();
        for (name, value) in params.iter() {
            key.push_str(&format!("{name}={value}\n"));
        }
        for name in &self.settings.vary {
            let values: Vec<_> = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            key.push_str(&format!("{name}: {:?}\n", values));
        }
        key
    }

    pub async fn get(&self, key: &str) -> Option<Bytes> {
        self.entries.get(key).await.map(|timed| timed.value)
    }

    pub async fn store(&self, key: String, body: Bytes) {
        let ttl = self.settings.ttl;
        self.entries.insert(key, Timed { value: body, ttl }).await;
    }
}

impl fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseCache")
            .field("settings", &self.settings)
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(ttl: u64, honor: bool) -> CallCacheSettings {
        CallCacheSettings {
            ttl: Duration::from_secs(ttl),
            honor_cache_control: honor,
            max_entries: 10,
        }
    }

    #[test]
    fn max_age_lowers_the_ttl_but_never_raises_it() {
        let s = settings(60, true);
        assert_eq!(call_ttl(&s, None), Some(Duration::from_secs(60)));
        assert_eq!(
            call_ttl(&s, Some("public, max-age=5")),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            call_ttl(&s, Some("max-age=600")),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            call_ttl(&s, Some("max-age=600, s-maxage=7")),
            Some(Duration::from_secs(7))
        );
        assert_eq!(call_ttl(&s, Some("max-age=0")), None);
    }

    #[test]
    fn no_store_no_cache_and_private_are_not_kept_unless_ignored() {
        for header in ["no-store", "No-Cache", "private, max-age=30"] {
            assert_eq!(
                call_ttl(&settings(60, true), Some(header)),
                None,
                "{header}"
            );
            assert_eq!(
                call_ttl(&settings(60, false), Some(header)),
                Some(Duration::from_secs(60)),
                "{header}"
            );
        }
    }

    #[tokio::test]
    async fn stored_values_are_served_until_their_ttl() {
        let cache = CallCache::new(settings(60, true));
        cache
            .store("k".into(), Arc::new(Value::from(1)), None)
            .await;
        cache
            .store("n".into(), Arc::new(Value::from(2)), Some("no-store"))
            .await;
        assert_eq!(cache.get("k").await.as_deref(), Some(&Value::from(1)));
        assert_eq!(cache.get("n").await, None);
    }
}
