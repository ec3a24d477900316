//! `rate_limits:` and each route's `rate_limits:` → [`RateLimitSettings`]
//! and [`LimitSpec`]s: the rate syntax, the key sources, the Redis store's
//! settings. Every mistake is reported at its line and column.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use marked_yaml::Span;
use serde_json::Value;

use super::super::errors::{Diagnostics, did_you_mean};
use super::super::model::rate_limit::{
    DEFAULT_MAX_KEYS, FailureMode, KeySource, LimitSpec, LimitStore, MissingKey, Quota,
    RateLimitSettings, RedisSettings,
};
use super::super::raw::rate_limit::{
    RawFailureMode, RawLimit, RawMissingKey, RawRateLimits, RawRedis, RawStore,
};
use super::super::raw::{Text, YamlTree, locate};
use super::super::units::parse_duration;

/// The key sources, for messages.
const KEY_SOURCES: &[&str] = &["client_ip", "consumer", "header", "claim"];
/// Most parts in a composite key.
pub(crate) const MAX_KEY_PARTS: usize = 4;
/// Longest period a rate may have.
const MAX_PERIOD: Duration = Duration::from_secs(86_400);
/// Largest burst.
const MAX_BURST: u64 = 1_000_000;
/// Default `rate_limits.redis.timeout`.
const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(20);
/// Default `rate_limits.redis.connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default `rate_limits.redis.key_prefix`.
const DEFAULT_KEY_PREFIX: &str = "gateway:rl:";

/// The `rate_limits:` section (defaults when absent).
pub(super) fn compile_section(
    raw: Option<&RawRateLimits>,
    diag: &mut Diagnostics,
) -> RateLimitSettings {
    let Some(raw) = raw else {
        return RateLimitSettings::default();
    };
    let max_keys = match &raw.max_keys {
        Some(value) if **value == 0 => {
            diag.error(value.span(), "rate_limits.max_keys: must be at least 1");
            DEFAULT_MAX_KEYS
        }
        Some(value) => usize::try_from(**value).unwrap_or(usize::MAX),
        None => DEFAULT_MAX_KEYS,
    };
    let redis = raw
        .redis
        .as_ref()
        .and_then(|redis| compile_redis(redis, diag));
    let has_redis = raw.redis.is_some();
    let global = raw.global.as_deref().unwrap_or_default();
    check_unique_names(global, &HashMap::new(), "rate_limits.global", diag);
    let global = global
        .iter()
        .filter_map(|limit| compile_limit(limit, "rate_limits.global", has_redis, diag))
        .map(Arc::new)
        .collect();
    RateLimitSettings {
        global,
        max_keys,
        redis,
    }
}

/// A route's `rate_limits:` list. `section` is the compiled section (its
/// global names may not be reused: the headers would be ambiguous).
pub(super) fn compile_route_limits(
    raw: Option<&Vec<RawLimit>>,
    label: &str,
    section: Option<&RawRateLimits>,
    diag: &mut Diagnostics,
) -> Vec<Arc<LimitSpec>> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let mut global: HashMap<&str, &Span> = HashMap::new();
    for limit in section
        .and_then(|section| section.global.as_deref())
        .unwrap_or_default()
    {
        global
            .entry(limit.name.as_str())
            .or_insert(limit.name.span());
    }
    let what = format!("{label}: rate_limits");
    check_unique_names(raw, &global, &what, diag);
    let has_redis = section.is_some_and(|section| section.redis.is_some());
    raw.iter()
        .filter_map(|limit| compile_limit(limit, &what, has_redis, diag))
        .map(Arc::new)
        .collect()
}

fn compile_redis(raw: &RawRedis, diag: &mut Diagnostics) -> Option<RedisSettings> {
    let url = raw.url.trim();
    let scheme_ok = url.starts_with("redis://") || url.starts_with("rediss://");
    if !scheme_ok || url.parse::<http::Uri>().is_err() {
        diag.error(
            raw.url.span(),
            "rate_limits.redis.url: expected redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB]",
        );
    }
    let timeout = positive(raw.timeout.as_ref(), "rate_limits.redis.timeout", diag)
        .unwrap_or(DEFAULT_REDIS_TIMEOUT);
    let connect_timeout = positive(
        raw.connect_timeout.as_ref(),
        "rate_limits.redis.connect_timeout",
        diag,
    )
    .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let key_prefix = raw.key_prefix.as_ref().map_or_else(
        || DEFAULT_KEY_PREFIX.to_owned(),
        |prefix| prefix.to_string(),
    );
    let failure_mode = match raw.failure_mode.as_deref() {
        Some(RawFailureMode::Closed) => FailureMode::Closed,
        Some(RawFailureMode::Open) | None => FailureMode::Open,
    };
    scheme_ok.then(|| RedisSettings {
        url: url.to_owned(),
        timeout,
        connect_timeout,
        key_prefix,
        failure_mode,
    })
}

