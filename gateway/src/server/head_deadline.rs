//! The client socket as hyper sees it, with the header-read deadline
//! around it: it starts at accept, so it covers the HTTP/1-or-2 sniff
//! (a lone `P`, a partial preface, nothing at all), and it bounds the
//! keep-alive wait between HTTP/1 requests.
//!
//! hyper reads the socket whenever it waits for a request head, so the
//! deadline lives in `poll_read`: when it passes, the wrapper answers
//! `408` itself where HTTP/1 allows it (nothing sent yet, or a request
//! head started and the previous response fully flushed), as HAProxy's
//! `timeout http-request` does, then fails the read so hyper closes the
//! connection. An idle keep-alive connection, or a client that started
//! the HTTP/2 preface, is closed without a word. Once a request is in
//! flight, the connection speaks HTTP/2, or it was upgraded, reads pass
//! straight through.
//!
//! The wrapped stream is the TCP socket, or the TLS session over it (the
//! deadline then sees the decrypted bytes; the 408 is written through
//! the session).
//!
//! Closing lingers (see [`super::lingering_close`]).
//!
//! A request head hyper's parser refuses gets the gateway's JSON error
//! instead of hyper's bare answer: see [`super::parser_refusal`].
//!
//! Writes have their own bound, on every protocol and on upgraded
//! connections alike: a write that stays blocked for the send timeout (the
//! client stopped reading, as in a slow-read attack) fails, and hyper
//! closes the connection, which frees the upstream call too.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::activity::{ConnActivity, Protocol};
use super::lingering_close::{self, Lingering};
use crate::edge_error::raw_http1_error;
use crate::observe::{RefusedHead, SharedRefusals};

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// `PRI ` starts no HTTP/1 request but the preface: past it, the client
/// speaks HTTP/2, and HTTP/2 has no way to answer before its preface.
const H2_COMMITTED: usize = 4;

/// The two deadlines this wrapper keeps.
#[derive(Debug, Clone, Copy)]
pub struct HeadTimeouts {
    /// From accept (first request) or the first byte (later ones) to the
    /// end of the request head.
    pub header_read: Duration,
    /// From the end of one HTTP/1 response to the first byte of the next
    /// request.
    pub keep_alive_idle: Duration,
    /// Longest a write may stay blocked on a client that does not read.
    pub send: Duration,
}

/// Where an HTTP/1 connection is between two requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Waiting for (the rest of) a request head: the header-read deadline.
    Head,
    /// A request is in flight: no deadline here.
    Request,
    /// Between requests, no byte yet: the keep-alive deadline.
    Idle,
}

/// A client socket under the header-read deadline.
#[derive(Debug)]
pub struct HeadDeadlineIo<S = TcpStream> {
    stream: S,
    peer: SocketAddr,
    activity: Arc<ConnActivity>,
    timeouts: HeadTimeouts,
    sleep: Pin<Box<Sleep>>,
    /// Bytes of the HTTP/2 preface matched while sniffing.
    matched: usize,
    wait: Wait,
    /// Requests seen finished, to notice the end of the next one.
    seen_finished: u64,
    /// Everything hyper wrote has been flushed: a 408 cannot interleave
    /// with the tail of a previous response.
    flushed: bool,
    /// Started when a write blocks; cleared when one makes progress.
    write_stall: Option<Pin<Box<Sleep>>>,
    /// Set once the connection is closing (see [`super::lingering_close`]).
    lingering: Option<Lingering>,
    /// Bytes of the awaited head have arrived (a 408 then refuses a
    /// request; without any, only an idle connection is closed).
    head_bytes: bool,
    /// The awaited head's request line has ended (a `\n` arrived): a head
    /// over the size limit before that is a request target too long.
    line_ended: bool,
    /// Where refused heads are reported.
    refusals: SharedRefusals,
}

impl<S: AsyncRead + AsyncWrite + Unpin> HeadDeadlineIo<S> {
    pub fn new(
        stream: S,
        peer: SocketAddr,
        activity: Arc<ConnActivity>,
        timeouts: HeadTimeouts,
        refusals: SharedRefusals,
    ) -> Self {
        let deadline = activity.accepted() + timeouts.header_read;
        Self {
            stream,
            peer,
            activity,
            timeouts,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            matched: 0,
            wait: Wait::Head,
            seen_finished: 0,
            flushed: true,
            write_stall: None,
            lingering: None,
            head_bytes: false,
            line_ended: false,
            refusals,
        }
    }

    /// Follows the requests' progress; true if a deadline applies now.
    fn deadline_applies(&mut self) -> bool {
        match self.activity.protocol() {
            Protocol::Http2 => return false,
            Protocol::Sniffing => return true,
            Protocol::Http1 => {}
        }
        if self.activity.is_tunnel() {
            return false;
        }
        if self.activity.in_flight() > 0 {
            self.wait = Wait::Request;
            return false;
        }
        let finished = self.activity.finished();
        if finished != self.seen_finished {
            self.seen_finished = finished;
            self.wait = Wait::Idle;
            self.head_bytes = false;
            self.line_ended = false;
            let deadline = Instant::now() + self.timeouts.keep_alive_idle;
            self.sleep.as_mut().reset(deadline);
        }
        self.wait != Wait::Request
    }

