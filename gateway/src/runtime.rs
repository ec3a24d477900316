//! Starting and stopping a gateway: load the config, bind the listeners,
//! start the worker threads, install the reload triggers, serve, drain.
//! The caller's runtime keeps the control plane: the acceptor, the admin
//! listener and the reload triggers; requests are served on the workers.
//!
//! [`start`] is what the `serve` and `demo` commands and the end-to-end
//! tests call; it returns a [`RunningGateway`] handle.
//!
//! With `server.tls`, the main listener terminates TLS (each handshake
//! reads the current snapshot's config) and an optional plain-HTTP
//! listener redirects to it; it closes with the main listener.
//!
//! The drain, in order: `/readyz` answers 503; after `server.drain_delay`
//! (so load balancers notice) the main listener closes, long-lived
//! streams are told to end ([`crate::drain`]) and the workers finish the
//! in-flight requests within `server.shutdown_grace`; then the admin
//! listener, which answered throughout, closes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::access_log::{AccessLog, WriterGuard};
use crate::admin::{AdminState, admin_service};
use crate::config::{self, ConfigErrors};
use crate::drain::{self, DrainTrigger};
use crate::events::bus::EventBus;
use crate::events::delivery::DeliveryEngine;
use crate::layers::gateway_service;
use crate::observe::{ExchangeSink, observers_for};
use crate::reload::{
    FileWatch, ReloadError, ReloadOutcome, Reloader, StartAddresses, spawn_triggers,
};
use crate::server::{
    self, ADMIN_MAX_CONNECTIONS, CappedListener, ConnectionSettings, ConnectionTls, ListenerParts,
    TlsConfigSource, accept_for_workers, serve,
};
use crate::snapshot::Snapshot;
use crate::tls::redirect::redirect_service;
use crate::workers::WorkerSet;
use tokio_util::sync::CancellationToken;

/// How to start.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub config_path: PathBuf,
    /// Overrides `listen` from the file (tests use `127.0.0.1:0`).
    pub listen: Option<SocketAddr>,
    /// Overrides `admin` from the file.
    pub admin: Option<SocketAddr>,
    /// Overrides `server.tls.http_redirect.listen` from the file (when
    /// the file has that listener).
    pub http_redirect: Option<SocketAddr>,
    /// Reload when the file changes on disk.
    pub watch: bool,
    /// Name of the worker threads (`{name}-{index}`).
    pub thread_name: String,
    /// Overrides `server.workers` from the file.
    pub workers: Option<usize>,
    /// Whether the access log is on when `log.access_log.enabled` is not
    /// set: off for `serve`, on for `demo`.
    pub access_log_by_default: bool,
}

impl StartOptions {
    pub fn new(config_path: impl Into<PathBuf>) -> Self {
        Self {
            config_path: config_path.into(),
            listen: None,
            admin: None,
            http_redirect: None,
            watch: true,
            thread_name: "gateway-worker".to_owned(),
            workers: None,
            access_log_by_default: false,
        }
    }

    /// Both listeners on ephemeral loopback ports.
    pub fn ephemeral(mut self) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        self.listen = Some(any);
        self.admin = Some(any);
        self.http_redirect = Some(any);
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot build the routes: {0}")]
    Snapshot(crate::snapshot::SnapshotError),
    #[error("config loading task failed: {0}")]
    Task(String),
    #[error("cannot open the event store: {0}")]
    Events(crate::events::store::StoreError),
    #[error("cannot start the worker threads: {0}")]
    Workers(std::io::Error),
    #[error("cannot open the access log {target}: {source}")]
    AccessLog {
        target: String,
        source: std::io::Error,
    },
}

/// A gateway that is serving.
#[derive(Debug)]
pub struct RunningGateway {
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// The plain-HTTP listener that redirects to HTTPS, when
    /// `server.tls.http_redirect` is set.
    pub redirect_addr: Option<SocketAddr>,
    admin: Arc<AdminState>,
    /// Fired by [`RunningGateway::begin_shutdown`].
    shutdown: watch::Sender<bool>,
    /// Closes the admin listener once the main one has drained.
    admin_stop: watch::Sender<bool>,
    main_task: JoinHandle<bool>,
    admin_task: JoinHandle<bool>,
    redirect_task: Option<JoinHandle<bool>>,
    /// Writes the last access-log records when the gateway stops.
    access_log: Option<WriterGuard>,
    /// The event bus's delivery workers, stopped after the drain.
    deliveries: Option<Deliveries>,
    _watcher: Option<Arc<FileWatch>>,
}

/// The delivery workers and the task that keeps them following reloads.
#[derive(Debug)]
struct Deliveries {
    engine: Arc<DeliveryEngine>,
    stop: CancellationToken,
    task: JoinHandle<()>,
    /// The emit outbox's relay.
    relay: JoinHandle<()>,
}