fn positive(value: Option<&Text>, what: &str, diag: &mut Diagnostics) -> Option<Duration> {
    let text = value?;
    match parse_duration(text) {
        Ok(duration) if duration.is_zero() => {
            diag.error(text.span(), format!("{what}: must be greater than zero"));
            None
        }
        Ok(duration) => Some(duration),
        Err(message) => {
            diag.error(text.span(), format!("{what}: {message}"));
            None
        }
    }
}

/// Names must be unique within one list and must not reuse a global name.
fn check_unique_names(
    limits: &[RawLimit],
    taken: &HashMap<&str, &Span>,
    what: &str,
    diag: &mut Diagnostics,
) {
    let mut seen: HashMap<&str, &Span> = HashMap::new();
    for limit in limits {
        let name = limit.name.as_str();
        let first = seen.get(name).or_else(|| taken.get(name));
        if let Some(first) = first {
            let line = first.start().map_or(0, |mark| mark.line());
            diag.error(
                limit.name.span(),
                format!("{what}: limit name \"{name}\" is already used on line {line}"),
            );
        }
        seen.insert(name, limit.name.span());
    }
}

fn compile_limit(
    raw: &RawLimit,
    what: &str,
    has_redis: bool,
    diag: &mut Diagnostics,
) -> Option<LimitSpec> {
    let errors_before = diag.error_count();
    let what = format!("{what}: limit \"{}\"", raw.name.as_str());
    check_name(&raw.name, &what, diag);
    let key = compile_key(&raw.key, &what, diag);
    let main_quota = quota(&raw.rate, raw.burst.as_ref(), &what, diag);
    let store = match raw.store.as_ref() {
        Some(store) if matches!(**store, RawStore::Redis) => {
            if !has_redis {
                diag.error(
                    store.span(),
                    format!("{what}: store: redis needs the rate_limits.redis section"),
                );
            }
            LimitStore::Redis
        }
        _ => LimitStore::Local,
    };
    let fallback = match &raw.fallback {
        Some(fallback) if store == LimitStore::Local => {
            diag.error(
                fallback.rate.span(),
                format!("{what}: fallback applies to store: redis only"),
            );
            None
        }
        Some(fallback) => quota(
            &fallback.rate,
            fallback.burst.as_ref(),
            &format!("{what}: fallback"),
            diag,
        ),
        None => main_quota,
    };
    let missing_key = match raw.missing_key.as_deref() {
        Some(RawMissingKey::Shared) => MissingKey::Shared,
        Some(RawMissingKey::ClientIp) => MissingKey::ClientIp,
        Some(RawMissingKey::Skip) | None => MissingKey::Skip,
    };
    if diag.error_count() > errors_before {
        return None;
    }
    Some(LimitSpec {
        name: raw.name.to_string(),
        key: key?,
        quota: main_quota?,
        store,
        fallback: fallback?,
        missing_key,
    })
}

/// A name is a token: it is quoted in the `RateLimit` headers and part of
/// the Redis keys.
fn check_name(name: &Text, what: &str, diag: &mut Diagnostics) {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        diag.error(
            name.span(),
            format!("{what}: a limit name is 1 to 64 letters, digits, '-', '_' or '.'"),
        );
    }
}

fn quota(
    rate: &Text,
    burst: Option<&marked_yaml::Spanned<u64>>,
    what: &str,
    diag: &mut Diagnostics,
) -> Option<Quota> {
    let parsed = parse_rate(rate)
        .map_err(|message| diag.error(rate.span(), format!("{what}: rate: {message}")))
        .ok();
    let burst = match burst {
        Some(burst) if **burst == 0 || **burst > MAX_BURST => {
            diag.error(
                burst.span(),
                format!("{what}: burst: must be between 1 and {MAX_BURST}"),
            );
            None
        }
        Some(burst) => u32::try_from(**burst).ok(),
        None => parsed.map(|(count, _)| count),
    };
    let (count, period) = parsed?;
    Some(Quota {
        count,
        period,
        burst: burst?,
    })
}

