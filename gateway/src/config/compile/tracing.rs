//! `tracing:` → [`TracingSettings`]: the exporter's URL and protocol, the
//! sampling ratio, the resource attributes and the batch bounds.

use std::path::Path;

use http::Uri;

use super::super::errors::Diagnostics;
use super::super::model::{
    BatchSettings, DEFAULT_HTTP_ENDPOINT, ExporterSettings, OtlpProtocol, TracingSettings,
    is_https_url,
};
use super::super::raw::{OrderedPairs, Text};
use super::super::raw_tracing::{RawBatch, RawExporter, RawOtlpProtocol, RawTracing};
use super::positive_duration;

/// Bounds on the batch sizes (a sanity check on typos; the queue is
/// memory held by the process).
const MAX_QUEUE: u64 = 1_000_000;

/// `tracing:`, with [`TracingSettings::default`] for absent keys; TLS
/// files are relative to `base_dir` (the config file's directory).
pub(crate) fn compile_tracing(
    raw: Option<&RawTracing>,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> TracingSettings {
    let mut settings = TracingSettings::default();
    let Some(raw) = raw else {
        return settings;
    };
    if let Some(enabled) = &raw.enabled {
        settings.enabled = **enabled;
    }
    if let Some(name) = &raw.service_name {
        if name.trim().is_empty() {
            diag.error(name.span(), "tracing.service_name: must not be empty");
        } else {
            settings.service_name = name.trim().to_owned();
        }
    }
    settings.resource = pairs(&raw.resource, "tracing.resource", diag);
    if let Some(ratio) = raw.sampling.as_ref().and_then(|s| s.ratio.as_ref()) {
        if (0.0..=1.0).contains(&**ratio) {
            settings.sampling_ratio = **ratio;
        } else {
            diag.error(
                ratio.span(),
                format!(
                    "tracing.sampling.ratio: {} is not between 0.0 and 1.0",
                    **ratio
                ),
            );
        }
    }
    if let Some(exporter) = &raw.exporter {
        settings.exporter = compile_exporter(exporter, settings.exporter, base_dir, diag);
    }
    if let Some(batch) = &raw.batch {
        settings.batch = compile_batch(batch, diag);
    }
    settings
}

fn compile_exporter(
    raw: &RawExporter,
    defaults: ExporterSettings,
    base_dir: &Path,
    diag: &mut Diagnostics,
) -> ExporterSettings {
    let protocol = match raw.protocol.as_ref().map(|p| **p) {
        Some(RawOtlpProtocol::Http) => OtlpProtocol::HttpProtobuf,
        Some(RawOtlpProtocol::Grpc) | None => OtlpProtocol::Grpc,
    };
    let endpoint = match &raw.endpoint {
        Some(text) => endpoint(text, protocol, diag).unwrap_or(defaults.endpoint),
        None if protocol == OtlpProtocol::HttpProtobuf => DEFAULT_HTTP_ENDPOINT.to_owned(),
        None => defaults.endpoint,
    };
    let uses_tls = is_https_url(&endpoint);
    let tls =
        match &raw.tls {
            Some(tls) => {
                if !uses_tls {
                    diag.error(
                    &raw.endpoint.as_ref().map_or_else(|| tls_span(tls), |text| *text.span()),
                    "tracing.exporter.tls: applies to an https:// endpoint, and this one is not",
                );
                }
                super::tls::client_tls(tls, "tracing.exporter.tls", base_dir, diag)
            }
            None => defaults.tls,
        };
    ExporterSettings {
        protocol,
        endpoint,
        timeout: positive_duration(raw.timeout.as_ref(), "tracing.exporter.timeout", diag)
            .unwrap_or(defaults.timeout),
        headers: headers(&raw.headers, diag),
        tls,
    }
}

/// Where a `tls:` section's first key is, for an error about it as a
/// whole (an endpoint left to its default is not in the file).
fn tls_span(tls: &super::super::raw_tls::RawBackendTls) -> marked_yaml::Span {
    [&tls.ca, &tls.server_name, &tls.cert, &tls.key]
        .into_iter()
        .flatten()
        .map(|text| *text.span())
        .next()
        .unwrap_or_else(marked_yaml::Span::new_blank)
}

/// An `http://` URL (plain HTTP, h2c for gRPC) or an `https://` one
/// (TLS) with a host; for OTLP/HTTP, a URL without a path means the
/// standard `/v1/traces`.
fn endpoint(text: &Text, protocol: OtlpProtocol, diag: &mut Diagnostics) -> Option<String> {
    let trimmed = text.trim();
    let uri: Option<Uri> = trimmed.parse().ok();
    let valid = uri.as_ref().is_some_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
    });
    let Some(uri) = uri.filter(|_| valid) else {
        diag.error(
            text.span(),
            format!(
                "tracing.exporter.endpoint: \"{trimmed}\" is not an http:// or https:// URL with a host"
            ),
        );
        return None;
    };
    let bare = matches!(uri.path(), "" | "/");
    Some(match protocol {
        OtlpProtocol::HttpProtobuf if bare => {
            format!("{}/v1/traces", trimmed.trim_end_matches('/'))
        }
        _ => trimmed.to_owned(),
    })
}

