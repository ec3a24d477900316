//! Domain types shared by every protocol: orders and their status machine,
//! customers, products and payments. They know nothing of HTTP, JSON
//! framing or protobuf; the REST and gRPC layers convert at their edges.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The lifecycle of an order.
///
/// Allowed transitions: pending → confirmed → shipped → delivered, and
/// pending or confirmed → cancelled. Delivered and cancelled are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    /// The lowercase name used in JSON and query strings.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the lowercase name; `None` for anything else.
    pub fn parse(name: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether an order in this status may move to `next`.
    pub fn can_transition_to(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Pending, Confirmed)
                | (Confirmed, Shipped)
                | (Shipped, Delivered)
                | (Pending, Cancelled)
                | (Confirmed, Cancelled)
        )
    }

    /// Delivered and cancelled orders never change again.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Delivered | OrderStatus::Cancelled)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderItem {
    pub product_id: Uuid,
    pub quantity: u32,
    pub unit_price: f64,
}

/// A validated request to create an order.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOrder {
    pub customer_id: Uuid,
    pub items: Vec<OrderItem>,
}

impl NewOrder {
    /// The order total: the sum of `quantity × unit_price`, rounded to cents.
    pub fn total(&self) -> f64 {
        let raw: f64 = self
            .items
            .iter()
            .map(|item| f64::from(item.quantity) * item.unit_price)
            .sum();
        round_cents(raw)
    }
}

/// Rounds an amount to two decimals.
pub fn round_cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

/// A stored order, as every protocol returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Order {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub items: Vec<OrderItem>,
    pub status: OrderStatus,
    pub total: f64,
    #[serde(serialize_with = "serialize_rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// Serializes a timestamp as RFC 3339 in UTC with a `Z` suffix.
pub fn serialize_rfc3339<S: serde::Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// A customer, served by the users service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Customer {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

/// A catalog product, served by the products service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Product {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub price: f64,
    pub weight_grams: u32,
}

/// Where a payment stands; it follows the order's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    Pending,
    Completed,
    Refunded,
}

impl PaymentStatus {
    /// The payment status that matches an order status: pending until the
    /// order is confirmed, refunded once it is cancelled.
    pub fn for_order(status: OrderStatus) -> PaymentStatus {
        match status {
            OrderStatus::Pending => PaymentStatus::Pending,
            OrderStatus::Cancelled => PaymentStatus::Refunded,
            _ => PaymentStatus::Completed,
        }
    }
}

/// How a customer paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Card,
    Paypal,
    BankTransfer,
    ApplePay,
}

impl PaymentMethod {
    /// Every method, used to spread seeded payments deterministically.
    pub const ALL: [PaymentMethod; 4] = [
        PaymentMethod::Card,
        PaymentMethod::Paypal,
        PaymentMethod::BankTransfer,
        PaymentMethod::ApplePay,
    ];
}

/// The payment of one order, served by the payments service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Payment {
    pub id: Uuid,
    pub order_id: Uuid,
    pub status: PaymentStatus,
    pub amount: f64,
    pub currency: String,
    pub method: PaymentMethod,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_transitions_are_allowed() {
        use OrderStatus::*;
        for (from, to) in [
            (Pending, Confirmed),
            (Confirmed, Shipped),
            (Shipped, Delivered),
            (Pending, Cancelled),
            (Confirmed, Cancelled),
        ] {
            assert!(from.can_transition_to(to), "{from} -> {to}");
        }
    }

    #[test]
    fn skips_reversals_and_final_states_are_rejected() {
        use OrderStatus::*;
        for (from, to) in [
            (Pending, Shipped),
            (Pending, Delivered),
            (Shipped, Cancelled),
            (Delivered, Cancelled),
            (Cancelled, Pending),
            (Confirmed, Pending),
            (Pending, Pending),
        ] {
            assert!(!from.can_transition_to(to), "{from} -> {to}");
        }
        assert!(Delivered.is_final() && Cancelled.is_final() && !Shipped.is_final());
    }

    #[test]
    fn status_names_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("PENDING"), None);
    }

    #[test]
    fn total_is_rounded_to_cents() {
        let order = NewOrder {
            customer_id: Uuid::nil(),
            items: vec![
                OrderItem {
                    product_id: Uuid::nil(),
                    quantity: 2,
                    unit_price: 29.99,
                },
                OrderItem {
                    product_id: Uuid::nil(),
                    quantity: 3,
                    unit_price: 0.1,
                },
            ],
        };
        assert_eq!(order.total(), 60.28);
    }
}
