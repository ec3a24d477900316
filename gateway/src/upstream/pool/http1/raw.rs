//! An HTTP/1.1 connection driven by the request's own task, for requests
//! without a body to `http://` endpoints (most proxied traffic: GET, HEAD,
//! DELETE). The request head is written and the response read by the
//! task that awaits them, and the response body reads the socket as it is
//! polled; at the body's end the connection goes back to its pool.
//!
//! Written here rather than taken from hyper's client connection because
//! a measurement decided it: on the proxy path that connection's task
//! cost about 12,600 instructions a request (callgrind, worker threads),
//! most of them in its hand-offs (a channel to the connection task, a
//! oneshot back, a wake each way, three polls of the task) rather than
//! in parsing, and the gateway's kept-alive TLS throughput trailed
//! nginx's. Requests with a body, `https://` endpoints, HTTP/2 and
//! upgrades keep hyper: a body may need to be written while the response
//! is read, which this connection does not do.
//!
//! The response is parsed with `httparse`, hyper's own parser, and framed
//! by `wire` with hyper's rules (and stricter chunk parsing).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method};
use http_body::{Body, Frame, SizeHint};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::wire::{self, ChunkEvent, ChunkedDecoder, Framing, Parsed, ResponseHead, WireError};
use crate::body::BoxError;

/// First read size; doubled while reads fill it, up to [`MAX_READ`].
const FIRST_READ: usize = 8 * 1024;
const MAX_READ: usize = 128 * 1024;
/// Below this much free room the buffer is grown before a read.
const MIN_ROOM: usize = 2 * 1024;
/// A buffer grown past this is not kept while its connection is idle.
const MAX_IDLE_BUFFER: usize = 64 * 1024;

/// One HTTP/1.1 connection and its buffers.
#[derive(Debug)]
pub(in crate::upstream) struct RawConnection {
    stream: TcpStream,
    /// Bytes read and not consumed yet.
    buf: BytesMut,
    /// The request head being written (kept for its capacity).
    head: Vec<u8>,
    read_size: usize,
}

/// Why an exchange got no usable response head.
#[derive(Debug)]
pub(super) enum ExchangeError {
    /// Not one byte of a response arrived: the write failed, or the
    /// connection closed or failed first (a kept-alive connection the
    /// server closed while it was idle looks like this).
    NothingReceived(io::Error),
    /// The response head was cut off or malformed.
    Failed(BoxError),
}

impl RawConnection {
    pub(super) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: BytesMut::new(),
            head: Vec::new(),
            read_size: FIRST_READ,
        }
    }

    /// Whether an idle connection can carry a request: no end of stream,
    /// error or stray byte has arrived. Costs no system call unless the
    /// socket was reported readable.
    pub(super) fn is_open(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
    }

    /// Ready for the idle stack: an oversized buffer is let go.
    pub(super) fn shrink_for_idle(&mut self) {
        if self.buf.capacity() > MAX_IDLE_BUFFER {
            self.buf = BytesMut::new();
            self.read_size = FIRST_READ;
        }
    }

    /// Nothing unread is left (a byte past the response would be
    /// unsolicited: such a connection is never reused).
    pub(super) fn is_drained(&self) -> bool {
        self.buf.is_empty()
    }

    /// Writes a bodiless request's head and reads the final response head.
    pub(super) async fn exchange(
        &mut self,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
    ) -> Result<ResponseHead, ExchangeError> {
        wire::encode_request_head(&mut self.head, method, target, headers);
        self.stream
            .write_all(&self.head)
            .await
            .map_err(ExchangeError::NothingReceived)?;
        let mut informational = 0;
        let mut received = false;
        loop {
            if !self.buf.is_empty() {
                received = true;
                match wire::parse_head(&mut self.buf, method) {
                    Ok(Parsed::Final(head)) => return Ok(head),
                    Ok(Parsed::Informational) => {
                        informational += 1;
                        if informational > wire::MAX_INFORMATIONAL {
                            return Err(ExchangeError::Failed(
                                WireError::TooManyInformational.into(),
                            ));
                        }
                        continue;
                    }
                    Ok(Parsed::Partial) => {}
                    Err(error) => return Err(ExchangeError::Failed(error.into())),
                }
            }
            let read = std::future::poll_fn(|cx| self.poll_fill(cx)).await;
            match read {
                Ok(0) if received => {
                    return Err(ExchangeError::Failed(
                        "the connection closed in the middle of the response head".into(),
                    ));
                }
                Ok(0) => {
                    return Err(ExchangeError::NothingReceived(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection closed before a response",
                    )));
                }
                Ok(_) => {}
                Err(error) if received => return Err(ExchangeError::Failed(error.into())),
                Err(error) => return Err(ExchangeError::NothingReceived(error)),
            }
        }
    }

    /// Reads what the socket has into the buffer (0: end of stream).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < MIN_ROOM {
            self.buf.reserve(self.read_size);
        }
        let room = self.buf.capacity() - self.buf.len();
        let read = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.stream),
            cx,
            &mut self.buf
        ))?;
        if read == room && self.read_size < MAX_READ {
            self.read_size *= 2;
        }
        Poll::Ready(Ok(read))
    }
}

