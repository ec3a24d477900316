//! Hot reload: build the next snapshot off the request path, then swap.
//!
//! Triggers are a change to the config file on disk (a `notify` watch on
//! its directory, since editors replace files rather than write them in
//! place), SIGHUP, and the admin `POST /reload`. Reloads are serialized. A
//! file that fails to load or compile is logged with every error and the
//! current snapshot keeps serving; a file whose bytes did not change is a
//! no-op.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::{self, ConfigErrors};
use crate::snapshot::Snapshot;

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    Applied { version: u64 },
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

/// The outcome of the latest reload attempt, for the admin endpoint.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    pub last_attempt: Option<SystemTime>,
    pub last_error: Option<String>,
    pub rejected: u64,
}

/// Owns the path and the swap.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    current: Arc<ArcSwap<Snapshot>>,
    serial: tokio::sync::Mutex<()>,
    status: Mutex<ReloadStatus>,
}

impl Reloader {
    pub fn new(path: PathBuf, current: Arc<ArcSwap<Snapshot>>) -> Self {
        Self {
            path,
            current,
            serial: tokio::sync::Mutex::new(()),
            status: Mutex::new(ReloadStatus::default()),
        }
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

    /// Loads, compiles and swaps in the file; keeps the old snapshot on
    /// any error.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadError> {
        let _serial = self.serial.lock().await;
        let result = self.build_and_swap().await;
        self.recompose_graphql().await;
        if let Ok(mut status) = self.status.lock() {
            status.last_attempt = Some(SystemTime::now());
            status.last_error = result.as_ref().err().map(ToString::to_string);
            status.rejected += u64::from(result.is_err());
        }
        match &result {
            Ok(ReloadOutcome::Applied { version }) => {
                tracing::info!(version, path = %self.path.display(), "config reloaded")
            }
            Ok(ReloadOutcome::Unchanged { .. }) => tracing::debug!("config unchanged"),
            Err(error) => tracing::error!(path = %self.path.display(), "{error}"),
        }
        result
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
        if config.listen != old.config.listen || config.admin != old.config.admin {
            tracing::warn!(
                "listen and admin addresses apply at restart only; keeping the current sockets"
            );
        }
        let version = old.version + 1;
        let next = Snapshot::build(config, version, Some(&old)).map_err(|conflicts| {
            ReloadError::Routes(format!("{} route conflict(s)", conflicts.len()))
        })?;
        self.current.store(Arc::new(next));
        Ok(ReloadOutcome::Applied { version })
    }
}

/// Reloads on SIGHUP and on changes to the file, until the reloader is
/// dropped by everyone else. Returns the watcher, which must be kept alive.
pub fn spawn_triggers(
    reloader: Arc<Reloader>,
    watch_file: bool,
) -> Option<notify::RecommendedWatcher> {
    let (tx, rx) = mpsc::unbounded_channel::<()>();
    let watcher = if watch_file {
        watch(reloader.path(), tx.clone())
    } else {
        None
    };
    spawn_sighup(tx);
    tokio::spawn(run_reloads(Arc::downgrade(&reloader), rx));
    watcher
}

async fn run_reloads(reloader: std::sync::Weak<Reloader>, mut rx: mpsc::UnboundedReceiver<()>) {
    while rx.recv().await.is_some() {
        // Let a burst of file events (write, rename, chmod) settle.
        tokio::time::sleep(Duration::from_millis(100)).await;
        while rx.try_recv().is_ok() {}
        let Some(reloader) = reloader.upgrade() else {
            return;
        };
        let _ = reloader.reload().await;
    }
}

fn watch(path: &Path, tx: mpsc::UnboundedSender<()>) -> Option<notify::RecommendedWatcher> {
    let file_name = path.file_name()?.to_owned();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        if event
            .paths
            .iter()
            .any(|p| p.file_name() == Some(file_name.as_os_str()))
        {
            let _ = tx.send(());
        }
    })
    .map_err(|error| tracing::warn!(%error, "cannot watch the config file; SIGHUP still reloads"))
    .ok()?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|error| tracing::warn!(%error, dir = %dir.display(), "cannot watch the config directory"))
        .ok()?;
    Some(watcher)
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
