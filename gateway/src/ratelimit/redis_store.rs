//! The Redis store: limits shared by every gateway that uses the same
//! Redis and key prefix.
//!
//! One check is one atomic Lua script (GCRA in Redis, on Redis's own clock
//! so the gateways' clocks need not agree), sent through `redis`'s
//! `ConnectionManager`: one multiplexed connection that reconnects by
//! itself. No request waits longer than `rate_limits.redis.timeout`: past
//! it, or on any Redis error, the check fails and the limit applies its
//! `failure_mode` (the local fallback quota, or a refusal).
//!
//! The store is a runtime object built with the snapshot and carried over
//! by reloads that leave `rate_limits.redis` unchanged. Its health (up or
//! not, fallbacks counted) is read by the admin listener's `/metrics`; a
//! failure is logged when Redis goes down, then at most every
//! [`LOG_EVERY`] while it stays down, and once when it comes back.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use super::Outcome;
use crate::config::model::rate_limit::{FailureMode, Quota, RedisSettings};

/// At most one warning this often while Redis stays unreachable.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// GCRA on Redis time, in microseconds. KEYS[1]: the key. ARGV[1]: the
/// emission interval, ARGV[2]: the burst. Returns {allowed, remaining,
/// retry_after_us, reset_us}. The key expires when its state is idle.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
local ttl = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl)
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
";

/// The shared Redis connection of a snapshot's limits.
pub struct RedisStore {
    settings: RedisSettings,
    /// `None` when no connection can be made at all (no runtime at build,
    /// or a URL the client refuses); every check then fails.
    connection: Option<ConnectionManager>,
    script: Script,
    health: Health,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("timeout", &self.settings.timeout)
            .field("failure_mode", &self.settings.failure_mode)
            .field("up", &self.health.up.load(Ordering::Relaxed))
            .finish()
    }
}

/// Why a check got no answer from Redis (logged, never shown to clients).
#[derive(Debug, thiserror::Error)]
pub enum RedisCheckError {
    #[error("no Redis connection could be set up: {0}")]
    NoConnection(String),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the rate-limit script answered {0:?}")]
    BadReply(Vec<i64>),
}

impl RedisStore {
    /// Builds the client and its lazy connection (made on first use, or by
    /// the probe sent here when a runtime is running).
    pub fn build(settings: &RedisSettings) -> Arc<Self> {
        let connection = connect(settings);
        let store = Arc::new(Self {
            settings: settings.clone(),
            connection: connection.as_ref().ok().cloned(),
            script: Script::new(GCRA),
            health: Health::default(),
        });
        match connection {
            Ok(connection) => probe(connection, Arc::downgrade(&store)),
            Err(error) => tracing::error!(%error, "rate limits: the Redis store cannot be used"),
        }
        store
    }

    pub fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    pub fn failure_mode(&self) -> FailureMode {
        self.settings.failure_mode
    }

    /// Whether the last exchange with Redis succeeded.
    pub fn is_up(&self) -> bool {
        self.health.up.load(Ordering::Relaxed)
    }

    /// Checks answered by the fallback because Redis did not answer.
    pub fn fallbacks(&self) -> u64 {
        self.health.fallbacks.load(Ordering::Relaxed)
    }

    /// One GCRA check of `key` in Redis, bounded by the timeout.
    pub async fn check(&self, key: &[u8], quota: &Quota) -> Result<Outcome, RedisCheckError> {
        let result = self.run_script(key, quota).await;
        match &result {
            Ok(_) => self.health.succeeded(),
            Err(error) => self.health.failed(error, self.settings.failure_mode),
        }
        result
    }

    async fn run_script(&self, key: &[u8], quota: &Quota) -> Result<Outcome, RedisCheckError> {
        let Some(connection) = &self.connection else {
            return Err(RedisCheckError::NoConnection(
                "see the log at start".to_owned(),
            ));
        };
        let mut connection = connection.clone();
        let interval = micros(quota.emission_interval());
        let mut invocation = self.script.key(key);
        invocation.arg(interval).arg(quota.burst);
        let call = invocation.invoke_async::<Vec<i64>>(&mut connection);
        let reply = tokio::time::timeout(self.settings.timeout, call)
            .await
            .map_err(|_| RedisCheckError::Timeout(self.settings.timeout))??;
        outcome(&reply).ok_or(RedisCheckError::BadReply(reply))
    }
}

fn connect(settings: &RedisSettings) -> Result<ConnectionManager, String> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err("no async runtime to run the connection on".to_owned());
    }
    let client = Client::open(settings.url.as_str()).map_err(|e| e.to_string())?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(settings.timeout.max(Duration::from_millis(100))))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_lazy_with_config(client, config).map_err(|e| e.to_string())
}

/// Connects now rather than on the first request, so the first requests
/// find Redis ready.
fn probe(connection: ConnectionManager, store: Weak<RedisStore>) {
    tokio::spawn(async move {
        let mut connection = connection;
        let ping: redis::RedisResult<String> =
            redis::cmd("PING").query_async(&mut connection).await;
        match (ping, store.upgrade()) {
            (Ok(_), Some(store)) => store.health.succeeded(),
            (Err(error), _) => tracing::warn!(%error, "rate limits: Redis does not answer yet"),
            (Ok(_), None) => {}
        }
    });
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The script's reply as an [`Outcome`].
fn outcome(reply: &[i64]) -> Option<Outcome> {
    let &[allowed, remaining, retry_after, reset] = reply else {
        return None;
    };
    let duration = |micros: i64| Duration::from_micros(u64::try_from(micros).unwrap_or(0));
    Some(match allowed {
        1 => Outcome::Allowed {
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset: duration(reset),
        },
        _ => Outcome::Limited {
            retry_after: duration(retry_after),
            reset: duration(reset),
        },
    })
}

/// Redis's health as the checks see it.
#[derive(Debug)]
struct Health {
    up: AtomicBool,
    fallbacks: AtomicU64,
    /// Milliseconds since `epoch` of the last failure warning (0: none).
    last_warning_ms: AtomicU64,
    epoch: Instant,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            up: AtomicBool::new(false),
            fallbacks: AtomicU64::new(0),
            last_warning_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl Health {
    fn succeeded(&self) {
        if !self.up.swap(true, Ordering::Relaxed) && self.fallbacks.load(Ordering::Relaxed) > 0 {
            tracing::info!("rate limits: Redis answers again; shared limits apply");
        }
    }

    fn failed(&self, error: &RedisCheckError, mode: FailureMode) {
        let was_up = self.up.swap(false, Ordering::Relaxed);
        let fallbacks = self.fallbacks.fetch_add(1, Ordering::Relaxed) + 1;
        let now = u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= LOG_EVERY.as_millis() as u64;
        if !(was_up || due) {
            return;
        }
        if self
            .last_warning_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let fallback = match mode {
                FailureMode::Open => "the local fallback limits apply",
                FailureMode::Closed => "requests under Redis limits are refused",
            };
            tracing::warn!(%error, fallbacks, "rate limits: Redis unreachable; {fallback}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_replies_become_outcomes() {
        let allowed = outcome(&[1, 4, 0, 1_500_000]).unwrap();
        assert!(matches!(
            allowed,
            Outcome::Allowed { remaining: 4, reset } if reset == Duration::from_millis(1500)
        ));
        let limited = outcome(&[0, 0, 250_000, 1_000_000]).unwrap();
        assert!(matches!(
            limited,
            Outcome::Limited { retry_after, .. } if retry_after == Duration::from_millis(250)
        ));
        assert!(outcome(&[1, 2]).is_none());
    }
}
