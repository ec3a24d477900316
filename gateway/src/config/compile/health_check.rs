//! `backends.<name>.health_check`: the probe (exactly one of `http`,
//! `grpc`, `tcp`), its timing and its thresholds, with defaults.

use std::ops::RangeInclusive;
use std::time::Duration;

use marked_yaml::Spanned;

use super::super::errors::Diagnostics;
use super::super::model::{HealthCheckSpec, HealthProbe, UpstreamProtocol};
use super::super::raw::{RawHealthCheck, RawHttpProbe, Text};
use super::{duration, positive_duration};

pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
pub(crate) const DEFAULT_JITTER: Duration = Duration::from_millis(500);
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
pub(crate) const DEFAULT_HEALTHY_THRESHOLD: u32 = 2;
pub(crate) const DEFAULT_UNHEALTHY_THRESHOLD: u32 = 3;
pub(crate) const DEFAULT_HTTP_PATH: &str = "/healthz";
/// Most entries in `expected_statuses` (each is checked on every probe).
const MAX_STATUS_ENTRIES: usize = 32;

/// Compiles `raw` for the backend named `name` (whose name's span locates
/// errors about a missing or doubled probe).
pub(super) fn compile(
    raw: &RawHealthCheck,
    name: &Text,
    protocol: UpstreamProtocol,
    diag: &mut Diagnostics,
) -> HealthCheckSpec {
    let what = format!("backend \"{}\": health_check", name.as_str());
    let probe = probe(raw, name, protocol, &what, diag);
    HealthCheckSpec {
        probe,
        interval: positive_duration(raw.interval.as_ref(), &format!("{what}.interval"), diag)
            .unwrap_or(DEFAULT_INTERVAL),
        jitter: duration(raw.jitter.as_ref(), &format!("{what}.jitter"), diag)
            .unwrap_or(DEFAULT_JITTER),
        timeout: positive_duration(raw.timeout.as_ref(), &format!("{what}.timeout"), diag)
            .unwrap_or(DEFAULT_TIMEOUT),
        healthy_threshold: threshold(
            raw.healthy_threshold.as_ref(),
            &format!("{what}.healthy_threshold"),
            diag,
        )
        .unwrap_or(DEFAULT_HEALTHY_THRESHOLD),
        unhealthy_threshold: threshold(
            raw.unhealthy_threshold.as_ref(),
            &format!("{what}.unhealthy_threshold"),
            diag,
        )
        .unwrap_or(DEFAULT_UNHEALTHY_THRESHOLD),
    }
}

fn probe(
    raw: &RawHealthCheck,
    name: &Text,
    protocol: UpstreamProtocol,
    what: &str,
    diag: &mut Diagnostics,
) -> HealthProbe {
    let declared = [raw.http.is_some(), raw.grpc.is_some(), raw.tcp.is_some()];
    if declared.iter().filter(|set| **set).count() != 1 {
        diag.error(
            name.span(),
            format!("{what}: set exactly one of `http`, `grpc` or `tcp`"),
        );
        return HealthProbe::Tcp;
    }
    if let Some(http) = &raw.http {
        return http_probe(http, what, diag);
    }
    if let Some(grpc) = &raw.grpc {
        let service = grpc.service.as_ref().map(|s| s.trim().to_owned());
        if protocol != UpstreamProtocol::H2c {
            let span = grpc.service.as_ref().map_or(name.span(), Spanned::span);
            diag.error(
                span,
                format!("{what}.grpc: gRPC health checks need the backend's `protocol: h2c`"),
            );
        }
        return HealthProbe::Grpc {
            service: service.unwrap_or_default(),
        };
    }
    HealthProbe::Tcp
}

fn http_probe(raw: &RawHttpProbe, what: &str, diag: &mut Diagnostics) -> HealthProbe {
    let path = match &raw.path {
        None => DEFAULT_HTTP_PATH.to_owned(),
        Some(path) if valid_path(path.trim()) => path.trim().to_owned(),
        Some(path) => {
            diag.error(
                path.span(),
                format!(
                    "{what}.http.path: \"{}\" must start with '/' and be a valid path (query allowed)",
                    path.as_str()
                ),
            );
            DEFAULT_HTTP_PATH.to_owned()
        }
    };
    let expected_statuses = match &raw.expected_statuses {
        None => vec![200..=299],
        Some(list) => statuses(list, &format!("{what}.http.expected_statuses"), diag),
    };
    HealthProbe::Http {
        path,
        expected_statuses,
    }
}

fn valid_path(path: &str) -> bool {
    path.starts_with('/') && path.parse::<http::uri::PathAndQuery>().is_ok()
}

fn statuses(
    list: &Spanned<Vec<Text>>,
    what: &str,
    diag: &mut Diagnostics,
) -> Vec<RangeInclusive<u16>> {
    if list.is_empty() || list.len() > MAX_STATUS_ENTRIES {
        diag.error(
            list.span(),
            format!("{what}: list between 1 and {MAX_STATUS_ENTRIES} statuses or ranges"),
        );
        return vec![200..=299];
    }
    list.iter()
        .filter_map(|entry| match parse_status_range(entry.trim()) {
            Ok(range) => Some(range),
            Err(problem) => {
                diag.error(
                    entry.span(),
                    format!("{what}: \"{}\" {problem}", entry.as_str()),
                );
                None
            }
        })
        .collect()
}

/// `204` or `200-399`: statuses between 100 and 599, the range ascending.
pub(crate) fn parse_status_range(text: &str) -> Result<RangeInclusive<u16>, &'static str> {
    let status = |part: &str| {
        part.trim()
            .parse::<u16>()
            .ok()
            .filter(|code| (100..=599).contains(code))
    };
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (status(low), status(high)),
        None => (status(text), status(text)),
    };
    match (low, high) {
        (Some(low), Some(high)) if low <= high => Ok(low..=high),
        (Some(_), Some(_)) => Err("is a range whose start is after its end"),
        _ => Err("is not a status (100-599) or a range of them, e.g. 200 or \"200-399\""),
    }
}

fn threshold(value: Option<&Spanned<u32>>, what: &str, diag: &mut Diagnostics) -> Option<u32> {
    let value = value?;
    if **value == 0 {
        diag.error(value.span(), format!("{what}: must be at least 1"));
        return None;
    }
    Some(**value)
}

#[cfg(test)]
mod tests {
    use super::parse_status_range;

    #[test]
    fn statuses_and_ranges_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_status_range("204"), Ok(204..=204));
        assert_eq!(parse_status_range("200-399"), Ok(200..=399));
        assert_eq!(parse_status_range(" 200 - 204 "), Ok(200..=204));
        assert!(parse_status_range("399-200").is_err());
        assert!(parse_status_range("600").is_err());
        assert!(parse_status_range("2xx").is_err());
        assert!(parse_status_range("").is_err());
    }
}
