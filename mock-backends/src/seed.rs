//! Deterministic seed data: customers, products, orders and their payments.
//!
//! Every id is derived from a name (`customer/John Doe`, `product/7`,
//! `order/1`) with a const FNV-1a hash, so the same ids appear on every run
//! and can be named as constants in tests and docs. Order 1 is the seed
//! document's example: John Doe bought two Widgets and it has shipped.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::domain::{
    Customer, Order, OrderItem, OrderStatus, Payment, PaymentMethod, PaymentStatus, Product,
    round_cents,
};

/// Number of seeded orders (each with a payment).
pub const ORDER_COUNT: u32 = 36;
/// Number of seeded products.
pub const PRODUCT_COUNT: u32 = 30;

const CUSTOMERS: [(&str, &str); 6] = [
    ("John Doe", "john@example.com"),
    ("Jane Smith", "jane@example.com"),
    ("Ada Lovelace", "ada@example.com"),
    ("Alan Turing", "alan@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Edsger Dijkstra", "edsger@example.com"),
];

const ADJECTIVES: [&str; 6] = ["Classic", "Compact", "Deluxe", "Rugged", "Smart", "Travel"];
const NOUNS: [&str; 5] = ["Lamp", "Kettle", "Backpack", "Speaker", "Notebook"];

/// Seeded order statuses cycle through this list, starting with order 1.
const STATUS_CYCLE: [OrderStatus; 5] = [
    OrderStatus::Shipped,
    OrderStatus::Pending,
    OrderStatus::Confirmed,
    OrderStatus::Delivered,
    OrderStatus::Cancelled,
];

/// John Doe, the first customer.
pub const FIRST_CUSTOMER_ID: Uuid = name_uuid("customer/John Doe", 0);
/// The Widget (29.99), the first product.
pub const FIRST_PRODUCT_ID: Uuid = product_id(0);
/// The Gadget (49.99), the second product.
pub const SECOND_PRODUCT_ID: Uuid = product_id(1);
/// Order 1: John Doe, 2 × Widget, total 59.98, shipped.
pub const FIRST_ORDER_ID: Uuid = order_id(1);
/// Order 2, pending (can be confirmed or cancelled).
pub const PENDING_ORDER_ID: Uuid = order_id(2);
/// Order 3, confirmed.
pub const CONFIRMED_ORDER_ID: Uuid = order_id(3);
/// Order 4, delivered (final).
pub const DELIVERED_ORDER_ID: Uuid = order_id(4);
/// Order 5, cancelled (final).
pub const CANCELLED_ORDER_ID: Uuid = order_id(5);

/// A stable UUID (version 8, "custom") from a name and a number.
pub const fn name_uuid(name: &str, number: u32) -> Uuid {
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013B;
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u128).wrapping_mul(PRIME);
        i += 1;
    }
    let number = number.to_be_bytes();
    let mut j = 0;
    while j < number.len() {
        hash = (hash ^ number[j] as u128).wrapping_mul(PRIME);
        j += 1;
    }
    // FNV alone barely changes for similar names: mix both halves so that
    // neighbouring ids look unrelated.
    let high = fmix64((hash >> 64) as u64 ^ (hash as u64).rotate_left(29));
    let low = fmix64(hash as u64 ^ high);
    let mixed = ((high as u128) << 64) | low as u128;
    uuid::Builder::from_custom_bytes(mixed.to_be_bytes()).into_uuid()
}

/// MurmurHash3's 64-bit finalizer.
const fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// The id of seeded product `index` (0-based).
pub const fn product_id(index: u32) -> Uuid {
    name_uuid("product", index)
}

/// The id of seeded order `number` (1-based).
pub const fn order_id(number: u32) -> Uuid {
    name_uuid("order", number)
}

/// Every seeded customer.
pub fn customers() -> Vec<Customer> {
    CUSTOMERS
        .iter()
        .map(|(name, email)| Customer {
            id: name_uuid(&format!("customer/{name}"), 0),
            name: (*name).to_owned(),
            email: (*email).to_owned(),
        })
        .collect()
}

/// The ids of every seeded customer, John Doe first.
pub fn customer_ids() -> Vec<Uuid> {
    customers().into_iter().map(|c| c.id).collect()
}

/// Every seeded product: the Widget, the Gadget, then adjective × noun.
pub fn products() -> Vec<Product> {
    (0..PRODUCT_COUNT).map(seeded_product).collect()
}

fn seeded_product(index: u32) -> Product {
    let (name, price) = match index {
        0 => ("Widget".to_owned(), 29.99),
        1 => ("Gadget".to_owned(), 49.99),
        _ => {
            let adjective = ADJECTIVES[index as usize % ADJECTIVES.len()];
            let noun = NOUNS[index as usize / ADJECTIVES.len() % NOUNS.len()];
            (
                format!("{adjective} {noun}"),
                f64::from(5 + index * 7 % 90) + 0.99,
            )
        }
    };
    Product {
        id: product_id(index),
        sku: format!("SKU-{:04}", index + 1),
        name,
        price,
        weight_grams: 120 + index * 137 % 2400,
    }
}

