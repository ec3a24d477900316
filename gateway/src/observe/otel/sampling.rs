//! Head sampling, decided at the edge before any span exists.
//!
//! The OpenTelemetry SDK samples when a span starts, so leaving the choice
//! to it means building the `tracing` span, its registry entry and the
//! OpenTelemetry span data for every request, to export 1% of them: that
//! is most of the cost of tracing (measured in docs/latency-comparison.md,
//! "Observability"). Here the server span is only opened for a request the
//! trace will keep; an unsampled request opens no span at all (its child
//! spans see no traced parent and open none either), and still carries its
//! trace context upstream with the sampled flag off, so the services behind
//! the gateway make the same decision.
//!
//! The rule is the SDK's `ParentBased(TraceIdRatioBased(ratio))`: a valid
//! client `traceparent` decides by its sampled flag; otherwise a request is
//! kept with probability `ratio`. The provider then samples every span it
//! is given (`ParentBased(AlwaysOn)`), so the two never disagree.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The W3C header, named once: a lookup by `&str` would parse and hash
/// the name on every request.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

thread_local! {
    /// Each thread's generator for the sampling draw and new trace and
    /// span ids, seeded from the OS: the OpenTelemetry SDK's
    /// `RandomIdGenerator` uses the same kind (a thread-local `SmallRng`).
    /// With `rand::rng()` (ChaCha12) and a lookup by `&str`, the decision
    /// cost about 1 360 instructions per request, now about 1 100
    /// (callgrind, docs/latency-comparison.md).
    static IDS: RefCell<SmallRng> = RefCell::new(SmallRng::from_os_rng());
}

/// `ratio` scaled to `u64`: a request without a parent is kept when a
/// random `u64` is below it; `u64::MAX` keeps every request.
static THRESHOLD: AtomicU64 = AtomicU64::new(u64::MAX);

/// Sets the ratio of traces started at the gateway that are kept (the
/// trace pipeline does, when it starts).
pub fn set_ratio(ratio: f64) {
    THRESHOLD.store(threshold(ratio), Ordering::Relaxed);
}

fn threshold(ratio: f64) -> u64 {
    if ratio >= 1.0 {
        u64::MAX
    } else if ratio > 0.0 {
        // Exact enough: the ratio is a configured decimal.
        (ratio * u64::MAX as f64) as u64
    } else {
        0
    }
}

/// What the edge decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Open the server span (and its children) and export them.
    Sampled,
    /// No span: the request's trace context goes upstream as is.
    Unsampled(UnsampledTrace),
}

/// The trace context of a request that is not sampled: the
/// `traceparent` to send upstream (the client's own, or a new trace's,
/// with the sampled flag off). It travels in the request's extensions to
/// the upstream-request builder.
///
/// A new trace keeps its two ids as numbers and writes the header value
/// only when an upstream request is built: at 1% sampling this runs for
/// 99% of requests, and building the value up front cost an allocation,
/// its promotion to a shared buffer on the first clone and an atomic
/// count per clone (callgrind, docs/latency-comparison.md, 2026-12-02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsampledTrace(Traceparent);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Traceparent {
    /// The client's own, valid, with its sampled flag off.
    Client(HeaderValue),
    /// A trace started here.
    New { trace_id: u128, span_id: u64 },
}

impl UnsampledTrace {
    /// The value upstream requests carry in `traceparent`.
    pub fn traceparent(&self) -> HeaderValue {
        match &self.0 {
            Traceparent::Client(value) => value.clone(),
            Traceparent::New { trace_id, span_id } => {
                new_unsampled_traceparent(*trace_id, *span_id)
            }
        }
    }

    /// Its trace id (32 lowercase hex digits), for the access log.
    pub fn trace_id(&self) -> Box<str> {
        match &self.0 {
            Traceparent::Client(value) => {
                // Validated when the value was accepted: after optional
                // whitespace, `vv-` then the 32-digit trace id.
                let text = value.to_str().unwrap_or_default().trim_start();
                text.get(3..35).unwrap_or_default().into()
            }
            Traceparent::New { trace_id, .. } => {
                let mut hex = [0; 32];
                write_hex(&mut hex, &trace_id.to_be_bytes());
                String::from_utf8_lossy(&hex).into()
            }
        }
    }
}

