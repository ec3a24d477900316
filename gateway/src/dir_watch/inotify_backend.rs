//! The Linux backend: one inotify instance whose events a task on the
//! caller's tokio runtime reads (no thread of its own).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};

use super::{Change, OnChange};

/// A file written and closed, moved in or out, created, removed, or its
/// attributes changed; only on directories. Not `MODIFY` (each write) nor
/// `OPEN`/`ACCESS` (each read): see the module above.
const CHANGES: WatchMask = WatchMask::CLOSE_WRITE
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::CREATE)
    .union(WatchMask::DELETE)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::ONLYDIR);

/// Room for many events per read (each is 16 bytes plus its name).
const EVENT_BUFFER: usize = 4096;

/// The watched directories by descriptor (the events name only that); a
/// handful, so stopping one finds it by path in the same map.
type Dirs = HashMap<WatchDescriptor, PathBuf>;

#[derive(Debug)]
pub(super) struct InotifyWatch {
    watches: Mutex<Watches>,
    dirs: Arc<Mutex<Dirs>>,
    reader: tokio::task::AbortHandle,
}

impl InotifyWatch {
    pub(super) fn start(on_change: impl OnChange) -> io::Result<Self> {
        // Checked rather than assumed: `tokio::spawn` outside a runtime
        // would panic.
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let events = Inotify::init()?.into_event_stream(vec![0; EVENT_BUFFER])?;
        let watches = events.watches();
        let dirs = Arc::new(Mutex::new(Dirs::new()));
        let reader = runtime.spawn(read_events(events, Arc::clone(&dirs), on_change));
        Ok(Self {
            watches: Mutex::new(watches),
            dirs,
            reader: reader.abort_handle(),
        })
    }

    pub(super) fn watch(&self, dir: &Path) -> io::Result<()> {
        let descriptor = lock(&self.watches).add(dir, CHANGES)?;
        lock(&self.dirs).insert(descriptor, dir.to_path_buf());
        Ok(())
    }

    pub(super) fn unwatch(&self, dir: &Path) {
        let descriptor = {
            let mut dirs = lock(&self.dirs);
            let Some(descriptor) = dirs
                .iter()
                .find_map(|(descriptor, watched)| (watched == dir).then(|| descriptor.clone()))
            else {
                return;
            };
            dirs.remove(&descriptor);
            descriptor
        };
        // Fails only when the directory is gone, which ended its watch.
        let _ = lock(&self.watches).remove(descriptor);
    }
}

impl Drop for InotifyWatch {
    fn drop(&mut self) {
        // The task holds the event stream; with it goes the descriptor.
        self.reader.abort();
    }
}

async fn read_events(
    mut events: inotify::EventStream<Vec<u8>>,
    dirs: Arc<Mutex<Dirs>>,
    on_change: impl OnChange,
) {
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "file watch: cannot read events; SIGHUP still reloads");
                return;
            }
        };
        if event.mask.contains(EventMask::Q_OVERFLOW) {
            on_change(Change::Lost);
            continue;
        }
        // Events of the directory itself (removed, watch ended) name no
        // file.
        let Some(name) = event.name else { continue };
        let dir = lock(&dirs).get(&event.wd).cloned();
        if let Some(dir) = dir {
            on_change(Change::File(&dir.join(name)));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
