//! Running one service: binding its listener, serving HTTP/1.1 and h2c
//! (prior knowledge) on the same port, and the "down" switch that closes
//! the listener and every connection so connects are refused, then binds
//! the same port again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

use crate::control::{Control, ControlState, Faults};
use crate::error::MockError;
use crate::services::{ServiceKind, build_router};
use crate::store::Store;

/// A running service. Dropping it (or calling [`ServiceHandle::shutdown`])
/// stops it.
#[derive(Debug)]
pub struct ServiceHandle {
    pub kind: ServiceKind,
    /// The bound address (the real port when started on port 0).
    pub addr: SocketAddr,
    pub control: Control,
    supervisor: Arc<ListenerSupervisor>,
    _stop_on_drop: DropGuard,
}

impl ServiceHandle {
    /// `http://{addr}`, the base URL of the service.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the service and waits until every connection is closed.
    pub async fn shutdown(self) {
        self.supervisor.shutdown.cancel();
        self.supervisor.go_down().await;
    }
}

/// Starts one service on `addr` (port 0 picks a free port).
pub async fn start_service(
    kind: ServiceKind,
    addr: SocketAddr,
    store: Arc<Store>,
    faults: Faults,
) -> Result<ServiceHandle, MockError> {
    let state = ControlState::new(faults.clone());
    let router = build_router(kind, store, Arc::clone(&state));
    let supervisor = serve_router(kind.name(), addr, router, faults.down).await?;
    Ok(ServiceHandle {
        kind,
        addr: supervisor.addr,
        control: Control::new(state, Arc::clone(&supervisor)),
        _stop_on_drop: supervisor.shutdown.clone().drop_guard(),
        supervisor,
    })
}

/// Binds `addr` for the listener called `name` (in errors) and serves
/// `router` on it, unless it starts `down`. The supervisor knows the bound
/// address.
pub(crate) async fn serve_router(
    name: &'static str,
    addr: SocketAddr,
    router: Router,
    down: bool,
) -> Result<Arc<ListenerSupervisor>, MockError> {
    let listener = bind(name, addr)?;
    let addr = listener.local_addr().map_err(|source| MockError::Bind {
        service: name,
        addr,
        source,
    })?;
    let supervisor = Arc::new(ListenerSupervisor::new(name, addr, router));
    supervisor.start(listener, down).await;
    Ok(supervisor)
}

fn bind(name: &'static str, addr: SocketAddr) -> Result<TcpListener, MockError> {
    let error = |source| MockError::Bind {
        service: name,
        addr,
        source,
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(error)?;
    // Lets "up" re-bind the port while old connections sit in TIME_WAIT.
    socket.set_reuseaddr(true).map_err(error)?;
    socket.bind(addr).map_err(error)?;
    socket.listen(1024).map_err(error)
}

/// Owns the listener of one service and opens or closes it on demand.
#[derive(Debug)]
pub(crate) struct ListenerSupervisor {
    name: &'static str,
    pub(crate) addr: SocketAddr,
    router: Router,
    pub(crate) shutdown: CancellationToken,
    running: tokio::sync::Mutex<Option<Running>>,
    down: AtomicBool,
}

/// One period during which the listener is open.
#[derive(Debug)]
struct Running {
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl ListenerSupervisor {
    fn new(name: &'static str, addr: SocketAddr, router: Router) -> ListenerSupervisor {
        ListenerSupervisor {
            name,
            addr,
            router,
            shutdown: CancellationToken::new(),
            running: tokio::sync::Mutex::new(None),
            down: AtomicBool::new(true),
        }
    }

    async fn start(&self, listener: TcpListener, down: bool) {
        if down {
            drop(listener);
        } else {
            *self.running.lock().await = Some(self.serve(listener));
            self.down.store(false, Ordering::SeqCst);
        }
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Closes the listener and every connection; returns once all are gone.
    pub(crate) async fn go_down(&self) {
        let mut running = self.running.lock().await;
        if let Some(Running { stop, tasks }) = running.take() {
            stop.cancel();
            tasks.close();
            tasks.wait().await;
        }
        self.down.store(true, Ordering::SeqCst);
    }

    /// Binds the same address again and serves on it.
    pub(crate) async fn go_up(&self) -> Result<(), MockError> {
        if self.shutdown.is_cancelled() {
            return Err(MockError::ShutDown { service: self.name });
        }
        let mut running = self.running.lock().await;
        if running.is_none() {
            *running = Some(self.serve(bind(self.name, self.addr)?));
        }
        self.down.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn serve(&self, listener: TcpListener) -> Running {
        let stop = self.shutdown.child_token();
        let tasks = TaskTracker::new();
        tasks.spawn(accept_loop(
            listener,
            self.router.clone(),
            stop.clone(),
            tasks.clone(),
        ));
        Running { stop, tasks }
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                tasks.spawn(serve_connection(stream, router.clone(), stop.clone()));
            }
            Err(error) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, router: Router, stop: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http2().adaptive_window(true);
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::select! {
        () = stop.cancelled() => {}
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
    }
}
