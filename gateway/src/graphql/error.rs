//! GraphQL errors: the entries of a response's `errors` list, and the
//! request-level failures (bad JSON, parse and validation errors, limits,
//! planning) that stop a request before any subgraph is called. The
//! latter convert into [`GatewayError`] in the GraphQL wire form.

use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::request::GRAPHQL_RESPONSE_JSON;
use crate::edge_error::{ErrorFormat, GatewayError};

/// One entry of a response's `errors`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphqlError {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Vec<Value>>,
    pub extensions: Map<String, Value>,
}

impl GraphqlError {
    /// An error with a stable `extensions.code`.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        let mut extensions = Map::new();
        extensions.insert("code".to_owned(), Value::from(code));
        Self {
            message: message.into(),
            path: None,
            extensions,
        }
    }

    pub fn at(mut self, path: Vec<Value>) -> Self {
        self.path = Some(path);
        self
    }

    pub fn with_extension(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }
}

/// Why a request was rejected before execution.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    BadRequest(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: u64 },
    /// The client's body was malformed or cut short.
    #[error("the request body is malformed or was cut short")]
    BadRequestBody,
    /// The subgraph serving a subscription could not be reached (the
    /// detail is logged, not shown).
    #[error("the subgraph serving this subscription is unavailable")]
    SubgraphUnavailable,
    #[error("syntax error: {0}")]
    Parse(String),
    #[error("{0}")]
    Validation(String),
    /// Violations of the specification's validation rules, one each.
    #[error("{}", join_messages(.0))]
    Invalid(Vec<Violation>),
    /// Variable values that do not coerce to their declared types, one
    /// message each (`variables.rs`).
    #[error("{}", .0.join("; "))]
    VariableValues(Vec<String>),
    #[error("{message}")]
    LimitExceeded { code: &'static str, message: String },
    #[error("mutations are not allowed over GET; use POST")]
    MutationOverGet,
    #[error("method {0} is not supported on the GraphQL endpoint; use GET or POST")]
    MethodNotAllowed(String),
    #[error("introspection is disabled")]
    IntrospectionDisabled,
    #[error("the operation could not be planned: {0}")]
    Planning(String),
    /// A fault of the gateway's own (the detail is logged, not shown).
    #[error("internal error: {0}")]
    Internal(String),
    #[error("no supergraph is loaded")]
    NotReady,
    #[error("the operation could not be prepared within its budget of {budget:?}")]
    PlanningTimeout { budget: std::time::Duration },
    #[error(
        "too many operations are being planned ({threads} at once, {queued} waiting); retry later"
    )]
    PlanningOverloaded { threads: usize, queued: usize },
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    #[error("PersistedQueryNotSupported")]
    PersistedQueryNotSupported,
    #[error("provided sha does not match query")]
    PersistedQueryHashMismatch,
    #[error("the operation is not in the trusted documents manifest")]
    PersistedQueryNotInList,
}

/// One validation rule violation and where it is in the document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub message: String,
    /// `{line, column}` objects, 1-based.
    pub locations: Vec<Value>,
}

fn join_messages(violations: &[Violation]) -> String {
    let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
    messages.join("; ")
}

impl RequestError {
    /// The `errors` entries of this error: one per validation violation
    /// (with its `locations`), else one.
    pub fn graphql_errors(&self) -> Vec<Value> {
        let entry = |message: &str, locations: Option<&Vec<Value>>| {
            let mut entry = Map::new();
            entry.insert("message".to_owned(), Value::from(message));
            if let Some(locations) = locations {
                entry.insert("locations".to_owned(), Value::from(locations.clone()));
            }
            let mut extensions = Map::new();
            extensions.insert("code".to_owned(), Value::from(self.code()));
            entry.insert("extensions".to_owned(), Value::Object(extensions));
            Value::Object(entry)
        };
        match self {
            RequestError::Invalid(violations) => violations
                .iter()
                .map(|v| entry(&v.message, Some(&v.locations)))
                .collect(),
            RequestError::VariableValues(messages) => {
                messages.iter().map(|m| entry(m, None)).collect()
            }
            other => vec![entry(&other.public_message(), None)],
        }
    }

