//! JSON text written straight into a byte buffer, byte for byte what
//! `serde_json` writes for the same values (the tests compare the two):
//! the access log's records, the GraphQL response, subgraph request
//! bodies and entity representations.
//!
//! Written here because `serde_json`'s string escaping looks up every
//! byte in a table and writes through its formatter trait: in profiles of
//! the access log and of a GraphQL list operation it was the largest
//! single cost after hashing. Most strings (ids, names, paths) need no
//! escaping, so they are checked a word at a time and copied whole.

use serde_json::{Map, Value};

/// Writes `value` as JSON, as `serde_json::to_writer` does (maps in their
/// order, numbers through `serde_json`).
pub(crate) fn value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            // Writing a number into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, number);
        }
        Value::String(text) => string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                self::value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => object(out, map),
    }
}

/// Writes a JSON object, its entries in their order.
pub(crate) fn object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    out.push(b'{');
    for (index, (key, item)) in map.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        string(out, key);
        out.push(b':');
        value(out, item);
    }
    out.push(b'}');
}

/// Whether `text` has a byte that a JSON string must escape.
pub(crate) fn needs_escaping(text: &str) -> bool {
    !is_clean(text.as_bytes())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Eight copies of a byte, for the word-at-a-time scan.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// The bytes of `word` that need escaping, as their high bits: below
/// 0x20, a `"` or a `\` (the classic "has a zero byte" test on `word`
/// xor each of those bytes, and on the bytes below 0x20). Bits above the
/// first such byte may be set too, so only "zero or not" is exact.
fn escape_bits(word: u64) -> u64 {
    const LOW: u64 = splat(0x01);
    const HIGH: u64 = splat(0x80);
    let zero_bytes = |x: u64| x.wrapping_sub(LOW) & !x & HIGH;
    let below_space = word.wrapping_sub(splat(0x20)) & !word & HIGH;
    below_space | zero_bytes(word ^ splat(b'"')) | zero_bytes(word ^ splat(b'\\'))
}

fn word_at(bytes: &[u8; 8]) -> u64 {
    u64::from_ne_bytes(*bytes)
}

/// Whether no byte of `bytes` needs escaping. Every word is tested without
/// a branch per word, and the last few bytes as the (overlapping) last
/// word: most values are short ids, names and paths that need none, and
/// for them this is a handful of instructions per eight bytes.
fn is_clean(bytes: &[u8]) -> bool {
    let (words, _) = bytes.as_chunks::<8>();
    let Some(last) = bytes.last_chunk::<8>() else {
        return !bytes.iter().copied().any(byte_needs_escape);
    };
    let dirty = words
        .iter()
        .fold(escape_bits(word_at(last)), |dirty, word| {
            dirty | escape_bits(word_at(word))
        });
    dirty == 0
}

/// The length of `bytes`' longest prefix of whole eight-byte words that
/// need no escaping.
fn clean_prefix(bytes: &[u8]) -> usize {
    let (words, _) = bytes.as_chunks::<8>();
    words
        .iter()
        .position(|word| escape_bits(word_at(word)) != 0)
        .unwrap_or(words.len())
        * 8
}

/// Whether one byte must be escaped in a JSON string.
fn byte_needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// A JSON string: `"` and `\` escaped, control characters as `\n`, `\t`,
/// ... or `\u00XX` (as `serde_json` does), the rest copied as it is.
pub(crate) fn string(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    // Most values (paths, ids, names) need no escaping: copied whole.
    if is_clean(bytes) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let clean = clean_prefix(bytes);
    out.push(b'"');
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate().skip(clean) {
        let escaped: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        out.extend_from_slice(escaped);
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_ascii: String = (0u8..=0x7f).map(char::from).collect();
        // Each special byte at each position of a word, after a clean word.
        let placed: Vec<String> = ['"', '\\', '\n', '\u{0}', '\u{1f}', ' ', '~', '\u{7f}', 'é']
            .iter()
            .flat_map(|special| {
                // Past the last whole word too (the overlapping last word).
                (0..=24).map(move |at| {
                    let mut text = "abcdefgh".repeat(3);
                    text.insert(at, *special);
                    text
                })
            })
            .collect();
        let samples = [
            "",
            "plain",
            "quote \" and backslash \\",
            "line\nfeed\r\ttab\u{8}\u{c}",
            "\u{0}\u{1f}\u{7f}",
            "ünïcödé ✓ 🚀",
            "trailing\\",
            &every_ascii,
        ];
        for sample in samples.into_iter().chain(placed.iter().map(String::as_str)) {
            let mut out = Vec::new();
            string(&mut out, sample);
            assert_eq!(
                String::from_utf8(out).expect("utf-8"),
                serde_json::to_string(sample).expect("string"),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn every_length_and_position_of_an_escaped_byte_is_found() {
        for length in 0..=33 {
            let clean = "x".repeat(length);
            let mut out = Vec::new();
            string(&mut out, &clean);
            assert_eq!(out, serde_json::to_vec(&clean).expect("string"));
            for at in 0..length {
                for special in ['"', '\\', '\u{1}'] {
                    let mut text = clean.clone();
                    text.replace_range(at..=at, special.encode_utf8(&mut [0; 4]));
                    let mut out = Vec::new();
                    string(&mut out, &text);
                    assert_eq!(out, serde_json::to_vec(&text).expect("string"), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let samples = [
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!(false),
            serde_json::json!(0),
            serde_json::json!(-17),
            serde_json::json!(u64::MAX),
            serde_json::json!(1.5),
            serde_json::json!(1e300),
            serde_json::json!(0.1),
            serde_json::json!("quote \" and \n"),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!([1, "two", null, [3.25], {"k": false}]),
            serde_json::json!({"z": 1, "a": {"nested \"key\"": [true, {"x": "é"}]}, "m": -0.0}),
        ];
        for sample in samples {
            let mut out = Vec::new();
            value(&mut out, &sample);
            assert_eq!(
                String::from_utf8(out).expect("utf-8"),
                serde_json::to_string(&sample).expect("value"),
                "{sample}"
            );
        }
    }
}
