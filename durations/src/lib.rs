//! The one duration syntax shared by the gateway's `routes.yaml` and the
//! mock backends' command-line flags: a number with a unit, or several in a
//! row, `us` (or `µs`), `ms`, `s`, `m`, `h`; decimals are allowed
//! (`1.5s`, `0.25ms`, `1m30s`, `1h 30m`); a bare `0` is zero.
//!
//! It is a crate of its own because the gateway needs it without the
//! mocks (they are an optional dependency of its demo feature) and the
//! mocks depend on nothing of the gateway. The arithmetic is `humantime`'s
//! (exact decimal fractions, no floats; overflow and sub-nanosecond values
//! are errors). We wrap it for two reasons: its messages carry byte
//! offsets (`invalid character at 1`) and list units we do not accept, and
//! it accepts units a config should not (`M` is a month next to `m`, a
//! minute; days, weeks, years). [`parse`] checks the units and the shape
//! of each number first and says what is wrong in words.

use std::time::Duration;

/// The units, as the messages list them.
pub const UNITS: &str = "us, ms, s, m or h";

/// Why a duration does not parse. Its `Display` is the whole message;
/// callers add where the value came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration; write e.g. \"150ms\", \"1.5s\" or \"1m\"")]
    Empty,
    #[error(
        "invalid duration \"{0}\"; write a number and a unit ({UNITS}), e.g. \"150ms\", \"1.5s\" or \"1m30s\""
    )]
    Invalid(String),
    #[error("duration \"{text}\" needs a unit ({UNITS}), e.g. \"{number}ms\"")]
    MissingUnit { text: String, number: String },
    #[error("unknown unit \"{unit}\" in duration \"{text}\"; use {UNITS}")]
    UnknownUnit { text: String, unit: String },
    #[error("duration \"{0}\" is too large, or finer than a nanosecond")]
    OutOfRange(String),
}

/// Parses a duration (see the crate docs for the syntax).
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    if trimmed.bytes().all(|b| b == b'0') {
        return Ok(Duration::ZERO);
    }
    for (number, unit) in parts(trimmed).ok_or_else(|| DurationError::Invalid(text.to_owned()))? {
        if !is_number(number) {
            return Err(DurationError::Invalid(text.to_owned()));
        }
        match unit {
            "" => {
                return Err(DurationError::MissingUnit {
                    text: text.to_owned(),
                    number: number.to_owned(),
                });
            }
            "us" | "µs" | "ms" | "s" | "m" | "h" => {}
            other => {
                return Err(DurationError::UnknownUnit {
                    text: text.to_owned(),
                    unit: other.to_owned(),
                });
            }
        }
    }
    humantime::parse_duration(trimmed).map_err(|error| match error {
        humantime::DurationError::NumberOverflow => DurationError::OutOfRange(text.to_owned()),
        _ => DurationError::Invalid(text.to_owned()),
    })
}

/// Splits `"1.5m 30s"` into `[("1.5", "m"), ("30", "s")]`: a number is
/// digits and dots, then optional spaces, then a unit up to the next
/// space or digit. `None` when a
/// part does not start with a number.
fn parts(text: &str) -> Option<Vec<(&str, &str)>> {
    let mut parts = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_end == 0 {
            return None;
        }
        let after = rest[number_end..].trim_start();
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(after.len());
        parts.push((&rest[..number_end], &after[..unit_len]));
        rest = after[unit_len..].trim_start();
    }
    Some(parts)
}

/// `12`, `1.5`; not `.5`, `1.`, `1.2.3`.
fn is_number(text: &str) -> bool {
    let mut halves = text.splitn(2, '.');
    let whole = halves.next().unwrap_or_default();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && halves.next().is_none_or(digits)
}

#[cfg(test)]
mod tests;
