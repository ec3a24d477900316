//! The read side of a topic stream: a cursor on the topic's durable log.
//!
//! Events are read from the store in pages of a bounded size (so a slow
//! or far-behind client costs one page of memory, never a backlog: it
//! simply reads the log later), and the cursor waits on the store's
//! `wait_beyond` when it has caught up. Because every event comes from
//! the log by position, a stream resumed after position `N` gets exactly
//! the events after `N`: no gap, no duplicate.
//!
//! Two cases cannot be served as asked, and are told to the client with a
//! [`Gap`] before the first event after them:
//! - `EVENTS_EXPIRED`: the events asked for were removed by the topic's
//!   retention (`max_age`, `max_events`) before they were read; the
//!   stream goes on at the oldest kept event;
//! - `POSITION_PAST_END`: the position asked for is beyond the newest
//!   event (the log was replaced, e.g. a new store): the client's position
//!   means nothing in this log, so the stream starts at its oldest kept
//!   event.
//!
//! Every step mutates the cursor only after its last await, so a
//! [`LogCursor::next`] dropped in a `select!` loses nothing.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use super::request::{EventFilter, Start};
use crate::events::store::{SharedStore, StoreError, StoredEvent};

/// Longest one `wait_beyond` call waits before the cursor looks again.
const WAIT: Duration = Duration::from_secs(30);

/// Bytes of events one page holds at most (by the topic's largest event).
pub const PAGE_BYTES: usize = 1024 * 1024;
/// Events one page holds at most.
pub const MAX_PAGE_EVENTS: usize = 64;

/// Events per page for a topic whose events are at most `max_event_bytes`.
pub fn page_size(max_event_bytes: usize) -> usize {
    (PAGE_BYTES / max_event_bytes.max(1)).clamp(1, MAX_PAGE_EVENTS)
}

/// What the stream sends next.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    Event(StoredEvent),
    Gap(Gap),
}

/// Events the client asked for that the stream cannot send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// `EVENTS_EXPIRED` or `POSITION_PAST_END`.
    pub code: &'static str,
    pub message: String,
    /// The position the client expected next.
    pub requested: u64,
    /// The position the stream goes on at.
    pub resumes_at: u64,
}

/// A stream's position in one topic's log.
pub struct LogCursor {
    store: SharedStore,
    topic: String,
    filter: EventFilter,
    page: usize,
    /// The position to read next.
    next: u64,
    buffered: VecDeque<StoredEvent>,
    gap: Option<Gap>,
    /// What the first page must be checked against.
    first_page: FirstPage,
}

/// How the next page is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstPage {
    /// Events before the first one read are a gap (the usual case).
    Checked,
    /// `from=earliest`: the first page starts wherever the log does.
    Quiet,
    /// The client's position was past the end (the newest then).
    PastEnd { requested: u64, newest: u64 },
}

impl LogCursor {
    /// Opens a cursor at `start` (reads the newest position once).
    pub async fn open(
        store: SharedStore,
        topic: &str,
        start: Start,
        filter: EventFilter,
        page: usize,
    ) -> Result<Self, StoreError> {
        let newest = store.last_position(topic).await?;
        let (next, first_page) = match start {
            Start::Latest => (newest + 1, FirstPage::Checked),
            Start::Earliest => (1, FirstPage::Quiet),
            Start::After(position) => starting_at(position.saturating_add(1), newest),
            Start::At(position) => starting_at(position.max(1), newest),
        };
        Ok(Self {
            store,
            topic: topic.to_owned(),
            filter,
            page: page.max(1),
            next,
            buffered: VecDeque::new(),
            gap: None,
            first_page,
        })
    }

    /// The position the cursor reads next.
    pub fn next_position(&self) -> u64 {
        self.next
    }

    /// The next event (or gap notice) of the stream; waits for one.
    pub async fn next(&mut self) -> Result<StreamItem, StoreError> {
        loop {
            if let Some(gap) = self.gap.take() {
                return Ok(StreamItem::Gap(gap));
            }
            if let Some(event) = self.buffered.pop_front() {
                return Ok(StreamItem::Event(event));
            }
            self.fill().await?;
        }
    }

    /// Reads the next page, or waits for one (up to [`WAIT`]).
    async fn fill(&mut self) -> Result<(), StoreError> {
        let mut page = self.store.read(&self.topic, self.next, self.page).await?;
        if page.is_empty() {
            let newest = self
                .store
                .wait_beyond(&self.topic, self.next - 1, WAIT)
                .await?;
            if newest < self.next {
                return Ok(());
            }
            page = self.store.read(&self.topic, self.next, self.page).await?;
            if page.is_empty() {
                // Stored and already removed by retention before a read.
                self.take_empty_stretch(newest);
                return Ok(());
            }
        }
        self.take_page(page);
        Ok(())
    }

    fn take_page(&mut self, page: Vec<StoredEvent>) {
        let first = page.first().map_or(self.next, |event| event.position);
        self.gap = self.gap_before(first);
        if let Some(last) = page.last() {
            self.next = last.position + 1;
        }
        self.buffered.extend(page.into_iter().filter(|stored| {
            self.filter
                .matches(stored.event.subject.as_deref(), &stored.event.event_type)
        }));
    }

    /// Events up to `newest` were stored but are gone.
    fn take_empty_stretch(&mut self, newest: u64) {
        self.gap = self.gap_before(newest + 1);
        self.next = newest + 1;
    }

    /// The notice due when the next position read is `first`.
    fn gap_before(&mut self, first: u64) -> Option<Gap> {
        match std::mem::replace(&mut self.first_page, FirstPage::Checked) {
            FirstPage::PastEnd { requested, newest } => Some(past_end(requested, newest, first)),
            FirstPage::Checked if first > self.next => Some(expired(self.next, first)),
            FirstPage::Checked | FirstPage::Quiet => None,
        }
    }
}

/// Where a stream asked to start at `position` starts, given the newest.
fn starting_at(position: u64, newest: u64) -> (u64, FirstPage) {
    if position > newest.saturating_add(1) {
        (
            1,
            FirstPage::PastEnd {
                requested: position,
                newest,
            },
        )
    } else {
        (position, FirstPage::Checked)
    }
}

fn expired(requested: u64, resumes_at: u64) -> Gap {
    Gap {
        code: "EVENTS_EXPIRED",
        message: format!(
            "events {requested} to {} are no longer kept (the topic's retention removed them); the stream goes on at {resumes_at}",
            resumes_at - 1
        ),
        requested,
        resumes_at,
    }
}

fn past_end(requested: u64, newest: u64, resumes_at: u64) -> Gap {
    Gap {
        code: "POSITION_PAST_END",
        message: format!(
            "position {requested} is past the newest event ({newest}) of this log; the stream starts again at its oldest kept event, {resumes_at}"
        ),
        requested,
        resumes_at,
    }
}

#[cfg(test)]
mod tests;
