//! Key-value buckets on JetStream KV (`{prefix}_{bucket}`, history 1,
//! the bucket's `ttl` as the stream's `max_age`). Keys are encoded
//! ([`super::names::kv_key`]) so any string is a key.

use std::sync::PoisonError;
use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind};
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use bytes::Bytes;

use super::NatsEventStore;
use super::errors::{is_not_found, store_error};
use super::names::{check_token, kv_key};
use crate::events::store::{BucketSpec, StoreError};

/// The KV stream's dedupe window (JetStream's KV default), at most its TTL.
const KV_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// `kv_create` tries again this often when the key it found taken is
/// gone when read (expired or deleted in between).
const CREATE_TRIES: usize = 3;

impl NatsEventStore {
    pub(super) async fn ensure_kv_bucket(&self, spec: &BucketSpec) -> Result<(), StoreError> {
        check_token("bucket", &spec.name).map_err(StoreError::Failed)?;
        let bucket = self.names.bucket(&spec.name);
        let max_age = spec.ttl.unwrap_or_default();
        match self.js.get_stream(format!("KV_{bucket}")).await {
            Ok(stream) => {
                let mut config = stream.cached_info().config.clone();
                if config.max_age != max_age {
                    config.max_age = max_age;
                    if !max_age.is_zero() {
                        config.duplicate_window = config.duplicate_window.min(max_age);
                    }
                    self.js
                        .update_stream(config)
                        .await
                        .map_err(|error| store_error("bucket update", error))?;
                }
            }
            Err(error) => {
                let missing = matches!(error.kind(),
                    async_nats::jetstream::context::GetStreamErrorKind::JetStream(ref e) if is_not_found(e));
                if !missing {
                    return Err(store_error("bucket info", error));
                }
                self.js
                    .create_stream(kv_stream_config(&bucket, max_age))
                    .await
                    .map_err(|error| store_error("bucket create", error))?;
            }
        }
        let store = self
            .js
            .get_key_value(&bucket)
            .await
            .map_err(|error| store_error("bucket", error))?;
        self.buckets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(spec.name.clone(), store);
        Ok(())
    }

    fn bucket(&self, name: &str) -> Result<kv::Store, StoreError> {
        self.buckets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::Failed(format!("bucket {name} was never ensured")))
    }

    pub(super) async fn kv_create_entry(
        &self,
        bucket: &str,
        key: &str,
        value: Bytes,
    ) -> Result<Option<Bytes>, StoreError> {
        let store = self.bucket(bucket)?;
        let key = kv_key(key);
        for _ in 0..CREATE_TRIES {
            match store.create(&key, value.clone()).await {
                Ok(_) => return Ok(None),
                Err(error) if matches!(error.kind(), CreateErrorKind::AlreadyExists) => {
                    if let Some(existing) = store
                        .get(&key)
                        .await
                        .map_err(|error| store_error("kv get", error))?
                    {
                        return Ok(Some(existing));
                    }
                }
                Err(error) => return Err(store_error("kv create", error)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "NATS kv create {bucket}: the key kept changing"
        )))
    }

    pub(super) async fn kv_put_entry(
        &self,
        bucket: &str,
        key: &str,
        value: Bytes,
    ) -> Result<(), StoreError> {
        self.bucket(bucket)?
            .put(kv_key(key), value)
            .await
            .map_err(|error| store_error("kv put", error))?;
        Ok(())
    }

    pub(super) async fn kv_get_entry(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Bytes>, StoreError> {
        self.bucket(bucket)?
            .get(kv_key(key))
            .await
            .map_err(|error| store_error("kv get", error))
    }
}

/// The stream behind a KV bucket, as the KV clients define it (history 1).
/// Built here rather than by async-nats' `create_key_value`, which asks
/// for account details nats-server 2.9 answers in another shape.
fn kv_stream_config(bucket: &str, max_age: Duration) -> stream::Config {
    let duplicate_window = if max_age.is_zero() {
        KV_DUPLICATE_WINDOW
    } else {
        KV_DUPLICATE_WINDOW.min(max_age)
    };
    stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        duplicate_window,
        discard: DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        storage: StorageType::File,
        num_replicas: 1,
        ..Default::default()
    }
}
