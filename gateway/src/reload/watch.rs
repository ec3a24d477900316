//! The file watch behind hot reload: the config file and the .proto files
//! it compiles. A [`DirWatch`] watches their directories (editors and
//! deploy tools replace files rather than write them in place), and a
//! change to one of the files sends a trigger. The set of files follows
//! the running config: [`FileWatch::watch_files`] replaces it after each
//! reload.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tokio::sync::mpsc;

use crate::dir_watch::{Change, DirWatch};

type Files = Arc<RwLock<HashSet<PathBuf>>>;

/// A live watch on a set of files.
pub struct FileWatch {
    watcher: DirWatch,
    /// The watched files, each as its canonical directory joined with its
    /// name: the form the watch reports changes in.
    files: Files,
    dirs: Mutex<HashSet<PathBuf>>,
}

impl std::fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatch")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl FileWatch {
    /// A watch on no file yet; every change to a watched file sends on
    /// `changed`. `None` (logged) if the platform refuses. Runs inside a
    /// tokio runtime.
    pub fn start(changed: mpsc::UnboundedSender<()>) -> Option<FileWatch> {
        let files = Files::default();
        let watched = Arc::clone(&files);
        let watcher = DirWatch::start(move |change: Change<'_>| {
            let relevant = change.may_change(|path| {
                watched
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .contains(path)
            });
            if relevant {
                let _ = changed.send(());
            }
        })
        .map_err(
            |error| tracing::warn!(%error, "cannot watch the config files; SIGHUP still reloads"),
        )
        .ok()?;
        Some(FileWatch {
            watcher,
            files,
            dirs: Mutex::default(),
        })
    }

    /// Watches exactly `paths` from now on.
    pub fn watch_files(&self, paths: impl IntoIterator<Item = PathBuf>) {
        let files: HashSet<PathBuf> = paths
            .into_iter()
            .filter_map(|path| canonical_key(&path))
            .collect();
        let wanted: HashSet<PathBuf> = files
            .iter()
            .filter_map(|file| file.parent().map(Path::to_path_buf))
            .collect();
        let mut dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
        for dir in wanted.difference(&dirs) {
            if let Err(error) = self.watcher.watch(dir) {
                tracing::warn!(%error, dir = %dir.display(), "cannot watch a config directory");
            }
        }
        for dir in dirs.difference(&wanted) {
            self.watcher.unwatch(dir);
        }
        *dirs = wanted;
        *self.files.write().unwrap_or_else(PoisonError::into_inner) = files;
    }
}

/// `path` as its canonical directory joined with its file name (the file
/// itself may be missing for a moment while it is replaced).
fn canonical_key(path: &Path) -> Option<PathBuf> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some(std::fs::canonicalize(dir).ok()?.join(path.file_name()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_resolve_the_directory_but_keep_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let canonical = std::fs::canonicalize(dir.path()).unwrap();
        let key = canonical_key(&dir.path().join(".").join("routes.yaml")).unwrap();
        assert_eq!(key, canonical.join("routes.yaml"));
        assert_eq!(canonical_key(Path::new("/no/such/dir/file")), None);
    }
}
