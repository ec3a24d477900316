//! Durations (`150ms`, `2s`, `1m30s`) and byte sizes (`2MB`, `512KiB`).
//!
//! Pure string parsers; their `Err` is the message shown to the user,
//! without position (the caller adds that).

use std::time::Duration;

const DURATION_UNITS: &str = "us, ms, s, m or h";
const SIZE_UNITS: &str = "B, KB, MB, GB, KiB, MiB or GiB";

/// Parses one or more `<integer><unit>` parts, units `us`, `ms`, `s`, `m`,
/// `h`: `500us`, `150ms`, `2s`, `1m30s`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration; write e.g. \"150ms\", \"2s\" or \"1m\"".to_owned());
    }
    let mut total = Duration::ZERO;
    for (number, unit) in split_number_unit_parts(trimmed).ok_or_else(|| {
        format!("invalid duration \"{text}\"; write e.g. \"150ms\", \"2s\" or \"1m\"")
    })? {
        if unit.is_empty() {
            return Err(format!(
                "duration \"{text}\" needs a unit ({DURATION_UNITS}), e.g. \"{number}ms\""
            ));
        }
        let part = duration_part(number, unit).ok_or_else(|| {
            format!("unknown unit \"{unit}\" in duration \"{text}\"; use {DURATION_UNITS}")
        })?;
        total = total
            .checked_add(part.ok_or_else(|| format!("duration \"{text}\" is too large"))?)
            .ok_or_else(|| format!("duration \"{text}\" is too large"))?;
    }
    Ok(total)
}

/// `None` for an unknown unit, `Some(None)` on overflow.
fn duration_part(number: u64, unit: &str) -> Option<Option<Duration>> {
    let part = match unit {
        "us" | "µs" => Some(Duration::from_micros(number)),
        "ms" => Some(Duration::from_millis(number)),
        "s" => Some(Duration::from_secs(number)),
        "m" => number.checked_mul(60).map(Duration::from_secs),
        "h" => number.checked_mul(3600).map(Duration::from_secs),
        _ => return None,
    };
    Some(part)
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
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_combine_parts() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn duration_errors_say_what_is_wrong() {
        assert_eq!(
            parse_duration("150").unwrap_err(),
            "duration \"150\" needs a unit (us, ms, s, m or h), e.g. \"150ms\""
        );
        assert_eq!(
            parse_duration("2sec").unwrap_err(),
            "unknown unit \"sec\" in duration \"2sec\"; use us, ms, s, m or h"
        );
        assert_eq!(
            parse_duration("fast").unwrap_err(),
            "invalid duration \"fast\"; write e.g. \"150ms\", \"2s\" or \"1m\""
        );
        assert!(
            parse_duration("")
                .unwrap_err()
                .starts_with("empty duration")
        );
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1.5s").is_err());
    }

    #[test]
    fn duration_overflow_is_an_error_not_a_panic() {
        let huge = format!("{}h", u64::MAX);
        assert_eq!(
            parse_duration(&huge).unwrap_err(),
            format!("duration \"{huge}\" is too large")
        );
        assert!(parse_duration("99999999999999999999999s").is_err());
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
