//! The JSON record's writer: the object written field by field into the
//! worker's buffer, byte for byte what `serde_json` writes for the same
//! values (the tests compare the two).
//!
//! A measurement decided it: through `serde_json` a record cost about a
//! microsecond of the request's worker, most of it in the serializer's
//! per-field machinery (each key escaped again, each value through the
//! formatter trait) and in the shortest-float writer for the durations.
//! Here the keys are literals, strings are copied whole unless a byte
//! needs escaping, integers go through `itoa`, and a duration (a whole
//! number of microseconds) is written as its exact decimal in
//! milliseconds, which is the shortest float that reads back as the same
//! `f64`.

use std::net::IpAddr;

use crate::ip_text::IpText;
use crate::json_write::string;

/// A field's key as it is written, with its punctuation: `,"name":`
/// (made by [`key!`]). An array of a size known when compiling, so its
/// copy is a few moves rather than a call to `memcpy` (a measurable part
/// of a record, with twenty keys).
#[derive(Debug, Clone, Copy)]
pub(super) struct Key<const N: usize>(pub(super) &'static [u8; N]);

/// The [`Key`] of a field named by a literal: the record's own names are
/// plain ASCII, never escaped.
macro_rules! key {
    ($name:literal) => {{
        const TEXT: &str = concat!(",\"", $name, "\":");
        const BYTES: [u8; TEXT.len()] = match TEXT.as_bytes().first_chunk() {
            Some(bytes) => *bytes,
            None => unreachable!(),
        };
        $crate::access_log::json::Key(&BYTES)
    }};
}
pub(super) use key;

/// Writes one JSON object, its fields in the order they are added.
pub(super) struct JsonObject<'a> {
    out: &'a mut Vec<u8>,
    /// Where the object starts in `out`: every key is written after a
    /// comma, and [`JsonObject::close`] turns the first one into `{`.
    start: usize,
}

impl<'a> JsonObject<'a> {
    pub(super) fn open(out: &'a mut Vec<u8>) -> Self {
        // A usual record fits: one capacity check instead of one per copy
        // that would grow the buffer.
        out.reserve(RECORD_RESERVE);
        let start = out.len();
        Self { out, start }
    }

    fn key<const N: usize>(&mut self, key: Key<N>) {
        self.out.extend_from_slice(key.0);
    }

    pub(super) fn str<const N: usize>(&mut self, key: Key<N>, value: &str) {
        self.key(key);
        string(self.out, value);
    }

    /// A string that never needs escaping (the record's own words, a
    /// timestamp, an HTTP method, which is a token): copied whole.
    pub(super) fn plain_str<const N: usize>(&mut self, key: Key<N>, value: &str) {
        debug_assert!(
            !crate::json_write::needs_escaping(value),
            "{value:?} needs escaping"
        );
        self.key(key);
        self.out.push(b'"');
        self.out.extend_from_slice(value.as_bytes());
        self.out.push(b'"');
    }

    /// A string of ASCII bytes that never need escaping, of a length known
    /// when compiling (a timestamp).
    pub(super) fn ascii<const N: usize, const M: usize>(&mut self, key: Key<N>, value: &[u8; M]) {
        self.key(key);
        self.out.push(b'"');
        self.out.extend_from_slice(value);
        self.out.push(b'"');
    }

    /// A string, or `null`.
    pub(super) fn opt_str<const N: usize>(&mut self, key: Key<N>, value: Option<&str>) {
        self.key(key);
        match value {
            Some(value) => string(self.out, value),
            None => self.out.extend_from_slice(b"null"),
        }
    }

    /// A value already written as JSON (a name escaped once, see
    /// `EndpointName`), or `null`.
    pub(super) fn opt_json<const N: usize>(&mut self, key: Key<N>, value: Option<&str>) {
        self.key(key);
        let value = value.unwrap_or("null");
        self.out.extend_from_slice(value.as_bytes());
    }

    pub(super) fn uint<const N: usize>(&mut self, key: Key<N>, value: u64) {
        self.key(key);
        uint(self.out, value);
    }

    /// An unsigned integer, or `null`.
    pub(super) fn opt_uint<const N: usize>(&mut self, key: Key<N>, value: Option<u64>) {
        match value {
            Some(value) => self.uint(key, value),
            None => {
                self.key(key);
                self.out.extend_from_slice(b"null");
            }
        }
    }

    /// An IP address as a string, as `Display` writes it.
    pub(super) fn ip<const N: usize>(&mut self, key: Key<N>, value: IpAddr) {
        self.key(key);
        self.out.push(b'"');
        self.out.extend_from_slice(IpText::of(value).as_bytes());
        self.out.push(b'"');
    }

    /// `micros` microseconds as a number of milliseconds (`0.414`,
    /// `12.0`), or `null`.
    pub(super) fn opt_millis<const N: usize>(&mut self, key: Key<N>, micros: Option<u128>) {
        self.key(key);
        match micros {
            Some(micros) => millis(self.out, micros),
            None => self.out.extend_from_slice(b"null"),
        }
    }