/// With `events:`, the delivery workers on this (the control) runtime,
/// following the snapshot.
fn start_deliveries(
    current: &Arc<ArcSwap<Snapshot>>,
    reloader: &Reloader,
    metrics: Option<Arc<crate::observe::metrics::Metrics>>,
) -> Option<Deliveries> {
    let bus = current.load().events.clone()?;
    let engine = DeliveryEngine::new(Arc::clone(bus.store()), metrics);
    let stop = CancellationToken::new();
    let task = tokio::spawn(crate::events::delivery::follow(
        Arc::clone(&engine),
        Arc::clone(current),
        reloader.versions(),
        |snapshot| {
            snapshot
                .config
                .events
                .as_ref()
                .map(|events| events.subscriptions.clone())
                .unwrap_or_default()
        },
        stop.clone(),
    ));
    let relay = tokio::spawn(crate::events::outbox::relay(
        Arc::clone(bus.outbox()),
        Arc::clone(bus.store()),
        bus.metrics().cloned(),
        stop.clone(),
    ));
    Some(Deliveries {
        engine,
        stop,
        task,
        relay,
    })
}

/// Loads the config and starts serving.
pub async fn start(options: StartOptions) -> Result<RunningGateway, StartError> {
    let path = options.config_path.clone();
    let mut config = tokio::task::spawn_blocking(move || config::load_file(&path))
        .await
        .map_err(|e| StartError::Task(e.to_string()))??;
    if let Some(workers) = options.workers {
        config.server.workers = Some(workers.max(1));
    }
    let settings = ConnectionSettings::from_server(&config.server);
    let backlog = config.server.listen_backlog;
    let workers_count = config.server.worker_count();
    let drain_delay = config.server.drain_delay;
    let listen = options.listen.unwrap_or(config.listen);
    let redirect = config.server.tls.as_ref().and_then(|tls| tls.http_redirect);
    let admin_listen = options.admin.unwrap_or(config.admin);
    let started_with = StartAddresses {
        listen: options.listen.is_none().then_some(config.listen),
        admin: options.admin.is_none().then_some(config.admin),
    };
    let (access_log, access_log_writer) = start_access_log(&config, &options)?;
    let access_log_reopen = access_log.as_ref().and_then(|log| log.reopen_handle());
    crate::access_log::reopen_on_sigusr1(access_log_reopen.clone());
    let mut sinks: Vec<Arc<dyn ExchangeSink>> = Vec::new();
    sinks.extend(access_log.clone().map(|log| log as Arc<dyn ExchangeSink>));
    let observers = Arc::new(observers_for(&config, sinks));
    if let (Some(metrics), Some(log)) = (observers.metrics(), &access_log) {
        metrics.set_access_log_dropped(Arc::new(log.dropped_records()));
    }
    let events = match &config.events {
        Some(settings) => {
            let bus = EventBus::open(settings, observers.metrics().cloned())
                .await
                .map_err(StartError::Events)?;
            crate::events::delivery::ensure_consumers(bus.store(), &settings.subscriptions)
                .await
                .map_err(StartError::Events)?;
            Some(bus)
        }
        None => None,
    };
    let snapshot = Snapshot::first(config, events).map_err(StartError::Snapshot)?;
    let current = Arc::new(ArcSwap::from_pointee(snapshot));
    let tls = tls_source(&current);
    let listener = bind(listen, backlog)?;
    let admin_listener = bind(admin_listen, backlog)?;
    let (addr, admin_addr) = (
        local_addr(&listener, listen)?,
        local_addr(&admin_listener, admin_listen)?,
    );
    let reloader = Arc::new(Reloader::new(
        options.config_path.clone(),
        Arc::clone(&current),
        started_with,
    ));
    let watcher = spawn_triggers(Arc::clone(&reloader), options.watch);
    let deliveries = start_deliveries(&current, &reloader, observers.metrics().cloned());
    let (drain_trigger, drain) = drain::channel();
    let (workers_stop, workers_stopped) = watch::channel(false);
    let workers = WorkerSet::spawn(
        workers_count,
        &options.thread_name,
        &gateway_service(current, Arc::clone(&observers)),
        settings,
        &ListenerParts {
            tls: tls.clone(),
            refusals: observers.refusals(),
        },
        &workers_stopped,
        &drain,
    )
    .map_err(StartError::Workers)?;
    let (redirect_stop, redirect_stopped) = watch::channel(false);
    let (redirect_addr, redirect_task) = match redirect {
        None => (None, None),
        Some(redirect) => {
            let (addr, task) = start_redirect(
                options.http_redirect.unwrap_or(redirect.listen),
                redirect.https_port.unwrap_or(addr.port()),
                backlog,
                settings,
                wait_for(redirect_stopped),
            )?;
            (Some(addr), Some(task))
        }
    };
    let admin = Arc::new(AdminState {
        reloader,
        draining: Default::default(),
        workers: workers.load(),
        metrics: observers.metrics().cloned(),
        deliveries: deliveries.as_ref().map(|d| Arc::clone(&d.engine)),
        access_log: access_log_reopen,
    });
    let (shutdown, requested) = watch::channel(false);
    let accepting = async move {
        wait_for(requested).await;
        if !drain_delay.is_zero() {
            tracing::info!(
                ?drain_delay,
                "readiness is 503; the listener closes after the drain delay"
            );
            tokio::time::sleep(drain_delay).await;
        }
    };
    let main_task = tokio::spawn(async move {
        accept_for_workers(listener, &workers, accepting).await;
        redirect_stop.send_replace(true);
        drain_workers(workers, workers_stop, drain_trigger).await
    });
    let (admin_stop, admin_stopped) = watch::channel(false);
    let admin_task = tokio::spawn(serve(
        CappedListener::new(admin_listener, ADMIN_MAX_CONNECTIONS),
        admin_service(Arc::clone(&admin)),
        settings,
        wait_for(admin_stopped),
    ));
    tracing::info!(%addr, %admin_addr, tls = tls.is_some(), ?redirect_addr, workers = workers_count, "gateway listening");
    Ok(RunningGateway {
        addr,
        admin_addr,
        redirect_addr,
        redirect_task,
        admin,
        shutdown,
        admin_stop,
        main_task,
        admin_task,
        access_log: access_log_writer,
        deliveries,
        _watcher: watcher,
    })
}

