//! `log:`: the general logs' format and level, and the access log.

use std::path::Path;

use marked_yaml::Spanned;

use super::super::errors::Diagnostics;
use super::super::model::log::{AccessLogSettings, AccessLogTarget, LogFormat, LogSettings};
use super::super::raw_log::{RawAccessLog, RawLog, RawLogFormat};
use super::connections::count;

/// Most records `log.access_log.buffer_records` may queue.
const MAX_BUFFER_RECORDS: usize = 1_000_000;

/// `log:`, with [`LogSettings::default`] for absent keys.
pub(crate) fn log_settings(
    raw: Option<&RawLog>,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> LogSettings {
    let Some(raw) = raw else {
        return LogSettings::default();
    };
    LogSettings {
        format: format(raw.format.as_ref()),
        level: raw.level.as_ref().and_then(|level| filter(level, diag)),
        access_log: raw
            .access_log
            .as_ref()
            .map(|access| access_log(access, base_dir, diag))
            .unwrap_or_default(),
    }
}

fn format(raw: Option<&Spanned<RawLogFormat>>) -> LogFormat {
    match raw.map(|format| **format) {
        Some(RawLogFormat::Json) => LogFormat::Json,
        Some(RawLogFormat::Text) | None => LogFormat::Text,
    }
}

/// `log.level` in `RUST_LOG` syntax, checked the way the subscriber will
/// read it.
fn filter(level: &Spanned<String>, diag: &mut Diagnostics) -> Option<String> {
    let text = level.trim();
    match tracing_subscriber::EnvFilter::builder().parse(text) {
        Ok(_) => Some(text.to_owned()),
        Err(error) => {
            diag.error(
                level.span(),
                format!(
                    "log.level: \"{text}\" is not a log filter (e.g. \"info,hyper=warn\"): {error}"
                ),
            );
            None
        }
    }
}

fn access_log(raw: &RawAccessLog, base_dir: &Path, diag: &mut Diagnostics) -> AccessLogSettings {
    let defaults = AccessLogSettings::default();
    AccessLogSettings {
        enabled: raw.enabled.as_ref().map(|enabled| **enabled),
        format: format(raw.format.as_ref()),
        target: raw
            .path
            .as_ref()
            .and_then(|path| target(path, base_dir, diag))
            .unwrap_or(defaults.target),
        buffer_records: count(
            raw.buffer_records.as_ref(),
            "log.access_log.buffer_records",
            1..=MAX_BUFFER_RECORDS,
            diag,
        )
        .unwrap_or(defaults.buffer_records),
    }
}

fn target(
    path: &Spanned<String>,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> Option<AccessLogTarget> {
    match path.trim() {
        "stdout" => Some(AccessLogTarget::Stdout),
        "stderr" => Some(AccessLogTarget::Stderr),
        "" => {
            diag.error(
                path.span(),
                "log.access_log.path: expected stdout, stderr or a file path",
            );
            None
        }
        file => Some(AccessLogTarget::File(base_dir.join(file))),
    }
}