    pub(super) fn close(self) {
        match self.out.get_mut(self.start) {
            Some(comma) => *comma = b'{',
            None => self.out.push(b'{'),
        }
        self.out.push(b'}');
    }
}

/// Below this many microseconds (about 31 years) a duration's decimal has
/// at most 15 significant digits, so it is the shortest float that reads
/// back as the same `f64`, which is what `serde_json` writes.
const EXACT_MICROS: u128 = 1_000_000_000_000_000;

/// Writes `micros / 1000` as `serde_json` writes that `f64`.
fn millis(out: &mut Vec<u8>, micros: u128) {
    if micros >= EXACT_MICROS {
        let _ = serde_json::to_writer(&mut *out, &((micros as f64) / 1000.0));
        return;
    }
    // Below the bound the count fits a `u64`, whose division by a
    // constant is a multiplication (a `u128`'s is a library call).
    let micros = micros as u64;
    let (whole, fraction) = (micros / 1000, (micros % 1000) as u16);
    uint(out, whole);
    out.push(b'.');
    if fraction == 0 {
        out.push(b'0');
        return;
    }
    let digits = [
        b'0' + (fraction / 100) as u8,
        b'0' + (fraction / 10 % 10) as u8,
        b'0' + (fraction % 10) as u8,
    ];
    let significant = if fraction % 100 == 0 {
        1
    } else if fraction % 10 == 0 {
        2
    } else {
        3
    };
    out.extend_from_slice(&digits[..significant]);
}

/// Writes `value` in decimal. A record's numbers are mostly one digit
/// (attempts, a request's body bytes, a duration's whole milliseconds) or
/// three (a status): those are written directly, the rest through `itoa`.
/// The text line writes its numbers with it too.
pub(super) fn uint(out: &mut Vec<u8>, value: u64) {
    match value {
        0..=9 => out.push(b'0' + value as u8),
        100..=999 => {
            let value = value as u16;
            out.extend_from_slice(&[
                b'0' + (value / 100) as u8,
                b'0' + (value / 10 % 10) as u8,
                b'0' + (value % 10) as u8,
            ]);
        }
        _ => out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes()),
    }
}

/// Room reserved for a record before it is written (most are shorter).
const RECORD_RESERVE: usize = 768;

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_millis(micros: u128) -> String {
        serde_json::to_string(&((micros as f64) / 1000.0)).expect("f64")
    }

    fn our_millis(micros: u128) -> String {
        let mut out = Vec::new();
        millis(&mut out, micros);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn durations_are_written_as_serde_json_writes_the_same_f64() {
        // Every value up to 2 s, then samples up to and past the bound.
        let samples = (0..2_000_000u128)
            .chain((0..60).map(|shift| 1u128 << shift))
            .chain([
                EXACT_MICROS - 1,
                EXACT_MICROS,
                EXACT_MICROS + 1,
                86_400_000_000,
                123_456_789_012_345,
                u128::from(u64::MAX),
            ]);
        for micros in samples {
            assert_eq!(our_millis(micros), serde_millis(micros), "{micros} µs");
        }
    }

    #[test]
    fn an_object_has_its_fields_in_order_with_nulls_for_absent_values() {
        let mut out = Vec::new();
        let mut object = JsonObject::open(&mut out);
        object.str(key!("a"), "x");
        object.opt_str(key!("b"), None);
        object.uint(key!("c"), 7);
        object.opt_uint(key!("d"), None);
        object.opt_uint(key!("e"), Some(u64::MAX));
        object.ip(key!("f"), IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]));
        object.ip(key!("f4"), IpAddr::from([10, 0, 255, 7]));
        object.opt_millis(key!("g"), Some(1_500));
        object.opt_millis(key!("h"), None);
        object.close();
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"{"a":"x","b":null,"c":7,"d":null,"e":18446744073709551615,"f":"::1","f4":"10.0.255.7","g":1.5,"h":null}"#
        );
    }

    #[test]
    fn integers_are_written_as_itoa_writes_them() {
        let samples = (0..=2_000u64).chain([9_999, 10_000, 65_535, 1 << 40, u64::MAX]);
        for value in samples {
            let mut out = Vec::new();
            uint(&mut out, value);
            assert_eq!(out, itoa::Buffer::new().format(value).as_bytes(), "{value}");
        }
    }

    #[test]
    fn objects_follow_what_the_buffer_already_holds() {
        let mut out = b"{\"before\":1}\n".to_vec();
        JsonObject::open(&mut out).close();
        let mut object = JsonObject::open(&mut out);
        object.uint(key!("n"), 2);
        object.close();
        assert_eq!(out, b"{\"before\":1}\n{}{\"n\":2}");
    }
}
