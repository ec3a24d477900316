//! The resilience keys: `retry:` (backend, route, composition call,
//! subgraph), `retry_budget:`, the outlier keys of `ejection:` and
//! `circuit_breaker:`. Each key left out keeps its base value: the
//! built-in default, or for a subgraph the `traffic_shaping.all` entry.

use std::time::Duration;

use marked_yaml::Spanned;

use super::super::errors::Diagnostics;
use super::super::model::{
    Backoff, BreakerPolicy, GrpcCodeSet, OutlierPolicy, Resilience, RetryBudget, RetryOn,
    RetryPolicy,
};
use super::super::raw::{RawCircuitBreaker, RawEjection, RawRetry, RawRetryBudget, Text};
use super::{positive_duration, size};

/// The raw resilience keys of one backend (or subgraph).
pub(super) struct RawResilience<'a> {
    pub retry: Option<&'a RawRetry>,
    pub budget: Option<&'a RawRetryBudget>,
    pub ejection: Option<&'a RawEjection>,
    pub breaker: Option<&'a RawCircuitBreaker>,
}

/// A backend's resilience settings over `base`; `what` names the backend
/// in messages (`backend "users"`).
pub(super) fn resilience(
    raw: RawResilience<'_>,
    base: &Resilience,
    what: &str,
    diag: &mut Diagnostics,
) -> Resilience {
    Resilience {
        retry: match raw.retry {
            Some(retry) => retry_policy(retry, &base.retry, &format!("{what}: retry"), diag),
            None => base.retry.clone(),
        },
        budget: budget(raw.budget, &base.budget, what, diag),
        outlier: outlier(raw.ejection, &base.outlier, what, diag),
        breaker: breaker(raw.breaker, base.breaker, what, diag),
    }
}

/// A `retry:` block over `base`, key by key.
pub(super) fn retry_policy(
    raw: &RawRetry,
    base: &RetryPolicy,
    what: &str,
    diag: &mut Diagnostics,
) -> RetryPolicy {
    let max_attempts = match &raw.max_attempts {
        None => base.max_attempts,
        Some(count) if (1..=RetryPolicy::MAX_ATTEMPTS).contains(&**count) => **count,
        Some(count) => {
            let message = format!(
                "{what}.max_attempts: must be between 1 and {}",
                RetryPolicy::MAX_ATTEMPTS
            );
            diag.error(count.span(), message);
            base.max_attempts
        }
    };
    let mut retry_on = base.retry_on.clone();
    if let Some(list) = &raw.retry_on {
        retry_on = conditions(list, base.retry_on.grpc_codes, what, diag);
    }
    if let Some(list) = &raw.grpc_codes {
        retry_on.grpc_codes = grpc_codes(list, what, diag);
    }
    RetryPolicy {
        max_attempts,
        retry_on,
        per_try_timeout: positive_duration(
            raw.per_try_timeout.as_ref(),
            &format!("{what}.per_try_timeout"),
            diag,
        )
        .or(base.per_try_timeout),
        backoff: backoff(raw, &base.backoff, what, diag),
        non_idempotent: raw.non_idempotent.unwrap_or(base.non_idempotent),
        max_buffered_body: buffered_body(raw.max_buffered_body.as_ref(), base, what, diag),
    }
}

/// `retry_on:` a list of conditions, status classes and statuses.
fn conditions(
    list: &[Text],
    grpc_codes: GrpcCodeSet,
    what: &str,
    diag: &mut Diagnostics,
) -> RetryOn {
    let mut on = RetryOn {
        connect_failure: false,
        reset: false,
        timeout: false,
        statuses: Default::default(),
        grpc_codes,
    };
    for entry in list {
        let word = entry.trim().to_ascii_lowercase();
        match word.as_str() {
            "connect_failure" => on.connect_failure = true,
            "reset" => on.reset = true,
            "timeout" => on.timeout = true,
            "5xx" => insert_all(&mut on, 500..=599),
            "gateway_error" => insert_all(&mut on, [502, 503, 504]),
            "retriable_4xx" => insert_all(&mut on, [409]),
            other => {
                if !other
                    .parse::<u16>()
                    .is_ok_and(|status| on.statuses.insert(status))
                {
                    diag.error(
                        entry.span(),
                        format!(
                            "{what}.retry_on: unknown condition or status class {:?} (expected \
                             connect_failure, reset, timeout, 5xx, gateway_error, retriable_4xx \
                             or a status from 400 to 599)",
                            entry.as_str()
                        ),
                    );
                }
            }
        }
    }
    on
}

fn insert_all(on: &mut RetryOn, statuses: impl IntoIterator<Item = u16>) {
    for status in statuses {
        on.statuses.insert(status);
    }
}

fn grpc_codes(list: &[Text], what: &str, diag: &mut Diagnostics) -> GrpcCodeSet {
    let mut codes = GrpcCodeSet::default();
    for entry in list {
        match GrpcCodeSet::code_of(entry) {
            Some(0) | None => diag.error(
                entry.span(),
                format!(
                    "{what}.grpc_codes: {:?} is not a gRPC error code (e.g. UNAVAILABLE, \
                     RESOURCE_EXHAUSTED)",
                    entry.as_str()
                ),
            ),
            Some(code) => codes.insert(code),
        }
    }
    codes
}

