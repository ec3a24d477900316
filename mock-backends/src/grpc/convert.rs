//! Conversions between the generated protobuf types and the domain types.
//! Input conversions validate (`TryFrom`, reporting every bad field);
//! output conversions cannot fail (`From`).

use chrono::{DateTime, Utc};
use tonic::Status;
use uuid::Uuid;

use crate::domain::{NewOrder, Order, OrderItem, OrderStatus};
use crate::proto;
use crate::store::OrderChanged;
use crate::validation::{
    FieldError, FieldErrors, check_items_present, check_quantity, check_unit_price, check_uuid,
};

impl From<OrderStatus> for proto::OrderStatus {
    fn from(status: OrderStatus) -> proto::OrderStatus {
        match status {
            OrderStatus::Pending => proto::OrderStatus::Pending,
            OrderStatus::Confirmed => proto::OrderStatus::Confirmed,
            OrderStatus::Shipped => proto::OrderStatus::Shipped,
            OrderStatus::Delivered => proto::OrderStatus::Delivered,
            OrderStatus::Cancelled => proto::OrderStatus::Cancelled,
        }
    }
}

impl From<proto::OrderStatus> for OrderStatus {
    fn from(status: proto::OrderStatus) -> OrderStatus {
        match status {
            proto::OrderStatus::Pending => OrderStatus::Pending,
            proto::OrderStatus::Confirmed => OrderStatus::Confirmed,
            proto::OrderStatus::Shipped => OrderStatus::Shipped,
            proto::OrderStatus::Delivered => OrderStatus::Delivered,
            proto::OrderStatus::Cancelled => OrderStatus::Cancelled,
        }
    }
}

/// A protobuf timestamp for a UTC time.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

impl From<&Order> for proto::Order {
    fn from(order: &Order) -> proto::Order {
        proto::Order {
            id: order.id.to_string(),
            customer_id: order.customer_id.to_string(),
            items: order
                .items
                .iter()
                .map(|item| proto::OrderItem {
                    product_id: item.product_id.to_string(),
                    quantity: i32::try_from(item.quantity).unwrap_or(i32::MAX),
                    unit_price: item.unit_price,
                })
                .collect(),
            status: proto::OrderStatus::from(order.status).into(),
            total: order.total,
            created_at: Some(timestamp(order.created_at)),
        }
    }
}

impl From<&OrderChanged> for proto::OrderStatusUpdate {
    fn from(change: &OrderChanged) -> proto::OrderStatusUpdate {
        proto::OrderStatusUpdate {
            order_id: change.order_id.to_string(),
            old_status: proto::OrderStatus::from(change.old_status).into(),
            new_status: proto::OrderStatus::from(change.new_status).into(),
            timestamp: Some(timestamp(change.at)),
        }
    }
}

impl TryFrom<proto::CreateOrderRequest> for NewOrder {
    type Error = Vec<FieldError>;

    fn try_from(request: proto::CreateOrderRequest) -> Result<NewOrder, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let customer_id = check_uuid(&mut errors, "customer_id", &request.customer_id);
        check_items_present(&mut errors, request.items.len());
        let items: Vec<Option<OrderItem>> = request
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let at = |name: &str| format!("items[{i}].{name}");
                let product_id = check_uuid(&mut errors, &at("product_id"), &item.product_id);
                let quantity =
                    check_quantity(&mut errors, &at("quantity"), i64::from(item.quantity));
                let unit_price = check_unit_price(&mut errors, &at("unit_price"), item.unit_price);
                Some(OrderItem {
                    product_id: product_id?,
                    quantity: quantity?,
                    unit_price: unit_price?,
                })
            })
            .collect();
        errors.finish(|| NewOrder {
            customer_id: customer_id.unwrap_or_default(),
            items: items.into_iter().flatten().collect(),
        })
    }
}

/// Parses an `order_id` field; INVALID_ARGUMENT when it is not a UUID.
pub fn order_id(raw: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(raw)
        .map_err(|_| Status::invalid_argument(format!("order_id must be a UUID, got {raw:?}")))
}

/// INVALID_ARGUMENT listing every bad field, prefixed with `context`.
pub fn invalid(context: &str, errors: &[FieldError]) -> Status {
    Status::invalid_argument(format!("{context}{}", FieldErrors::summary(errors)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_lists_every_bad_field() {
        let request = proto::CreateOrderRequest {
            customer_id: "x".into(),
            items: vec![proto::OrderItem {
                product_id: "y".into(),
                quantity: 0,
                unit_price: f64::NAN,
            }],
        };
        let errors = NewOrder::try_from(request).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "customer_id",
                "items[0].product_id",
                "items[0].quantity",
                "items[0].unit_price"
            ]
        );
        let empty = proto::CreateOrderRequest {
            customer_id: Uuid::nil().to_string(),
            items: vec![],
        };
        assert_eq!(NewOrder::try_from(empty).unwrap_err()[0].field, "items");
    }

    #[test]
    fn statuses_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::from(proto::OrderStatus::from(status)), status);
        }
    }
}
