//! GraphQL errors: the entries of a response's `errors` list, and the
//! request-level failures (bad JSON, parse and validation errors, limits,
//! planning) that stop a request before any subgraph is called. The
//! latter convert into [`GatewayError`] in the GraphQL wire form.

use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

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
    #[error("no supergraph is loaded")]
    NotReady,
}

impl RequestError {
    /// The stable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::BadRequest(_) => "BAD_REQUEST",
            RequestError::BodyTooLarge { .. } => "BODY_TOO_LARGE",
            RequestError::BadRequestBody => "BAD_REQUEST_BODY",
            RequestError::SubgraphUnavailable => "SUBGRAPH_UNAVAILABLE",
            RequestError::Parse(_) => "GRAPHQL_PARSE_FAILED",
            RequestError::Validation(_) => "GRAPHQL_VALIDATION_FAILED",
            RequestError::LimitExceeded { code, .. } => code,
            RequestError::MutationOverGet | RequestError::MethodNotAllowed(_) => {
                "METHOD_NOT_ALLOWED"
            }
            RequestError::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            RequestError::Planning(_) => "QUERY_PLANNING_FAILED",
            RequestError::NotReady => "SUPERGRAPH_NOT_READY",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            RequestError::MutationOverGet | RequestError::MethodNotAllowed(_) => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            RequestError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::Planning(_) => StatusCode::INTERNAL_SERVER_ERROR,
            RequestError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            RequestError::SubgraphUnavailable => StatusCode::BAD_GATEWAY,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// What the client reads: the planner's own error text is internal
    /// (logged here, with its detail), everything else names the problem.
    pub fn public_message(&self) -> String {
        match self {
            RequestError::Planning(detail) => {
                tracing::warn!(detail, "query planning failed");
                "the operation could not be planned".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The gateway error in GraphQL form, in the media type `content_type`.
    pub fn into_gateway_error(self, content_type: &'static str) -> GatewayError {
        let error = GatewayError::new(self.status(), self.code(), self.public_message())
            .with_format(ErrorFormat::Graphql { content_type });
        match self {
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
