//! Hot reload: build the next snapshot off the request path, then swap.
//!
//! Triggers are a change to the config file, to one of the .proto files
//! it compiles or to one of its TLS files (certificates, keys, CAs:
//! certificate rotation) ([`watch`]), SIGHUP, and the admin `POST /reload`. File
//! changes and SIGHUP are debounced: the reload runs once the files have
//! been quiet for [`SETTLE`], so a file caught half-written is not read.
//! Reloads are serialized. A file that fails to load or compile is
//! rejected, each error logged on its own line and kept for `/config`;
//! the current snapshot keeps serving. A file that would drop every route
//! is rejected too unless it says `routes: []`. A file whose bytes (and
//! compiled protos) did not change is a no-op. The supergraph file of
//! `graphql:` has its own watch (`graphql::service`).

mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::{self, ConfigErrors};
use crate::snapshot::Snapshot;

pub use watch::FileWatch;

/// How long the watched files must be quiet before a reload reads them.
pub const SETTLE: Duration = Duration::from_millis(200);

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// A new snapshot serves.
    Applied { version: u64 },
    /// The file and its protos are identical to the running version's.
    Unchanged { version: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("config rejected, the previous version keeps serving:\n{0}")]
    Config(#[from] ConfigErrors),
    #[error("route table rejected: {0}")]
    Routes(String),
    #[error("reload task failed: {0}")]
    Task(String),
}

/// One reason a reload was rejected, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadProblem {
    pub file: String,
    /// 1-based; `None` for a problem with the whole file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl ReloadError {
    /// Every problem, one per config error; `file` names the config file
    /// for problems that belong to no file position.
    pub fn problems(&self, file: &str) -> Vec<ReloadProblem> {
        let whole_file = |message: String| ReloadProblem {
            file: file.to_owned(),
            line: None,
            column: None,
            message,
        };
        match self {
            ReloadError::Config(errors) => errors
                .iter()
                .map(|error| ReloadProblem {
                    file: error.file.clone(),
                    line: error.position.map(|p| p.line),
                    column: error.position.map(|p| p.column),
                    message: error.message.clone(),
                })
                .collect(),
            ReloadError::Routes(message) => {
                vec![whole_file(format!("route table rejected: {message}"))]
            }
            ReloadError::Task(message) => {
                vec![whole_file(format!("reload task failed: {message}"))]
            }
        }
    }
}

/// The outcome of the latest reload attempt, for the admin endpoint.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    pub last_attempt: Option<SystemTime>,
    /// Why the latest attempt was rejected; `None` if it was not.
    pub last_error: Option<Vec<ReloadProblem>>,
    pub rejected: u64,
    /// Reloads that swapped in a new snapshot, and those that found the
    /// files unchanged (with `rejected`: the reloads by result).
    pub applied: u64,
    pub unchanged: u64,
}

/// The listener addresses taken from the file at start (`None` when the
/// command line or a test chose the address instead): a reload cannot
/// move a socket, so a different address in the file is worth a warning.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartAddresses {
    pub listen: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
}

impl StartAddresses {
    /// Whether `config` names other addresses than those bound at start.
    /// Compared with the start, not with the previous file: restoring the
    /// file is no move.
    pub fn moved(&self, config: &config::GatewayConfig) -> bool {
        let moved =
            |started: Option<SocketAddr>, now: SocketAddr| started.is_some_and(|a| a != now);
        moved(self.listen, config.listen) || moved(self.admin, config.admin)
    }
}

/// Owns the path and the swap.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    current: Arc<ArcSwap<Snapshot>>,
    started_with: StartAddresses,
    serial: tokio::sync::Mutex<()>,
    status: Mutex<ReloadStatus>,
    /// The version serving now, for what follows reloads (event delivery).
    versions: tokio::sync::watch::Sender<u64>,
}

impl Reloader {
    pub fn new(
        path: PathBuf,
        current: Arc<ArcSwap<Snapshot>>,
        started_with: StartAddresses,
    ) -> Self {
        let versions = tokio::sync::watch::Sender::new(current.load().version);
        Self {
            path,
            current,
            started_with,
            versions,
            serial: tokio::sync::Mutex::new(()),
            status: Mutex::new(ReloadStatus::default()),
        }
    }

