//! `WatchOrder`: the real status changes of one order, as the store
//! publishes them, until the order is delivered, cancelled or deleted.
//! Subscribing happens before the order is read, so no change between the
//! read and the first event can be missed.

use std::sync::Arc;

use futures::Stream;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tonic::Status;
use uuid::Uuid;

use crate::proto::OrderStatusUpdate;
use crate::store::{OrderChanged, OrderDeleted, Store};

struct Watch {
    store: Arc<Store>,
    order_id: Uuid,
    changes: Receiver<OrderChanged>,
    deletions: Receiver<OrderDeleted>,
    done: bool,
}

/// The update stream of `order_id`; NOT_FOUND if it does not exist.
pub(super) fn status_updates(
    store: Arc<Store>,
    order_id: Uuid,
) -> Result<impl Stream<Item = Result<OrderStatusUpdate, Status>> + Send + 'static, Status> {
    let changes = store.subscribe();
    let deletions = store.subscribe_deletions();
    let order = store
        .get_order(order_id)
        .ok_or_else(|| Status::not_found(format!("order {order_id} not found")))?;
    let watch = Watch {
        store,
        order_id,
        changes,
        deletions,
        done: order.status.is_final(),
    };
    Ok(futures::stream::unfold(watch, |mut watch| async move {
        let item = watch.next_update().await?;
        Some((item, watch))
    }))
}

impl Watch {
    async fn next_update(&mut self) -> Option<Result<OrderStatusUpdate, Status>> {
        while !self.done {
            tokio::select! {
                change = self.changes.recv() => match change {
                    Ok(change) if change.order_id == self.order_id => {
                        self.done = change.new_status.is_final();
                        return Some(Ok(OrderStatusUpdate::from(&change)));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => self.done = self.is_over(),
                    Err(RecvError::Closed) => return None,
                },
                deletion = self.deletions.recv() => match deletion {
                    Ok(deleted) if deleted.order_id == self.order_id => {
                        self.done = true;
                        return Some(Err(Status::not_found(format!("order {} was deleted", self.order_id))));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => self.done = self.is_over(),
                    Err(RecvError::Closed) => return None,
                },
            }
        }
        None
    }

    /// After missed events: whether the order reached its end meanwhile.
    fn is_over(&self) -> bool {
        self.store
            .get_order(self.order_id)
            .is_none_or(|order| order.status.is_final())
    }
}
