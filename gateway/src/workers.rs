//! The serving threads, thread-per-core: each worker is an OS thread with
//! its own single-threaded tokio runtime (its own epoll, its own timers),
//! as nginx runs one process per core and Pingora its no-steal runtime.
//!
//! The acceptor ([`WorkerSet::hand`]) gives each accepted connection to
//! the worker with the fewest open connections. The connection then lives
//! on that thread until it closes, and so do the upstream connections its
//! requests use: each upstream pool keeps one client per worker, picked by
//! [`current_index`]. A proxied request therefore never changes thread: no
//! work stealing, no cross-thread wake-ups, no shared connection pool lock.
//!
//! The acceptor also enforces the connection limits: past
//! `server.max_connections` in all, or when even the least-loaded worker
//! holds `server.max_connections_per_worker`, a new connection is closed
//! at once, so the ones already served keep their worker.
//!
//! Invariant: a worker stops when the stop signal fires (or its sender is
//! dropped), drains its connections and waits for the WebSocket sessions
//! the drain signal ended ([`crate::drain`]) within the grace period, and
//! reports whether they all finished.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use crate::drain::Drain;
use crate::layers::GatewayService;
use crate::server::{
    ConnectionLimits, ConnectionSettings, IncomingConnections, ListenerParts, serve_tls,
};

thread_local! {
    static WORKER_INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The index of the worker running this code (0 outside any worker).
pub fn current_index() -> usize {
    WORKER_INDEX.with(Cell::get)
}

/// Makes this thread count as worker `index` (for tests of per-worker
/// shards).
#[cfg(test)]
pub(crate) fn set_current_index_for_test(index: usize) {
    WORKER_INDEX.with(|cell| cell.set(index));
}

/// A connection on its way from the acceptor to a worker.
struct Handed {
    stream: std::net::TcpStream,
    peer: SocketAddr,
}

/// One worker as the acceptor sees it.
#[derive(Debug)]
struct Worker {
    connections: mpsc::UnboundedSender<Handed>,
    /// Connections handed to it and not yet closed.
    open: Arc<AtomicUsize>,
}

/// Each worker's open connections, as the admin API shows them.
#[derive(Debug, Clone, Default)]
pub struct WorkerLoad {
    open: Arc<Vec<Arc<AtomicUsize>>>,
    rejected: Arc<AtomicU64>,
}

impl WorkerLoad {
    /// How many workers there are.
    pub fn count(&self) -> usize {
        self.open.len()
    }

    /// Open connections per worker, by index.
    pub fn open_connections(&self) -> Vec<usize> {
        self.open
            .iter()
            .map(|open| open.load(Ordering::Relaxed))
            .collect()
    }

    /// Connections closed at accept because a limit was reached.
    pub fn rejected_connections(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

/// A connection the acceptor closed instead of handing it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `server.max_connections` reached.
    TotalLimit,
    /// Every worker is at `server.max_connections_per_worker`.
    WorkerLimit,
    /// The worker is gone (shutting down) or the socket unusable.
    Unavailable,
}

/// The running workers.
#[derive(Debug)]
pub struct WorkerSet {
    workers: Vec<Worker>,
    finished: Vec<oneshot::Receiver<bool>>,
    limits: ConnectionLimits,
    /// Open connections over all workers.
    total: Arc<AtomicUsize>,
    rejected: Arc<AtomicU64>,
}

impl WorkerSet {
    /// Starts `count` workers on threads named `{name}-{index}`, serving
    /// `service` until `stop` turns true; each then waits for the streams
    /// tracked by `drain` to end.
    pub fn spawn(
        count: usize,
        name: &str,
        service: &GatewayService,
        settings: ConnectionSettings,
        parts: &ListenerParts,
        stop: &watch::Receiver<bool>,
        drain: &Drain,
    ) -> std::io::Result<WorkerSet> {
        let mut set = WorkerSet {
            workers: Vec::with_capacity(count),
            finished: Vec::with_capacity(count),
            limits: settings.limits,
            total: Arc::new(AtomicUsize::new(0)),
            rejected: Arc::new(AtomicU64::new(0)),
        };
        for index in 0..count.max(1) {
            let (sender, receiver) = mpsc::unbounded_channel();
            let (finished_tx, finished_rx) = oneshot::channel();
            let open = Arc::new(AtomicUsize::new(0));
            let incoming = HandedConnections {
                receiver,
                open: Arc::clone(&open),
                total: Arc::clone(&set.total),
            };
            let (service, stop, drain) = (service.clone(), stop.clone(), drain.clone());
            let parts = parts.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || {
                    WORKER_INDEX.with(|cell| cell.set(index));
                    crate::drain::set_current(drain.clone());
                    let drained = run_worker(incoming, service, settings, parts, stop, drain);
                    let _ = finished_tx.send(drained);
                })?;
            set.workers.push(Worker {
                connections: sender,
                open,
            });
            set.finished.push(finished_rx);
        }
        Ok(set)
    }

    /// A live view of each worker's open connections.
    pub fn load(&self) -> WorkerLoad {
        WorkerLoad {
            open: Arc::new(
                self.workers
                    .iter()
                    .map(|worker| Arc::clone(&worker.open))
                    .collect(),
            ),
            rejected: Arc::clone(&self.rejected),
        }
    }

    /// Gives an accepted connection to the least-loaded worker, unless a
    /// connection limit is reached: then the connection is dropped (closed
    /// at once) and counted.
    pub fn hand(&self, stream: TcpStream, peer: SocketAddr) -> Result<(), Refused> {
        let refused = |reason| {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            Err(reason)
        };
        if self.total.load(Ordering::Relaxed) >= self.limits.total {
            return refused(Refused::TotalLimit);
        }
        let Some(worker) = self
            .workers
            .iter()
            .min_by_key(|worker| worker.open.load(Ordering::Relaxed))
        else {
            return Err(Refused::Unavailable);
        };
        if worker.open.load(Ordering::Relaxed) >= self.limits.per_worker {
            return refused(Refused::WorkerLimit);
        }
        // Leave this runtime's reactor; the worker registers it with its own.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%peer, %error, "cannot hand a connection to a worker");
                return Err(Refused::Unavailable);
            }
        };
        worker.open.fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        if worker.connections.send(Handed { stream, peer }).is_err() {
            worker.open.fetch_sub(1, Ordering::Relaxed);
            self.total.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused::Unavailable);
        }
        Ok(())
    }

    /// Waits for every worker to finish draining; true if all connections
    /// finished within the grace period.
    pub async fn wait(self) -> bool {
        drop(self.workers);
        let mut drained = true;
        for finished in self.finished {
            drained &= finished.await.unwrap_or(false);
        }
        drained
    }
}

