//! The text line's pieces, written straight into the worker's buffer
//! without `core::fmt`.
//!
//! A measurement decided it: written with `write!` (the client's address,
//! every number and both durations through the formatter, and each
//! escaped field a byte at a time), a line cost its worker about 8,400
//! instructions, four times the JSON record of the same request, and text
//! is the default format (callgrind, docs/latency-comparison.md,
//! 2026-12-02). Numbers go through `itoa`, a duration is written from its
//! whole microseconds, and a field is copied in runs between the bytes it
//! must escape.

/// Uppercase, as `{:02X}` writes a byte.
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// An unsigned integer and its separating space.
pub(super) fn uint(out: &mut Vec<u8>, value: u64) {
    super::json::uint(out, value);
    out.push(b' ');
}

/// Below this many microseconds (about 31 years) the `f64` of a
/// duration's milliseconds is within a ten-thousandth of a millisecond
/// of the true value, so `{:.3}` prints its microseconds' own digits.
const EXACT_MICROS: u128 = 1_000_000_000_000_000;

/// `micros` microseconds as milliseconds with three decimals (`12.345`,
/// `0.007`), as `format!("{:.3}", micros as f64 / 1000.0)` writes them,
/// and the separating space.
pub(super) fn millis(out: &mut Vec<u8>, micros: u128) {
    if micros >= EXACT_MICROS {
        let text = format!("{:.3} ", (micros as f64) / 1000.0);
        out.extend_from_slice(text.as_bytes());
        return;
    }
    // Below the bound the count fits a `u64`, whose division by a
    // constant is a multiplication (a `u128`'s is a library call).
    let micros = micros as u64;
    let (whole, fraction) = (micros / 1000, (micros % 1000) as u16);
    out.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
    out.extend_from_slice(&[
        b'.',
        b'0' + (fraction / 100) as u8,
        b'0' + (fraction / 10 % 10) as u8,
        b'0' + (fraction % 10) as u8,
        b' ',
    ]);
}

/// An unquoted field and its separating space: `-` when absent; spaces,
/// quotes, backslashes and bytes outside printable ASCII as `\xHH`.
pub(super) fn token(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(value) if !value.is_empty() => escape(out, value, b' '),
        _ => out.push(b'-'),
    }
    out.push(b' ');
}

/// A field in double quotes and its separating space; `"-"` when absent.
pub(super) fn quoted(out: &mut Vec<u8>, value: Option<&[u8]>) {
    out.push(b'"');
    match value {
        Some(value) if !value.is_empty() => escape(out, value, b'"'),
        _ => out.push(b'-'),
    }
    out.extend_from_slice(b"\" ");
}

/// Copies `value`, writing `\xHH` for `also`, `"`, `\` and any byte
/// outside printable ASCII, so a field never breaks the line's layout.
pub(super) fn escape(out: &mut Vec<u8>, value: &[u8], also: u8) {
    // Most fields (ids, paths, names) need no escaping: skip them a word
    // at a time (a byte at a time cost about 15 instructions a byte).
    let mut start = clean_prefix(value, also);
    if start == value.len() {
        out.extend_from_slice(value);
        return;
    }
    out.extend_from_slice(&value[..start]);
    for (index, &byte) in value.iter().enumerate().skip(start) {
        if needs_escape(byte, also) {
            out.extend_from_slice(&value[start..index]);
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]);
            start = index + 1;
        }
    }
    out.extend_from_slice(&value[start..]);
}

fn needs_escape(byte: u8, also: u8) -> bool {
    byte == also || byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte)
}

/// Eight copies of a byte, for the word-at-a-time scan.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// Whether any of the eight bytes of `word` needs escaping (the classic
/// "has a zero byte" and "has a byte below n" tests; exact as booleans).
fn word_needs_escape(word: u64, also: u8) -> bool {
    const LOW: u64 = splat(0x01);
    const HIGH: u64 = splat(0x80);
    let has_zero = |x: u64| x.wrapping_sub(LOW) & !x & HIGH != 0;
    let below_space = word.wrapping_sub(splat(0x20)) & !word & HIGH != 0;
    word & HIGH != 0
        || below_space
        || has_zero(word ^ splat(0x7f))
        || has_zero(word ^ splat(b'"'))
        || has_zero(word ^ splat(b'\\'))
        || has_zero(word ^ splat(also))
}

/// The length of `bytes`' longest prefix that needs no escaping: whole
/// words, then single bytes.
fn clean_prefix(bytes: &[u8], also: u8) -> usize {
    let mut clean = 0;
    for chunk in bytes.chunks_exact(8) {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
        if word_needs_escape(word, also) {
            break;
        }
        clean += 8;
    }
    clean
        + bytes[clean..]
            .iter()
            .take_while(|&&byte| !needs_escape(byte, also))
            .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).expect("ASCII")
    }

    #[test]
    fn durations_are_written_as_the_formatter_writes_three_decimals() {
        // Every value up to 2 s, then powers of two up to and past the bound.
        let samples = (0..2_000_000u128)
            .chain((0..70).map(|shift| 1u128 << shift))
            .chain([EXACT_MICROS - 1, EXACT_MICROS + 1, 86_400_000_000]);
        for micros in samples {
            let expected = format!("{:.3} ", (micros as f64) / 1000.0);
            assert_eq!(written(|out| millis(out, micros)), expected, "{micros} µs");
        }
    }

    #[test]
    fn every_byte_is_escaped_as_the_formatter_would() {
        // The rule as the line's layout states it, byte by byte.
        let escaped = |byte: u8, also: u8| {
            byte == also || byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte)
        };
        let every_byte: Vec<u8> = (0..=255u8).collect();
        for also in [b' ', b'"'] {
            let expected: String = every_byte
                .iter()
                .map(|&byte| {
                    if escaped(byte, also) {
                        format!("\\x{byte:02X}")
                    } else {
                        char::from(byte).to_string()
                    }
                })
                .collect();
            assert_eq!(written(|out| escape(out, &every_byte, also)), expected);
        }
        assert_eq!(written(|out| escape(out, b"a b\"c", b' ')), "a\\x20b\\x22c");
        // Each byte at each position of a word, after clean words.
        for byte in 0..=255u8 {
            for at in 0..17 {
                let mut value = b"abcdefgh".repeat(3);
                value.insert(at, byte);
                let expected = if escaped(byte, b' ') {
                    let (before, after) = value.split_at(at);
                    format!(
                        "{}\\x{byte:02X}{}",
                        String::from_utf8_lossy(before),
                        String::from_utf8_lossy(&after[1..])
                    )
                } else {
                    String::from_utf8_lossy(&value).into_owned()
                };
                assert_eq!(written(|out| escape(out, &value, b' ')), expected);
            }
        }
        assert_eq!(written(|out| escape(out, b"", b' ')), "");
    }

    #[test]
    fn absent_and_empty_fields_are_a_dash() {
        assert_eq!(written(|out| token(out, None)), "- ");
        assert_eq!(written(|out| token(out, Some(b""))), "- ");
        assert_eq!(written(|out| quoted(out, None)), "\"-\" ");
        assert_eq!(written(|out| quoted(out, Some(b"GET /x"))), "\"GET /x\" ");
        assert_eq!(written(|out| uint(out, u64::MAX)), "18446744073709551615 ");
    }
}
