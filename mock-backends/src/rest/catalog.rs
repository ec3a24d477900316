//! The users, products and payments services: read-only REST views of the
//! shared store. Batch reads (`?ids=a,b,c`) answer 200 with the found
//! entities in request order plus a `missing` list of unknown ids.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::api_error::ApiError;
use super::path_uuid;
use crate::domain::{Customer, Payment, Product};
use crate::store::Store;

/// The most ids one batch request may name.
pub const MAX_BATCH_IDS: usize = 100;

/// `GET /v1/users/{id}` and `GET /v1/users[?ids=...]`.
pub fn users_router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/v1/users", get(list_users))
        .route("/v1/users/{id}", get(get_user))
        .with_state(store)
}

/// `GET /v1/products/{id}` and `GET /v1/products[?ids=...]`.
pub fn products_router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/v1/products", get(list_products))
        .route("/v1/products/{id}", get(get_product))
        .with_state(store)
}

/// `GET /v1/payments/{order_id}`.
pub fn payments_router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/v1/payments/{order_id}", get(get_payment))
        .with_state(store)
}

async fn get_user(
    State(store): State<Arc<Store>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Customer>, ApiError> {
    let id = path_uuid(path, "user id")?;
    let user = store
        .get_customer(id)
        .ok_or_else(|| ApiError::not_found("USER_NOT_FOUND", format!("user {id} not found")))?;
    Ok(Json(user))
}

async fn get_product(
    State(store): State<Arc<Store>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Product>, ApiError> {
    let id = path_uuid(path, "product id")?;
    let product = store.get_product(id).ok_or_else(|| {
        ApiError::not_found("PRODUCT_NOT_FOUND", format!("product {id} not found"))
    })?;
    Ok(Json(product))
}

async fn get_payment(
    State(store): State<Arc<Store>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Payment>, ApiError> {
    let id = path_uuid(path, "order id")?;
    let payment = store.get_payment(id).ok_or_else(|| {
        ApiError::not_found("PAYMENT_NOT_FOUND", format!("no payment for order {id}"))
    })?;
    Ok(Json(payment))
}

#[derive(Debug, Deserialize)]
struct BatchQuery {
    ids: Option<String>,
}

async fn list_users(
    State(store): State<Arc<Store>>,
    query: Result<Query<BatchQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    batch(query, store.list_customers(), |c| c.id).map(Json)
}

async fn list_products(
    State(store): State<Arc<Store>>,
    query: Result<Query<BatchQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    batch(query, store.list_products(), |p| p.id).map(Json)
}

/// Everything (no `ids`), or the listed entities in request order.
fn batch<T: Serialize + Clone>(
    query: Result<Query<BatchQuery>, QueryRejection>,
    all: Vec<T>,
    id_of: impl Fn(&T) -> Uuid,
) -> Result<Value, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid_query(rejection.body_text()))?;
    let Some(raw) = query.ids else {
        return Ok(json!({ "items": all, "missing": [] }));
    };
    let ids = parse_id_list(&raw)?;
    let (mut items, mut missing) = (Vec::new(), Vec::new());
    for id in ids {
        match all.iter().find(|entity| id_of(entity) == id) {
            Some(entity) => items.push(entity.clone()),
            None => missing.push(id),
        }
    }
    Ok(json!({ "items": items, "missing": missing }))
}

/// Parses `a,b,c`: 1 to 100 UUIDs; an empty entry or a non-UUID is a 400.
pub fn parse_id_list(raw: &str) -> Result<Vec<Uuid>, ApiError> {
    let ids: Vec<&str> = raw.split(',').map(str::trim).collect();
    if ids.len() > MAX_BATCH_IDS {
        return Err(ApiError::invalid_query(format!(
            "query parameter `ids` names {} ids, at most {MAX_BATCH_IDS} are allowed",
            ids.len()
        )));
    }
    ids.into_iter()
        .map(|id| {
            Uuid::parse_str(id)
                .map_err(|_| ApiError::invalid_id("every entry of query parameter `ids`", id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_are_checked() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        assert_eq!(parse_id_list(&format!("{a}, {b},{a}")).unwrap(), [a, b, a]);
        assert_eq!(parse_id_list("").unwrap_err().code, "INVALID_ID");
        assert_eq!(
            parse_id_list(&format!("{a},,{b}")).unwrap_err().code,
            "INVALID_ID"
        );
        let too_many = vec![a.to_string(); MAX_BATCH_IDS + 1].join(",");
        assert_eq!(parse_id_list(&too_many).unwrap_err().code, "INVALID_QUERY");
    }
}
