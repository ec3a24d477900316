//! What the accept loops do when `accept` fails, and how they say so
//! without flooding the log.
//!
//! Running out of descriptors or kernel memory (`EMFILE`, `ENFILE`,
//! `ENOBUFS`, `ENOMEM`) is not fixed by retrying at once: the loop backs
//! off (doubling from 10 ms to 1 s, reset by the next success), so the
//! connections it already has can finish and free descriptors. Errors that
//! concern one connection only (`ECONNABORTED`, a reset before accept)
//! are skipped at once. Either way the log gets one line per interval,
//! with how many failures it stands for.

use std::io;
use std::time::Duration;

use tokio::time::Instant;

/// One warning line per this interval at most.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Counts events and says when one should be logged: the first, then at
/// most one per interval, carrying how many happened since the last.
#[derive(Debug)]
pub struct LogEvery {
    interval: Duration,
    last: Option<Instant>,
    unlogged: u64,
}

impl LogEvery {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            unlogged: 0,
        }
    }

    /// Records one event; `Some(count)` when it is time to log `count`
    /// events (this one included).
    pub fn record(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

/// The accept loop's error state.
#[derive(Debug)]
pub struct AcceptErrors {
    log: LogEvery,
    backoff: Duration,
}

impl Default for AcceptErrors {
    fn default() -> Self {
        Self {
            log: LogEvery::new(LOG_INTERVAL),
            backoff: FIRST_BACKOFF,
        }
    }
}

impl AcceptErrors {
    /// A connection was accepted: the next resource error starts the
    /// backoff afresh.
    pub fn succeeded(&mut self) {
        self.backoff = FIRST_BACKOFF;
    }

    /// Records a failed accept; returns how long to pause before the next.
    pub fn failed(&mut self, error: &io::Error, listener: &str) -> Duration {
        let exhausted = is_resource_exhaustion(error);
        if let Some(count) = self.log.record(Instant::now()) {
            if exhausted {
                tracing::warn!(%error, listener, failures = count, "accept failed: out of resources; backing off (logged at most every 10 s)");
            } else {
                tracing::debug!(%error, listener, failures = count, "accept failed for one connection");
            }
        }
        if !exhausted {
            return Duration::ZERO;
        }
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        pause
    }
}

/// Out of descriptors or kernel memory: retrying at once cannot help.
fn is_resource_exhaustion(error: &io::Error) -> bool {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOBUFS: i32 = 105;
    const ENOMEM: i32 = 12;
    matches!(
        error.raw_os_error(),
        Some(EMFILE | ENFILE | ENOBUFS | ENOMEM)
    ) || error.kind() == io::ErrorKind::OutOfMemory
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_events_is_logged_once_per_interval_with_its_count() {
        let mut log = LogEvery::new(Duration::from_secs(10));
        assert_eq!(log.record(Instant::now()), Some(1));
        for _ in 0..999 {
            assert_eq!(log.record(Instant::now()), None);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(log.record(Instant::now()), Some(1000));
        assert_eq!(log.record(Instant::now()), None);
    }

    #[tokio::test(start_paused = true)]
    async fn descriptor_exhaustion_backs_off_and_a_success_resets_it() {
        let mut errors = AcceptErrors::default();
        let emfile = io::Error::from_raw_os_error(24);
        let pauses: Vec<_> = (0..9).map(|_| errors.failed(&emfile, "main")).collect();
        assert_eq!(pauses[0], Duration::from_millis(10));
        assert_eq!(pauses[1], Duration::from_millis(20));
        assert_eq!(pauses[8], Duration::from_secs(1));
        errors.succeeded();
        assert_eq!(errors.failed(&emfile, "main"), Duration::from_millis(10));
        let enfile = io::Error::from_raw_os_error(23);
        assert!(errors.failed(&enfile, "main") > Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_per_connection_error_does_not_pause_the_loop() {
        let mut errors = AcceptErrors::default();
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(errors.failed(&aborted, "main"), Duration::ZERO);
    }
}
