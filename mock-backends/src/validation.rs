//! Input validation shared by REST and gRPC. Each check records a
//! [`FieldError`] naming the offending field instead of stopping, so one
//! response lists every problem at once.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::domain::{NewOrder, OrderItem, OrderStatus};

/// One invalid field: a JSON-path-like name (`items[1].quantity`) and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Collects field errors while a value is being checked.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Records that `field` is invalid because of `message`.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// `Ok(value)` when nothing was recorded, else every recorded error.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self.0)
        }
    }

    /// A one-line summary, as used in gRPC status messages.
    pub fn summary(errors: &[FieldError]) -> String {
        let parts: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        parts.join("; ")
    }
}

/// Parses a UUID field; records an error when it is not one.
pub fn check_uuid(errors: &mut FieldErrors, field: &str, raw: &str) -> Option<Uuid> {
    match Uuid::parse_str(raw) {
        Ok(id) => Some(id),
        Err(_) => {
            errors.push(field, format!("must be a UUID, got {raw:?}"));
            None
        }
    }
}

/// Checks `quantity ≥ 1` (and that it fits the gRPC `int32`).
pub fn check_quantity(errors: &mut FieldErrors, field: &str, raw: i64) -> Option<u32> {
    match u32::try_from(raw) {
        Ok(quantity) if quantity >= 1 && raw <= i64::from(i32::MAX) => Some(quantity),
        _ if raw < 1 => {
            errors.push(field, format!("must be at least 1, got {raw}"));
            None
        }
        _ => {
            errors.push(field, format!("must be at most {}, got {raw}", i32::MAX));
            None
        }
    }
}

/// Checks `unit_price ≥ 0` and finite.
pub fn check_unit_price(errors: &mut FieldErrors, field: &str, raw: f64) -> Option<f64> {
    if raw.is_finite() && raw >= 0.0 {
        Some(raw)
    } else {
        errors.push(field, format!("must be a finite number ≥ 0, got {raw}"));
        None
    }
}

/// Checks that an order has at least one item.
pub fn check_items_present(errors: &mut FieldErrors, count: usize) {
    if count == 0 {
        errors.push("items", "must contain at least one item");
    }
}

/// Validates a JSON `POST /v1/orders` body into a [`NewOrder`].
pub fn new_order_from_json(body: &Value) -> Result<NewOrder, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    let Some(object) = body.as_object() else {
        errors.push("$", "must be a JSON object");
        return Err(errors.0);
    };
    let customer_id = match object.get("customer_id") {
        Some(Value::String(raw)) => check_uuid(&mut errors, "customer_id", raw),
        Some(_) => required(&mut errors, "customer_id", "must be a UUID string"),
        None => required(&mut errors, "customer_id", "is required"),
    };
    let items = match object.get("items") {
        Some(Value::Array(items)) => {
            check_items_present(&mut errors, items.len());
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| item_from_json(&mut errors, i, item))
                .collect()
        }
        Some(_) => required(&mut errors, "items", "must be an array").unwrap_or_default(),
        None => required(&mut errors, "items", "is required").unwrap_or_default(),
    };
    errors.finish(|| NewOrder {
        customer_id: customer_id.unwrap_or_default(),
        items,
    })
}

fn required<T>(errors: &mut FieldErrors, field: &str, message: &str) -> Option<T> {
    errors.push(field, message);
    None
}

