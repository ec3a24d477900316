//! Ordering by key, pure: items with the same key (an event's subject)
//! go one at a time, in the order they were admitted (log order); items
//! with different keys, or with none, go in parallel. The consumer admits
//! at most its `max_in_flight` items at once, running and waiting
//! together, so the gate's size is bounded by it.

use std::collections::{HashMap, VecDeque};

/// Holds the items whose key already has one in flight.
#[derive(Debug)]
pub struct OrderingGate<T> {
    /// Keys with an item in flight, and the items waiting behind it.
    busy: HashMap<String, VecDeque<T>>,
    waiting: usize,
}

impl<T> Default for OrderingGate<T> {
    fn default() -> Self {
        Self {
            busy: HashMap::new(),
            waiting: 0,
        }
    }
}

impl<T> OrderingGate<T> {
    /// The item back to start now, or `None` when it waits behind the
    /// one in flight with the same key. `None` keys never wait.
    pub fn admit(&mut self, key: Option<&str>, item: T) -> Option<T> {
        let Some(key) = key else {
            return Some(item);
        };
        match self.busy.get_mut(key) {
            Some(queue) => {
                queue.push_back(item);
                self.waiting += 1;
                None
            }
            None => {
                self.busy.insert(key.to_owned(), VecDeque::new());
                Some(item)
            }
        }
    }

    /// The item with `key` finished: the next one with that key, to start
    /// now, if any waits.
    pub fn release(&mut self, key: Option<&str>) -> Option<T> {
        let key = key?;
        let queue = self.busy.get_mut(key)?;
        match queue.pop_front() {
            Some(next) => {
                self.waiting -= 1;
                Some(next)
            }
            None => {
                self.busy.remove(key);
                None
            }
        }
    }

    /// Items admitted and not yet started.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Every waiting item.
    pub fn waiting_items(&self) -> impl Iterator<Item = &T> {
        self.busy.values().flat_map(|queue| queue.iter())
    }

    /// Takes every waiting item (a stopping consumer leaves them for
    /// redelivery).
    pub fn drain_waiting(&mut self) -> Vec<T> {
        self.waiting = 0;
        self.busy
            .drain()
            .flat_map(|(_, queue)| queue.into_iter())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_waits_in_admission_order() {
        let mut gate = OrderingGate::default();
        assert_eq!(gate.admit(Some("order-1"), 1), Some(1));
        assert_eq!(gate.admit(Some("order-1"), 2), None);
        assert_eq!(gate.admit(Some("order-1"), 3), None);
        assert_eq!(gate.waiting(), 2);
        assert_eq!(gate.release(Some("order-1")), Some(2));
        assert_eq!(gate.release(Some("order-1")), Some(3));
        assert_eq!(gate.waiting(), 0);
        assert_eq!(gate.release(Some("order-1")), None);
        // The key is free again.
        assert_eq!(gate.admit(Some("order-1"), 4), Some(4));
    }

    #[test]
    fn other_keys_and_no_key_run_in_parallel() {
        let mut gate = OrderingGate::default();
        assert_eq!(gate.admit(Some("a"), 1), Some(1));
        assert_eq!(gate.admit(Some("b"), 2), Some(2));
        assert_eq!(gate.admit(None, 3), Some(3));
        assert_eq!(gate.admit(None, 4), Some(4));
        assert_eq!(gate.release(None), None);
        assert_eq!(gate.admit(Some("a"), 5), None);
        assert_eq!(gate.release(Some("b")), None);
        assert_eq!(gate.release(Some("a")), Some(5));
    }

    #[test]
    fn draining_returns_every_waiting_item() {
        let mut gate = OrderingGate::default();
        gate.admit(Some("a"), 1);
        gate.admit(Some("a"), 2);
        gate.admit(Some("b"), 3);
        gate.admit(Some("b"), 4);
        let mut left = gate.drain_waiting();
        left.sort_unstable();
        assert_eq!(left, vec![2, 4]);
        assert_eq!(gate.waiting(), 0);
        assert_eq!(gate.admit(Some("a"), 5), Some(5));
    }
}
