//! Retention and expiry passes, run by the writer about once a second:
//! events past `max_age` or `max_events`, dedupe keys past their window,
//! KV entries past their bucket's TTL. Each pass removes at most
//! [`SWEEP_LIMIT`] rows per table, so it never holds the writer long.

use redb::ReadableTable;

use super::{SWEEP_LIMIT, Tables};
use crate::config::model::events::TopicSpec;
use crate::events::embedded::tables::millis;

impl Tables<'_> {
    pub fn sweep<'a>(
        &mut self,
        topics: impl Iterator<Item = &'a TopicSpec>,
    ) -> Result<(), redb::Error> {
        for spec in topics {
            if let Some(max_age) = spec.max_age {
                self.expire_events(&spec.name, self.now.saturating_sub(millis(max_age)))?;
            }
            if let Some(max) = spec.max_events {
                let last = self
                    .topics
                    .get(spec.name.as_str())?
                    .map_or(0, |row| row.value());
                self.trim(&spec.name, last, max)?;
            }
        }
        self.expire_dedupe_keys()?;
        self.expire_kv()
    }

    fn expire_dedupe_keys(&mut self) -> Result<(), redb::Error> {
        let mut expired = Vec::new();
        for entry in self
            .dedupe_expiry
            .range(..(self.now, "", ""))?
            .take(SWEEP_LIMIT)
        {
            let (key, _) = entry?;
            let (at, topic, dedupe_key) = key.value();
            expired.push((at, topic.to_owned(), dedupe_key.to_owned()));
        }
        for (at, topic, key) in expired {
            self.dedupe_expiry
                .remove((at, topic.as_str(), key.as_str()))?;
            let current = self
                .dedupe
                .get((topic.as_str(), key.as_str()))?
                .map(|row| row.value().1);
            if current == Some(at) {
                self.dedupe.remove((topic.as_str(), key.as_str()))?;
            }
        }
        Ok(())
    }

    fn expire_kv(&mut self) -> Result<(), redb::Error> {
        let mut expired = Vec::new();
        for entry in self
            .kv_expiry
            .range(..(self.now, "", ""))?
            .take(SWEEP_LIMIT)
        {
            let (key, _) = entry?;
            let (at, bucket, kv_key) = key.value();
            expired.push((at, bucket.to_owned(), kv_key.to_owned()));
        }
        for (at, bucket, key) in expired {
            self.kv_expiry.remove((at, bucket.as_str(), key.as_str()))?;
            let ttl = self
                .buckets
                .get(bucket.as_str())?
                .map_or(0, |row| row.value());
            let written = self
                .kv
                .get((bucket.as_str(), key.as_str()))?
                .map(|row| row.value().0);
            if written.is_some_and(|written| written.saturating_add(ttl) == at) {
                self.kv.remove((bucket.as_str(), key.as_str()))?;
            }
        }
        Ok(())
    }
}
