//! A directory laid out as Kubernetes mounts a ConfigMap or Secret volume,
//! and updated as its AtomicWriter updates one: each file is a symlink
//! `name -> ..data/name`, `..data` a symlink to a timestamped directory;
//! an update writes a new directory and renames a new `..data_tmp` link
//! over `..data`, then removes the old directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const DATA: &str = "..data";

/// Tells the versions' directories apart.
static VERSIONS: AtomicU64 = AtomicU64::new(0);

/// Mounts `files` (name, text) in `dir`; returns the path of each as the
/// gateway is given it.
pub fn mount(dir: &Path, files: &[(&str, &str)]) -> Vec<PathBuf> {
    let version = write_version(dir, files);
    std::os::unix::fs::symlink(&version, dir.join(DATA)).expect("link ..data");
    files
        .iter()
        .map(|(name, _)| {
            let path = dir.join(name);
            std::os::unix::fs::symlink(Path::new(DATA).join(name), &path).expect("link a file");
            path
        })
        .collect()
}

/// Replaces every file of the volume in `dir` with `files`, atomically.
pub fn update(dir: &Path, files: &[(&str, &str)]) {
    let old = std::fs::read_link(dir.join(DATA)).expect("read ..data");
    let version = write_version(dir, files);
    let staging = dir.join("..data_tmp");
    std::os::unix::fs::symlink(&version, &staging).expect("link ..data_tmp");
    std::fs::rename(&staging, dir.join(DATA)).expect("swap ..data");
    std::fs::remove_dir_all(dir.join(old)).expect("remove the old version");
}

/// Writes a new version's directory; returns its name.
fn write_version(dir: &Path, files: &[(&str, &str)]) -> String {
    let name = format!("..version_{}", VERSIONS.fetch_add(1, Ordering::Relaxed));
    std::fs::create_dir(dir.join(&name)).expect("create a version");
    for (file, text) in files {
        std::fs::write(dir.join(&name).join(file), text).expect("write a file");
    }
    name
}
