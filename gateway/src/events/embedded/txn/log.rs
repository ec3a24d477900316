//! Topic logs: creating a topic, appending with dedupe, trimming to
//! `max_events`.

use redb::ReadableTable;

use super::{Applied, SWEEP_LIMIT, Tables, positions_in};
use crate::config::model::events::TopicSpec;
use crate::events::embedded::tables::{EventRecord, millis};
use crate::events::store::{Published, StoreError};

impl Tables<'_> {
    /// Creates the topic's row; returns its newest position.
    pub fn ensure_topic(&mut self, name: &str) -> Result<u64, redb::Error> {
        if let Some(last) = self.topics.get(name)?.map(|row| row.value()) {
            return Ok(last);
        }
        self.topics.insert(name, 0)?;
        Ok(0)
    }

    /// The topic's newest position.
    pub fn last_position(&self, name: &str) -> Applied<u64> {
        Ok(self
            .topics
            .get(name)?
            .map(|row| row.value())
            .ok_or_else(|| StoreError::UnknownTopic(name.to_owned())))
    }

    /// Appends `event` (CloudEvent JSON) unless `dedupe_key` was seen within
    /// the topic's window.
    pub fn publish(
        &mut self,
        spec: &TopicSpec,
        event: &[u8],
        dedupe_key: Option<&str>,
    ) -> Applied<Published> {
        let name = spec.name.as_str();
        let last = match self.last_position(name)? {
            Ok(last) => last,
            Err(error) => return Ok(Err(error)),
        };
        if let Some(key) = dedupe_key
            && let Some(position) = self.seen(name, key)?
        {
            return Ok(Ok(Published {
                position,
                duplicate: true,
            }));
        }
        let position = last + 1;
        let row = EventRecord::to_row(self.now, event);
        self.events.insert((name, position), row.as_slice())?;
        self.topics.insert(name, position)?;
        if let Some(key) = dedupe_key {
            let expires = self.now.saturating_add(millis(spec.dedupe_window));
            self.dedupe.insert((name, key), (position, expires))?;
            self.dedupe_expiry.insert((expires, name, key), ())?;
        }
        if let Some(max) = spec.max_events {
            self.trim(name, position, max)?;
        }
        Ok(Ok(Published {
            position,
            duplicate: false,
        }))
    }

    /// The position first stored under `key`, if still within its window
    /// (an expired entry is removed here).
    fn seen(&mut self, topic: &str, key: &str) -> Result<Option<u64>, redb::Error> {
        let Some((position, expires)) = self.dedupe.get((topic, key))?.map(|row| row.value())
        else {
            return Ok(None);
        };
        if expires > self.now {
            return Ok(Some(position));
        }
        self.dedupe.remove((topic, key))?;
        self.dedupe_expiry.remove((expires, topic, key))?;
        Ok(None)
    }

    /// Removes the oldest events so at most `max` remain (`last` is the
    /// newest position); at most [`SWEEP_LIMIT`] per call.
    pub fn trim(&mut self, topic: &str, last: u64, max: u64) -> Result<(), redb::Error> {
        if last <= max {
            return Ok(());
        }
        let keep_from = last - max + 1;
        for position in positions_in(&self.events, topic, 0, keep_from - 1, SWEEP_LIMIT)? {
            self.events.remove((topic, position))?;
        }
        Ok(())
    }

    /// Removes events stored before `cutoff_ms` (oldest first, at most
    /// [`SWEEP_LIMIT`]).
    pub fn expire_events(&mut self, topic: &str, cutoff_ms: u64) -> Result<(), redb::Error> {
        let mut stale = Vec::new();
        for entry in self
            .events
            .range((topic, 0)..=(topic, u64::MAX))?
            .take(SWEEP_LIMIT)
        {
            let (key, row) = entry?;
            if EventRecord::stored_at_of(row.value()) >= cutoff_ms {
                break;
            }
            stale.push(key.value().1);
        }
        for position in stale {
            self.events.remove((topic, position))?;
        }
        Ok(())
    }

    /// The stored event at `position`, if retained.
    pub fn event_at(&self, topic: &str, position: u64) -> Result<Option<EventRecord>, redb::Error> {
        let Some(row) = self.events.get((topic, position))? else {
            return Ok(None);
        };
        Ok(EventRecord::from_row(row.value()).ok())
    }
}
