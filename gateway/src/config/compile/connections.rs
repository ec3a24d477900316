//! `server.http2:` and `server.streams:`, and the bounded whole numbers
//! the connection limits are made of.

use std::ops::RangeInclusive;

use marked_yaml::Spanned;

use super::super::errors::Diagnostics;
use super::super::model::{Http2Settings, StreamSettings};
use super::super::raw::{RawHttp2, RawStreams};
use super::{positive_duration, size};

/// A whole number within `range`; out of range is recorded and `None`.
pub(super) fn count(
    value: Option<&Spanned<u64>>,
    what: &str,
    range: RangeInclusive<usize>,
    diag: &mut Diagnostics,
) -> Option<usize> {
    let value = value?;
    match usize::try_from(**value) {
        Ok(count) if range.contains(&count) => Some(count),
        _ => {
            diag.error(
                value.span(),
                format!(
                    "{what}: must be between {} and {}",
                    range.start(),
                    range.end()
                ),
            );
            None
        }
    }
}

/// `server.http2:`, with [`Http2Settings::default`] for absent keys.
pub(super) fn http2(raw: Option<&RawHttp2>, diag: &mut Diagnostics) -> Http2Settings {
    let defaults = Http2Settings::default();
    let Some(raw) = raw else {
        return defaults;
    };
    let what = |key: &str| format!("server.http2.{key}");
    let small = |value, key: &str, diag: &mut Diagnostics| {
        count(value, &what(key), 1..=u32::MAX as usize, diag)
    };
    Http2Settings {
        keepalive_interval: positive_duration(
            raw.keepalive_interval.as_ref(),
            &what("keepalive_interval"),
            diag,
        )
        .unwrap_or(defaults.keepalive_interval),
        keepalive_timeout: positive_duration(
            raw.keepalive_timeout.as_ref(),
            &what("keepalive_timeout"),
            diag,
        )
        .unwrap_or(defaults.keepalive_timeout),
        max_concurrent_streams: small(
            raw.max_concurrent_streams.as_ref(),
            "max_concurrent_streams",
            diag,
        )
        .and_then(|streams| u32::try_from(streams).ok())
        .unwrap_or(defaults.max_concurrent_streams),
        max_header_list_size: header_list_size(raw, diag).unwrap_or(defaults.max_header_list_size),
        max_pending_accept_reset_streams: small(
            raw.max_pending_accept_reset_streams.as_ref(),
            "max_pending_accept_reset_streams",
            diag,
        )
        .unwrap_or(defaults.max_pending_accept_reset_streams),
        max_local_error_reset_streams: small(
            raw.max_local_error_reset_streams.as_ref(),
            "max_local_error_reset_streams",
            diag,
        )
        .unwrap_or(defaults.max_local_error_reset_streams),
    }
}

/// `server.http2.max_header_list_size`: 1 KiB to 1 MiB.
fn header_list_size(raw: &RawHttp2, diag: &mut Diagnostics) -> Option<u32> {
    const RANGE: RangeInclusive<u64> = 1024..=1024 * 1024;
    let text = raw.max_header_list_size.as_ref()?;
    let bytes = size(Some(text), "server.http2.max_header_list_size", diag)?;
    if !RANGE.contains(&bytes) {
        diag.error(
            text.span(),
            "server.http2.max_header_list_size: must be between 1KiB and 1MiB",
        );
        return None;
    }
    u32::try_from(bytes).ok()
}

/// `server.streams:`, with [`StreamSettings::default`] for absent keys.
pub(super) fn streams(raw: Option<&RawStreams>, diag: &mut Diagnostics) -> StreamSettings {
    let defaults = StreamSettings::default();
    let Some(raw) = raw else {
        return defaults;
    };
    let what = |key: &str| format!("server.streams.{key}");
    StreamSettings {
        sse_heartbeat: positive_duration(raw.sse_heartbeat.as_ref(), &what("sse_heartbeat"), diag)
            .unwrap_or(defaults.sse_heartbeat),
        websocket_ping_interval: positive_duration(
            raw.websocket_ping_interval.as_ref(),
            &what("websocket_ping_interval"),
            diag,
        )
        .unwrap_or(defaults.websocket_ping_interval),
        websocket_pong_timeout: positive_duration(
            raw.websocket_pong_timeout.as_ref(),
            &what("websocket_pong_timeout"),
            diag,
        )
        .unwrap_or(defaults.websocket_pong_timeout),
    }
}
