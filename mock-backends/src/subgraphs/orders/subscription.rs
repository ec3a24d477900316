//! `Subscription.orderStatusChanged`: every status change in the shared
//! store, whichever protocol made it (REST, gRPC or GraphQL).

use std::sync::Arc;

use async_graphql::{Context, ID, SimpleObject, Subscription};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::OrderNode;
use crate::store::Store;
use crate::subgraphs::common::{GqlOrderStatus, parse_id};

/// One status change.
#[derive(SimpleObject, Clone, Debug)]
pub struct OrderStatusEvent {
    /// The order as it is after the change.
    pub order: OrderNode,
    pub previous_status: GqlOrderStatus,
    pub status: GqlOrderStatus,
    /// When the change happened (RFC 3339).
    pub at: String,
}

/// How many `orderStatusChanged` streams are open (tests await it before
/// making the change they expect to see).
#[derive(Clone, Debug, Default)]
pub struct OpenSubscriptions(pub Arc<std::sync::atomic::AtomicUsize>);

/// Decrements the count when the stream is dropped.
struct OpenGuard(OpenSubscriptions);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `Subscription` of the orders subgraph.
pub struct OrdersSubscription;

#[Subscription(name = "Subscription")]
impl OrdersSubscription {
    /// Status changes of one order, or of every order when `id` is omitted.
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = OrderStatusEvent> + use<>> {
        let store = Arc::clone(ctx.data::<Arc<Store>>()?);
        let only = id.map(|id| parse_id("id", &id)).transpose()?;
        let events = BroadcastStream::new(store.subscribe());
        let open = ctx
            .data::<OpenSubscriptions>()
            .ok()
            .cloned()
            .unwrap_or_default();
        open.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let guard = OpenGuard(open);
        Ok(events.filter_map(move |event| {
            let _open = &guard;
            // A lagging subscriber skips what it missed rather than failing.
            let event = event
                .ok()
                .filter(|e| only.is_none_or(|id| id == e.order_id));
            let order = event.as_ref().and_then(|e| store.get_order(e.order_id));
            let item = event.zip(order).map(|(event, order)| OrderStatusEvent {
                order: OrderNode::from_order(&order, &store),
                previous_status: event.old_status.into(),
                status: event.new_status.into(),
                at: event
                    .at
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            });
            std::future::ready(item)
        }))
    }
}
