//! `/v1/orders`: the seed's FastAPI order service, made complete: create
//! (201 + `Location`), read (with `ETag` / 304), paginated and filtered
//! listing, status changes along the status machine, and delete.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use http::header::{ETAG, LOCATION};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::api_error::ApiError;
use super::etag::{etag_of, if_none_match_hits};
use super::json_body::JsonBody;
use super::path_uuid;
use crate::domain::{Order, OrderStatus};
use crate::pagination::{PageRequest, page_links};
use crate::store::{OrderFilter, Store, StoreError};
use crate::validation::{new_order_from_json, status_from_json};

/// The orders REST routes over `store`.
pub fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/v1/orders", get(list_orders).post(create_order))
        .route("/v1/orders/{id}", get(get_order).delete(delete_order))
        .route("/v1/orders/{id}/status", patch(update_status))
        .with_state(store)
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::OrderNotFound(_) => {
                ApiError::not_found("ORDER_NOT_FOUND", error.to_string())
            }
            StoreError::IllegalTransition { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "ILLEGAL_TRANSITION",
                error.to_string(),
            ),
        }
    }
}

fn order_not_found(id: Uuid) -> ApiError {
    StoreError::OrderNotFound(id).into()
}

async fn create_order(
    State(store): State<Arc<Store>>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let new = new_order_from_json(&body).map_err(ApiError::validation)?;
    let order = store.create_order(new);
    let location = format!("/v1/orders/{}", order.id);
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        with_etag(&order),
    )
        .into_response())
}

/// The order as JSON with its `ETag`.
fn with_etag(order: &Order) -> Response {
    let body = serde_json::to_vec(order).unwrap_or_default();
    let etag = etag_of(&body);
    (
        [
            (ETAG, etag),
            (http::header::CONTENT_TYPE, "application/json".to_owned()),
        ],
        body,
    )
        .into_response()
}

async fn get_order(
    State(store): State<Arc<Store>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = path_uuid(path, "order id")?;
    let order = store.get_order(id).ok_or_else(|| order_not_found(id))?;
    let response = with_etag(&order);
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if if_none_match_hits(&headers, etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, etag.to_owned())]).into_response());
    }
    Ok(response)
}

/// The raw listing query; every value is checked by hand for clear errors.
#[derive(Debug, Deserialize)]
struct ListQuery {
    page: Option<String>,
    page_size: Option<String>,
    status: Option<String>,
    customer_id: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> Result<OrderFilter, ApiError> {
        let status = match self.status.as_deref() {
            None => None,
            Some(raw) => Some(OrderStatus::parse(raw).ok_or_else(|| {
                ApiError::invalid_query(format!(
                    "query parameter `status` must be one of pending, confirmed, shipped, delivered, cancelled, got {raw:?}"
                ))
            })?),
        };
        let customer_id = match self.customer_id.as_deref() {
            None => None,
            Some(raw) => Some(
                Uuid::parse_str(raw)
                    .map_err(|_| ApiError::invalid_id("query parameter `customer_id`", raw))?,
            ),
        };
        Ok(OrderFilter {
            status,
            customer_id,
        })
    }
}

async fn list_orders(
    State(store): State<Arc<Store>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid_query(rejection.body_text()))?;
    let request = PageRequest::parse(query.page.as_deref(), query.page_size.as_deref())
        .map_err(|error| ApiError::invalid_query(error.to_string()))?;
    let filter = query.filter()?;
    let page = store.list_orders(&filter, request.page, request.page_size);
    let mut active = Vec::new();
    if let Some(status) = filter.status {
        active.push(("status", status.as_str().to_owned()));
    }
    if let Some(customer_id) = filter.customer_id {
        active.push(("customer_id", customer_id.to_string()));
    }
    let links = page_links("/v1/orders", &active, request, page.total);
    Ok(Json(json!({
        "items": page.items,
        "total": page.total,
        "page": request.page,
        "page_size": request.page_size,
        "links": links,
    })))
}

async fn update_status(
    State(store): State<Arc<Store>>,
    path: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let id = path_uuid(path, "order id")?;
    let next = status_from_json(&body).map_err(ApiError::validation)?;
    store.update_status(id, next)?;
    let order = store.get_order(id).ok_or_else(|| order_not_found(id))?;
    Ok(with_etag(&order))
}

async fn delete_order(
    State(store): State<Arc<Store>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = path_uuid(path, "order id")?;
    store.delete_order(id)?;
    Ok(StatusCode::NO_CONTENT)
}
