//! [`AuthFailure`]: why authentication refused a request, and its wire
//! form: the RFC 6750 `WWW-Authenticate` challenge (`invalid_request`,
//! `invalid_token`, `insufficient_scope`), a stable `code`, and a message
//! that names the problem without the library's error chain (that goes to
//! the log). GraphQL and native gRPC routes get their own error shapes.

use http::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};

use crate::config::model::RouteAction;
use crate::config::model::grpc::GrpcModeSpec;
use crate::edge_error::{ErrorFormat, GatewayError};

/// The realm named in every challenge.
const REALM: &str = "gateway";

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No credential at all on a route that needs one.
    #[error("this route needs a credential")]
    Missing { bearer: bool },
    /// The credential is malformed (`Authorization: Bearer` with nothing).
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// The token is not acceptable; the reason is for the client.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// The API key matches no configured key.
    #[error("the API key is not valid")]
    InvalidApiKey,
    /// Verified, but without every scope the route needs.
    #[error("the credential lacks a scope this route needs")]
    InsufficientScope { required: String },
    /// Verified, but a required claim has another value.
    #[error("the token's claim \"{0}\" does not allow this route")]
    ClaimMismatch(String),
}

impl AuthFailure {
    fn status(&self) -> StatusCode {
        match self {
            AuthFailure::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthFailure::InsufficientScope { .. } | AuthFailure::ClaimMismatch(_) => {
                StatusCode::FORBIDDEN
            }
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The stable code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            AuthFailure::Missing { .. } => "AUTH_REQUIRED",
            AuthFailure::InvalidRequest(_) => "AUTH_INVALID_REQUEST",
            AuthFailure::InvalidToken(_) => "AUTH_INVALID_TOKEN",
            AuthFailure::InvalidApiKey => "AUTH_INVALID_API_KEY",
            AuthFailure::InsufficientScope { .. } => "AUTH_INSUFFICIENT_SCOPE",
            AuthFailure::ClaimMismatch(_) => "AUTH_FORBIDDEN",
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 §3).
    fn challenge(&self) -> String {
        let quoted = |text: &str| text.replace(['"', '\\'], "'");
        match self {
            // §3.1: no error code when the request had no credential.
            AuthFailure::Missing { bearer: true } => format!("Bearer realm=\"{REALM}\""),
            AuthFailure::Missing { bearer: false } | AuthFailure::InvalidApiKey => {
                format!("ApiKey realm=\"{REALM}\"")
            }
            AuthFailure::InvalidRequest(why) => format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_request\", error_description=\"{}\"",
                quoted(why)
            ),
            AuthFailure::InvalidToken(why) => format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{}\"",
                quoted(why)
            ),
            AuthFailure::InsufficientScope { required } => format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{}\"",
                quoted(required)
            ),
            AuthFailure::ClaimMismatch(_) => format!("Bearer realm=\"{REALM}\""),
        }
    }

    /// The error as the route's clients expect it.
    pub fn into_gateway_error(self, action: &RouteAction, headers: &HeaderMap) -> GatewayError {
        let challenge =
            HeaderValue::from_str(&self.challenge()).unwrap_or(HeaderValue::from_static("Bearer"));
        let format = error_format(&self, action, headers);
        GatewayError::new(self.status(), self.code(), self.to_string())
            .with_format(format)
            .with_header(WWW_AUTHENTICATE, challenge)
    }
}

/// JSON for REST routes; GraphQL's `errors` list on the GraphQL endpoint;
/// `google.rpc.Status` on transcoded gRPC routes; a trailers-only gRPC
/// answer to native gRPC clients (UNAUTHENTICATED 16, PERMISSION_DENIED 7).
fn error_format(failure: &AuthFailure, action: &RouteAction, headers: &HeaderMap) -> ErrorFormat {
    let grpc_code = if failure.status() == StatusCode::FORBIDDEN {
        7
    } else {
        16
    };
    match action {
        RouteAction::Graphql => ErrorFormat::Graphql {
            content_type: "application/json",
        },
        RouteAction::Grpc(grpc) => match grpc.mode {
            GrpcModeSpec::Passthrough if is_native_grpc(headers) => ErrorFormat::Grpc { grpc_code },
            GrpcModeSpec::Passthrough => ErrorFormat::Json,
            GrpcModeSpec::Transcode(_) => ErrorFormat::RpcStatus {
                grpc_code,
                details: Vec::new(),
            },
        },
        _ => ErrorFormat::Json,
    }
}

fn is_native_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/grpc") && !ct.starts_with("application/grpc-web")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc_6750() {
        let missing = AuthFailure::Missing { bearer: true };
        assert_eq!(missing.challenge(), "Bearer realm=\"gateway\"");
        assert_eq!(missing.status(), 401);
        let expired = AuthFailure::InvalidToken("the token has expired");
        assert_eq!(
            expired.challenge(),
            "Bearer realm=\"gateway\", error=\"invalid_token\", error_description=\"the token has expired\""
        );
        let scope = AuthFailure::InsufficientScope {
            required: "orders:write".into(),
        };
        assert_eq!(scope.status(), 403);
        assert!(
            scope
                .challenge()
                .contains("error=\"insufficient_scope\", scope=\"orders:write\"")
        );
        assert_eq!(AuthFailure::InvalidRequest("x").status(), 400);
    }
}
