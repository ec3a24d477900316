//! [`DirWatch`]: directories watched for their files being replaced,
//! written, created or removed. Hot reload (`reload::watch`) and the
//! supergraph file (`graphql::source`) watch the directory of each file
//! rather than the file, because editors and deploy tools replace a file
//! (write a new one, rename it over the old) instead of writing it in
//! place; each caller then filters the reported paths by name.
//!
//! On Linux this is inotify with a mask of our own (the default backend
//! below); elsewhere, the `notify` crate. Written here because `notify`'s
//! inotify mask is fixed and includes `IN_MODIFY` and `IN_OPEN`: every
//! `write(2)` to any file in the directory woke its thread, so an access
//! log kept beside routes.yaml cost each of the two watchers about 1% of
//! the gateway's CPU under load (measured per thread,
//! docs/latency-comparison.md, 2026-12-03). The mask here reports a file
//! when a writer closes it, when it is moved in or out, created, removed,
//! or its attributes change (`touch`): a file kept open and appended to
//! (a log) reports nothing.

#[cfg(target_os = "linux")]
mod inotify_backend;
#[cfg(any(not(target_os = "linux"), test))]
mod notify_backend;

use std::path::Path;

/// What a watch reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// This file (a watched directory joined with the file's name)
    /// changed.
    File(&'a Path),
    /// The system dropped events (its queue overflowed): any watched file
    /// may have changed.
    Lost,
}

/// The symlink through which every file of a Kubernetes ConfigMap or
/// Secret volume is reached: an update writes the files into a new
/// directory and renames a new `..data` link over the old one, so the
/// files' own names never change in the watched directory.
pub const KUBERNETES_DATA_LINK: &str = "..data";

impl Change<'_> {
    /// Whether this change may have changed a file `is_watched` accepts:
    /// it is one, events were lost, or the directory's
    /// [`KUBERNETES_DATA_LINK`] was swapped (a reload of unchanged bytes
    /// is a no-op, so a swap that changed none of them costs a read).
    pub fn may_change(&self, is_watched: impl FnOnce(&Path) -> bool) -> bool {
        match self {
            Change::File(path) => {
                is_watched(path)
                    || path.file_name() == Some(std::ffi::OsStr::new(KUBERNETES_DATA_LINK))
            }
            Change::Lost => true,
        }
    }
}

/// What a watch calls for each change; it runs on the watch's own task
/// or thread and must not block.
pub trait OnChange: Fn(Change<'_>) + Send + Sync + 'static {}

impl<F: Fn(Change<'_>) + Send + Sync + 'static> OnChange for F {}

/// A live watch on a set of directories (none at first). Dropping it
/// stops the watch.
#[derive(Debug)]
pub struct DirWatch {
    #[cfg(target_os = "linux")]
    backend: inotify_backend::InotifyWatch,
    #[cfg(not(target_os = "linux"))]
    backend: notify_backend::NotifyWatch,
}

impl DirWatch {
    /// Starts a watch that reports to `on_change`. On Linux it must be
    /// called inside a tokio runtime (an error otherwise): the events are
    /// read by a task spawned on it.
    pub fn start(on_change: impl OnChange) -> std::io::Result<Self> {
        #[cfg(target_os = "linux")]
        let backend = inotify_backend::InotifyWatch::start(on_change)?;
        #[cfg(not(target_os = "linux"))]
        let backend = notify_backend::NotifyWatch::start(on_change)?;
        Ok(Self { backend })
    }

    /// Reports the files of `dir` from now on (not its subdirectories').
    pub fn watch(&self, dir: &Path) -> std::io::Result<()> {
        self.backend.watch(dir)
    }

    /// Stops reporting the files of `dir`.
    pub fn unwatch(&self, dir: &Path) {
        self.backend.unwatch(dir);
    }
}

#[cfg(test)]
mod tests;