fn run_worker(
    incoming: HandedConnections,
    service: GatewayService,
    settings: ConnectionSettings,
    parts: ListenerParts,
    stop: watch::Receiver<bool>,
    drain: Drain,
) -> bool {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start a worker runtime");
            return false;
        }
    };
    let streams = {
        let stop = stop.clone();
        async move {
            stopped(stop).await;
            tokio::time::timeout(settings.shutdown_grace, drain.streams_ended())
                .await
                .is_ok()
        }
    };
    runtime.block_on(async {
        let (drained, streams_ended) = tokio::join!(
            serve_tls(incoming, service, settings, parts, stopped(stop)),
            streams
        );
        drained && streams_ended
    })
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// The connections the acceptor hands to one worker.
struct HandedConnections {
    receiver: mpsc::UnboundedReceiver<Handed>,
    open: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
}

/// Counts a connection as open, on its worker and in the total, until
/// dropped.
pub struct OpenConnection {
    worker: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.worker.fetch_sub(1, Ordering::Relaxed);
        self.total.fetch_sub(1, Ordering::Relaxed);
    }
}

impl IncomingConnections for HandedConnections {
    type Held = OpenConnection;

    async fn next(&mut self) -> Option<std::io::Result<(TcpStream, SocketAddr, Self::Held)>> {
        let Handed { stream, peer } = self.receiver.recv().await?;
        let held = OpenConnection {
            worker: Arc::clone(&self.open),
            total: Arc::clone(&self.total),
        };
        Some(TcpStream::from_std(stream).map(|stream| (stream, peer, held)))
    }
}