/// Decides for a request whose headers are `headers`.
pub fn decide(headers: &HeaderMap) -> Decision {
    let threshold = THRESHOLD.load(Ordering::Relaxed);
    IDS.with(|rng| decide_with(headers, threshold, &mut *rng.borrow_mut()))
}

fn decide_with(headers: &HeaderMap, threshold: u64, rng: &mut impl Rng) -> Decision {
    if let Some(value) = headers.get(&TRACEPARENT)
        && let Some(parent) = parse_traceparent(value.as_bytes())
    {
        return if parent.sampled {
            Decision::Sampled
        } else {
            Decision::Unsampled(UnsampledTrace(Traceparent::Client(value.clone())))
        };
    }
    if threshold == u64::MAX || rng.next_u64() < threshold {
        return Decision::Sampled;
    }
    Decision::Unsampled(UnsampledTrace(Traceparent::New {
        trace_id: nonzero_u128(rng),
        span_id: nonzero_u64(rng),
    }))
}

/// A random id for a new trace: W3C forbids all zeros. Two 64-bit draws
/// rather than `random_range(1..=u128::MAX)`, whose 128-bit range
/// arithmetic cost more than the rest of the decision (callgrind).
fn nonzero_u128(rng: &mut impl Rng) -> u128 {
    loop {
        let id = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        if id != 0 {
            return id;
        }
    }
}

/// A random span id (never zero, as W3C requires).
fn nonzero_u64(rng: &mut impl Rng) -> u64 {
    loop {
        let id = rng.next_u64();
        if id != 0 {
            return id;
        }
    }
}

/// `00-{trace id}-{span id}-00`, written into one buffer a byte (two hex
/// digits) at a time: the header value is the only allocation (this runs
/// for each upstream request of 99% of requests at 1% sampling).
///
/// The buffer is the value's owner (`Bytes::from_owner`), so copies of
/// the value share it by a count: a value copied from a `Vec` (what
/// `HeaderValue::from_bytes` makes) is moved to a shared buffer of its own
/// on its first copy, which every proxied request makes (the head kept
/// for a retry): a second allocation (callgrind).
fn new_unsampled_traceparent(trace_id: u128, span_id: u64) -> HeaderValue {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    write_hex(&mut out[3..35], &trace_id.to_be_bytes());
    write_hex(&mut out[36..52], &span_id.to_be_bytes());
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(out))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Lowercase hex of `bytes` into `out` (exactly twice as long, as every
/// caller's fixed-size field is).
///
/// A byte at a time from a table of digit pairs: `hex::encode_to_slice`
/// works a nibble at a time, and this runs on 99% of requests at 1%
/// sampling (twenty-four bytes each).
fn write_hex(out: &mut [u8], bytes: &[u8]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
    }
}

/// Each byte's two lowercase hex digits.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [DIGITS[byte >> 4], DIGITS[byte & 0xf]];
        byte += 1;
    }
    pairs
};

/// The parts of a valid W3C `traceparent` the decision needs.
#[derive(Debug, PartialEq, Eq)]
struct Parent<'a> {
    trace_id: &'a str,
    sampled: bool,
}