    /// The stable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::BadRequest(_) => "BAD_REQUEST",
            RequestError::BodyTooLarge { .. } => "BODY_TOO_LARGE",
            RequestError::BadRequestBody => "BAD_REQUEST_BODY",
            RequestError::SubgraphUnavailable => "SUBGRAPH_UNAVAILABLE",
            RequestError::Parse(_) => "GRAPHQL_PARSE_FAILED",
            RequestError::Validation(_) | RequestError::Invalid(_) => "GRAPHQL_VALIDATION_FAILED",
            RequestError::VariableValues(_) => "BAD_USER_INPUT",
            RequestError::LimitExceeded { code, .. } => code,
            RequestError::MutationOverGet | RequestError::MethodNotAllowed(_) => {
                "METHOD_NOT_ALLOWED"
            }
            RequestError::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            RequestError::Planning(_) => "QUERY_PLANNING_FAILED",
            RequestError::Internal(_) => "INTERNAL",
            RequestError::NotReady => "SUPERGRAPH_NOT_READY",
            RequestError::PlanningTimeout { .. } => "PLANNING_TIMEOUT",
            RequestError::PlanningOverloaded { .. } => "PLANNING_OVERLOADED",
            RequestError::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            RequestError::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            RequestError::PersistedQueryHashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            RequestError::PersistedQueryNotInList => "PERSISTED_QUERY_NOT_IN_LIST",
        }
    }

    /// The status; `legacy_json`: answered in `application/json`. There, a failure
    /// of a well-formed GraphQL-over-HTTP request's document or variables
    /// (parse, validation, variable coercion) is 200, as that media type
    /// requires of every well-formed request (GraphQL over HTTP, "Examples";
    /// clients of the legacy type read `errors` rather than the status);
    /// with `application/graphql-response+json` it is 400. The gateway's
    /// own protections (limits, disabled introspection, persisted-query
    /// policy) and malformed requests keep their 4xx in both.
    fn status(&self, legacy_json: bool) -> StatusCode {
        if legacy_json && self.is_document_error() {
            return StatusCode::OK;
        }
        match self {
            RequestError::MutationOverGet | RequestError::MethodNotAllowed(_) => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            RequestError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            // As Apollo Router answers them: clients read the code from a
            // normal GraphQL response and resend with the text.
            RequestError::PersistedQueryNotFound | RequestError::PersistedQueryNotSupported => {
                StatusCode::OK
            }
            RequestError::Planning(_) | RequestError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            RequestError::NotReady
            | RequestError::PlanningTimeout { .. }
            | RequestError::PlanningOverloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            RequestError::SubgraphUnavailable => StatusCode::BAD_GATEWAY,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A parse, validation or variable coercion failure of the operation.
    fn is_document_error(&self) -> bool {
        matches!(
            self,
            RequestError::Parse(_)
                | RequestError::Validation(_)
                | RequestError::Invalid(_)
                | RequestError::VariableValues(_)
        )
    }

    /// What the client reads: the planner's own error text is internal
    /// (logged here, with its detail), everything else names the problem.
    pub fn public_message(&self) -> String {
        match self {
            RequestError::Planning(detail) => {
                tracing::warn!(detail, "query planning failed");
                "the operation could not be planned".to_owned()
            }
            RequestError::Internal(detail) => {
                tracing::error!(detail, "GraphQL request failed inside the gateway");
                "internal error".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The gateway error in GraphQL form, in the media type `content_type`.
    pub fn into_gateway_error(self, content_type: &'static str) -> GatewayError {
        let legacy_json = content_type != GRAPHQL_RESPONSE_JSON;
        self.render(content_type, legacy_json)
    }

    /// The error refusing a request for a stream (SSE): `application/json`
    /// with its 4xx, since no stream starts (GraphQL over SSE).
    pub fn into_stream_error(self) -> GatewayError {
        self.render("application/json", false)
    }

    fn render(self, content_type: &'static str, legacy_json: bool) -> GatewayError {
        let error = GatewayError::new(self.status(legacy_json), self.code(), self.public_message())
            .with_format(ErrorFormat::Graphql { content_type });
        match self {
            RequestError::Invalid(violations) => error.with_format(ErrorFormat::GraphqlList {
                content_type,
                errors: violations
                    .into_iter()
                    .map(|v| serde_json::json!({"message": v.message, "locations": v.locations}))
                    .collect(),
            }),
            RequestError::VariableValues(messages) => error.with_format(ErrorFormat::GraphqlList {
                content_type,
                errors: messages
                    .into_iter()
                    .map(|message| serde_json::json!({ "message": message }))
                    .collect(),
            }),
            RequestError::PlanningOverloaded { .. } => error.with_header(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            ),
            RequestError::MutationOverGet => {
                error.with_header(http::header::ALLOW, http::HeaderValue::from_static("POST"))
            }
            RequestError::MethodNotAllowed(_) => error.with_header(
                http::header::ALLOW,
                http::HeaderValue::from_static("GET, POST"),
            ),
            _ => error,
        }
    }
}

impl From<RequestError> for GatewayError {
    fn from(error: RequestError) -> Self {
        error.into_gateway_error("application/json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_violation_is_its_own_entry_with_its_locations() {
        let error = RequestError::Invalid(vec![
            Violation {
                message: "first".to_owned(),
                locations: vec![json!({"line": 1, "column": 3})],
            },
            Violation {
                message: "second".to_owned(),
                locations: vec![json!({"line": 2, "column": 5})],
            },
        ]);
        assert_eq!(error.to_string(), "first; second");
        assert_eq!(
            Value::from(error.graphql_errors()),
            json!([
                {"message": "first", "locations": [{"line": 1, "column": 3}],
                 "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}},
                {"message": "second", "locations": [{"line": 2, "column": 5}],
                 "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}},
            ])
        );
        let rendered = error
            .clone()
            .into_gateway_error(GRAPHQL_RESPONSE_JSON)
            .into_response("rid");
        assert_eq!(rendered.status(), StatusCode::BAD_REQUEST);
    }

    /// GraphQL over HTTP: with `application/json` a well-formed request
    /// whose document or variables fail is 200; with
    /// `application/graphql-response+json`, or refusing a stream, 400.
    /// Protections and malformed requests are 4xx either way.
    #[test]
    fn document_errors_are_200_only_in_the_legacy_media_type() {
        let document_errors = [
            RequestError::Parse("x".into()),
            RequestError::Validation("x".into()),
            RequestError::Invalid(Vec::new()),
            RequestError::VariableValues(vec!["x".into()]),
        ];
        for error in document_errors {
            let status = |e: GatewayError| e.into_response("rid").status();
            assert_eq!(
                status(error.clone().into_gateway_error("application/json")),
                StatusCode::OK
            );
            assert_eq!(
                status(error.clone().into_gateway_error(GRAPHQL_RESPONSE_JSON)),
                StatusCode::BAD_REQUEST
            );
            assert_eq!(status(error.into_stream_error()), StatusCode::BAD_REQUEST);
        }
        for (error, expected) in [
            (
                RequestError::LimitExceeded {
                    code: "MAX_DEPTH_EXCEEDED",
                    message: "x".into(),
                },
                StatusCode::BAD_REQUEST,
            ),
            (
                RequestError::BadRequest("x".into()),
                StatusCode::BAD_REQUEST,
            ),
            (RequestError::IntrospectionDisabled, StatusCode::BAD_REQUEST),
            (
                RequestError::BodyTooLarge { limit: 1 },
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
        ] {
            let rendered = error
                .into_gateway_error("application/json")
                .into_response("rid");
            assert_eq!(rendered.status(), expected);
        }
    }

    #[test]
    fn an_internal_fault_is_a_500_that_shows_no_detail() {
        let error = RequestError::Internal("the supergraph's secret detail".into());
        assert_eq!(error.public_message(), "internal error");
        let response = error
            .into_gateway_error("application/json")
            .into_response("rid");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn variable_errors_are_one_bad_user_input_entry_each() {
        let error = RequestError::VariableValues(vec!["first".into(), "second".into()]);
        assert_eq!(
            Value::from(error.graphql_errors()),
            json!([
                {"message": "first", "extensions": {"code": "BAD_USER_INPUT"}},
                {"message": "second", "extensions": {"code": "BAD_USER_INPUT"}},
            ])
        );
    }

    #[test]
    fn planning_pressure_is_a_503_with_a_stable_code() {
        let overloaded = RequestError::PlanningOverloaded {
            threads: 2,
            queued: 64,
        };
        assert_eq!(overloaded.code(), "PLANNING_OVERLOADED");
        let response = overloaded
            .into_gateway_error("application/json")
            .into_response("rid");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "1");
        let timeout = RequestError::PlanningTimeout {
            budget: std::time::Duration::from_secs(5),
        };
        assert_eq!(timeout.code(), "PLANNING_TIMEOUT");
        assert_eq!(timeout.status(true), StatusCode::SERVICE_UNAVAILABLE);
    }
}
