//! Every unit, decimals, combinations, and each message.

use super::*;

#[test]
fn every_unit() {
    assert_eq!(parse("500us"), Ok(Duration::from_micros(500)));
    assert_eq!(parse("500µs"), Ok(Duration::from_micros(500)));
    assert_eq!(parse("150ms"), Ok(Duration::from_millis(150)));
    assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
    assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
    assert_eq!(parse("0s"), Ok(Duration::ZERO));
    assert_eq!(parse("0"), Ok(Duration::ZERO));
    assert_eq!(parse(" 30ms "), Ok(Duration::from_millis(30)));
}

#[test]
fn decimals_are_exact() {
    assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse("0.25ms"), Ok(Duration::from_micros(250)));
    assert_eq!(parse("1.5m"), Ok(Duration::from_secs(90)));
    assert_eq!(parse("0.1s"), Ok(Duration::from_millis(100)));
    assert_eq!(parse("2.000001s"), Ok(Duration::new(2, 1_000)));
}

#[test]
fn parts_combine() {
    assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse("1s500ms"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse("1.5 s"), Ok(Duration::from_millis(1500)));
}

#[test]
fn each_mistake_has_its_message() {
    let message = |text: &str| parse(text).unwrap_err().to_string();
    assert_eq!(
        message("150"),
        "duration \"150\" needs a unit (us, ms, s, m or h), e.g. \"150ms\""
    );
    assert_eq!(
        message("1.5"),
        "duration \"1.5\" needs a unit (us, ms, s, m or h), e.g. \"1.5ms\""
    );
    assert_eq!(
        message("2sec"),
        "unknown unit \"sec\" in duration \"2sec\"; use us, ms, s, m or h"
    );
    assert_eq!(
        message("1M"),
        "unknown unit \"M\" in duration \"1M\"; use us, ms, s, m or h"
    );
    for bad in ["fast", "-1s", ".5s", "1.s", "1..5s", "1.2.3s", "s"] {
        assert_eq!(
            message(bad),
            format!(
                "invalid duration \"{bad}\"; write a number and a unit (us, ms, s, m or h), e.g. \"150ms\", \"1.5s\" or \"1m30s\""
            )
        );
    }
    assert_eq!(
        message(""),
        "empty duration; write e.g. \"150ms\", \"1.5s\" or \"1m\""
    );
    assert!(
        !message("1.5x").contains("\".\""),
        "no `unknown unit \".\"`"
    );
}

#[test]
fn out_of_range_is_an_error_not_a_panic() {
    let huge = format!("{}h", u64::MAX);
    assert_eq!(
        parse(&huge).unwrap_err(),
        DurationError::OutOfRange(huge.clone())
    );
    assert!(parse("99999999999999999999999s").is_err());
    assert!(matches!(
        parse("0.0000000001s"),
        Err(DurationError::OutOfRange(_))
    ));
}
