//! Requests a connection refuses before hyper hands them to the service:
//! a head hyper's parser rejects (400, 431, 414; `server::parser_refusal`)
//! and a head not received in time (408; `server::head_deadline`). The
//! service's layers never see them, so the connection reports each one
//! here, for the access log and the metrics ([`super::Observers`]
//! implements [`HeadRefusals`]), as Envoy logs a downstream protocol error
//! and nginx a `400` with no request line.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::StatusCode;

/// One refused request head, as it was answered.
#[derive(Debug, Clone, Copy)]
pub struct RefusedHead<'a> {
    pub peer: SocketAddr,
    pub status: StatusCode,
    /// The answer's `error.code`.
    pub code: &'static str,
    /// The answer's `x-request-id` and `error.request_id`.
    pub request_id: &'a str,
    /// When the connection began waiting for this head.
    pub started_at: SystemTime,
    /// From then to the answer.
    pub duration: Duration,
    /// Bytes of the answer's body.
    pub bytes_out: u64,
}

impl<'a> RefusedHead<'a> {
    /// The record of `answer` (a whole HTTP/1 response, head and body, as
    /// written to the socket), `duration` after the wait for the head
    /// began.
    pub fn answered(
        peer: SocketAddr,
        status: StatusCode,
        code: &'static str,
        request_id: &'a str,
        answer: &[u8],
        duration: Duration,
    ) -> Self {
        let head = answer
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .map_or(0, |at| at + 4);
        RefusedHead {
            peer,
            status,
            code,
            request_id,
            started_at: SystemTime::now() - duration,
            duration,
            bytes_out: (answer.len() - head) as u64,
        }
    }
}

/// Where refused heads are reported. Called on the connection's worker
/// thread, so it must not block.
pub trait HeadRefusals: Send + Sync + fmt::Debug {
    fn refused(&self, head: &RefusedHead<'_>);
}

/// The listener's reporter (`None`: nobody listens, as on the admin
/// listener).
pub type SharedRefusals = Option<Arc<dyn HeadRefusals>>;
