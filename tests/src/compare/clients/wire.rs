//! Counting bytes on the wire: a TCP stream wrapper that adds every byte
//! read and written to a shared [`WireCounter`], and the connector that
//! opens such streams for hyper and tonic clients.
//!
//! What is counted is what the client's sockets carry: request and
//! response bytes including HTTP/1.1 heads, HTTP/2 frames and HPACK,
//! gRPC framing and connection prefaces; TCP/IP headers are not.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bytes carried by every connection of one client, both directions.
#[derive(Clone, Debug, Default)]
pub struct WireCounter(Arc<AtomicU64>);

impl WireCounter {
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self, bytes: usize) {
        self.0.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// A TCP stream that counts its bytes.
#[derive(Debug)]
pub struct CountedStream {
    inner: TcpStream,
    counter: WireCounter,
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.counter.add(buf.filled().len() - before);
        }
        polled
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = polled {
            self.counter.add(written);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = polled {
            self.counter.add(written);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Connection for CountedStream {
    fn connected(&self) -> Connected {
        self.inner.connected()
    }
}

/// Opens counted TCP connections to the URI's host and port (plain
/// `http://` only), with `TCP_NODELAY` as every HTTP client sets it.
#[derive(Clone, Debug, Default)]
pub struct CountingConnector {
    pub counter: WireCounter,
}

impl tower::Service<Uri> for CountingConnector {
    type Response = TokioIo<CountedStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let counter = self.counter.clone();
        Box::pin(async move {
            let host = uri.host().ok_or_else(|| invalid(&uri))?;
            let port = uri.port_u16().unwrap_or(80);
            let inner = TcpStream::connect((host, port)).await?;
            inner.set_nodelay(true)?;
            Ok(TokioIo::new(CountedStream { inner, counter }))
        })
    }
}

fn invalid(uri: &Uri) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("no host in {uri}"))
}
