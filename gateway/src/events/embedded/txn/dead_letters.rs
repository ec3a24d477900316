//! Dead-letter queues: moving a delivery there with its reason, replaying
//! (back to that consumer only, with the original event) and purging.

use super::{Applied, SWEEP_LIMIT, Tables, positions_in};
use crate::events::embedded::tables::{ConsumerRecord, DeadRecord, PendingRecord, encode};
use crate::events::store::DeadLetterSelection;

impl Tables<'_> {
    /// Moves a pending delivery to the consumer's dead-letter queue.
    pub fn dead_letter(
        &mut self,
        topic: &str,
        name: &str,
        mut record: ConsumerRecord,
        position: u64,
        pending: &PendingRecord,
        reason: &str,
    ) -> Result<(), redb::Error> {
        self.remove_pending(name, position, pending)?;
        let event = match pending.replayed.clone() {
            Some(event) => Some(event),
            None => self.event_at(topic, position)?,
        };
        let Some(event) = event else {
            tracing::warn!(
                topic,
                consumer = name,
                position,
                "dead letter dropped: the event left the log"
            );
            return Ok(());
        };
        let dead = DeadRecord {
            position,
            event,
            attempts: pending.attempt,
            last_error: reason.to_owned(),
            dead_at_ms: self.now,
        };
        let sequence = record.next_dead;
        record.next_dead += 1;
        self.dead
            .insert((name, sequence), encode(&dead).as_slice())?;
        self.put_consumer(name, &record)
    }

    /// Moves the selected dead letters to the replay queue; returns how
    /// many (at most [`SWEEP_LIMIT`] per call for `All`).
    pub fn replay(&mut self, topic: &str, name: &str, which: &DeadLetterSelection) -> Applied<u64> {
        if let Err(error) = self.consumer(topic, name)? {
            return Ok(Err(error));
        }
        let mut moved = 0;
        for sequence in self.selected(name, which)? {
            let Some(bytes) = self
                .dead
                .remove((name, sequence))?
                .map(|r| r.value().to_vec())
            else {
                continue;
            };
            self.replay.insert((name, sequence), bytes.as_slice())?;
            moved += 1;
        }
        Ok(Ok(moved))
    }

    /// Deletes the selected dead letters; returns how many.
    pub fn purge(&mut self, topic: &str, name: &str, which: &DeadLetterSelection) -> Applied<u64> {
        if let Err(error) = self.consumer(topic, name)? {
            return Ok(Err(error));
        }
        let mut removed = 0;
        for sequence in self.selected(name, which)? {
            if self.dead.remove((name, sequence))?.is_some() {
                removed += 1;
            }
        }
        Ok(Ok(removed))
    }

    fn selected(&self, name: &str, which: &DeadLetterSelection) -> Result<Vec<u64>, redb::Error> {
        match which {
            DeadLetterSelection::All => positions_in(&self.dead, name, 0, u64::MAX, SWEEP_LIMIT),
            DeadLetterSelection::One(sequence) => {
                positions_in(&self.dead, name, *sequence, *sequence, 1)
            }
        }
    }
}
