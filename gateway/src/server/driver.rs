//! When an HTTP/2 connection has been idle too long.
//!
//! HTTP/1 deadlines live in the socket wrapper ([`super::head_deadline`]);
//! HTTP/2 needs the connection itself, since closing it politely means a
//! GOAWAY. The connection's driver (in `server.rs`) asks [`idle_check`]
//! when its timer fires: with no stream open for `server.idle_timeout`,
//! it starts a graceful shutdown (GOAWAY), and drops the connection if the
//! client still holds it open after the header-read timeout.

use std::time::Duration;

use tokio::time::Instant;

use super::activity::{ConnActivity, Protocol};

/// What the driver's idle timer should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleCheck {
    /// Idle for the whole timeout: send GOAWAY.
    Expired,
    /// Look again then.
    RecheckAt(Instant),
}

/// Decides whether an HTTP/2 connection has been idle for `idle_timeout`.
/// Other protocols are left to the socket wrapper (rechecked lazily, in
/// case the sniff turns out HTTP/2).
pub fn idle_check(activity: &ConnActivity, idle_timeout: Duration, now: Instant) -> IdleCheck {
    if activity.protocol() != Protocol::Http2 {
        return IdleCheck::RecheckAt(now + idle_timeout);
    }
    match activity.idle_since() {
        Some(since) if since + idle_timeout <= now => IdleCheck::Expired,
        Some(since) => IdleCheck::RecheckAt(since + idle_timeout),
        None => IdleCheck::RecheckAt(now + idle_timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_without_streams_expires_after_the_idle_timeout() {
        let activity = ConnActivity::new(Instant::now());
        activity.set_protocol(Protocol::Http2);
        let start = Instant::now();
        assert_eq!(
            idle_check(&activity, IDLE, start),
            IdleCheck::RecheckAt(start + IDLE)
        );
        tokio::time::advance(IDLE).await;
        assert_eq!(
            idle_check(&activity, IDLE, Instant::now()),
            IdleCheck::Expired
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_stream_or_a_tunnel_keeps_it_alive_and_the_clock_restarts_after() {
        let activity = ConnActivity::new(Instant::now());
        activity.set_protocol(Protocol::Http2);
        let request = activity.begin_request();
        tokio::time::advance(IDLE * 2).await;
        assert!(matches!(
            idle_check(&activity, IDLE, Instant::now()),
            IdleCheck::RecheckAt(_)
        ));
        drop(request);
        let ended = Instant::now();
        assert_eq!(
            idle_check(&activity, IDLE, ended),
            IdleCheck::RecheckAt(ended + IDLE)
        );
        activity.mark_tunnel();
        tokio::time::advance(IDLE * 2).await;
        assert!(matches!(
            idle_check(&activity, IDLE, Instant::now()),
            IdleCheck::RecheckAt(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn http1_and_undecided_connections_are_left_to_the_socket_wrapper() {
        let activity = ConnActivity::new(Instant::now());
        tokio::time::advance(IDLE * 2).await;
        assert!(matches!(
            idle_check(&activity, IDLE, Instant::now()),
            IdleCheck::RecheckAt(_)
        ));
    }
}
