//! Key-value buckets with an optional TTL (async requests, idempotency
//! keys).

use bytes::Bytes;
use redb::ReadableTable;

use super::{Applied, Tables};
use crate::events::store::StoreError;

impl Tables<'_> {
    /// Creates the bucket, or updates its TTL (in ms, 0: none).
    pub fn ensure_bucket(&mut self, name: &str, ttl_ms: u64) -> Result<(), redb::Error> {
        self.buckets.insert(name, ttl_ms)?;
        Ok(())
    }

    /// Stores `value` unless a live entry is there; returns that entry.
    pub fn kv_create(&mut self, bucket: &str, key: &str, value: &[u8]) -> Applied<Option<Bytes>> {
        let ttl = match self.bucket_ttl(bucket)? {
            Ok(ttl) => ttl,
            Err(error) => return Ok(Err(error)),
        };
        let existing = self.kv.get((bucket, key))?.map(|row| {
            let (written, value) = row.value();
            (written, Bytes::copy_from_slice(value))
        });
        if let Some((written, value)) = existing
            && !expired(written, ttl, self.now)
        {
            return Ok(Ok(Some(value)));
        }
        self.kv_write(bucket, key, value, ttl)?;
        Ok(Ok(None))
    }

    pub fn kv_put(&mut self, bucket: &str, key: &str, value: &[u8]) -> Applied<()> {
        let ttl = match self.bucket_ttl(bucket)? {
            Ok(ttl) => ttl,
            Err(error) => return Ok(Err(error)),
        };
        self.kv_write(bucket, key, value, ttl)?;
        Ok(Ok(()))
    }

    fn kv_write(
        &mut self,
        bucket: &str,
        key: &str,
        value: &[u8],
        ttl: u64,
    ) -> Result<(), redb::Error> {
        let previous = self
            .kv
            .insert((bucket, key), (self.now, value))?
            .map(|row| row.value().0);
        if ttl > 0 {
            if let Some(written) = previous {
                self.kv_expiry
                    .remove((written.saturating_add(ttl), bucket, key))?;
            }
            self.kv_expiry
                .insert((self.now.saturating_add(ttl), bucket, key), ())?;
        }
        Ok(())
    }

    fn bucket_ttl(&self, bucket: &str) -> Applied<u64> {
        Ok(self
            .buckets
            .get(bucket)?
            .map(|row| row.value())
            .ok_or_else(|| StoreError::Failed(format!("unknown bucket {bucket}"))))
    }
}

/// Whether an entry written at `written` is past its bucket's TTL.
pub fn expired(written: u64, ttl_ms: u64, now: u64) -> bool {
    ttl_ms > 0 && written.saturating_add(ttl_ms) <= now
}
