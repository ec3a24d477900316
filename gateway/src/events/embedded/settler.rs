//! Settling a delivery of the embedded store: a request to the writer,
//! answered once durable (an ack, a retry delay or a dead letter survives
//! a crash; an `in_progress` touch need not).

use std::sync::Arc;

use async_trait::async_trait;

use super::EmbeddedEventStore;
use super::writer::{Op, Reply};
use crate::events::store::{Settle, Settler, StoreError};

/// One delivery: which consumer, which position, which attempt.
#[derive(Debug)]
pub struct EmbeddedSettler {
    pub store: EmbeddedEventStore,
    pub topic: Arc<str>,
    pub consumer: Arc<str>,
    pub position: u64,
    pub attempt: u32,
}

#[async_trait]
impl Settler for EmbeddedSettler {
    async fn settle(&self, how: Settle) -> Result<(), StoreError> {
        let op = Op::Settle {
            topic: Arc::clone(&self.topic),
            name: Arc::clone(&self.consumer),
            position: self.position,
            attempt: self.attempt,
            how,
        };
        expect_done(self.store.writer()?.call(op).await?)
    }

    async fn in_progress(&self) -> Result<(), StoreError> {
        let op = Op::Touch {
            topic: Arc::clone(&self.topic),
            name: Arc::clone(&self.consumer),
            position: self.position,
            attempt: self.attempt,
        };
        expect_done(self.store.writer()?.call(op).await?)
    }
}

pub fn expect_done(reply: Reply) -> Result<(), StoreError> {
    match reply {
        Reply::Done => Ok(()),
        other => Err(unexpected(&other)),
    }
}

pub fn unexpected(reply: &Reply) -> StoreError {
    StoreError::Failed(format!("the writer answered {reply:?}"))
}
