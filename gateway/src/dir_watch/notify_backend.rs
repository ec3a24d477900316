//! The backend of other systems (and of this module's tests on Linux):
//! the `notify` crate, whose own thread reports each event.

use std::io;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::{Change, OnChange};

#[derive(Debug)]
pub(super) struct NotifyWatch {
    watcher: Mutex<RecommendedWatcher>,
}

impl NotifyWatch {
    pub(super) fn start(on_change: impl OnChange) -> io::Result<Self> {
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            match event {
                // Reading a file is no change (and a reload reads it).
                Ok(event) if event.kind.is_access() => {}
                Ok(event) if event.need_rescan() => on_change(Change::Lost),
                Ok(event) => {
                    for path in &event.paths {
                        on_change(Change::File(path));
                    }
                }
                Err(_) => on_change(Change::Lost),
            }
        })
        .map_err(io_error)?;
        Ok(Self {
            watcher: Mutex::new(watcher),
        })
    }

    pub(super) fn watch(&self, dir: &Path) -> io::Result<()> {
        self.lock()
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(io_error)
    }

    pub(super) fn unwatch(&self, dir: &Path) {
        let _ = self.lock().unwatch(dir);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecommendedWatcher> {
        self.watcher.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn io_error(error: notify::Error) -> io::Error {
    match error.kind {
        notify::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("{other:?}")),
    }
}
