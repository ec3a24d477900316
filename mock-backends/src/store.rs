//! The one in-memory store behind every service and protocol.
//!
//! REST, gRPC (and later GraphQL subgraphs) share one `Arc<Store>`, so a
//! change made through one protocol is visible through all of them. Every
//! status change is published on a broadcast channel ([`Store::subscribe`])
//! while the write lock is held, so subscribers see changes in the order
//! they were applied. Orders are listed in insertion order.

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::domain::{
    Customer, NewOrder, Order, OrderStatus, Payment, PaymentMethod, PaymentStatus, Product,
};
use crate::seed;

/// How many unread events a slow subscriber may fall behind.
const EVENT_CAPACITY: usize = 1024;

/// A status change of one order.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderChanged {
    pub order_id: Uuid,
    pub old_status: OrderStatus,
    pub new_status: OrderStatus,
    pub at: DateTime<Utc>,
}

/// An order was deleted; watchers of it stop.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderDeleted {
    pub order_id: Uuid,
    pub at: DateTime<Utc>,
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("order {0} not found")]
    OrderNotFound(Uuid),
    #[error("order {id} cannot change from {from} to {to}")]
    IllegalTransition {
        id: Uuid,
        from: OrderStatus,
        to: OrderStatus,
    },
}

/// Which orders a listing returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub customer_id: Option<Uuid>,
}

impl OrderFilter {
    fn matches(&self, order: &Order) -> bool {
        self.status.is_none_or(|s| s == order.status)
            && self.customer_id.is_none_or(|c| c == order.customer_id)
    }
}

/// One page of a listing: the items plus the number of matches overall.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub total: usize,
}

#[derive(Default)]
struct StoreData {
    next_seq: u64,
    orders: HashMap<Uuid, (u64, Order)>,
    order_seq: BTreeMap<u64, Uuid>,
    payments: HashMap<Uuid, Payment>,
    customers: Vec<Customer>,
    products: Vec<Product>,
}

impl StoreData {
    fn insert(&mut self, order: Order, payment: Payment) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order_seq.insert(seq, order.id);
        self.payments.insert(order.id, payment);
        self.orders.insert(order.id, (seq, order));
    }
}

/// The shared in-memory store.
pub struct Store {
    data: RwLock<StoreData>,
    changes: broadcast::Sender<OrderChanged>,
    deletions: broadcast::Sender<OrderDeleted>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let data = self.read();
        f.debug_struct("Store")
            .field("orders", &data.orders.len())
            .field("customers", &data.customers.len())
            .field("products", &data.products.len())
            .finish_non_exhaustive()
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::empty()
    }
}

impl Store {
    /// A store with no data at all.
    pub fn empty() -> Store {
        Store {
            data: RwLock::new(StoreData::default()),
            changes: broadcast::channel(EVENT_CAPACITY).0,
            deletions: broadcast::channel(EVENT_CAPACITY).0,
        }
    }

    /// The deterministic seed data (see [`crate::seed`]).
    pub fn seeded() -> Store {
        Store::seeded_with_generated(0)
    }

    /// The seed data plus `extra` generated orders, for benchmarks.
    pub fn seeded_with_generated(extra: usize) -> Store {
        let store = Store::empty();
        {
            let mut data = store.write();
            data.customers = seed::customers();
            data.products = seed::products();
            for (order, payment) in seed::orders_with_payments()
                .into_iter()
                .chain(seed::generated_orders(extra))
            {
                data.insert(order, payment);
            }
        }
        store
    }

