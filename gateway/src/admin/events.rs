//! The event bus's admin API (docs/events.md#dead-letters): the
//! subscriptions' backlogs and their dead-letter queues.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /events/subscriptions` | every subscription: topic, backend, mode, lag, dead-letter count, per consumer too |
//! | `GET /events/subscriptions/{name}/dead-letters?limit=N` | its dead letters (event, last error, attempts), oldest first; `limit` 1..=1000, default 100 |
//! | `POST /events/subscriptions/{name}/dead-letters/replay` | replays all; `{"replayed": n}` |
//! | `POST /events/subscriptions/{name}/dead-letters/{sequence}/replay?consumer=C` | replays one |
//! | `DELETE /events/subscriptions/{name}/dead-letters` | purges all; `{"purged": n}` |
//! | `DELETE /events/subscriptions/{name}/dead-letters/{sequence}?consumer=C` | purges one |
//!
//! `consumer` is needed only for a fanout subscription (a queue per
//! endpoint). Errors: `{"error": {"code", "message"}}` with
//! `EVENTS_DISABLED` (404), `UNKNOWN_SUBSCRIPTION` / `UNKNOWN_CONSUMER` /
//! `UNKNOWN_DEAD_LETTER` (404), `CONSUMER_REQUIRED` / `BAD_SEQUENCE` /
//! `BAD_LIMIT` (400), `STORE_UNAVAILABLE` (503), `STORE_FAILED` (500).

use http::{Method, Response, StatusCode};
use serde_json::json;

use super::json_response;
use crate::body::GatewayBody;
use crate::events::delivery::{BacklogError, DeliveryEngine};
use crate::events::store::DeadLetterSelection;

/// The prefix of every path this module answers.
pub(super) const PREFIX: &str = "/events/subscriptions";
/// Dead letters listed when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;

/// Answers `method path?query` under [`PREFIX`].
pub(super) async fn handle(
    engine: Option<&DeliveryEngine>,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Response<GatewayBody> {
    let Some(engine) = engine else {
        return error(
            StatusCode::NOT_FOUND,
            "EVENTS_DISABLED",
            "the event bus is off (no events: section in the config)",
        );
    };
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let consumer = query_param(query, "consumer");
    let result = match (method, segments.as_slice()) {
        (&Method::GET, []) => engine
            .backlogs()
            .await
            .map(|list| json!({"subscriptions": list})),
        (&Method::GET, [name, "dead-letters"]) => match limit(query) {
            Ok(limit) => engine
                .dead_letters(name, limit)
                .await
                .map(|list| json!({"subscription": name, "dead_letters": list})),
            Err(response) => return *response,
        },
        (&Method::POST, [name, "dead-letters", "replay"]) => engine
            .replay(name, consumer.as_deref(), DeadLetterSelection::All)
            .await
            .map(|n| json!({"replayed": n})),
        (&Method::POST, [name, "dead-letters", sequence, "replay"]) => {
            match sequence_of(sequence) {
                Ok(one) => engine
                    .replay(name, consumer.as_deref(), one)
                    .await
                    .map(|n| json!({"replayed": n})),
                Err(response) => return *response,
            }
        }
        (&Method::DELETE, [name, "dead-letters"]) => engine
            .purge(name, consumer.as_deref(), DeadLetterSelection::All)
            .await
            .map(|n| json!({"purged": n})),
        (&Method::DELETE, [name, "dead-letters", sequence]) => match sequence_of(sequence) {
            Ok(one) => engine
                .purge(name, consumer.as_deref(), one)
                .await
                .map(|n| json!({"purged": n})),
            Err(response) => return *response,
        },
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "NO_ROUTE",
                &format!("admin has no {method} {path}; see docs/events.md#dead-letters"),
            );
        }
    };
    match result {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(problem) => backlog_error(&problem),
    }
}

fn backlog_error(problem: &BacklogError) -> Response<GatewayBody> {
    let message = match problem {
        // The store's own words go to the log, not to the answer.
        BacklogError::Store(cause) => {
            tracing::warn!(error = %cause, "an event bus admin operation failed in the store");
            "the event store failed; see the gateway's log".to_owned()
        }
        other => other.to_string(),
    };
    error(problem.status(), problem.code(), &message)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<GatewayBody> {
    json_response(status, json!({"error": {"code": code, "message": message}}))
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| {
            percent_encoding::percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
}

fn limit(query: Option<&str>) -> Result<usize, Box<Response<GatewayBody>>> {
    let Some(raw) = query_param(query, "limit") else {
        return Ok(DEFAULT_LIMIT);
    };
    let max = crate::events::delivery::backlog::MAX_LISTED_DEAD_LETTERS;
    raw.parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            bad_request(
                "BAD_LIMIT",
                &format!("limit must be a number from 1 to {max}, got {raw:?}"),
            )
        })
}

fn sequence_of(raw: &str) -> Result<DeadLetterSelection, Box<Response<GatewayBody>>> {
    raw.parse::<u64>()
        .map(DeadLetterSelection::One)
        .map_err(|_| {
            bad_request(
                "BAD_SEQUENCE",
                &format!("a dead letter's sequence is a number, got {raw:?}"),
            )
        })
}

fn bad_request(code: &str, message: &str) -> Box<Response<GatewayBody>> {
    Box::new(error(StatusCode::BAD_REQUEST, code, message))
}
