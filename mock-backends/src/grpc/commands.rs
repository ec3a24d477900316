//! `OrderUpdates` commands: `confirm`, `ship`, `deliver` and `cancel`
//! applied to the store, each answered by one event. A rejected command is
//! reported as `<action>_rejected` with the reason; it does not end the
//! stream.

use crate::domain::OrderStatus;
use crate::proto::{self, OrderCommand, OrderEvent};
use crate::store::{Store, StoreError};

/// The status a command moves an order to.
pub fn target_status(action: &str) -> Option<OrderStatus> {
    match action {
        "confirm" => Some(OrderStatus::Confirmed),
        "ship" => Some(OrderStatus::Shipped),
        "deliver" => Some(OrderStatus::Delivered),
        "cancel" => Some(OrderStatus::Cancelled),
        _ => None,
    }
}

/// Applies one command and describes the result.
pub fn apply(store: &Store, command: &OrderCommand) -> OrderEvent {
    let action = if command.action.is_empty() {
        "unknown"
    } else {
        command.action.as_str()
    };
    let event = |applied: bool, status: Option<OrderStatus>, message: String| OrderEvent {
        order_id: command.order_id.clone(),
        event_type: format!("{action}_{}", if applied { "applied" } else { "rejected" }),
        status: status.map_or(0, |s| proto::OrderStatus::from(s).into()),
        message,
    };
    let Ok(id) = uuid::Uuid::parse_str(&command.order_id) else {
        return event(
            false,
            None,
            format!("order_id must be a UUID, got {:?}", command.order_id),
        );
    };
    let Some(next) = target_status(&command.action) else {
        let current = store.get_order(id).map(|order| order.status);
        let message = format!(
            "unknown action {:?}: expected confirm, ship, deliver or cancel",
            command.action
        );
        return event(false, current, message);
    };
    match store.update_status(id, next) {
        Ok(change) => event(
            true,
            Some(next),
            format!("order {id}: {} -> {}", change.old_status, next),
        ),
        Err(error @ StoreError::IllegalTransition { from, .. }) => {
            event(false, Some(from), error.to_string())
        }
        Err(error @ StoreError::OrderNotFound(_)) => event(false, None, error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;

    fn command(order_id: &str, action: &str) -> OrderCommand {
        OrderCommand {
            order_id: order_id.into(),
            action: action.into(),
        }
    }

    #[test]
    fn applied_and_rejected_commands() {
        let store = Store::seeded();
        let pending = seed::PENDING_ORDER_ID.to_string();
        let confirmed = apply(&store, &command(&pending, "confirm"));
        assert_eq!(confirmed.event_type, "confirm_applied");
        assert_eq!(confirmed.status, proto::OrderStatus::Confirmed as i32);
        let again = apply(&store, &command(&pending, "confirm"));
        assert_eq!(again.event_type, "confirm_rejected");
        assert_eq!(again.status, proto::OrderStatus::Confirmed as i32);
        let unknown = apply(&store, &command(&pending, "teleport"));
        assert_eq!(unknown.event_type, "teleport_rejected");
        assert_eq!(
            unknown.status,
            proto::OrderStatus::Confirmed as i32,
            "the current status"
        );
        assert_eq!(
            apply(&store, &command("nope", "ship")).event_type,
            "ship_rejected"
        );
        assert_eq!(
            apply(&store, &command(&pending, "")).event_type,
            "unknown_rejected"
        );
    }
}
