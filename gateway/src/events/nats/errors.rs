//! async-nats errors turned into [`StoreError`]: a timeout, a lost
//! connection or a JetStream that does not answer is `Unavailable` (the
//! caller may retry, clients see 503); anything the server refused is
//! `Failed`. The library's message goes into the error for the log.

use std::fmt::Display;

use async_nats::jetstream::consumer::StreamErrorKind;
use async_nats::jetstream::consumer::pull::BatchErrorKind;
use async_nats::jetstream::context::{
    ConsumerInfoErrorKind, CreateKeyValueErrorKind, CreateStreamErrorKind, GetStreamErrorKind,
    KeyValueErrorKind, PublishErrorKind, RequestErrorKind,
};
use async_nats::jetstream::kv::{CreateErrorKind, EntryErrorKind, PutErrorKind};
use async_nats::jetstream::stream::{
    ConsumerErrorKind, DeleteMessageErrorKind, PurgeErrorKind, RawMessageErrorKind,
};

use crate::events::store::StoreError;

/// Whether an error says the server could not be reached or did not
/// answer in time (as opposed to answering with a refusal).
pub trait Transient {
    fn is_transient(&self) -> bool;
}

macro_rules! transient_kinds {
    ($($kind:ident => [$($variant:ident),*];)*) => {$(
        impl Transient for async_nats::error::Error<$kind> {
            fn is_transient(&self) -> bool {
                matches!(self.kind(), $($kind::$variant)|*)
            }
        }
    )*};
}

transient_kinds! {
    PublishErrorKind => [TimedOut, BrokenPipe, StreamNotFound, MaxAckPending];
    RequestErrorKind => [TimedOut, NoResponders];
    CreateStreamErrorKind => [TimedOut, JetStreamUnavailable, Response];
    GetStreamErrorKind => [Request];
    ConsumerErrorKind => [TimedOut, Request];
    ConsumerInfoErrorKind => [TimedOut, Request, NoResponders, Offline];
    RawMessageErrorKind => [Other];
    DeleteMessageErrorKind => [TimedOut, Request];
    PurgeErrorKind => [TimedOut, Request];
    StreamErrorKind => [TimedOut];
    BatchErrorKind => [Pull, Flush, Subscribe];
    KeyValueErrorKind => [GetBucket];
    CreateKeyValueErrorKind => [TimedOut];
    CreateErrorKind => [Publish, Ack];
    PutErrorKind => [Publish, Ack];
    EntryErrorKind => [TimedOut];
}

/// `Unavailable` for a transient error, `Failed` otherwise; `what` says
/// which operation failed.
pub fn store_error<E: Transient + Display>(what: &str, error: E) -> StoreError {
    if error.is_transient() {
        StoreError::Unavailable(format!("NATS {what}: {error}"))
    } else {
        StoreError::Failed(format!("NATS {what}: {error}"))
    }
}

/// An error from a settle (ack, nak, term): async-nats reports these as a
/// boxed error, all of them from sending or confirming the ack.
pub fn ack_error(what: &str, error: &async_nats::Error) -> StoreError {
    StoreError::Unavailable(format!("NATS {what}: {error}"))
}

/// Whether a JetStream API error is the server's "not found" for a
/// stream or consumer (codes 10059, 10014).
pub fn is_not_found(error: &async_nats::jetstream::Error) -> bool {
    use async_nats::jetstream::ErrorCode;
    [ErrorCode::STREAM_NOT_FOUND, ErrorCode::CONSUMER_NOT_FOUND].contains(&error.error_code())
}