/// `COUNT/PERIOD`: `100/s`, `6000/min`, `5/h`, `1/d`, or a duration as
/// the period (`10/1m30s`, `3/500ms`).
pub(crate) fn parse_rate(text: &str) -> Result<(u32, Duration), String> {
    let (count, period) = text
        .split_once('/')
        .ok_or_else(|| "expected COUNT/PERIOD, such as 100/s or 6000/min".to_owned())?;
    let count = count.trim();
    let count: u32 = count
        .parse()
        .map_err(|_| format!("\"{count}\" is not a whole number of requests"))?;
    if count == 0 || u64::from(count) > MAX_BURST {
        return Err(format!("the count must be between 1 and {MAX_BURST}"));
    }
    let period = match period.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "d" | "day" => Duration::from_secs(86_400),
        other => parse_duration(other).map_err(|message| format!("period: {message}"))?,
    };
    if period.is_zero() || period > MAX_PERIOD {
        return Err("the period must be more than 0 and at most 1 day".to_owned());
    }
    Ok((count, period))
}

/// `key:`: one source or a list of them.
fn compile_key(tree: &YamlTree, what: &str, diag: &mut Diagnostics) -> Option<Vec<KeySource>> {
    let (value, index) = tree.to_json();
    let items: Vec<(Vec<String>, &Value)> = match &value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(n, item)| (vec![n.to_string()], item))
            .collect(),
        single => vec![(Vec::new(), single)],
    };
    if items.is_empty() || items.len() > MAX_KEY_PARTS {
        diag.error(
            tree.span(),
            format!("{what}: key: list 1 to {MAX_KEY_PARTS} sources"),
        );
        return None;
    }
    let mut sources = Vec::with_capacity(items.len());
    for (at, item) in items {
        let span = locate(&index, tree.span(), &at);
        match key_source(item, &at, &index, span) {
            Ok(source) if sources.contains(&source) => {
                diag.error(span, format!("{what}: key: a source is listed twice"));
            }
            Ok(source) => sources.push(source),
            Err((span, message)) => diag.error(span, format!("{what}: key: {message}")),
        }
    }
    (sources.len() == value.as_array().map_or(1, Vec::len)).then_some(sources)
}

type SourceError<'a> = (&'a Span, String);

fn key_source<'a>(
    item: &Value,
    at: &[String],
    index: &'a super::super::raw::SpanIndex,
    span: &'a Span,
) -> Result<KeySource, SourceError<'a>> {
    let unknown = |name: &str| {
        format!(
            "unknown key source \"{name}\"{}; expected one of: client_ip, consumer, {{header: NAME}}, {{claim: NAME}}",
            did_you_mean(name, KEY_SOURCES.iter().copied())
        )
    };
    match item {
        Value::String(name) if name == "client_ip" => Ok(KeySource::ClientIp),
        Value::String(name) if name == "consumer" => Ok(KeySource::Consumer),
        Value::String(name) => Err((span, unknown(name))),
        Value::Object(map) if map.len() == 1 => {
            let Some((source, argument)) = map.iter().next() else {
                return Err((span, "expected one source".to_owned()));
            };
            let mut at = at.to_vec();
            at.push(source.clone());
            let inner = locate(index, span, &at);
            let Some(argument) = argument.as_str().filter(|a| !a.is_empty()) else {
                return Err((inner, format!("{source}: expected a name")));
            };
            match source.as_str() {
                "header" => HeaderName::from_bytes(argument.as_bytes())
                    .map(KeySource::Header)
                    .map_err(|_| (inner, format!("\"{argument}\" is not a header name"))),
                "claim" => Ok(KeySource::Claim(argument.to_owned())),
                other => Err((span, unknown(other))),
            }
        }
        _ => Err((
            span,
            "expected client_ip, consumer, {header: NAME} or {claim: NAME}".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rate;
    use std::time::Duration;

    #[test]
    fn rates_take_a_unit_or_a_duration_as_their_period() {
        assert_eq!(parse_rate("100/s"), Ok((100, Duration::from_secs(1))));
        assert_eq!(parse_rate("6000/min"), Ok((6000, Duration::from_secs(60))));
        assert_eq!(parse_rate(" 5 / h "), Ok((5, Duration::from_secs(3600))));
        assert_eq!(parse_rate("10/1m30s"), Ok((10, Duration::from_secs(90))));
        assert_eq!(parse_rate("3/500ms"), Ok((3, Duration::from_millis(500))));
    }

    #[test]
    fn bad_rates_say_what_is_wrong() {
        assert!(parse_rate("100").unwrap_err().contains("COUNT/PERIOD"));
        assert!(parse_rate("0/s").unwrap_err().contains("between 1"));
        assert!(parse_rate("ten/s").unwrap_err().contains("whole number"));
        assert!(parse_rate("1/0s").unwrap_err().contains("more than 0"));
        assert!(parse_rate("1/25h").unwrap_err().contains("at most 1 day"));
        assert!(
            parse_rate("1/fortnight")
                .unwrap_err()
                .starts_with("period:")
        );
    }
}
