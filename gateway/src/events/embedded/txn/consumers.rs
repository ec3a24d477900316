//! Durable consumers: cursors, the unacked set with deadlines and attempt
//! counts, fetch (replays, then due redeliveries, then new events) and
//! settle.

use redb::ReadableTable;

use super::{Applied, SWEEP_LIMIT, Tables, positions_in};
use crate::config::model::events::StartFrom;
use crate::events::embedded::tables::{
    ConsumerRecord, DeadRecord, EventRecord, PendingRecord, decode, encode, millis,
};
use crate::events::store::{ConsumerSpec, Settle, StoreError};

/// One event handed out by a fetch.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub position: u64,
    pub attempt: u32,
    pub record: EventRecord,
}

/// What a fetch found.
#[derive(Debug, Clone, Default)]
pub struct FetchOutcome {
    pub deliveries: Vec<Fetched>,
    /// When the consumer's next pending event is due again, if any.
    pub next_due_ms: Option<u64>,
}

impl Tables<'_> {
    pub fn ensure_consumer(&mut self, spec: &ConsumerSpec) -> Applied<()> {
        let last = match self.last_position(&spec.topic)? {
            Ok(last) => last,
            Err(error) => return Ok(Err(error)),
        };
        let existing = self
            .consumers
            .get(spec.name.as_str())?
            .map(|r| r.value().to_vec());
        let record = match existing {
            Some(bytes) => {
                let mut record: ConsumerRecord = match decode("consumers", &bytes) {
                    Ok(record) => record,
                    Err(error) => return Ok(Err(error)),
                };
                if record.topic != spec.topic {
                    return Ok(Err(StoreError::Failed(format!(
                        "consumer {} already reads topic {}",
                        spec.name, record.topic
                    ))));
                }
                record.ack_wait_ms = millis(spec.ack_wait);
                record
            }
            None => ConsumerRecord {
                topic: spec.topic.clone(),
                next: match spec.start {
                    StartFrom::New => last + 1,
                    StartFrom::Earliest => 1,
                },
                ack_wait_ms: millis(spec.ack_wait),
                next_dead: 1,
            },
        };
        self.put_consumer(&spec.name, &record)?;
        Ok(Ok(()))
    }

    /// Removes the consumer and everything it holds (at most
    /// [`SWEEP_LIMIT`] rows per table per call; the caller repeats while
    /// this returns `true`).
    pub fn remove_consumer(&mut self, topic: &str, name: &str) -> Applied<bool> {
        if let Err(error) = self.consumer(topic, name)? {
            return Ok(Err(error));
        }
        let mut more = false;
        for table in [&mut self.pending, &mut self.dead, &mut self.replay] {
            let keys = positions_in(table, name, 0, u64::MAX, SWEEP_LIMIT)?;
            more |= keys.len() == SWEEP_LIMIT;
            for key in keys {
                table.remove((name, key))?;
            }
        }
        let mut due = Vec::new();
        for entry in self
            .pending_due
            .range((name, 0, 0)..=(name, u64::MAX, u64::MAX))?
        {
            let (key, _) = entry?;
            due.push((key.value().1, key.value().2));
            if due.len() == SWEEP_LIMIT {
                more = true;
                break;
            }
        }
        for (at, position) in due {
            self.pending_due.remove((name, at, position))?;
        }
        if !more {
            self.consumers.remove(name)?;
        }
        Ok(Ok(more))
    }

    /// Up to `max` deliveries: replayed dead letters, then due pending
    /// events, then new ones.
    pub fn fetch(&mut self, topic: &str, name: &str, max: usize) -> Applied<FetchOutcome> {
        let mut record = match self.consumer(topic, name)? {
            Ok(record) => record,
            Err(error) => return Ok(Err(error)),
        };
        let deadline = self.now.saturating_add(record.ack_wait_ms);
        let mut out = FetchOutcome::default();
        self.fetch_replayed(name, max, deadline, &mut out.deliveries)?;
        self.fetch_due(topic, name, max, deadline, &mut out.deliveries)?;
        self.fetch_new(topic, name, &mut record, max, deadline, &mut out.deliveries)?;
        out.next_due_ms = self.next_due(name)?;
        Ok(Ok(out))
    }

    fn fetch_replayed(
        &mut self,
        name: &str,
        max: usize,
        deadline: u64,
        out: &mut Vec<Fetched>,
    ) -> Result<(), redb::Error> {
        let room = max.saturating_sub(out.len());
        for sequence in positions_in(&self.replay, name, 0, u64::MAX, room)? {
            let Some(bytes) = self
                .replay
                .remove((name, sequence))?
                .map(|r| r.value().to_vec())
            else {
                continue;
            };
            let Ok(dead) = decode::<DeadRecord>("replay", &bytes) else {
                continue;
            };
            let pending = PendingRecord {
                attempt: 1,
                due_ms: deadline,
                replayed: Some(dead.event.clone()),
            };
            self.put_pending(name, dead.position, &pending, None)?;
            out.push(Fetched {
                position: dead.position,
                attempt: 1,
                record: dead.event,
            });
        }
        Ok(())
    }

    fn fetch_due(
        &mut self,
        topic: &str,
        name: &str,
        max: usize,
        deadline: u64,
        out: &mut Vec<Fetched>,
    ) -> Result<(), redb::Error> {
        let room = max.saturating_sub(out.len());
        let mut due = Vec::new();
        for entry in self
            .pending_due
            .range((name, 0, 0)..=(name, self.now, u64::MAX))?
            .take(room)
        {
            let (key, _) = entry?;
            due.push(key.value().2);
        }
        for position in due {
            let Some(mut pending) = self.pending_of(name, position)? else {
                continue;
            };
            let record = match pending.replayed.clone() {
                Some(record) => Some(record),
                None => self.event_at(topic, position)?,
            };
            let Some(record) = record else {
                // Dropped by retention while it waited: nothing to deliver.
                self.remove_pending(name, position, &pending)?;
                continue;
            };
            let previous_due = pending.due_ms;
            pending.attempt = pending.attempt.saturating_add(1);
            pending.due_ms = deadline;
            self.put_pending(name, position, &pending, Some(previous_due))?;
            out.push(Fetched {
                position,
                attempt: pending.attempt,
                record,
            });
        }
        Ok(())
    }

    fn fetch_new(
        &mut self,
        topic: &str,
        name: &str,
        record: &mut ConsumerRecord,
        max: usize,
        deadline: u64,
        out: &mut Vec<Fetched>,
    ) -> Result<(), redb::Error> {
        let last = self.topics.get(topic)?.map_or(0, |row| row.value());
        let room = max.saturating_sub(out.len());
        if room == 0 || record.next > last {
            return Ok(());
        }
        let mut found = Vec::new();
        for entry in self
            .events
            .range((topic, record.next)..=(topic, last))?
            .take(room)
        {
            let (key, row) = entry?;
            if let Ok(event) = EventRecord::from_row(row.value()) {
                found.push((key.value().1, event));
            }
        }
        // Fewer than asked for: the rest of the log up to `last` is gone
        // (retention), so the cursor moves past it.
        record.next = match found.last() {
            Some((position, _)) if found.len() == room => position + 1,
            _ => last + 1,
        };
        for (position, event) in found {
            let pending = PendingRecord {
                attempt: 1,
                due_ms: deadline,
                replayed: None,
            };
            self.put_pending(name, position, &pending, None)?;
            out.push(Fetched {
                position,
                attempt: 1,
                record: event,
            });
        }
        self.put_consumer(name, record)
    }

    fn next_due(&self, name: &str) -> Result<Option<u64>, redb::Error> {
        let first = self
            .pending_due
            .range((name, 0, 0)..=(name, u64::MAX, u64::MAX))?
            .next();
        match first {
            Some(entry) => Ok(Some(entry?.0.value().1)),
            None => Ok(None),
        }
    }

    /// Settles the delivery `attempt` of `position`. A settle from an
    /// older attempt than the pending one (it was redelivered after its
    /// `ack_wait`) only counts when it acks.
    pub fn settle(
        &mut self,
        topic: &str,
        name: &str,
        position: u64,
        attempt: u32,
        how: &Settle,
    ) -> Applied<()> {
        let record = match self.consumer(topic, name)? {
            Ok(record) => record,
            Err(error) => return Ok(Err(error)),
        };
        let Some(mut pending) = self.pending_of(name, position)? else {
            return Ok(Ok(()));
        };
        if pending.attempt != attempt && *how != Settle::Ack {
            return Ok(Ok(()));
        }
        match how {
            Settle::Ack => self.remove_pending(name, position, &pending)?,
            Settle::Retry(delay) => {
                let previous = pending.due_ms;
                pending.due_ms = self.now.saturating_add(millis(*delay));
                self.put_pending(name, position, &pending, Some(previous))?;
            }
            Settle::DeadLetter(reason) => {
                self.dead_letter(topic, name, record, position, &pending, reason)?
            }
        }
        Ok(Ok(()))
    }

    /// Pushes the pending delivery's deadline back by `ack_wait`.
    pub fn touch(&mut self, topic: &str, name: &str, position: u64, attempt: u32) -> Applied<()> {
        let record = match self.consumer(topic, name)? {
            Ok(record) => record,
            Err(error) => return Ok(Err(error)),
        };
        if let Some(mut pending) = self.pending_of(name, position)?
            && pending.attempt == attempt
        {
            let previous = pending.due_ms;
            pending.due_ms = self.now.saturating_add(record.ack_wait_ms);
            self.put_pending(name, position, &pending, Some(previous))?;
        }
        Ok(Ok(()))
    }

    pub fn pending_of(
        &self,
        name: &str,
        position: u64,
    ) -> Result<Option<PendingRecord>, redb::Error> {
        let Some(row) = self.pending.get((name, position))? else {
            return Ok(None);
        };
        Ok(decode("pending", row.value()).ok())
    }

    fn put_pending(
        &mut self,
        name: &str,
        position: u64,
        pending: &PendingRecord,
        previous_due: Option<u64>,
    ) -> Result<(), redb::Error> {
        if let Some(previous) = previous_due {
            self.pending_due.remove((name, previous, position))?;
        }
        self.pending
            .insert((name, position), encode(pending).as_slice())?;
        self.pending_due
            .insert((name, pending.due_ms, position), ())?;
        Ok(())
    }

    pub fn remove_pending(
        &mut self,
        name: &str,
        position: u64,
        pending: &PendingRecord,
    ) -> Result<(), redb::Error> {
        self.pending.remove((name, position))?;
        self.pending_due.remove((name, pending.due_ms, position))?;
        Ok(())
    }
}
