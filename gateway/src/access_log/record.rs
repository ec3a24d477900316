//! One access-log record: what a finished [`Exchange`] looked like, and
//! its two renderings, a JSON object and a text line (the layouts are
//! documented in docs/observability.md; the tests pin them).

use std::cell::Cell;
use std::net::IpAddr;
use std::sync::MutexGuard;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};

use super::json::{JsonObject, key};
use super::text;
use crate::context::RequestId;
use crate::ip_text::IpText;
use crate::observe::RefusedHead;
use crate::observe::{Exchange, ExchangeEnd, Finished, UpstreamSummary};

/// The fields of one record, borrowed from the exchange.
#[derive(Debug)]
pub(super) struct Record<'a> {
    /// When the request arrived.
    pub time: SystemTime,
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
    pub client: IpAddr,
    /// `None` for a head refused before it was read (also `path`).
    pub method: Option<&'a str>,
    /// Without the query.
    pub path: Option<&'a str>,
    pub route: Option<&'a str>,
    /// The authenticated consumer.
    pub consumer: Option<&'a str>,
    pub status: u16,
    pub error_code: Option<&'a str>,
    /// The exchange's own lock, held while the record is written (no
    /// other thread takes it once the request has finished): the record
    /// borrows the summary rather than cloning its names.
    pub upstream: MutexGuard<'a, UpstreamSummary>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration: Duration,
    pub user_agent: Option<&'a [u8]>,
    pub end: ExchangeEnd,
}

impl<'a> Record<'a> {
    /// The record of `exchange`, finished as `finished`, now.
    pub fn of(exchange: &'a Exchange, finished: &'a Finished) -> Self {
        Self {
            time: exchange.started_at,
            request_id: exchange.request_id.as_ref().map_or("", RequestId::as_str),
            trace_id: exchange.trace_id(),
            client: exchange.client.ip,
            method: Some(exchange.method.as_str()),
            path: Some(exchange.path()),
            route: exchange.route().map(|route| route.name.as_str()),
            consumer: exchange.consumer(),
            status: finished.status.as_u16(),
            error_code: finished.error_code,
            upstream: exchange.lock_upstream(),
            bytes_in: exchange.bytes_in(),
            bytes_out: finished.bytes_out,
            duration: finished.duration,
            user_agent: exchange.user_agent.as_ref().map(|agent| agent.as_bytes()),
            end: finished.end,
        }
    }

    /// The record of a head the connection refused (`upstream`: an empty
    /// summary): no method, path, route or user agent.
    pub fn refused(head: &'a RefusedHead<'a>, upstream: MutexGuard<'a, UpstreamSummary>) -> Self {
        Self {
            time: head.started_at,
            request_id: head.request_id,
            trace_id: None,
            client: head.peer.ip(),
            method: None,
            path: None,
            route: None,
            consumer: None,
            status: head.status.as_u16(),
            error_code: Some(head.code),
            upstream,
            bytes_in: 0,
            bytes_out: head.bytes_out,
            duration: head.duration,
            user_agent: None,
            end: ExchangeEnd::Completed,
        }
    }

    /// One JSON object and a newline. Absent values are `null`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let last = self.upstream.last.as_ref();
        let mut json = JsonObject::open(out);
        json.ascii(key!("time"), &Timestamp::of(self.time).0);
        json.str(key!("request_id"), self.request_id);
        json.opt_str(key!("trace_id"), self.trace_id);
        json.ip(key!("client_address"), self.client);
        match self.method {
            Some(method) => json.plain_str(key!("method"), method),
            None => json.opt_str(key!("method"), None),
        }
        json.opt_str(key!("path"), self.path);
        json.opt_str(key!("route"), self.route);
        json.opt_str(key!("consumer"), self.consumer);
        json.uint(key!("status"), u64::from(self.status));
        json.opt_str(key!("error_code"), self.error_code);
        json.opt_json(
            key!("upstream_backend"),
            last.map(|record| record.name.backend_json()),
        );
        json.opt_json(
            key!("upstream_endpoint"),
            last.map(|record| record.name.endpoint_json()),
        );
        json.opt_uint(
            key!("upstream_status"),
            last.and_then(|record| record.status.map(|s| u64::from(s.as_u16()))),
        );
        json.uint(key!("upstream_attempts"), u64::from(self.upstream.attempts));
        json.uint(key!("bytes_in"), self.bytes_in);
        json.uint(key!("bytes_out"), self.bytes_out);
        json.opt_millis(key!("duration_ms"), Some(self.duration.as_micros()));
        json.opt_millis(
            key!("upstream_duration_ms"),
            (self.upstream.attempts > 0).then(|| self.upstream.total.as_micros()),
        );
        let user_agent = self.user_agent.map(String::from_utf8_lossy);
        json.opt_str(key!("user_agent"), user_agent.as_deref());
        json.plain_str(key!("end"), end_word(self.end));
        json.close();
        out.push(b'\n');
    }

    /// One text line (fields separated by one space, `-` for an absent
    /// value, quoted fields in `"`):
    ///
    /// `TIME CLIENT REQUEST_ID TRACE_ID "METHOD PATH" STATUS ERROR_CODE
    /// BYTES_IN BYTES_OUT DURATION_MS "ROUTE" UPSTREAM_BACKEND
    /// UPSTREAM_ENDPOINT UPSTREAM_STATUS UPSTREAM_ATTEMPTS
    /// UPSTREAM_DURATION_MS END "USER_AGENT" CONSUMER`
    pub fn write_text(&self, out: &mut Vec<u8>) {
        let last = self.upstream.last.as_ref();
        out.reserve(LINE_RESERVE);
        out.extend_from_slice(&Timestamp::of(self.time).0);
        out.push(b' ');
        out.extend_from_slice(IpText::of(self.client).as_bytes());
        out.push(b' ');
        text::token(out, Some(self.request_id.as_bytes()));
        text::token(out, self.trace_id.map(str::as_bytes));
        out.push(b'"');
        text::escape(out, self.method.unwrap_or("-").as_bytes(), b'"');
        out.push(b' ');
        text::escape(out, self.path.unwrap_or("-").as_bytes(), b'"');
        out.extend_from_slice(b"\" ");
        text::uint(out, u64::from(self.status));
        text::token(out, self.error_code.map(str::as_bytes));
        text::uint(out, self.bytes_in);
        text::uint(out, self.bytes_out);
        text::millis(out, self.duration.as_micros());
        text::quoted(out, self.route.map(str::as_bytes));
        text::token(out, last.map(|record| record.name.backend.as_bytes()));
        text::token(out, last.map(|record| record.name.endpoint.as_bytes()));
        match last.and_then(|record| record.status) {
            Some(status) => text::uint(out, u64::from(status.as_u16())),
            None => out.extend_from_slice(b"- "),
        }
        text::uint(out, u64::from(self.upstream.attempts));
        if self.upstream.attempts > 0 {
            text::millis(out, self.upstream.total.as_micros());
        } else {
            out.extend_from_slice(b"- ");
        }
        out.extend_from_slice(end_word(self.end).as_bytes());
        out.push(b' ');
        text::quoted(out, self.user_agent);
        text::token(out, self.consumer.map(str::as_bytes));
        out.pop();
        out.push(b'\n');
    }
}