    /// Bytes arrived: sniff the protocol, start the head deadline.
    fn on_bytes(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.head_bytes = true;
        if !self.line_ended {
            self.line_ended = bytes.contains(&b'\n');
        }
        if self.activity.protocol() == Protocol::Sniffing {
            self.sniff(bytes);
        }
        if self.wait == Wait::Idle {
            self.wait = Wait::Head;
            let deadline = Instant::now() + self.timeouts.header_read;
            self.sleep.as_mut().reset(deadline);
        }
    }

    fn sniff(&mut self, bytes: &[u8]) {
        for byte in bytes {
            if H2_PREFACE.get(self.matched) != Some(byte) {
                self.activity.set_protocol(Protocol::Http1);
                return;
            }
            self.matched += 1;
            if self.matched == H2_PREFACE.len() {
                self.activity.set_protocol(Protocol::Http2);
                return;
            }
        }
    }

    /// The deadline passed: answer 408 where HTTP/1 allows it, then fail
    /// the read so hyper closes the connection.
    fn expire(&mut self) -> io::Error {
        let answer = match self.activity.protocol() {
            Protocol::Sniffing => self.matched < H2_COMMITTED,
            Protocol::Http1 => self.wait == Wait::Head && self.flushed,
            Protocol::Http2 => false,
        };
        let peer = self.peer;
        tracing::debug!(%peer, phase = ?self.wait, protocol = ?self.activity.protocol(), answered_408 = answer, "header-read or keep-alive timeout");
        if answer {
            let response = self.refuse(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "the request head was not received in time",
                self.head_bytes,
            );
            // Best effort, never waiting: a client that reads nothing
            // cannot hold the connection open this way.
            self.write_now(&response);
        }
        io::Error::new(io::ErrorKind::TimedOut, "request head not received in time")
    }

    /// Writes what fits now and flushes it, never waiting (on TLS the
    /// bytes are encrypted into the session first).
    fn write_now(&mut self, bytes: &[u8]) {
        let mut cx = Context::from_waker(Waker::noop());
        let mut stream = Pin::new(&mut self.stream);
        if let Poll::Ready(Ok(_)) = stream.as_mut().poll_write(&mut cx, bytes) {
            let _ = stream.poll_flush(&mut cx);
        }
    }

    /// Whether hyper may be writing its answer to a refused head now:
    /// between HTTP/1 requests (nothing in flight, everything before
    /// flushed), where hyper writes it. Atomics only, checked before any
    /// look at the bytes.
    fn between_requests(&self) -> bool {
        self.flushed
            && self.activity.protocol() == Protocol::Http1
            && self.activity.in_flight() == 0
            && !self.activity.is_tunnel()
    }

    /// The gateway's error to write instead of `written`, when `written` is
    /// hyper's bare answer to a head it refused (call only
    /// [`Self::between_requests`]).
    fn refusal_replacement(&self, written: &[u8]) -> Option<Vec<u8>> {
        let (status, code, message) = super::parser_refusal::replacement(written, self.line_ended)?;
        let peer = self.peer;
        tracing::debug!(%peer, "request head refused by the HTTP/1 parser; answered with the gateway's error");
        Some(self.refuse(status, code, message, true))
    }

    /// The gateway's error answering the awaited head with `status`,
    /// reported to the listener's observers when `report` (a request was
    /// refused, not an idle connection closed).
    fn refuse(
        &self,
        status: StatusCode,
        code: &'static str,
        message: &str,
        report: bool,
    ) -> Vec<u8> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let answer = raw_http1_error(status, code, message, &request_id);
        if let (true, Some(refusals)) = (report, &self.refusals) {
            // The head deadline runs from when the wait for this head began.
            let deadline = self.sleep.deadline();
            let began = deadline
                .checked_sub(self.timeouts.header_read)
                .unwrap_or(deadline);
            let duration = Instant::now().saturating_duration_since(began);
            refusals.refused(&RefusedHead::answered(
                self.peer,
                status,
                code,
                &request_id,
                &answer,
                duration,
            ));
        }
        answer
    }

    /// Bounds how long a write may stay blocked: the timer starts at the
    /// first `Pending` and is cleared by any progress.
    fn bound_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.write_stall = None;
            return result;
        }
        let send = self.timeouts.send;
        let stall = self
            .write_stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(send)));
        if stall.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let peer = self.peer;
        tracing::debug!(%peer, timeout = ?send, "send timeout: the client stopped reading");
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client did not read the response in time",
        )))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadDeadlineIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.deadline_applies() && this.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(this.expire()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            let filled = buf.filled();
            this.on_bytes(&filled[before..]);
        }
        read
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for HeadDeadlineIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.between_requests()
            && let Some(answer) = this.refusal_replacement(buf)
        {
            // Best effort, never waiting, as the 408: hyper closes next.
            this.write_now(&answer);
            return Poll::Ready(Ok(buf.len()));
        }
        this.flushed = false;
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.bound_write(cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut filled = bufs.iter().filter(|buf| !buf.is_empty());
        if this.between_requests()
            && let (Some(only), None) = (filled.next(), filled.next())
            && let Some(answer) = this.refusal_replacement(only)
        {
            this.write_now(&answer);
            return Poll::Ready(Ok(only.len()));
        }
        this.flushed = false;
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.bound_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.stream).poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            this.flushed = true;
        }
        this.bound_write(cx, flushed)
    }

    /// hyper's close: the write side is shut, then the client's unread
    /// bytes are discarded for a bounded time, so that the response just
    /// sent is not destroyed by a reset.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        lingering_close::poll_close(&mut this.stream, &mut this.lingering, cx)
    }
}
