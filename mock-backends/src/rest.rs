//! The REST side of the mock services: orders, users, products and
//! payments, plus the `/debug/*` utilities every REST service serves.
//! Errors always leave as an [`api_error::ApiError`] JSON body.

pub mod api_error;
pub mod catalog;
pub mod debug_routes;
pub mod etag;
pub mod json_body;
pub mod orders;

use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path};
use http::Method;
use http::StatusCode;
use uuid::Uuid;

use api_error::ApiError;

/// Parses a `{id}` path segment as a UUID; `what` names it in the error.
pub(crate) fn path_uuid(
    path: Result<Path<String>, PathRejection>,
    what: &str,
) -> Result<Uuid, ApiError> {
    let Path(raw) = path.map_err(|rejection| ApiError::invalid_id(what, &rejection.body_text()))?;
    Uuid::parse_str(&raw).map_err(|_| ApiError::invalid_id(what, &raw))
}

/// The fallback of every REST service: 404 `ROUTE_NOT_FOUND`.
pub(crate) async fn route_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        format!("no route for {}", uri.path()),
    )
}

/// 405 `METHOD_NOT_ALLOWED` for a known path (axum adds the `Allow` header).
pub(crate) async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    let message = format!("{method} is not allowed on {}", uri.path());
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        message,
    )
}
