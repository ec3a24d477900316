//! [`SlidingCounter`]: events counted over a sliding window of time, in
//! slots, with atomics only (no lock on the request path). Each slot holds
//! its tick (which slot-length period it counts) and its count in one
//! `AtomicU64`, so a stale slot is reset by the first writer of a new
//! period with one compare-and-swap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Slots per window: the window slides in steps of a tenth.
const SLOTS: usize = 10;

/// Events over the last `window`, counted in ten slots.
#[derive(Debug)]
pub struct SlidingCounter {
    slots: [AtomicU64; SLOTS],
    slot_nanos: u64,
    epoch: Instant,
}

impl SlidingCounter {
    pub fn new(window: Duration, epoch: Instant) -> Self {
        let window = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        Self {
            slots: Default::default(),
            slot_nanos: (window / SLOTS as u64).max(1),
            epoch,
        }
    }

    /// Counts one event at `now`.
    pub fn add(&self, now: Instant) {
        let tick = self.tick(now);
        let slot = &self.slots[slot_index(tick)];
        let mut current = slot.load(Ordering::Relaxed);
        loop {
            let (slot_tick, count) = unpack(current);
            let next = if slot_tick == tick {
                pack(tick, count.saturating_add(1))
            } else {
                pack(tick, 1)
            };
            match slot.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// The events of the window ending at `now`.
    pub fn sum(&self, now: Instant) -> u64 {
        let tick = self.tick(now);
        let oldest = tick.saturating_sub(SLOTS as u32 - 1);
        self.slots
            .iter()
            .map(|slot| unpack(slot.load(Ordering::Relaxed)))
            .filter(|(slot_tick, _)| *slot_tick >= oldest && *slot_tick <= tick && *slot_tick > 0)
            .map(|(_, count)| u64::from(count))
            .sum()
    }

    /// The slot period of `now`, from 1 (0 marks an unused slot).
    fn tick(&self, now: Instant) -> u32 {
        let elapsed =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        u32::try_from(elapsed / self.slot_nanos)
            .unwrap_or(u32::MAX - 1)
            .saturating_add(1)
    }
}

fn slot_index(tick: u32) -> usize {
    tick as usize % SLOTS
}

fn pack(tick: u32, count: u32) -> u64 {
    (u64::from(tick) << 32) | u64::from(count)
}

fn unpack(value: u64) -> (u32, u32) {
    ((value >> 32) as u32, value as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_within_the_window_and_forgets_older_slots() {
        let epoch = Instant::now();
        let counter = SlidingCounter::new(Duration::from_secs(10), epoch);
        for _ in 0..5 {
            counter.add(epoch);
        }
        counter.add(epoch + Duration::from_secs(4));
        assert_eq!(counter.sum(epoch + Duration::from_secs(4)), 6);
        assert_eq!(counter.sum(epoch + Duration::from_millis(9_999)), 6);
        // The first slot leaves the window; the one at 4 s stays.
        assert_eq!(counter.sum(epoch + Duration::from_secs(10)), 1);
        assert_eq!(counter.sum(epoch + Duration::from_secs(14)), 0);
    }

    #[test]
    fn a_reused_slot_starts_from_zero() {
        let epoch = Instant::now();
        let counter = SlidingCounter::new(Duration::from_secs(1), epoch);
        counter.add(epoch);
        counter.add(epoch);
        // Same slot index, one window later.
        let later = epoch + Duration::from_secs(1);
        counter.add(later);
        assert_eq!(counter.sum(later), 1);
    }
}