/// Room reserved for a line before it is written (most are shorter).
const LINE_RESERVE: usize = 512;

/// A record's time, RFC 3339 in UTC with milliseconds:
/// `2026-11-30T13:33:42.123Z` (always 24 ASCII bytes).
///
/// Formatting a date is the dearest part of a record (chrono's RFC 3339
/// writer goes through `core::fmt` and allocates), so each worker thread
/// keeps the `2026-11-30T13:33:42.` prefix of the last second it wrote,
/// as nginx caches its time strings, and only the milliseconds are
/// written per record.
struct Timestamp([u8; TIMESTAMP_LEN]);

const TIMESTAMP_LEN: usize = 24;
/// `YYYY-MM-DDTHH:MM:SS.`
const PREFIX_LEN: usize = 20;

thread_local! {
    /// The whole second (since the epoch) of the cached prefix, and the prefix.
    static LAST_SECOND: Cell<(u64, [u8; PREFIX_LEN])> = const { Cell::new((u64::MAX, [0; PREFIX_LEN])) };
}

impl Timestamp {
    fn of(time: SystemTime) -> Self {
        let since_epoch = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let second = since_epoch.as_secs();
        let prefix = LAST_SECOND.with(|cached| {
            let (cached_second, prefix) = cached.get();
            if cached_second == second {
                return prefix;
            }
            let prefix = second_prefix(SystemTime::UNIX_EPOCH + Duration::from_secs(second));
            cached.set((second, prefix));
            prefix
        });
        let mut bytes = [0; TIMESTAMP_LEN];
        bytes[..PREFIX_LEN].copy_from_slice(&prefix);
        let millis = since_epoch.subsec_millis();
        bytes[PREFIX_LEN] = b'0' + (millis / 100) as u8;
        bytes[PREFIX_LEN + 1] = b'0' + (millis / 10 % 10) as u8;
        bytes[PREFIX_LEN + 2] = b'0' + (millis % 10) as u8;
        bytes[PREFIX_LEN + 3] = b'Z';
        Self(bytes)
    }

    #[cfg(test)]
    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or("1970-01-01T00:00:00.000Z")
    }
}

/// `YYYY-MM-DDTHH:MM:SS.` of `time` (a whole second).
fn second_prefix(time: SystemTime) -> [u8; PREFIX_LEN] {
    let text = DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut prefix = *b"1970-01-01T00:00:00.";
    // Years past 9999 would not fit the layout; they keep the epoch.
    if text.len() == TIMESTAMP_LEN {
        prefix.copy_from_slice(&text.as_bytes()[..PREFIX_LEN]);
    }
    prefix
}

fn end_word(end: ExchangeEnd) -> &'static str {
    match end {
        ExchangeEnd::Completed => "completed",
        ExchangeEnd::Aborted => "aborted",
    }
}

#[cfg(test)]
mod timestamp_tests {
    use super::*;

    fn chrono_rfc3339(time: SystemTime) -> String {
        DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    #[test]
    fn the_cached_prefix_gives_chronos_rfc3339_across_seconds_and_days() {
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_046_821);
        // Within one second (cache hits), across a second, a minute and a
        // day boundary (cache misses), and back to an earlier second.
        let offsets_ms = [0, 1, 9, 10, 99, 100, 999, 1_000, 1_001, 59_999, 60_000];
        let day_end = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_083_199_999);
        let times = offsets_ms
            .iter()
            .map(|ms| base + Duration::from_millis(*ms))
            .chain([day_end, day_end + Duration::from_millis(1), base]);
        for time in times {
            assert_eq!(Timestamp::of(time).as_str(), chrono_rfc3339(time));
        }
    }

    #[test]
    fn a_time_before_the_epoch_is_written_as_the_epoch() {
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(Timestamp::of(before).as_str(), "1970-01-01T00:00:00.000Z");
    }
}