/// What to do with a connection whose response has ended.
pub(in crate::upstream) trait Release: Send + Unpin + 'static {
    /// Back to the idle stack (the connection is drained).
    fn release(self, connection: RawConnection);
}

/// A response body read straight from its connection.
pub(in crate::upstream) struct RawBody<R: Release> {
    /// `None` once the body has ended or failed.
    connection: Option<RawConnection>,
    state: BodyState,
    /// Where the connection goes at the end: `None` when it must close.
    release: Option<R>,
}

#[derive(Debug)]
enum BodyState {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    Done,
}

impl<R: Release> RawBody<R> {
    /// The body `head` announces, read from `connection`; `release` takes
    /// the connection back when the body ends, if the head lets it be
    /// reused.
    pub(super) fn new(head: &ResponseHead, connection: RawConnection, release: R) -> Self {
        let state = match head.framing {
            Framing::Empty => BodyState::Done,
            Framing::Length(length) => BodyState::Length(length),
            Framing::Chunked => BodyState::Chunked(ChunkedDecoder::default()),
            Framing::UntilClose => BodyState::UntilClose,
        };
        let mut body = Self {
            connection: Some(connection),
            state,
            release: head.keep_alive.then_some(release),
        };
        if matches!(body.state, BodyState::Done) {
            body.end();
        }
        body
    }

    /// The body is complete: its connection goes back, or closes.
    fn end(&mut self) {
        self.state = BodyState::Done;
        if let Some(mut connection) = self.connection.take()
            && connection.is_drained()
            && let Some(release) = self.release.take()
        {
            connection.shrink_for_idle();
            release.release(connection);
        }
    }

    fn fail(&mut self, error: impl Into<BoxError>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.connection = None;
        self.state = BodyState::Done;
        Poll::Ready(Some(Err(error.into())))
    }
}

impl<R: Release> Drop for RawBody<R> {
    fn drop(&mut self) {
        // Dropped before its end, the connection closes with it: the rest
        // of the response is still on the wire.
        if matches!(self.state, BodyState::Done | BodyState::Length(0)) {
            self.end();
        }
    }
}

impl<R: Release> Body for RawBody<R> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(connection) = this.connection.as_mut() else {
                return Poll::Ready(None);
            };
            let buf = &mut connection.buf;
            match &mut this.state {
                BodyState::Done => {
                    this.end();
                    return Poll::Ready(None);
                }
                BodyState::Length(left) if !buf.is_empty() => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                    let data = buf.split_to(take).freeze();
                    *left -= take as u64;
                    if *left == 0 {
                        this.end();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                BodyState::Chunked(decoder) => match decoder.decode(buf) {
                    Ok(Some(ChunkEvent::Data(data))) => {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Ok(Some(ChunkEvent::Trailers(trailers))) => {
                        this.end();
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    Ok(Some(ChunkEvent::End)) => {
                        this.end();
                        return Poll::Ready(None);
                    }
                    Ok(None) => {}
                    Err(error) => return this.fail(error),
                },
                BodyState::UntilClose if !buf.is_empty() => {
                    return Poll::Ready(Some(Ok(Frame::data(buf.split().freeze()))));
                }
                BodyState::Length(_) | BodyState::UntilClose => {}
            }
            match ready!(connection.poll_fill(cx)) {
                Ok(0) if matches!(this.state, BodyState::UntilClose) => {
                    this.connection = None;
                    this.state = BodyState::Done;
                    return Poll::Ready(None);
                }
                Ok(0) => return this.fail("the connection closed before the response body's end"),
                Ok(_) => {}
                Err(error) => return this.fail(error),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, BodyState::Done | BodyState::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            BodyState::Length(left) => SizeHint::with_exact(left),
            BodyState::Done => SizeHint::with_exact(0),
            BodyState::Chunked(_) | BodyState::UntilClose => SizeHint::default(),
        }
    }
}

impl<R: Release> std::fmt::Debug for RawBody<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBody")
            .field("state", &self.state)
            .field("reusable", &self.release.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
