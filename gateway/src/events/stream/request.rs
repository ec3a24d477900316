//! What a stream request asks for, read from its head (pure): where the
//! stream starts and which events it carries.
//!
//! The start, first match wins:
//! 1. the `Last-Event-ID` header (an `EventSource` reconnecting): resume
//!    right after that position;
//! 2. the `last_event_id` query parameter (the same, for clients that
//!    cannot set headers: WebSocket, a first `EventSource` connection);
//! 3. `from=earliest` (the oldest kept event), `from=latest` (only events
//!    published after the stream opened; the default), or `from=N` (the
//!    event at position `N` and after).
//!
//! The filters: `subject=S` and `type=T`, each repeatable (any of the
//! given values); both given, an event must match both.

use http::HeaderMap;
use percent_encoding::percent_decode_str;

/// Most values one filter may list (the query is bounded by the edge's
/// target length as well).
pub const MAX_FILTER_VALUES: usize = 32;

/// Where a stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Right after this position (`Last-Event-ID`, `last_event_id`).
    After(u64),
    /// At this position (`from=N`).
    At(u64),
    /// The oldest kept event (`from=earliest`).
    Earliest,
    /// Events published after the stream opened (`from=latest`, default).
    Latest,
}

/// Which events a stream carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Any of these subjects (empty: every subject).
    pub subjects: Vec<String>,
    /// Any of these types (empty: every type).
    pub types: Vec<String>,
}

impl EventFilter {
    pub fn matches(&self, subject: Option<&str>, event_type: &str) -> bool {
        let subject_ok = self.subjects.is_empty()
            || subject.is_some_and(|subject| self.subjects.iter().any(|s| s == subject));
        let type_ok = self.types.is_empty() || self.types.iter().any(|t| t == event_type);
        subject_ok && type_ok
    }
}

/// A parsed stream request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    pub start: Start,
    pub filter: EventFilter,
}

/// Why a stream request is refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamRequestError {
    #[error("Last-Event-ID must be an event position (a whole number), found {0:?}")]
    LastEventId(String),
    #[error("`from` must be `earliest`, `latest` or an event position, found {0:?}")]
    From(String),
    #[error("`{0}` lists more than {MAX_FILTER_VALUES} values")]
    TooManyValues(&'static str),
    #[error("`{0}` must not be empty")]
    EmptyFilter(&'static str),
}

impl StreamRequest {
    /// Reads the request's headers and query.
    pub fn parse(headers: &HeaderMap, query: Option<&str>) -> Result<Self, StreamRequestError> {
        let pairs = query_pairs(query.unwrap_or_default());
        let header = headers
            .get("last-event-id")
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let query_id = last_value(&pairs, "last_event_id");
        let start = if let Some(id) = header.or(query_id) {
            Start::After(parse_position(&id).ok_or(StreamRequestError::LastEventId(id))?)
        } else {
            match last_value(&pairs, "from") {
                None => Start::Latest,
                Some(from) => parse_from(&from)?,
            }
        };
        let filter = EventFilter {
            subjects: values(&pairs, "subject")?,
            types: values(&pairs, "type")?,
        };
        Ok(Self { start, filter })
    }
}

fn parse_from(from: &str) -> Result<Start, StreamRequestError> {
    match from {
        "earliest" => Ok(Start::Earliest),
        "latest" => Ok(Start::Latest),
        other => parse_position(other)
            .map(Start::At)
            .ok_or_else(|| StreamRequestError::From(other.to_owned())),
    }
}

/// A position: ASCII digits only (no sign, no spaces), fitting a `u64`.
pub fn parse_position(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn values(
    pairs: &[(String, String)],
    name: &'static str,
) -> Result<Vec<String>, StreamRequestError> {
    let found: Vec<String> = pairs
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
        .collect();
    if found.len() > MAX_FILTER_VALUES {
        return Err(StreamRequestError::TooManyValues(name));
    }
    if found.iter().any(String::is_empty) {
        return Err(StreamRequestError::EmptyFilter(name));
    }
    Ok(found)
}

fn last_value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// `a=1&b=x%20y` → pairs, percent- and `+`-decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        percent_decode_str(&text.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(header: Option<&str>, query: &str) -> Result<StreamRequest, StreamRequestError> {
        let mut headers = HeaderMap::new();
        if let Some(id) = header {
            headers.insert("last-event-id", id.parse().unwrap());
        }
        StreamRequest::parse(&headers, Some(query))
    }

    #[test]
    fn the_start_comes_from_the_header_then_the_query_then_from() {
        assert_eq!(parse(None, "").unwrap().start, Start::Latest);
        assert_eq!(parse(None, "from=earliest").unwrap().start, Start::Earliest);
        assert_eq!(parse(None, "from=latest").unwrap().start, Start::Latest);
        assert_eq!(parse(None, "from=17").unwrap().start, Start::At(17));
        assert_eq!(
            parse(None, "from=earliest&last_event_id=4").unwrap().start,
            Start::After(4)
        );
        // A reconnecting EventSource keeps its URL: the header wins.
        assert_eq!(
            parse(Some("9"), "from=earliest&last_event_id=4")
                .unwrap()
                .start,
            Start::After(9)
        );
        assert_eq!(parse(Some("0"), "").unwrap().start, Start::After(0));
    }

    #[test]
    fn a_bad_position_is_refused() {
        for bad in ["", "-1", "+3", " 3", "3.0", "abc", "18446744073709551616"] {
            assert_eq!(
                parse(Some(bad), "").unwrap_err(),
                StreamRequestError::LastEventId(bad.to_owned()),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse(None, "last_event_id=x").unwrap_err(),
            StreamRequestError::LastEventId("x".to_owned())
        );
        assert_eq!(
            parse(None, "from=oldest").unwrap_err(),
            StreamRequestError::From("oldest".to_owned())
        );
        assert_eq!(parse_position("18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn filters_are_decoded_repeatable_and_bounded() {
        let request = parse(None, "subject=order%201&subject=o+2&type=OrderPlaced").unwrap();
        assert_eq!(request.filter.subjects, ["order 1", "o 2"]);
        assert_eq!(request.filter.types, ["OrderPlaced"]);
        assert_eq!(
            parse(None, "subject=").unwrap_err(),
            StreamRequestError::EmptyFilter("subject")
        );
        let many = vec!["type=t"; MAX_FILTER_VALUES + 1].join("&");
        assert_eq!(
            parse(None, &many).unwrap_err(),
            StreamRequestError::TooManyValues("type")
        );
    }

    #[test]
    fn a_filter_matches_any_listed_value_of_each_kind() {
        let all = EventFilter::default();
        assert!(all.matches(None, "A"));
        let by_subject = EventFilter {
            subjects: vec!["o1".into(), "o2".into()],
            types: vec![],
        };
        assert!(by_subject.matches(Some("o2"), "A"));
        assert!(!by_subject.matches(Some("o3"), "A"));
        assert!(!by_subject.matches(None, "A"));
        let both = EventFilter {
            subjects: vec!["o1".into()],
            types: vec!["OrderShipped".into()],
        };
        assert!(both.matches(Some("o1"), "OrderShipped"));
        assert!(!both.matches(Some("o1"), "OrderPlaced"));
    }
}