fn item_from_json(errors: &mut FieldErrors, index: usize, item: &Value) -> Option<OrderItem> {
    let at = |name: &str| format!("items[{index}].{name}");
    let Some(object) = item.as_object() else {
        errors.push(format!("items[{index}]"), "must be an object");
        return None;
    };
    let product_id = match object.get("product_id") {
        Some(Value::String(raw)) => check_uuid(errors, &at("product_id"), raw),
        Some(_) => required(errors, &at("product_id"), "must be a UUID string"),
        None => required(errors, &at("product_id"), "is required"),
    };
    let quantity = match object.get("quantity") {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
            check_quantity(errors, &at("quantity"), n.as_i64().unwrap_or(i64::MAX))
        }
        Some(_) => required(errors, &at("quantity"), "must be an integer"),
        None => required(errors, &at("quantity"), "is required"),
    };
    let unit_price = match object.get("unit_price").map(Value::as_f64) {
        Some(Some(price)) => check_unit_price(errors, &at("unit_price"), price),
        Some(None) => required(errors, &at("unit_price"), "must be a number"),
        None => required(errors, &at("unit_price"), "is required"),
    };
    Some(OrderItem {
        product_id: product_id?,
        quantity: quantity?,
        unit_price: unit_price?,
    })
}

/// Validates a JSON `PATCH /v1/orders/{id}/status` body.
pub fn status_from_json(body: &Value) -> Result<OrderStatus, Vec<FieldError>> {
    let mut errors = FieldErrors::default();
    let status = match body.get("status") {
        Some(Value::String(name)) => OrderStatus::parse(name).or_else(|| {
            let allowed: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
            required(
                &mut errors,
                "status",
                &format!("must be one of {}, got {name:?}", allowed.join(", ")),
            )
        }),
        Some(_) => required(&mut errors, "status", "must be a string"),
        None => required(&mut errors, "status", "is required"),
    };
    errors.finish(|| status.unwrap_or(OrderStatus::Pending))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ID: &str = "8c1d3b2a-5e6f-4a7b-9c8d-0e1f2a3b4c5d";

    fn fields(result: Result<impl std::fmt::Debug, Vec<FieldError>>) -> Vec<String> {
        result
            .expect_err("should be invalid")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_valid_order_passes() {
        let body = json!({"customer_id": ID, "items": [{"product_id": ID, "quantity": 2, "unit_price": 29.99}]});
        let order = new_order_from_json(&body).unwrap();
        assert_eq!(order.items[0].quantity, 2);
        assert_eq!(order.total(), 59.98);
    }

    #[test]
    fn every_bad_field_is_listed() {
        let body = json!({"customer_id": "nope", "items": [
            {"product_id": "x", "quantity": 0, "unit_price": -1.0},
            {"product_id": ID, "quantity": 1.5, "unit_price": "free"},
            {"quantity": 1}
        ]});
        assert_eq!(
            fields(new_order_from_json(&body)),
            [
                "customer_id",
                "items[0].product_id",
                "items[0].quantity",
                "items[0].unit_price",
                "items[1].quantity",
                "items[1].unit_price",
                "items[2].product_id",
                "items[2].unit_price",
            ]
        );
    }

    #[test]
    fn empty_or_missing_items_are_rejected() {
        assert_eq!(
            fields(new_order_from_json(
                &json!({"customer_id": ID, "items": []})
            )),
            ["items"]
        );
        assert_eq!(
            fields(new_order_from_json(&json!({}))),
            ["customer_id", "items"]
        );
        assert_eq!(fields(new_order_from_json(&json!([1]))), ["$"]);
    }

    #[test]
    fn quantity_must_fit_int32() {
        let mut errors = FieldErrors::default();
        assert_eq!(
            check_quantity(&mut errors, "q", i64::from(i32::MAX) + 1),
            None
        );
        assert_eq!(check_quantity(&mut errors, "q", 7), Some(7));
        assert_eq!(check_unit_price(&mut errors, "p", f64::NAN), None);
        assert_eq!(check_unit_price(&mut errors, "p", f64::INFINITY), None);
        assert_eq!(errors.0.len(), 3);
    }

    #[test]
    fn status_body_is_checked() {
        assert_eq!(
            status_from_json(&json!({"status": "shipped"})),
            Ok(OrderStatus::Shipped)
        );
        assert_eq!(
            fields(status_from_json(&json!({"status": "lost"}))),
            ["status"]
        );
        assert_eq!(fields(status_from_json(&json!({}))), ["status"]);
    }
}
