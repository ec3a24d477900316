//! What the NATS store writes into messages and reads back: the event as
//! its CloudEvents JSON payload, and the headers of dead letters and
//! replays (the original position and store time, attempts, reason).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::HeaderMap;
use sha2::{Digest, Sha256};

use crate::events::cloud_event::CloudEvent;
use crate::events::store::StoreError;

pub const TOPIC: &str = "Gateway-Topic";
pub const CONSUMER: &str = "Gateway-Consumer";
/// The event's position in its topic's stream.
pub const POSITION: &str = "Gateway-Position";
/// When the topic's stream stored it (Unix nanoseconds).
pub const STORED_AT: &str = "Gateway-Stored-At";
pub const ATTEMPTS: &str = "Gateway-Attempts";
pub const REASON: &str = "Gateway-Reason";

/// Longest dead-letter reason kept, in bytes (longer ones are cut).
pub const MAX_REASON_BYTES: usize = 1024;

pub fn decode_event(payload: &[u8]) -> Result<CloudEvent, StoreError> {
    serde_json::from_slice(payload)
        .map_err(|error| StoreError::Failed(format!("stored event does not decode: {error}")))
}

/// JetStream's timestamps as `SystemTime`.
pub fn system_time(unix_nanos: i128) -> SystemTime {
    u64::try_from(unix_nanos)
        .map(|nanos| UNIX_EPOCH + Duration::from_nanos(nanos))
        .unwrap_or(UNIX_EPOCH)
}

pub fn unix_nanos(time: SystemTime) -> u128 {
    time.duration_since(UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or(0)
}

/// A `Nats-Msg-Id` for a dedupe key: the key itself when it is plain
/// visible ASCII of a sane length, else its SHA-256 (header values
/// cannot carry control characters).
pub fn message_id(key: &str) -> String {
    let plain = key.len() <= 256 && key.bytes().all(|b| (0x21..0x7f).contains(&b));
    if plain {
        key.to_owned()
    } else {
        format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
    }
}

/// A dead-letter reason as a header value: control characters become
/// spaces, it is cut to [`MAX_REASON_BYTES`] and trimmed.
pub fn header_text(reason: &str) -> String {
    let mut text = String::with_capacity(reason.len().min(MAX_REASON_BYTES));
    for c in reason.chars() {
        if text.len() + c.len_utf8() > MAX_REASON_BYTES {
            break;
        }
        text.push(if c.is_control() { ' ' } else { c });
    }
    // NATS trims header values; so does the reason, for what is read back.
    text.trim().to_owned()
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.as_str())
}

pub fn number_header<T: std::str::FromStr>(
    headers: &HeaderMap,
    name: &str,
) -> Result<T, StoreError> {
    header(headers, name)
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| StoreError::Failed(format!("stored message lacks a valid {name} header")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_are_their_own_message_id() {
        assert_eq!(message_id("order-42"), "order-42");
        let hashed = message_id("line\nbreak");
        assert!(hashed.starts_with("sha256:"), "{hashed}");
        assert_eq!(hashed, message_id("line\nbreak"));
        assert_ne!(hashed, message_id("line\rbreak"));
        assert!(message_id(&"k".repeat(300)).starts_with("sha256:"));
    }

    #[test]
    fn reasons_lose_control_characters_and_are_bounded() {
        assert_eq!(header_text("HTTP 404\r\nbody\n"), "HTTP 404  body");
        let long = "é".repeat(MAX_REASON_BYTES);
        let cut = header_text(&long);
        assert!(cut.len() <= MAX_REASON_BYTES && cut.len() >= MAX_REASON_BYTES - 1);
    }

    #[test]
    fn times_round_trip_through_nanoseconds() {
        let now = SystemTime::now();
        let nanos = i128::try_from(unix_nanos(now)).expect("fits");
        assert_eq!(system_time(nanos), now);
        assert_eq!(system_time(-5), UNIX_EPOCH);
    }
}