impl RunningGateway {
    /// The active config version.
    pub fn version(&self) -> u64 {
        self.admin.reloader.current().version
    }

    /// How many worker threads serve the main listener.
    pub fn workers(&self) -> usize {
        self.admin.workers.count()
    }

    /// The active snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.admin.reloader.current()
    }

    /// Reloads the config file now.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadError> {
        self.admin.reloader.reload().await
    }

    /// Starts the drain: readiness turns 503; after the drain delay the
    /// main listener stops accepting, long-lived streams end, in-flight
    /// requests run to completion (up to the grace period).
    pub fn begin_shutdown(&self) {
        self.admin.draining.store(true, Ordering::Relaxed);
        self.shutdown.send_replace(true);
    }

    /// Shuts down and waits; true if every request finished in time.
    pub async fn shutdown(self) -> bool {
        self.begin_shutdown();
        self.wait().await
    }

    /// Waits for the drain to finish after [`Self::begin_shutdown`], then
    /// closes the admin listener.
    pub async fn wait(self) -> bool {
        let main = self.main_task.await.unwrap_or(false);
        if let Some(deliveries) = self.deliveries {
            // In-flight deliveries finish (bounded by their timeouts); the
            // rest stays in the store for the next start.
            deliveries.stop.cancel();
            let _ = deliveries.task.await;
            let _ = deliveries.relay.await;
        }
        if let Some(redirect) = self.redirect_task {
            let _ = redirect.await;
        }
        if let Some(access_log) = self.access_log {
            access_log.close().await;
        }
        self.admin_stop.send_replace(true);
        let admin = self.admin_task.await.unwrap_or(false);
        main && admin
    }
}

/// Where the TLS listener's connections read their config: the current
/// snapshot's (`None` when the listener is plain).
fn tls_source(current: &Arc<ArcSwap<Snapshot>>) -> Option<TlsConfigSource> {
    current.load().tls.as_ref()?;
    let current = Arc::clone(current);
    Some(Arc::new(move || {
        let snapshot = current.load();
        Some(ConnectionTls {
            config: Arc::clone(snapshot.tls.as_ref()?),
            hsts: snapshot.hsts.clone(),
        })
    }))
}

/// Binds and serves the plain-HTTP listener that redirects to HTTPS
/// (closed with the main listener).
fn start_redirect(
    listen: SocketAddr,
    https_port: u16,
    backlog: u32,
    settings: ConnectionSettings,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, JoinHandle<bool>), StartError> {
    let listener = bind(listen, backlog)?;
    let addr = local_addr(&listener, listen)?;
    let task = tokio::spawn(serve(
        CappedListener::new(listener, settings.limits.total),
        redirect_service(https_port),
        settings,
        stop,
    ));
    Ok((addr, task))
}

/// The access log, when `log.access_log.enabled` (or, unset, the
/// command's default) turns it on: its sink and its writer's guard.
fn start_access_log(
    config: &config::GatewayConfig,
    options: &StartOptions,
) -> Result<(Option<Arc<AccessLog>>, Option<WriterGuard>), StartError> {
    let settings = &config.log.access_log;
    if !settings.enabled.unwrap_or(options.access_log_by_default) {
        return Ok((None, None));
    }
    let (log, guard) = AccessLog::start(settings).map_err(|source| StartError::AccessLog {
        target: settings.target.to_string(),
        source,
    })?;
    Ok((Some(log), Some(guard)))
}

/// After the main listener closed: end the long-lived streams, stop the
/// workers, wait for them to drain.
async fn drain_workers(workers: WorkerSet, stop: watch::Sender<bool>, drain: DrainTrigger) -> bool {
    tracing::info!("main listener closed; draining in-flight requests and ending streams");
    drain.start();
    stop.send_replace(true);
    workers.wait().await
}

fn bind(addr: SocketAddr, backlog: u32) -> Result<TcpListener, StartError> {
    server::bind(addr, backlog).map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
