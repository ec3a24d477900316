//! A route's `load_shedding`: its concurrency limit, queue, queue timeout,
//! `Retry-After`, and the optional adaptive (AIMD) limit, with defaults.

use std::time::Duration;

use marked_yaml::{Span, Spanned};

use super::super::errors::Diagnostics;
use super::super::model::{AdaptiveLimitSpec, LoadSheddingSpec};
use super::super::raw::{RawAdaptiveLimit, RawLoadShedding};
use super::positive_duration;

pub(crate) const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_millis(100);
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
pub(crate) const DEFAULT_MIN_CONCURRENT: usize = 1;
pub(crate) const DEFAULT_BACKOFF_RATIO: f64 = 0.9;
/// Bound on the limit and the queue: a semaphore holds at most this many
/// permits, and a bigger number is a typo.
const MAX_LIMIT: u64 = 1 << 20;

/// Compiles `raw` for the route labelled `label`, whose path's span
/// locates a missing `max_concurrent_requests`.
pub(super) fn compile(
    raw: &RawLoadShedding,
    label: &str,
    route_span: &Span,
    diag: &mut Diagnostics,
) -> Option<LoadSheddingSpec> {
    let what = format!("{label}: load_shedding");
    let max = match &raw.max_concurrent_requests {
        Some(max) => count(max, 1, &format!("{what}.max_concurrent_requests"), diag),
        None => {
            diag.error(
                route_span,
                format!("{what}: needs max_concurrent_requests (the route's concurrency limit)"),
            );
            None
        }
    };
    let queue = match &raw.queue {
        None => max,
        Some(queue) => count(queue, 0, &format!("{what}.queue"), diag),
    };
    let queue_timeout = positive_duration(
        raw.queue_timeout.as_ref(),
        &format!("{what}.queue_timeout"),
        diag,
    );
    let retry_after = positive_duration(
        raw.retry_after.as_ref(),
        &format!("{what}.retry_after"),
        diag,
    );
    let adaptive = raw.adaptive.as_ref().map(|adaptive| {
        compile_adaptive(adaptive, max.unwrap_or(usize::MAX), route_span, &what, diag)
    });
    Some(LoadSheddingSpec {
        max_concurrent_requests: max?,
        queue: queue?,
        queue_timeout: match raw.queue_timeout {
            None => DEFAULT_QUEUE_TIMEOUT,
            Some(_) => queue_timeout?,
        },
        retry_after_secs: whole_seconds_up(match raw.retry_after {
            None => DEFAULT_RETRY_AFTER,
            Some(_) => retry_after?,
        }),
        adaptive: match adaptive {
            None => None,
            Some(compiled) => Some(compiled?),
        },
    })
}

fn compile_adaptive(
    raw: &RawAdaptiveLimit,
    max: usize,
    route_span: &Span,
    what: &str,
    diag: &mut Diagnostics,
) -> Option<AdaptiveLimitSpec> {
    let what = format!("{what}.adaptive");
    let Some(latency) = &raw.latency_threshold else {
        diag.error(
            route_span,
            format!(
                "{what}: needs latency_threshold (a response slower than this shrinks the limit)"
            ),
        );
        return None;
    };
    let latency_threshold =
        positive_duration(Some(latency), &format!("{what}.latency_threshold"), diag);
    let min = match &raw.min_concurrent_requests {
        None => Some(DEFAULT_MIN_CONCURRENT.min(max)),
        Some(min) => {
            let key = format!("{what}.min_concurrent_requests");
            count(min, 1, &key, diag).filter(|value| {
                let fits = *value <= max;
                if !fits {
                    diag.error(
                        min.span(),
                        format!("{key}: {value} is above max_concurrent_requests ({max})"),
                    );
                }
                fits
            })
        }
    };
    let backoff_ratio = match &raw.backoff_ratio {
        None => Some(DEFAULT_BACKOFF_RATIO),
        Some(ratio) if **ratio > 0.0 && **ratio < 1.0 => Some(**ratio),
        Some(ratio) => {
            diag.error(
                ratio.span(),
                format!(
                    "{what}.backoff_ratio: must be between 0 and 1 (exclusive), got {}",
                    **ratio
                ),
            );
            None
        }
    };
    Some(AdaptiveLimitSpec {
        min_concurrent_requests: min?,
        latency_threshold: latency_threshold?,
        backoff_ratio: backoff_ratio?,
    })
}

fn count(value: &Spanned<u64>, min: u64, what: &str, diag: &mut Diagnostics) -> Option<usize> {
    if **value < min || **value > MAX_LIMIT {
        diag.error(
            value.span(),
            format!(
                "{what}: must be between {min} and {MAX_LIMIT}, got {}",
                **value
            ),
        );
        return None;
    }
    usize::try_from(**value).ok()
}

/// `Retry-After` is in whole seconds: a part of a second counts as one.
fn whole_seconds_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}