    fn read(&self) -> RwLockReadGuard<'_, StoreData> {
        self.data.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, StoreData> {
        self.data.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every status change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<OrderChanged> {
        self.changes.subscribe()
    }

    /// Every deletion from now on.
    pub fn subscribe_deletions(&self) -> broadcast::Receiver<OrderDeleted> {
        self.deletions.subscribe()
    }

    /// One order.
    pub fn get_order(&self, id: Uuid) -> Option<Order> {
        self.read().orders.get(&id).map(|(_, order)| order.clone())
    }

    /// How many orders the store holds.
    pub fn order_count(&self) -> usize {
        self.read().orders.len()
    }

    /// The orders matching `filter`, in insertion order, `page` counting from 1.
    pub fn list_orders(&self, filter: &OrderFilter, page: usize, page_size: usize) -> OrderPage {
        let data = self.read();
        let matching = data
            .order_seq
            .values()
            .filter_map(|id| data.orders.get(id).map(|(_, order)| order))
            .filter(|order| filter.matches(order));
        let skip = page.saturating_sub(1).saturating_mul(page_size);
        let mut items = Vec::with_capacity(page_size.min(100));
        let mut total = 0;
        for order in matching {
            if total >= skip && items.len() < page_size {
                items.push(order.clone());
            }
            total += 1;
        }
        OrderPage { items, total }
    }

    /// Creates a pending order and its pending card payment.
    pub fn create_order(&self, new: NewOrder) -> Order {
        self.create_orders(vec![new]).remove(0)
    }

    /// Creates every order under one lock: all of them become visible at once.
    pub fn create_orders(&self, batch: Vec<NewOrder>) -> Vec<Order> {
        let now = Utc::now().trunc_subsecs(3);
        let mut data = self.write();
        batch
            .into_iter()
            .map(|new| {
                let order = Order {
                    id: Uuid::new_v4(),
                    customer_id: new.customer_id,
                    total: new.total(),
                    items: new.items,
                    status: OrderStatus::Pending,
                    created_at: now,
                };
                data.insert(order.clone(), new_payment(&order));
                order
            })
            .collect()
    }

    /// Moves an order to `next` if its status machine allows it, updates the
    /// payment to match, and publishes the change.
    pub fn update_status(&self, id: Uuid, next: OrderStatus) -> Result<OrderChanged, StoreError> {
        let mut data = self.write();
        let (_, order) = data
            .orders
            .get_mut(&id)
            .ok_or(StoreError::OrderNotFound(id))?;
        let from = order.status;
        if !from.can_transition_to(next) {
            return Err(StoreError::IllegalTransition { id, from, to: next });
        }
        order.status = next;
        if let Some(payment) = data.payments.get_mut(&id) {
            payment.status = PaymentStatus::for_order(next);
        }
        let change = OrderChanged {
            order_id: id,
            old_status: from,
            new_status: next,
            at: Utc::now(),
        };
        // No subscriber is fine: nobody is watching.
        let _ = self.changes.send(change.clone());
        Ok(change)
    }

    /// Deletes an order and its payment.
    pub fn delete_order(&self, id: Uuid) -> Result<Order, StoreError> {
        let mut data = self.write();
        let (seq, order) = data
            .orders
            .remove(&id)
            .ok_or(StoreError::OrderNotFound(id))?;
        data.order_seq.remove(&seq);
        data.payments.remove(&id);
        let _ = self.deletions.send(OrderDeleted {
            order_id: id,
            at: Utc::now(),
        });
        Ok(order)
    }

    /// One customer.
    pub fn get_customer(&self, id: Uuid) -> Option<Customer> {
        self.read().customers.iter().find(|c| c.id == id).cloned()
    }

    /// Every customer, in seed order.
    pub fn list_customers(&self) -> Vec<Customer> {
        self.read().customers.clone()
    }

    /// One product.
    pub fn get_product(&self, id: Uuid) -> Option<Product> {
        self.read().products.iter().find(|p| p.id == id).cloned()
    }

    /// Every product, in catalog order.
    pub fn list_products(&self) -> Vec<Product> {
        self.read().products.clone()
    }

    /// The payment of an order.
    pub fn get_payment(&self, order_id: Uuid) -> Option<Payment> {
        self.read().payments.get(&order_id).cloned()
    }
}

fn new_payment(order: &Order) -> Payment {
    Payment {
        id: Uuid::new_v4(),
        order_id: order.id,
        status: PaymentStatus::for_order(order.status),
        amount: order.total,
        currency: "USD".to_owned(),
        method: PaymentMethod::Card,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrderItem;

    fn new_order(customer_id: Uuid) -> NewOrder {
        let item = OrderItem {
            product_id: seed::FIRST_PRODUCT_ID,
            quantity: 1,
            unit_price: 10.0,
        };
        NewOrder {
            customer_id,
            items: vec![item],
        }
    }

    #[test]
    fn listing_filters_and_pages_in_insertion_order() {
        let store = Store::seeded();
        let all = store.list_orders(&OrderFilter::default(), 1, 100);
        assert_eq!(all.total, seed::ORDER_COUNT as usize);
        assert_eq!(all.items[0].id, seed::FIRST_ORDER_ID);
        let page2 = store.list_orders(&OrderFilter::default(), 2, 10);
        assert_eq!(page2.items, all.items[10..20]);
        let filter = OrderFilter {
            status: Some(OrderStatus::Pending),
            customer_id: None,
        };
        let pending = store.list_orders(&filter, 1, 100);
        assert!(
            pending
                .items
                .iter()
                .all(|o| o.status == OrderStatus::Pending)
        );
        assert_eq!(pending.total, pending.items.len());
    }

    #[test]
    fn status_changes_are_published_and_checked() {
        let store = Store::empty();
        let mut events = store.subscribe();
        let order = store.create_order(new_order(seed::FIRST_CUSTOMER_ID));
        store
            .update_status(order.id, OrderStatus::Confirmed)
            .unwrap();
        let event = events.try_recv().unwrap();
        assert_eq!(
            (event.old_status, event.new_status),
            (OrderStatus::Pending, OrderStatus::Confirmed)
        );
        assert_eq!(
            store.get_payment(order.id).unwrap().status,
            PaymentStatus::Completed
        );
        let illegal = store.update_status(order.id, OrderStatus::Pending);
        assert!(matches!(illegal, Err(StoreError::IllegalTransition { .. })));
        assert!(events.try_recv().is_err());
    }

    #[test]
    fn delete_removes_order_and_payment() {
        let store = Store::seeded();
        store.delete_order(seed::FIRST_ORDER_ID).unwrap();
        assert_eq!(store.get_order(seed::FIRST_ORDER_ID), None);
        assert_eq!(store.get_payment(seed::FIRST_ORDER_ID), None);
        assert_eq!(
            store.delete_order(seed::FIRST_ORDER_ID),
            Err(StoreError::OrderNotFound(seed::FIRST_ORDER_ID))
        );
    }

    #[test]
    fn generated_orders_are_added() {
        assert_eq!(
            Store::seeded_with_generated(100).order_count(),
            seed::ORDER_COUNT as usize + 100
        );
    }
}
