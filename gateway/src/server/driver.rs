//! Serving one connection to its end: the TLS handshake when the
//! listener terminates TLS, then hyper over the socket wrapper, under the
//! drain signal and the HTTP/2 idle timeout.
//!
//! HTTP/1 deadlines live in the socket wrapper ([`super::head_deadline`]);
//! HTTP/2 needs the connection itself, since closing it politely means a
//! GOAWAY. The driver asks [`idle_check`] when its timer fires: with no
//! stream open for `server.idle_timeout`, it starts a graceful shutdown
//! (GOAWAY), and drops the connection if the client still holds it open
//! after the header-read timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::{self, UpgradeableConnection};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::ConnectionSettings;
use super::activity::{ConnActivity, Protocol};
use super::head_deadline::{HeadDeadlineIo, HeadTimeouts};
use super::listener::configure_accepted;
use super::plain_on_tls;
use super::tracked::TrackedService;
use crate::layers::GatewayService;
use crate::observe::SharedRefusals;

/// Where a connection's driver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Serving,
    /// The server drains: finish what is in flight.
    Draining,
    /// Idle HTTP/2: GOAWAY sent; dropped if still open at the timer.
    ClosingIdle,
}

/// What to do when the driver's timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnTimer {
    RecheckAt(Instant),
    /// Send GOAWAY; drop the connection if still open at this time.
    Goaway {
        drop_at: Instant,
    },
    Drop,
}

fn on_timer(stage: Stage, activity: &ConnActivity, settings: &ConnectionSettings) -> OnTimer {
    if stage == Stage::ClosingIdle {
        return OnTimer::Drop;
    }
    let now = Instant::now();
    match idle_check(activity, settings.idle_timeout, now) {
        IdleCheck::RecheckAt(at) => OnTimer::RecheckAt(at),
        IdleCheck::Expired => OnTimer::Goaway {
            drop_at: now + settings.header_read_timeout,
        },
    }
}

/// One accepted connection, before it is served.
pub(super) struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// The listener's TLS config, when it terminates TLS.
    pub tls: Option<super::ConnectionTls>,
}

/// Serves one accepted connection until it ends (or is dropped). With
/// `tls`, the TLS handshake comes first, bounded by the header-read
/// deadline counted from accept (a client that connects and stays silent,
/// or trickles its hello, is dropped then); the request-head deadline
/// keeps counting from accept too. Refused request heads are reported to
/// `refusals`.
pub(super) async fn serve_connection(
    builder: Arc<auto::Builder<TokioExecutor>>,
    accepted: Accepted,
    service: GatewayService,
    settings: ConnectionSettings,
    draining: CancellationToken,
    refusals: SharedRefusals,
) {
    let Accepted { stream, peer, tls } = accepted;
    configure_accepted(&stream);
    let activity = ConnActivity::new(Instant::now());
    let timeouts = HeadTimeouts {
        header_read: settings.header_read_timeout,
        keep_alive_idle: settings.idle_timeout,
        send: settings.send_timeout,
    };
    let hyper_service = TowerToHyperService::new(TrackedService {
        service,
        peer,
        activity: Arc::clone(&activity),
        tls: tls.is_some(),
        hsts: tls.as_ref().and_then(|tls| tls.hsts.clone()),
    });
    let Some(super::ConnectionTls { config: tls, .. }) = tls else {
        let io = HeadDeadlineIo::new(stream, peer, Arc::clone(&activity), timeouts, refusals);
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), hyper_service);
        return drive(connection, &activity, peer, settings, draining).await;
    };
    let deadline = activity.accepted() + settings.header_read_timeout;
    match tokio::time::timeout_at(deadline, plain_on_tls::peek_first_byte(&stream)).await {
        Ok(Some(first)) if plain_on_tls::looks_like_plain_http(first) => {
            plain_on_tls::answer(stream, peer, &refusals, activity.accepted()).await;
            return;
        }
        Ok(_) => {}
        Err(_) => {
            tracing::debug!(%peer, timeout = ?settings.header_read_timeout, "no TLS hello in time; closing");
            return;
        }
    }
    let handshake = TlsAcceptor::from(tls).accept(stream);
    let stream = match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, timeout = ?settings.header_read_timeout, "TLS handshake not finished in time; closing");
            return;
        }
    };
    let io = HeadDeadlineIo::new(stream, peer, Arc::clone(&activity), timeouts, refusals);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), hyper_service);
    drive(connection, &activity, peer, settings, draining).await;
}

/// Runs hyper's connection under the drain signal and the HTTP/2 idle
/// timer.
async fn drive<S>(
    connection: UpgradeableConnection<
        '_,
        TokioIo<S>,
        TowerToHyperService<TrackedService>,
        TokioExecutor,
    >,
    activity: &ConnActivity,
    peer: SocketAddr,
    settings: ConnectionSettings,
    draining: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut connection = std::pin::pin!(connection);
    let timer = tokio::time::sleep_until(activity.accepted() + settings.idle_timeout);
    let mut timer = std::pin::pin!(timer);
    let mut stage = Stage::Serving;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = draining.cancelled(), if stage == Stage::Serving => {
                connection.as_mut().graceful_shutdown();
                stage = Stage::Draining;
            }
            () = timer.as_mut(), if stage != Stage::Draining => {
                match on_timer(stage, activity, &settings) {
                    OnTimer::RecheckAt(at) => timer.as_mut().reset(at),
                    OnTimer::Goaway { drop_at } => {
                        tracing::debug!(%peer, "HTTP/2 connection idle; sending GOAWAY");
                        connection.as_mut().graceful_shutdown();
                        stage = Stage::ClosingIdle;
                        timer.as_mut().reset(drop_at);
                    }
                    OnTimer::Drop => {
                        tracing::debug!(%peer, "idle HTTP/2 connection still open after GOAWAY; closing it");
                        return;
                    }
                }
            }
        }
    }
}

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