    /// Changes to the version serving (after each applied reload).
    pub fn versions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.versions.subscribe()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn current(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn status(&self) -> ReloadStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The files whose changes trigger a reload: the config file, the
    /// protos the running config compiled, and its TLS certificates,
    /// keys and CAs.
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.path.clone()];
        let current = self.current();
        files.extend(current.config.proto_files.iter().cloned());
        files.extend(current.config.tls_files());
        files
    }

    /// Loads, compiles and swaps in the file; keeps the old snapshot on
    /// any error.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadError> {
        let _serial = self.serial.lock().await;
        let result = self.build_and_swap().await;
        self.recompose_graphql().await;
        let label = self.path.display().to_string();
        if let Ok(mut status) = self.status.lock() {
            status.last_attempt = Some(SystemTime::now());
            status.last_error = result.as_ref().err().map(|error| error.problems(&label));
            status.rejected += u64::from(result.is_err());
            status.applied += u64::from(matches!(result, Ok(ReloadOutcome::Applied { .. })));
            status.unchanged += u64::from(matches!(result, Ok(ReloadOutcome::Unchanged { .. })));
        }
        match &result {
            Ok(ReloadOutcome::Applied { version }) => {
                tracing::info!(version, path = %label, "config reloaded")
            }
            Ok(ReloadOutcome::Unchanged { .. }) => tracing::debug!("config unchanged"),
            Err(error) => self.log_rejection(error, &label),
        }
        result
    }

    /// A summary line, then one line per problem, at ERROR.
    fn log_rejection(&self, error: &ReloadError, label: &str) {
        let problems = error.problems(label);
        tracing::error!(
            path = %label,
            errors = problems.len(),
            version = self.current().version,
            "config reload rejected; the running version keeps serving"
        );
        for problem in problems {
            match (problem.line, problem.column) {
                (Some(line), Some(column)) => {
                    tracing::error!("{}:{line}:{column}: {}", problem.file, problem.message)
                }
                _ => tracing::error!("{}: {}", problem.file, problem.message),
            }
        }
    }

    /// A subgraph list is composed again on every reload ("on demand");
    /// a failure keeps the current supergraph and is logged by the service.
    async fn recompose_graphql(&self) {
        let Some(graphql) = self.current.load().graphql.clone() else {
            return;
        };
        if matches!(
            graphql.source,
            crate::config::model::SupergraphSource::Subgraphs(_)
        ) {
            let _ = graphql.reload_supergraph().await;
        }
    }

    async fn build_and_swap(&self) -> Result<ReloadOutcome, ReloadError> {
        let path = self.path.clone();
        let config = tokio::task::spawn_blocking(move || config::load_file(&path))
            .await
            .map_err(|e| ReloadError::Task(e.to_string()))??;
        let old = self.current.load_full();
        if config.hash == old.config.hash {
            return Ok(ReloadOutcome::Unchanged {
                version: old.version,
            });
        }
        config::check_reload(&config, &old.config, &self.path.display().to_string())?;
        if let (Some(bus), Some(events)) = (&old.events, &config.events) {
            bus.ensure_topics(events)
                .await
                .map_err(|error| ReloadError::Routes(format!("events: {error}")))?;
        }
        self.warn_if_listeners_moved(&config);
        if config.log != old.config.log {
            tracing::warn!("the log: section applies at restart only; logging is unchanged");
        }
        let redirect = |c: &config::GatewayConfig| c.server.tls.as_ref().map(|t| t.http_redirect);
        if redirect(&config) != redirect(&old.config) {
            tracing::warn!(
                "server.tls.http_redirect applies at restart only; keeping the current listener"
            );
        }
        if config.metrics != old.config.metrics {
            tracing::warn!("metrics settings apply at restart only; keeping the current ones");
        }
        if config.tracing != old.config.tracing {
            tracing::warn!(
                "tracing: the section changed; traces keep their settings until the gateway restarts"
            );
        }
        let version = old.version + 1;
        let next = Snapshot::build(config, version, Some(&old))
            .map_err(|error| ReloadError::Routes(error.to_string()))?;
        if let (Some(bus), Some(events)) = (&next.events, &next.config.events) {
            crate::events::delivery::ensure_consumers(bus.store(), &events.subscriptions)
                .await
                .map_err(|error| ReloadError::Routes(format!("events: {error}")))?;
        }
        self.current.store(Arc::new(next));
        self.versions.send_replace(version);
        Ok(ReloadOutcome::Applied { version })
    }

    fn warn_if_listeners_moved(&self, config: &config::GatewayConfig) {
        if self.started_with.moved(config) {
            tracing::warn!(
                listen = %config.listen,
                admin = %config.admin,
                "listen and admin addresses apply at restart only; keeping the current sockets"
            );
        }
    }
}

/// Reloads on SIGHUP and on changes to the watched files, until the
/// reloader is dropped by everyone else. Returns the file watch, which
/// must be kept alive.
pub fn spawn_triggers(reloader: Arc<Reloader>, watch_files: bool) -> Option<Arc<FileWatch>> {
    let (tx, rx) = mpsc::unbounded_channel::<()>();
    let watch = if watch_files {
        FileWatch::start(tx.clone()).map(Arc::new)
    } else {
        None
    };
    if let Some(watch) = &watch {
        watch.watch_files(reloader.watched_files());
    }
    spawn_sighup(tx);
    tokio::spawn(run_reloads(
        Arc::downgrade(&reloader),
        watch.as_ref().map(Arc::downgrade),
        rx,
    ));
    watch
}

async fn run_reloads(
    reloader: Weak<Reloader>,
    watch: Option<Weak<FileWatch>>,
    mut rx: mpsc::UnboundedReceiver<()>,
) {
    while rx.recv().await.is_some() {
        // Debounce: wait until the files have been quiet for SETTLE.
        loop {
            match tokio::time::timeout(SETTLE, rx.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_quiet) => break,
            }
        }
        let Some(reloader) = reloader.upgrade() else {
            return;
        };
        let _ = reloader.reload().await;
        if let Some(watch) = watch.as_ref().and_then(Weak::upgrade) {
            watch.watch_files(reloader.watched_files());
        }
    }
}

#[cfg(unix)]
fn spawn_sighup(tx: mpsc::UnboundedSender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot install the SIGHUP handler");
        return;
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            if tx.send(()).is_err() {
                return;
            }
        }
    });
}

#[cfg(not(unix))]
fn spawn_sighup(_tx: mpsc::UnboundedSender<()>) {}

#[cfg(test)]
mod tests;
