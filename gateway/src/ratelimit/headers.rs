//! Pure: the rate-limit response headers, in the structured-field syntax
//! (RFC 9651) of draft-ietf-httpapi-ratelimit-headers-10:
//!
//! - `RateLimit-Policy: "name";q=QUOTA;w=WINDOW, …`: each limit that
//!   applied, its quota `q` (the burst) per window `w` (seconds for the
//!   whole burst to drain: `burst × period / count`, rounded up);
//! - `RateLimit: "name";r=REMAINING;t=RESET, …`: what is left of each
//!   now, and the seconds until it is whole again;
//! - `Retry-After: SECONDS` on a 429 (rounded up, at least 1).
//!
//! The partition key (`pk`) is not sent: it would echo the client's
//! address or credentials.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::config::model::rate_limit::LimitSpec;

pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A limit's `RateLimit-Policy` item (built once, with the limiter).
pub fn policy_item(spec: &LimitSpec) -> String {
    let quota = spec.quota;
    let window = quota
        .emission_interval()
        .saturating_mul(quota.burst)
        .max(Duration::from_secs(1));
    format!(
        "\"{}\";q={};w={}",
        spec.name,
        quota.burst,
        whole_seconds(window)
    )
}

/// A limit's `RateLimit` item. `name` is a checked token (no quotes or
/// backslashes to escape).
/// Appends a state item: written piece by piece, not through `format!`
/// (this runs for every request of a limited route).
fn write_state_item(out: &mut String, name: &str, remaining: u32, reset: Duration) {
    out.push('"');
    out.push_str(name);
    out.push_str("\";r=");
    out.push_str(itoa::Buffer::new().format(remaining));
    out.push_str(";t=");
    out.push_str(itoa::Buffer::new().format(whole_seconds(reset)));
}

/// Seconds, rounded up.
pub fn whole_seconds(duration: Duration) -> u64 {
    let seconds = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        seconds.saturating_add(1)
    } else {
        seconds
    }
}

/// `Retry-After`'s value: at least one second.
pub fn retry_after(wait: Duration) -> HeaderValue {
    HeaderValue::from(whole_seconds(wait).max(1))
}

/// The items of the limits a request went through.
#[derive(Debug, Default)]
pub struct Report {
    /// The `RateLimit-Policy` value so far (items joined by `, `).
    policies: String,
    /// The `RateLimit` value so far.
    states: String,
}

impl Report {
    /// Adds a limit that applied: its policy item, and its state.
    pub fn push(&mut self, policy: &str, name: &str, remaining: u32, reset: Duration) {
        if !self.policies.is_empty() {
            self.policies.push_str(", ");
            self.states.push_str(", ");
        }
        self.policies.push_str(policy);
        write_state_item(&mut self.states, name, remaining, reset);
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn apply(&self, headers: &mut HeaderMap) {
        if self.is_empty() {
            return;
        }
        for (name, items) in [
            (RATELIMIT_POLICY, &self.policies),
            (RATELIMIT, &self.states),
        ] {
            if let Ok(value) = HeaderValue::from_str(items) {
                headers.insert(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::model::rate_limit::{KeySource, LimitStore, MissingKey, Quota};

    fn state_item(name: &str, remaining: u32, reset: Duration) -> String {
        let mut item = String::new();
        write_state_item(&mut item, name, remaining, reset);
        item
    }

    fn spec(count: u32, period: Duration, burst: u32) -> LimitSpec {
        let quota = Quota {
            count,
            period,
            burst,
        };
        LimitSpec {
            name: "per-ip".to_owned(),
            key: vec![KeySource::ClientIp],
            quota,
            store: LimitStore::Local,
            fallback: quota,
            missing_key: MissingKey::Skip,
        }
    }

    #[test]
    fn the_policy_states_the_burst_and_the_time_it_takes_to_drain() {
        let minute = Duration::from_secs(60);
        assert_eq!(
            policy_item(&spec(100, minute, 100)),
            "\"per-ip\";q=100;w=60"
        );
        assert_eq!(
            policy_item(&spec(10, Duration::from_secs(1), 20)),
            "\"per-ip\";q=20;w=2"
        );
        // Under a second rounds up to one.
        assert_eq!(
            policy_item(&spec(1000, Duration::from_secs(1), 5)),
            "\"per-ip\";q=5;w=1"
        );
    }

    #[test]
    fn state_items_round_the_reset_up() {
        assert_eq!(
            state_item("per-ip", 3, Duration::from_millis(1500)),
            "\"per-ip\";r=3;t=2"
        );
        assert_eq!(state_item("g", 0, Duration::ZERO), "\"g\";r=0;t=0");
        assert_eq!(retry_after(Duration::from_millis(10)), "1");
        assert_eq!(retry_after(Duration::from_millis(2001)), "3");
    }

    #[test]
    fn a_report_lists_every_limit_in_order() {
        let mut report = Report::default();
        report.push("\"g\";q=10;w=1", "g", 9, Duration::from_millis(100));
        report.push("\"r\";q=2;w=60", "r", 0, Duration::from_secs(60));
        let mut headers = HeaderMap::new();
        report.apply(&mut headers);
        assert_eq!(headers[RATELIMIT_POLICY], "\"g\";q=10;w=1, \"r\";q=2;w=60");
        assert_eq!(headers[RATELIMIT], "\"g\";r=9;t=1, \"r\";r=0;t=60");
    }
}
