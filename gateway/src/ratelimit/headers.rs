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

use bytes::Bytes;
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

/// The `RateLimit-Policy` items of one layer's limiters, in order, and
/// the value of each run of leading limits, joined once when the layer is
/// built: when every limit applies (the usual case) a response copies a
/// shared value (a reference count) instead of joining strings.
#[derive(Debug)]
pub struct Policies {
    items: Box<[String]>,
    /// `leading[n - 1]`: items `0..n`, joined by `, `.
    leading: Box<[Option<HeaderValue>]>,
}

impl Policies {
    pub fn new(items: Vec<String>) -> Self {
        let mut joined = String::new();
        let leading = items
            .iter()
            .map(|item| {
                if !joined.is_empty() {
                    joined.push_str(", ");
                }
                joined.push_str(item);
                let value = HeaderValue::from_maybe_shared(Bytes::from(joined.clone())).ok();
                // Cloned once here, so the bytes are already shared when
                // requests clone them.
                drop(value.clone());
                value
            })
            .collect();
        Self {
            items: items.into(),
            leading,
        }
    }
}

/// The limits a request went through.
#[derive(Debug, Default)]
pub struct Report {
    policies: Applied,
    /// The `RateLimit` value so far (items joined by `, `).
    states: String,
}

/// Which limits' policies the report names.
#[derive(Debug)]
enum Applied {
    /// The first `n` of the layer (none skipped so far).
    Leading(usize),
    /// Some were skipped: the `RateLimit-Policy` value so far.
    Listed(String),
}

impl Default for Applied {
    fn default() -> Self {
        Self::Leading(0)
    }
}

/// Room for a usual `RateLimit` value, reserved at its first item.
const STATES_RESERVE: usize = 64;

impl Report {
    /// Adds limit `index` of the layer (its policies in `policies`),
    /// which applied: its state.
    pub fn push(
        &mut self,
        policies: &Policies,
        index: usize,
        name: &str,
        remaining: u32,
        reset: Duration,
    ) {
        if self.states.is_empty() {
            self.states.reserve(STATES_RESERVE);
        } else {
            self.states.push_str(", ");
        }
        write_state_item(&mut self.states, name, remaining, reset);
        if let Applied::Leading(count) = self.policies {
            if count == index {
                self.policies = Applied::Leading(count + 1);
                return;
            }
            // One was skipped: from here on the items are listed.
            self.policies = Applied::Listed(policies.items[..count].join(", "));
        }
        if let Applied::Listed(listed) = &mut self.policies {
            if !listed.is_empty() {
                listed.push_str(", ");
            }
            listed.push_str(policies.items.get(index).map_or("", String::as_str));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The two header values (none when no limit applied).
    pub fn values(&self, policies: &Policies) -> RateHeaders {
        if self.is_empty() {
            return RateHeaders::default();
        }
        let policy = match &self.policies {
            Applied::Leading(count) => policies
                .leading
                .get(count.wrapping_sub(1))
                .cloned()
                .flatten(),
            Applied::Listed(listed) => HeaderValue::from_str(listed).ok(),
        };
        RateHeaders {
            policy,
            state: HeaderValue::from_str(&self.states).ok(),
        }
    }

    pub fn apply(&self, policies: &Policies, headers: &mut HeaderMap) {
        self.values(policies).apply(headers);
    }
}

/// `RateLimit-Policy` and `RateLimit`, ready to go on a response.
#[derive(Debug, Default)]
pub struct RateHeaders {
    policy: Option<HeaderValue>,
    state: Option<HeaderValue>,
}

impl RateHeaders {
    pub fn apply(self, headers: &mut HeaderMap) {
        if let Some(policy) = self.policy {
            headers.insert(RATELIMIT_POLICY, policy);
        }
        if let Some(state) = self.state {
            headers.insert(RATELIMIT, state);
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
        let policies = Policies::new(vec!["\"g\";q=10;w=1".into(), "\"r\";q=2;w=60".into()]);
        let mut report = Report::default();
        report.push(&policies, 0, "g", 9, Duration::from_millis(100));
        report.push(&policies, 1, "r", 0, Duration::from_secs(60));
        let mut headers = HeaderMap::new();
        report.apply(&policies, &mut headers);
        assert_eq!(headers[RATELIMIT_POLICY], "\"g\";q=10;w=1, \"r\";q=2;w=60");
        assert_eq!(headers[RATELIMIT], "\"g\";r=9;t=1, \"r\";r=0;t=60");
    }

    /// The leading limits' joined value, or a list of those that applied
    /// when one was skipped (its key missing), always the same text.
    #[test]
    fn skipped_limits_are_left_out_of_the_policy() {
        let items: Vec<String> = ["\"a\";q=1;w=1", "\"b\";q=2;w=1", "\"c\";q=3;w=1"]
            .map(String::from)
            .into();
        let policies = Policies::new(items);
        let policy_of = |applied: &[usize]| {
            let mut report = Report::default();
            for &index in applied {
                report.push(&policies, index, "x", 1, Duration::ZERO);
            }
            let mut headers = HeaderMap::new();
            report.apply(&policies, &mut headers);
            headers
                .get(RATELIMIT_POLICY)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(policy_of(&[]), None);
        assert_eq!(policy_of(&[0]).unwrap(), "\"a\";q=1;w=1");
        assert_eq!(
            policy_of(&[0, 1, 2]).unwrap(),
            "\"a\";q=1;w=1, \"b\";q=2;w=1, \"c\";q=3;w=1"
        );
        assert_eq!(policy_of(&[0, 2]).unwrap(), "\"a\";q=1;w=1, \"c\";q=3;w=1");
        assert_eq!(policy_of(&[1]).unwrap(), "\"b\";q=2;w=1");
        assert_eq!(policy_of(&[1, 2]).unwrap(), "\"b\";q=2;w=1, \"c\";q=3;w=1");
    }
}