/// Parses `version-traceid-parentid-flags` as W3C Trace Context level 1
/// (and the SDK's propagator) accepts it: lowercase hex, neither id all
/// zeros, version `ff` invalid, version `00` exactly 55 bytes, later
/// versions possibly longer after a `-`.
fn parse_traceparent(value: &[u8]) -> Option<Parent<'_>> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if text.len() < 55 {
        return None;
    }
    let (version, rest) = (&text[..2], &text[2..]);
    let lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !lower_hex(version) || version == "ff" || (version == "00" && text.len() != 55) {
        return None;
    }
    if text.len() > 55 && text.as_bytes()[55] != b'-' {
        return None;
    }
    let bytes = rest.as_bytes();
    if bytes[0] != b'-' || bytes[33] != b'-' || bytes[50] != b'-' {
        return None;
    }
    let (trace_id, parent_id, flags) = (&rest[1..33], &rest[34..50], &rest[51..53]);
    let all_zero = |s: &str| s.bytes().all(|b| b == b'0');
    if !lower_hex(trace_id) || !lower_hex(parent_id) || !lower_hex(flags) {
        return None;
    }
    if all_zero(trace_id) || all_zero(parent_id) {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(Parent {
        trace_id,
        sampled: flags & 1 == 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn headers(traceparent: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_str(traceparent).unwrap());
        headers
    }

    #[test]
    fn a_valid_parent_decides_by_its_flag_whatever_the_ratio() {
        let mut rng = StdRng::seed_from_u64(1);
        let sampled = headers(&format!("00-{TRACE}-00f067aa0ba902b7-01"));
        assert_eq!(decide_with(&sampled, 0, &mut rng), Decision::Sampled);
        let value = format!("00-{TRACE}-00f067aa0ba902b7-00");
        let Decision::Unsampled(trace) = decide_with(&headers(&value), u64::MAX, &mut rng) else {
            panic!("a 00 flag is not sampled");
        };
        assert_eq!(trace.traceparent(), value.as_str());
        assert_eq!(&*trace.trace_id(), TRACE);
    }

    #[test]
    fn invalid_parents_are_ignored() {
        for bad in [
            format!("00-{TRACE}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{}-00f067aa0ba902b7-01", TRACE.to_uppercase()),
            format!("ff-{TRACE}-00f067aa0ba902b7-01"),
            format!("00-{TRACE}-00f067aa0ba902b7-01-extra"),
            format!("00_{TRACE}-00f067aa0ba902b7-01"),
            "garbage".to_owned(),
        ] {
            assert_eq!(parse_traceparent(bad.as_bytes()), None, "{bad}");
        }
        let future = format!("01-{TRACE}-00f067aa0ba902b7-01-more");
        assert!(parse_traceparent(future.as_bytes()).is_some());
    }

    #[test]
    fn without_a_parent_the_ratio_decides_and_a_new_unsampled_trace_is_made() {
        let mut rng = StdRng::seed_from_u64(7);
        let none = HeaderMap::new();
        assert_eq!(decide_with(&none, u64::MAX, &mut rng), Decision::Sampled);
        let Decision::Unsampled(trace) = decide_with(&none, 0, &mut rng) else {
            panic!("ratio 0 samples nothing");
        };
        let value = trace.traceparent();
        let parsed = parse_traceparent(value.as_bytes()).expect("a valid traceparent");
        assert!(!parsed.sampled);
        assert_eq!(parsed.trace_id, &*trace.trace_id());
        assert_eq!(trace.traceparent(), value, "the same value every time");

        let kept = (0..10_000)
            .filter(|_| decide_with(&none, threshold(0.25), &mut rng) == Decision::Sampled)
            .count();
        assert!((2_200..2_800).contains(&kept), "{kept} of 10000 at 25%");
    }

    #[test]
    fn a_new_traceparent_is_the_ids_in_lowercase_hex() {
        let value = new_unsampled_traceparent(
            0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
            0x00f0_67aa_0ba9_02b7,
        );
        assert_eq!(value, format!("00-{TRACE}-00f067aa0ba902b7-00").as_str());
        let small = new_unsampled_traceparent(1, 1);
        assert_eq!(
            small,
            "00-00000000000000000000000000000001-0000000000000001-00"
        );
    }

    #[test]
    fn every_byte_is_written_as_two_lowercase_hex_digits() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut out = vec![0; 512];
        write_hex(&mut out, &bytes);
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(String::from_utf8(out).expect("ascii"), expected);
    }

    #[test]
    fn thresholds() {
        assert_eq!(threshold(1.0), u64::MAX);
        assert_eq!(threshold(0.0), 0);
        assert_eq!(threshold(-1.0), 0);
        assert!(threshold(0.5).abs_diff(u64::MAX / 2) < 1 << 12);
    }
}
