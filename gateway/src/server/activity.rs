//! What one client connection is doing, shared by its IO wrapper
//! ([`super::head_deadline`]), its driver ([`super::driver`]) and the
//! requests it carries: the protocol the sniff found, the requests in
//! flight, and when the last one ended. Atomics only: HTTP/2 streams run
//! as their own tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use tokio::time::Instant;

/// The protocol a connection turned out to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Not decided yet: fewer bytes than the HTTP/2 preface, all matching it.
    Sniffing,
    Http1,
    Http2,
}

/// One connection's shared state.
#[derive(Debug)]
pub struct ConnActivity {
    accepted: Instant,
    protocol: AtomicU8,
    in_flight: AtomicUsize,
    /// Requests finished so far; a change tells a waiter one ended.
    finished: AtomicU64,
    /// When the last request ended, in microseconds since `accepted`.
    last_end_micros: AtomicU64,
    /// Upgraded (WebSocket) or tunnelled: never idle, never timed out here.
    tunnel: AtomicBool,
}

impl ConnActivity {
    pub fn new(accepted: Instant) -> Arc<Self> {
        Arc::new(Self {
            accepted,
            protocol: AtomicU8::new(0),
            in_flight: AtomicUsize::new(0),
            finished: AtomicU64::new(0),
            last_end_micros: AtomicU64::new(0),
            tunnel: AtomicBool::new(false),
        })
    }

    pub fn accepted(&self) -> Instant {
        self.accepted
    }

    pub fn protocol(&self) -> Protocol {
        match self.protocol.load(Ordering::Relaxed) {
            1 => Protocol::Http1,
            2 => Protocol::Http2,
            _ => Protocol::Sniffing,
        }
    }

    pub fn set_protocol(&self, protocol: Protocol) {
        let value = match protocol {
            Protocol::Sniffing => 0,
            Protocol::Http1 => 1,
            Protocol::Http2 => 2,
        };
        self.protocol.store(value, Ordering::Relaxed);
    }

    /// A request head was read; the guard ends it when dropped.
    pub fn begin_request(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestGuard(Arc::clone(self))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    pub fn mark_tunnel(&self) {
        self.tunnel.store(true, Ordering::Relaxed);
    }

    pub fn is_tunnel(&self) -> bool {
        self.tunnel.load(Ordering::Relaxed)
    }

    /// Since when nothing has been in flight; `None` while a request is
    /// (or the connection is a tunnel).
    pub fn idle_since(&self) -> Option<Instant> {
        if self.in_flight() > 0 || self.is_tunnel() {
            return None;
        }
        let micros = self.last_end_micros.load(Ordering::Relaxed);
        Some(self.accepted + std::time::Duration::from_micros(micros))
    }
}

/// One request in flight on a connection.
#[derive(Debug)]
pub struct RequestGuard(Arc<ConnActivity>);

impl RequestGuard {
    pub fn activity(&self) -> &ConnActivity {
        &self.0
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let activity = &self.0;
        let since = Instant::now().saturating_duration_since(activity.accepted);
        let micros = u64::try_from(since.as_micros()).unwrap_or(u64::MAX);
        activity.last_end_micros.store(micros, Ordering::Relaxed);
        activity.finished.fetch_add(1, Ordering::Relaxed);
        activity.in_flight.fetch_sub(1, Ordering::Release);
    }
}