fn backoff(raw: &RawRetry, base: &Backoff, what: &str, diag: &mut Diagnostics) -> Backoff {
    let Some(raw) = &raw.backoff else {
        return *base;
    };
    let duration = |value: Option<&Text>, key: &str, fallback: Duration, diag: &mut _| {
        positive_duration(value, &format!("{what}.backoff.{key}"), diag).unwrap_or(fallback)
    };
    let base_wait = duration(raw.base.as_ref(), "base", base.base, diag);
    let max = duration(raw.max.as_ref(), "max", base.max.max(base_wait), diag);
    if max < base_wait
        && let Some(text) = &raw.max
    {
        diag.error(
            text.span(),
            format!("{what}.backoff.max: must not be below backoff.base"),
        );
    }
    Backoff {
        base: base_wait,
        max: max.max(base_wait),
    }
}

fn buffered_body(
    value: Option<&Text>,
    base: &RetryPolicy,
    what: &str,
    diag: &mut Diagnostics,
) -> u64 {
    let key = format!("{what}.max_buffered_body");
    match (value, size(value, &key, diag)) {
        (Some(text), Some(bytes)) if bytes > RetryPolicy::MAX_BUFFERED_BODY => {
            diag.error(
                text.span(),
                format!(
                    "{key}: at most {} bytes (16MiB)",
                    RetryPolicy::MAX_BUFFERED_BODY
                ),
            );
            base.max_buffered_body
        }
        (_, Some(bytes)) => bytes,
        (_, None) => base.max_buffered_body,
    }
}

fn budget(
    raw: Option<&RawRetryBudget>,
    base: &RetryBudget,
    what: &str,
    diag: &mut Diagnostics,
) -> RetryBudget {
    let Some(raw) = raw else { return *base };
    RetryBudget {
        ratio: fraction(
            raw.ratio.as_ref(),
            base.ratio,
            &format!("{what}: retry_budget.ratio"),
            diag,
        ),
        min_per_second: raw
            .min_per_second
            .as_deref()
            .copied()
            .unwrap_or(base.min_per_second),
    }
}

/// A number from 0 to 1.
fn fraction(value: Option<&Spanned<f64>>, base: f64, what: &str, diag: &mut Diagnostics) -> f64 {
    match value {
        None => base,
        Some(value) if (0.0..=1.0).contains(&**value) => **value,
        Some(value) => {
            diag.error(
                value.span(),
                format!("{what}: must be between 0 and 1, not {}", **value),
            );
            base
        }
    }
}

fn outlier(
    raw: Option<&RawEjection>,
    base: &OutlierPolicy,
    what: &str,
    diag: &mut Diagnostics,
) -> OutlierPolicy {
    let Some(raw) = raw else { return *base };
    let key = |name: &str| format!("{what}: ejection.{name}");
    let max_ejection_percent = match &raw.max_ejection_percent {
        None => base.max_ejection_percent,
        Some(percent) if **percent <= 100 => **percent,
        Some(percent) => {
            diag.error(
                percent.span(),
                format!("{}: must be at most 100", key("max_ejection_percent")),
            );
            base.max_ejection_percent
        }
    };
    OutlierPolicy {
        max_cooldown: positive_duration(raw.max_cooldown.as_ref(), &key("max_cooldown"), diag)
            .unwrap_or(base.max_cooldown),
        failure_ratio: fraction(
            raw.failure_ratio.as_ref(),
            base.failure_ratio,
            &key("failure_ratio"),
            diag,
        ),
        min_requests: raw
            .min_requests
            .as_deref()
            .copied()
            .unwrap_or(base.min_requests)
            .max(1),
        window: positive_duration(raw.window.as_ref(), &key("window"), diag).unwrap_or(base.window),
        max_ejection_percent,
    }
}

fn breaker(
    raw: Option<&RawCircuitBreaker>,
    base: Option<BreakerPolicy>,
    what: &str,
    diag: &mut Diagnostics,
) -> Option<BreakerPolicy> {
    let Some(raw) = raw else { return base };
    let base = base.unwrap_or_default();
    let at_least_one = |value: Option<&Spanned<u32>>,
                        key: &str,
                        fallback: u32,
                        diag: &mut Diagnostics| match value {
        None => fallback,
        Some(count) if **count >= 1 => **count,
        Some(count) => {
            diag.error(
                count.span(),
                format!("{what}: circuit_breaker.{key}: must be at least 1"),
            );
            fallback
        }
    };
    let max_pending = match &raw.max_pending {
        None => base.max_pending,
        Some(count) => match usize::try_from(**count) {
            Ok(count) if count >= 1 => count,
            _ => {
                diag.error(
                    count.span(),
                    format!("{what}: circuit_breaker.max_pending: must be at least 1"),
                );
                base.max_pending
            }
        },
    };
    Some(BreakerPolicy {
        consecutive_failures: at_least_one(
            raw.consecutive_failures.as_ref(),
            "consecutive_failures",
            base.consecutive_failures,
            diag,
        ),
        open_for: positive_duration(
            raw.open_for.as_ref(),
            &format!("{what}: circuit_breaker.open_for"),
            diag,
        )
        .unwrap_or(base.open_for),
        half_open_probes: at_least_one(
            raw.half_open_probes.as_ref(),
            "half_open_probes",
            base.half_open_probes,
            diag,
        ),
        max_pending,
    })
}
