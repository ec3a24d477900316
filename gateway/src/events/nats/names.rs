//! How the NATS store names what it creates on the server (pure).
//!
//! With `stream_prefix: GATEWAY`:
//! - a topic `orders` is the stream `GATEWAY_orders` holding the one
//!   subject `GATEWAY.orders`; an event's position is its stream sequence;
//! - a consumer `notify` of that topic is the durable pull consumer
//!   `notify` on that stream;
//! - dead letters live in the stream `GATEWAY_DLQ`, one subject per
//!   consumer: `GATEWAY.dlq.orders.notify`;
//! - replayed dead letters wait in the work-queue stream `GATEWAY_REPLAY`,
//!   on `GATEWAY.replay.orders.notify`, read by the durable consumer
//!   `notify` there;
//! - a key-value bucket `requests` is the JetStream KV bucket
//!   `GATEWAY_requests`; keys are stored base64url-encoded (any string is
//!   a valid key).
//!
//! Names that are also subject tokens may use only `A-Z a-z 0-9 _ -`, so
//! every name maps to exactly one stream and subject. Topic names are
//! checked by the config; a consumer name is the gateway's own (a fanout
//! subscription's is `NAME@HOST:PORT`), so one that is not a token is
//! encoded: `x-` and its base64url ([`consumer_token`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Topic names that would collide with the store's own streams.
const RESERVED_TOPICS: [&str; 2] = ["DLQ", "REPLAY"];

/// The names under one `stream_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Names {
    /// Checks the prefix (a stream-name and subject token).
    pub fn new(prefix: &str) -> Result<Names, String> {
        check_token("stream_prefix", prefix)?;
        Ok(Names {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Checks that `topic` can name a stream and a subject.
    pub fn check_topic(&self, topic: &str) -> Result<(), String> {
        check_token("topic", topic)?;
        if RESERVED_TOPICS.contains(&topic) {
            return Err(format!(
                "topic name {topic:?} is reserved by the NATS store (its stream would be {}_{topic})",
                self.prefix
            ));
        }
        Ok(())
    }

    pub fn topic_stream(&self, topic: &str) -> String {
        format!("{}_{topic}", self.prefix)
    }

    pub fn topic_subject(&self, topic: &str) -> String {
        format!("{}.{topic}", self.prefix)
    }

    pub fn dead_letter_stream(&self) -> String {
        format!("{}_DLQ", self.prefix)
    }

    /// Every dead-letter subject (the DLQ stream's subjects).
    pub fn dead_letter_subjects(&self) -> String {
        format!("{}.dlq.>", self.prefix)
    }

    pub fn dead_letter_subject(&self, topic: &str, consumer: &str) -> String {
        format!("{}.dlq.{topic}.{}", self.prefix, consumer_token(consumer))
    }

    pub fn replay_stream(&self) -> String {
        format!("{}_REPLAY", self.prefix)
    }

    pub fn replay_subjects(&self) -> String {
        format!("{}.replay.>", self.prefix)
    }

    pub fn replay_subject(&self, topic: &str, consumer: &str) -> String {
        format!(
            "{}.replay.{topic}.{}",
            self.prefix,
            consumer_token(consumer)
        )
    }

    /// The JetStream KV bucket of a store bucket.
    pub fn bucket(&self, bucket: &str) -> String {
        format!("{}_{bucket}", self.prefix)
    }
}

/// The server-side name of a consumer: itself when it is a token, else
/// `x-` and its base64url (a token; every non-token name gets its own).
/// A token maps to itself, so mapping twice changes nothing.
pub fn consumer_token(name: &str) -> std::borrow::Cow<'_, str> {
    if check_token("consumer", name).is_ok() {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(format!("x-{}", URL_SAFE_NO_PAD.encode(name)))
    }
}

/// Checks a name used as a stream-name part, consumer name or subject
/// token: non-empty, `A-Z a-z 0-9 _ -` only.
pub fn check_token(what: &str, name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{what} {name:?} cannot name a NATS stream or subject (use A-Z, a-z, 0-9, _ and -)"
        ))
    }
}

/// A KV key for any string: base64url without padding (valid key
/// characters only, and one key per string).
pub fn kv_key(key: &str) -> String {
    if key.is_empty() {
        // An empty key is not a valid NATS key; `_` is never an encoding.
        return "_".to_owned();
    }
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_under_a_prefix() {
        let names = Names::new("GATEWAY").expect("valid prefix");
        assert_eq!(names.topic_stream("orders"), "GATEWAY_orders");
        assert_eq!(names.topic_subject("orders"), "GATEWAY.orders");
        assert_eq!(
            names.dead_letter_subject("orders", "notify"),
            "GATEWAY.dlq.orders.notify"
        );
        assert_eq!(
            names.replay_subject("orders", "notify"),
            "GATEWAY.replay.orders.notify"
        );
        assert_eq!(names.bucket("requests"), "GATEWAY_requests");
    }

    #[test]
    fn names_that_are_not_tokens_are_refused() {
        assert!(Names::new("GATE WAY").is_err());
        assert!(Names::new("").is_err());
        let names = Names::new("G").expect("valid prefix");
        for bad in ["orders.v1", "a*", "a>", "", "é"] {
            assert!(names.check_topic(bad).is_err(), "{bad:?} accepted");
        }
        assert!(names.check_topic("order-events_v1").is_ok());
    }

    #[test]
    fn the_store_own_stream_names_are_reserved() {
        let names = Names::new("G").expect("valid prefix");
        let error = names.check_topic("DLQ").expect_err("reserved");
        assert!(error.contains("reserved"), "{error}");
        assert!(names.check_topic("dlq").is_ok());
    }

    #[test]
    fn kv_keys_are_valid_and_distinct() {
        let keys = ["a b/c", "a.b", "", "ключ", "_"];
        let encoded: Vec<String> = keys.iter().map(|k| kv_key(k)).collect();
        for key in &encoded {
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "{key}"
            );
        }
        let mut unique = encoded.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len());
    }

    #[test]
    fn a_fanout_consumer_name_becomes_a_token_once() {
        assert_eq!(consumer_token("notify"), "notify");
        let fanout = consumer_token("notify@127.0.0.1:7122");
        assert!(check_token("consumer", &fanout).is_ok(), "{fanout}");
        assert_eq!(
            consumer_token(&fanout),
            fanout,
            "mapping twice changes nothing"
        );
        assert_ne!(fanout, consumer_token("notify@127.0.0.1:7123"));
        let names = Names::new("GW").expect("valid prefix");
        assert_eq!(
            names.dead_letter_subject("orders", "notify@127.0.0.1:7122"),
            format!("GW.dlq.orders.{fanout}")
        );
    }
}
