//! Topic publishes and their JetStream acks, through one reply
//! subscription of this store's own.
//!
//! async-nats's `jetstream::Context::send_publish` does the same job, and
//! the store still uses it off the hot path (dead letters, replays). On
//! the publish path it cost the gateway about 8,000 instructions per
//! event of about 33,000 (callgrind, batches of 16 on `kind: nats`,
//! docs/latency-comparison.md "JetStream acks through the store's own
//! inbox"): a `format!` of a fresh inbox per publish, a second one and two
//! SipHash lookups of it in the client's reply table, and an ack decoded
//! through an untagged enum that buffers the document and builds (and
//! drops) a formatted serde error for every successful ack. Here a
//! publish's reply subject is the inbox prefix and a counter, the table is
//! keyed by the counter, and a plain ack is read by a small flat-object
//! reader ([`flat_ack`]; anything else is decoded into a struct).
//!
//! The replies arrive on an ordinary subscription (`<prefix>.*`), which
//! async-nats renews on every reconnect; a dispatcher task hands each to
//! its publish. At most [`MAX_ACKS_IN_FLIGHT`] publishes wait for their
//! ack at once (a publish past it waits for a slot), far below the
//! subscription's buffer (65,536 messages), so no ack is ever dropped as
//! a slow consumer's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use async_nats::header::NATS_MESSAGE_ID;
use async_nats::{Client, HeaderMap, Message, StatusCode, Subject, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::{Semaphore, SemaphorePermit, oneshot};
use tokio_util::task::AbortOnDropHandle;

use crate::events::store::Published;

/// Publishes awaiting their ack at once, per store; past it a publish
/// waits for a slot (backpressure, bounded memory).
pub const MAX_ACKS_IN_FLIGHT: usize = 10_000;

/// The publishes waiting for their ack, by reply number.
type Table = HashMap<u64, oneshot::Sender<Message>, foldhash::fast::FixedState>;
type Waiting = Mutex<Table>;

/// The store's reply subscription and the publishes waiting on it.
pub(super) struct AckInbox {
    client: Client,
    /// `_INBOX.<nuid>.`: a publish's reply subject is this and its number.
    prefix: String,
    next: AtomicU64,
    waiting: Arc<Waiting>,
    slots: Semaphore,
    _dispatcher: AbortOnDropHandle<()>,
}

/// Why a publish got no ack.
#[derive(Debug, thiserror::Error)]
pub(super) enum AckError {
    #[error("no ack in time")]
    TimedOut,
    /// The connection closed (or the client did) with the ack pending.
    #[error("connection closed before the ack")]
    Closed,
    /// No stream listens on the subject (yet): JetStream is starting, or
    /// the stream is being created.
    #[error("no stream answered (no responders)")]
    NoStream,
    #[error("publish not sent: {0}")]
    NotSent(String),
    #[error("JetStream refused the publish: {0}")]
    Refused(async_nats::jetstream::Error),
    #[error("the ack does not decode: {0}")]
    Malformed(String),
}

impl AckError {
    /// Whether another attempt may succeed: the server did not answer, as
    /// opposed to answering with a refusal.
    pub(super) fn is_transient(&self) -> bool {
        matches!(self, Self::TimedOut | Self::Closed | Self::NoStream)
    }
}

impl AckInbox {
    /// Subscribes to the replies and starts their dispatcher (on the
    /// current runtime).
    pub(super) async fn open(client: Client) -> Result<Self, async_nats::SubscribeError> {
        let prefix = format!("{}.", client.new_inbox());
        let replies = client.subscribe(format!("{prefix}*")).await?;
        let waiting = Arc::new(Waiting::default());
        let dispatcher = tokio::spawn(dispatch(replies, prefix.clone(), Arc::downgrade(&waiting)));
        Ok(Self {
            client,
            prefix,
            next: AtomicU64::new(0),
            waiting,
            slots: Semaphore::new(MAX_ACKS_IN_FLIGHT),
            _dispatcher: AbortOnDropHandle::new(dispatcher),
        })
    }

    /// Sends one publish (with a `Nats-Msg-Id` when there is a
    /// `message_id`); its ack is awaited on what this returns. Publishes
    /// sent one after another reach the server in that order.
    pub(super) async fn send(
        &self,
        subject: &Subject,
        payload: Bytes,
        message_id: Option<&str>,
    ) -> Result<PendingAck<'_>, AckError> {
        let slot = self.slots.acquire().await.map_err(|_| AckError::Closed)?;
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.lock().insert(number, sender);
        // Made before sending, so that a failed send drops the entry.
        let pending = PendingAck {
            inbox: self,
            number,
            receiver,
            answered: false,
            _slot: slot,
        };
        let mut reply = String::with_capacity(self.prefix.len() + 20);
        reply.push_str(&self.prefix);
        reply.push_str(itoa::Buffer::new().format(number));
        let sent = match message_id {
            Some(id) => {
                let mut headers = HeaderMap::new();
                headers.insert(NATS_MESSAGE_ID, id);
                self.client
                    .publish_with_reply_and_headers(subject.clone(), reply, headers, payload)
                    .await
            }
            None => {
                self.client
                    .publish_with_reply(subject.clone(), reply, payload)
                    .await
            }
        };
        sent.map_err(|error| AckError::NotSent(error.to_string()))?;
        Ok(pending)
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A sent publish whose ack has not been read. Dropping it (a timeout)
/// forgets the publish: a late ack is then discarded.
pub(super) struct PendingAck<'a> {
    inbox: &'a AckInbox,
    number: u64,
    receiver: oneshot::Receiver<Message>,
    answered: bool,
    _slot: SemaphorePermit<'a>,
}

impl PendingAck<'_> {
    /// Waits for the ack (with no bound: callers put a deadline on it).
    pub(super) async fn ack(mut self) -> Result<Published, AckError> {
        let reply = (&mut self.receiver).await.map_err(|_| AckError::Closed)?;
        self.answered = true;
        read_ack(&reply)
    }
}