fn pairs(
    raw: &OrderedPairs<Text, Text>,
    what: &str,
    diag: &mut Diagnostics,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(raw.0.len());
    for (key, value) in &raw.0 {
        if key.trim().is_empty() {
            diag.error(key.span(), format!("{what}: a key must not be empty"));
            continue;
        }
        out.push((key.trim().to_owned(), value.as_str().to_owned()));
    }
    out
}

/// Export headers: valid HTTP header names and values (gRPC metadata
/// keys are lower-case header names).
fn headers(raw: &OrderedPairs<Text, Text>, diag: &mut Diagnostics) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(raw.0.len());
    for (name, value) in &raw.0 {
        let lower = name.trim().to_ascii_lowercase();
        if http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
            diag.error(
                name.span(),
                format!(
                    "tracing.exporter.headers: \"{}\" is not a valid header name",
                    name.as_str()
                ),
            );
            continue;
        }
        if http::HeaderValue::from_str(value).is_err() {
            diag.error(
                value.span(),
                format!("tracing.exporter.headers.{lower}: the value is not a valid header value"),
            );
            continue;
        }
        out.push((lower, value.as_str().to_owned()));
    }
    out
}

fn compile_batch(raw: &RawBatch, diag: &mut Diagnostics) -> BatchSettings {
    let defaults = BatchSettings::default();
    let max_queue_size = bounded(
        raw.max_queue_size.as_ref(),
        "tracing.batch.max_queue_size",
        diag,
    )
    .unwrap_or(defaults.max_queue_size);
    let max_export_batch_size = bounded(
        raw.max_export_batch_size.as_ref(),
        "tracing.batch.max_export_batch_size",
        diag,
    )
    .unwrap_or(defaults.max_export_batch_size.min(max_queue_size));
    if max_export_batch_size > max_queue_size
        && let Some(span) = raw.max_export_batch_size.as_ref().map(|v| *v.span())
    {
        diag.error(
            &span,
            format!(
                "tracing.batch.max_export_batch_size: {max_export_batch_size} is larger than max_queue_size ({max_queue_size})"
            ),
        );
    }
    BatchSettings {
        max_queue_size,
        max_export_batch_size,
        scheduled_delay: positive_duration(
            raw.scheduled_delay.as_ref(),
            "tracing.batch.scheduled_delay",
            diag,
        )
        .unwrap_or(defaults.scheduled_delay),
    }
}

fn bounded(
    value: Option<&marked_yaml::Spanned<u64>>,
    what: &str,
    diag: &mut Diagnostics,
) -> Option<usize> {
    let value = value?;
    if **value == 0 || **value > MAX_QUEUE {
        diag.error(
            value.span(),
            format!("{what}: must be between 1 and {MAX_QUEUE}"),
        );
        return None;
    }
    usize::try_from(**value).ok()
}