/// The ids of every seeded product, in catalog order.
pub fn product_ids() -> Vec<Uuid> {
    (0..PRODUCT_COUNT).map(product_id).collect()
}

/// The ids of every seeded order, order 1 first.
pub fn order_ids() -> Vec<Uuid> {
    (1..=ORDER_COUNT).map(order_id).collect()
}

/// Every seeded order with its payment.
pub fn orders_with_payments() -> Vec<(Order, Payment)> {
    let start = Utc
        .with_ymd_and_hms(2024, 1, 15, 10, 30, 0)
        .single()
        .unwrap_or_default();
    (1..=ORDER_COUNT)
        .map(|n| {
            let created = start + Duration::hours(i64::from(n) - 1);
            order_with_payment(order_id(n), n, created)
        })
        .collect()
}

/// `count` extra orders for benchmarks, created after every seeded one.
/// Their ids are `name_uuid("generated-order", n)` for n in 1..=count.
pub fn generated_orders(count: usize) -> impl Iterator<Item = (Order, Payment)> {
    let start = Utc
        .with_ymd_and_hms(2024, 3, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    (1..=count).map(move |n| {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let created = start + Duration::seconds(i64::from(n));
        order_with_payment(name_uuid("generated-order", n), n, created)
    })
}

fn order_with_payment(id: Uuid, n: u32, created_at: DateTime<Utc>) -> (Order, Payment) {
    let customers = customer_ids();
    let customer_id = customers[(n as usize - 1) % customers.len()];
    let items = seeded_items(n);
    let total = round_cents(
        items
            .iter()
            .map(|i| f64::from(i.quantity) * i.unit_price)
            .sum(),
    );
    let status = STATUS_CYCLE[(n as usize - 1) % STATUS_CYCLE.len()];
    let order = Order {
        id,
        customer_id,
        items,
        status,
        total,
        created_at,
    };
    let payment = Payment {
        id: name_uuid(&format!("payment/{id}"), 0),
        order_id: id,
        status: PaymentStatus::for_order(status),
        amount: total,
        currency: "USD".to_owned(),
        method: PaymentMethod::ALL[n as usize % PaymentMethod::ALL.len()],
    };
    (order, payment)
}

fn seeded_items(n: u32) -> Vec<OrderItem> {
    if n == 1 {
        return vec![OrderItem {
            product_id: FIRST_PRODUCT_ID,
            quantity: 2,
            unit_price: 29.99,
        }];
    }
    (0..1 + n % 3)
        .map(|k| {
            let product = seeded_product((n * 5 + k * 11) % PRODUCT_COUNT);
            OrderItem {
                product_id: product.id,
                quantity: 1 + (n + k) % 3,
                unit_price: product.price,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(FIRST_ORDER_ID, order_id(1));
        assert_eq!(FIRST_CUSTOMER_ID, customer_ids()[0]);
        let mut all: Vec<Uuid> = customer_ids();
        all.extend(product_ids());
        all.extend(order_ids());
        let distinct: HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
    }

    #[test]
    fn first_order_is_the_seed_example() {
        let (order, payment) = orders_with_payments().remove(0);
        assert_eq!(order.customer_id, FIRST_CUSTOMER_ID);
        assert_eq!(order.total, 59.98);
        assert_eq!(order.status, OrderStatus::Shipped);
        assert_eq!(payment.amount, 59.98);
        assert_eq!(payment.status, PaymentStatus::Completed);
    }

    #[test]
    fn orders_reference_real_customers_and_products() {
        let customers: HashSet<Uuid> = customer_ids().into_iter().collect();
        let products: HashSet<Uuid> = product_ids().into_iter().collect();
        for (order, _) in orders_with_payments()
            .into_iter()
            .chain(generated_orders(50))
        {
            assert!(customers.contains(&order.customer_id));
            assert!(order.items.iter().all(|i| products.contains(&i.product_id)));
        }
    }

    #[test]
    fn the_documented_ids_are_the_real_ones() {
        let docs = include_str!("../../docs/mock-backends.md");
        for id in [
            FIRST_CUSTOMER_ID,
            FIRST_PRODUCT_ID,
            SECOND_PRODUCT_ID,
            FIRST_ORDER_ID,
            PENDING_ORDER_ID,
            CONFIRMED_ORDER_ID,
            DELIVERED_ORDER_ID,
            CANCELLED_ORDER_ID,
        ] {
            assert!(
                docs.contains(&id.to_string()),
                "docs/mock-backends.md lacks {id}"
            );
        }
    }

    #[test]
    fn named_status_orders_have_their_status() {
        let orders = orders_with_payments();
        let status_of = |id| {
            orders
                .iter()
                .find(|(o, _)| o.id == id)
                .map(|(o, _)| o.status)
        };
        assert_eq!(status_of(PENDING_ORDER_ID), Some(OrderStatus::Pending));
        assert_eq!(status_of(CONFIRMED_ORDER_ID), Some(OrderStatus::Confirmed));
        assert_eq!(status_of(DELIVERED_ORDER_ID), Some(OrderStatus::Delivered));
        assert_eq!(status_of(CANCELLED_ORDER_ID), Some(OrderStatus::Cancelled));
    }
}