impl Drop for PendingAck<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.inbox.lock().remove(&self.number);
        }
    }
}

/// The JetStream publish ack: `{"stream":..,"seq":..,"duplicate":..}`, or
/// `{"error":{"code":..,"err_code":..,"description":..}}`.
#[derive(Deserialize)]
struct AckBody {
    seq: Option<u64>,
    #[serde(default)]
    duplicate: bool,
    error: Option<async_nats::jetstream::Error>,
}

fn read_ack(reply: &Message) -> Result<Published, AckError> {
    if reply.status == Some(StatusCode::NO_RESPONDERS) {
        return Err(AckError::NoStream);
    }
    if let Some(published) = flat_ack(&reply.payload) {
        return Ok(published);
    }
    let body: AckBody = serde_json::from_slice(&reply.payload)
        .map_err(|error| AckError::Malformed(error.to_string()))?;
    if let Some(error) = body.error {
        return Err(AckError::Refused(error));
    }
    let position = body
        .seq
        .ok_or_else(|| AckError::Malformed("no `seq` in the ack".to_owned()))?;
    Ok(Published {
        position,
        duplicate: body.duplicate,
    })
}

/// A successful ack as nats-server writes it (`{"stream":"S", "seq":7}`,
/// with `"domain"` and `"duplicate": true` when they apply), read without
/// serde: one flat object whose values are strings without escapes or
/// bare scalars, with a `seq`. `None` for anything else (an `error`, a
/// nested value, an escape, no `seq`), which the full decode in
/// [`read_ack`] then reads. A serde decode cost about 1,100 instructions
/// per ack, this about a tenth; the tests check that the two agree
/// whenever this answers.
fn flat_ack(body: &[u8]) -> Option<Published> {
    let mut rest = skip_space(body).strip_prefix(b"{")?;
    let mut position = None;
    let mut duplicate = false;
    loop {
        rest = skip_space(rest);
        if let Some(after) = rest.strip_prefix(b"}") {
            return skip_space(after).is_empty().then_some(Published {
                position: position?,
                duplicate,
            });
        }
        rest = rest.strip_prefix(b"\"")?;
        let name_end = memchr::memchr2(b'"', b'\\', rest)?;
        let name = &rest[..name_end];
        rest = skip_space(rest[name_end..].strip_prefix(b"\"")?);
        rest = skip_space(rest.strip_prefix(b":")?);
        let value_end = match rest.first()? {
            b'"' => {
                let close = memchr::memchr2(b'"', b'\\', &rest[1..])?;
                if rest[1 + close] != b'"' {
                    return None;
                }
                close + 2
            }
            b'{' | b'[' => return None,
            _ => rest
                .iter()
                .position(|&byte| byte == b',' || byte == b'}' || byte.is_ascii_whitespace())
                .unwrap_or(rest.len()),
        };
        let value = &rest[..value_end];
        match name {
            b"seq" => position = Some(std::str::from_utf8(value).ok()?.parse::<u64>().ok()?),
            b"duplicate" => {
                duplicate = match value {
                    b"true" => true,
                    b"false" => false,
                    _ => return None,
                }
            }
            b"error" => return None,
            _ => {}
        }
        rest = skip_space(&rest[value_end..]);
        if let Some(after) = rest.strip_prefix(b",") {
            // Another member must follow.
            if skip_space(after).first() != Some(&b'"') {
                return None;
            }
            rest = after;
        } else if rest.first() != Some(&b'}') {
            return None;
        }
    }
}

fn skip_space(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// Hands each reply to the publish waiting for it; ends when the client
/// closes (the waiting publishes then fail as `Closed`) or the inbox is
/// dropped.
async fn dispatch(mut replies: Subscriber, prefix: String, waiting: Weak<Waiting>) {
    while let Some(reply) = replies.next().await {
        let Some(number) = reply
            .subject
            .strip_prefix(prefix.as_str())
            .and_then(|number| number.parse::<u64>().ok())
        else {
            continue;
        };
        let Some(waiting) = waiting.upgrade() else {
            return;
        };
        let sender = waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&number);
        if let Some(sender) = sender {
            // The publish may have stopped waiting (a timeout) meanwhile.
            let _ = sender.send(reply);
        }
    }
    if let Some(waiting) = waiting.upgrade() {
        waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests;
