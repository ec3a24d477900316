//! Durations (`150ms`, `1.5s`, `1m30s`; the `durations` crate, shared with
//! the mocks' flags) and byte sizes (`2MB`, `512KiB`).
//!
//! Pure string parsers; their `Err` is the message shown to the user,
//! without position (the caller adds that).

use std::time::Duration;

const SIZE_UNITS: &str = "B, KB, MB, GB, KiB, MiB or GiB";

/// Parses a duration with the syntax the mocks' flags share (crate
/// `durations`): `500us`, `150ms`, `1.5s`, `1m30s`, `2h`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    durations::parse(text).map_err(|error| error.to_string())
}

/// Parses a byte size: a plain integer (bytes) or an integer with a unit.
/// Decimal units are powers of 1000 (`2MB` = 2 000 000), binary units
/// powers of 1024 (`512KiB` = 524 288). Units are case-insensitive.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let invalid =
        || format!("invalid size \"{text}\"; write e.g. \"1048576\", \"2MB\" or \"512KiB\"");
    let trimmed = text.trim();
    let parts = split_number_unit_parts(trimmed).ok_or_else(invalid)?;
    let [(number, unit)] = parts.as_slice() else {
        return Err(invalid());
    };
    let multiplier = size_multiplier(unit.trim_start())
        .ok_or_else(|| format!("unknown unit \"{unit}\" in size \"{text}\"; use {SIZE_UNITS}"))?;
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size \"{text}\" is too large"))
}

fn size_multiplier(unit: &str) -> Option<u64> {
    let multiplier = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    Some(multiplier)
}

/// Splits `"1m30s"` into `[(1, "m"), (30, "s")]`. A unit is everything up
/// to the next digit. `None` if the text does not start with a digit or a
/// number does not fit in a `u64`.
fn split_number_unit_parts(text: &str) -> Option<Vec<(u64, &str)>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return None;
        }
        let number = rest[..digits_end].parse().ok()?;
        let unit_end = rest[digits_end..]
            .find(|c: char| c.is_ascii_digit())
            .map_or(rest.len(), |offset| digits_end + offset);
        parts.push((number, &rest[digits_end..unit_end]));
        rest = &rest[unit_end..];
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_shared_syntax() {
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(
            parse_duration("1.5x").unwrap_err(),
            "unknown unit \"x\" in duration \"1.5x\"; use us, ms, s, m or h"
        );
    }

    #[test]
    fn sizes_plain_decimal_and_binary() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("10B"), Ok(10));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("2mb"), Ok(2_000_000));
        assert_eq!(parse_size("512KiB"), Ok(524_288));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("16 MiB"), Ok(16 << 20));
    }

    #[test]
    fn size_errors_say_what_is_wrong() {
        assert_eq!(
            parse_size("2XB").unwrap_err(),
            "unknown unit \"XB\" in size \"2XB\"; use B, KB, MB, GB, KiB, MiB or GiB"
        );
        assert_eq!(
            parse_size("big").unwrap_err(),
            "invalid size \"big\"; write e.g. \"1048576\", \"2MB\" or \"512KiB\""
        );
        assert!(parse_size("1MB2KB").is_err());
        assert!(parse_size("-1").is_err());
        assert_eq!(
            parse_size("99999999999GiB").unwrap_err(),
            "size \"99999999999GiB\" is too large"
        );
    }
}
