//! Both backends against real directories (the `notify` one runs here on
//! Linux too, so the code other systems use is tested).
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use super::inotify_backend::InotifyWatch;
use super::notify_backend::NotifyWatch;
use super::{Change, DirWatch};

/// A bound on waiting for an event that should come, never a delay.
const PATIENCE: Duration = Duration::from_secs(10);

enum Backend {
    Inotify(InotifyWatch),
    Notify(NotifyWatch),
}

impl Backend {
    fn watch(&self, dir: &Path) {
        match self {
            Backend::Inotify(watch) => watch.watch(dir),
            Backend::Notify(watch) => watch.watch(dir),
        }
        .unwrap();
    }

    fn unwatch(&self, dir: &Path) {
        match self {
            Backend::Inotify(watch) => watch.unwatch(dir),
            Backend::Notify(watch) => watch.unwatch(dir),
        }
    }
}

/// Each reported change: a file's path, or `None` for lost events.
type Reports = mpsc::UnboundedReceiver<Option<PathBuf>>;

fn reporter() -> (impl super::OnChange, Reports) {
    let (sender, reports) = mpsc::unbounded_channel();
    let on_change = move |change: Change<'_>| {
        let _ = sender.send(match change {
            Change::File(path) => Some(path.to_path_buf()),
            Change::Lost => None,
        });
    };
    (on_change, reports)
}

fn inotify() -> (Backend, Reports) {
    let (on_change, reports) = reporter();
    (
        Backend::Inotify(InotifyWatch::start(on_change).unwrap()),
        reports,
    )
}

fn notify() -> (Backend, Reports) {
    let (on_change, reports) = reporter();
    (
        Backend::Notify(NotifyWatch::start(on_change).unwrap()),
        reports,
    )
}

/// The next report that names a file.
async fn next_file(reports: &mut Reports) -> PathBuf {
    loop {
        let report = tokio::time::timeout(PATIENCE, reports.recv())
            .await
            .expect("no change reported")
            .expect("the watch ended");
        if let Some(path) = report {
            return path;
        }
    }
}

async fn reports_a_file_written_and_closed(start: fn() -> (Backend, Reports)) {
    let dir = tempfile::tempdir().unwrap();
    let (watch, mut reports) = start();
    watch.watch(dir.path());
    let file = dir.path().join("routes.yaml");
    std::fs::write(&file, "listen: 127.0.0.1:0\n").unwrap();
    assert_eq!(next_file(&mut reports).await, file);
}

async fn reports_a_file_renamed_over_the_watched_one(start: fn() -> (Backend, Reports)) {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let file = dir.path().join("routes.yaml");
    std::fs::write(&file, "old\n").unwrap();
    let replacement = outside.path().join("routes.yaml.new");
    std::fs::write(&replacement, "new\n").unwrap();
    let (watch, mut reports) = start();
    watch.watch(dir.path());
    std::fs::rename(&replacement, &file).unwrap();
    assert_eq!(next_file(&mut reports).await, file);
}

async fn an_unwatched_directory_reports_nothing(start: fn() -> (Backend, Reports)) {
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (watch, mut reports) = start();
    watch.watch(first.path());
    watch.watch(second.path());
    watch.unwatch(first.path());
    std::fs::write(first.path().join("a.yaml"), "a\n").unwrap();
    let reported = second.path().join("b.yaml");
    std::fs::write(&reported, "b\n").unwrap();
    assert_eq!(next_file(&mut reports).await, reported);
}

/// A log kept open beside the watched file, appended to: what a writer of
/// `count` records reports before the watched file is written and closed.
async fn first_report_after_appending(backend: (Backend, Reports), count: usize) -> PathBuf {
    let (watch, mut reports) = backend;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("access.log");
    let file = dir.path().join("routes.yaml");
    std::fs::write(&log_path, "").unwrap();
    std::fs::write(&file, "old\n").unwrap();
    watch.watch(dir.path());
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .unwrap();
    for record in 0..count {
        writeln!(log, "{{\"record\":{record}}}").unwrap();
        log.flush().unwrap();
    }
    std::fs::write(&file, "new\n").unwrap();
    next_file(&mut reports).await
}

#[tokio::test]
async fn inotify_reports_a_file_written_and_closed() {
    reports_a_file_written_and_closed(inotify).await;
}

#[tokio::test]
async fn notify_reports_a_file_written_and_closed() {
    reports_a_file_written_and_closed(notify).await;
}

#[tokio::test]
async fn inotify_reports_a_file_renamed_over_the_watched_one() {
    reports_a_file_renamed_over_the_watched_one(inotify).await;
}

#[tokio::test]
async fn notify_reports_a_file_renamed_over_the_watched_one() {
    reports_a_file_renamed_over_the_watched_one(notify).await;
}

#[tokio::test]
async fn inotify_unwatched_directory_reports_nothing() {
    an_unwatched_directory_reports_nothing(inotify).await;
}

#[tokio::test]
async fn notify_unwatched_directory_reports_nothing() {
    an_unwatched_directory_reports_nothing(notify).await;
}

/// The reason for the Linux backend: a file appended to beside the
/// watched one (an access log next to routes.yaml) wakes nothing.
#[tokio::test]
async fn a_log_appended_beside_the_watched_file_reports_nothing() {
    let first = first_report_after_appending(inotify(), 200).await;
    assert_eq!(first.file_name().unwrap(), "routes.yaml");
}

/// What `notify` does with the same writes: it reports each one (so the
/// test above can tell the two apart).
#[tokio::test]
async fn notify_reports_each_append_to_a_neighbouring_log() {
    let first = first_report_after_appending(notify(), 200).await;
    assert_eq!(first.file_name().unwrap(), "access.log");
}

/// The default backend on this system is the inotify one, and reports.
#[tokio::test]
async fn the_default_watch_reports_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (on_change, mut reports) = reporter();
    let watch = DirWatch::start(on_change).unwrap();
    watch.watch(dir.path()).unwrap();
    let file = dir.path().join("supergraph.graphql");
    std::fs::write(&file, "type Query { a: Int }\n").unwrap();
    assert_eq!(next_file(&mut reports).await, file);
}

/// Kubernetes' update of a ConfigMap volume: the files in a new
/// directory, a new `..data` link renamed over the old one.
async fn reports_a_config_map_swap(start: fn() -> (Backend, Reports)) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("..v1")).unwrap();
    std::fs::write(root.join("..v1/routes.yaml"), "old\n").unwrap();
    std::os::unix::fs::symlink("..v1", root.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/routes.yaml", root.join("routes.yaml")).unwrap();
    let (watch, mut reports) = start();
    watch.watch(root);
    std::fs::create_dir(root.join("..v2")).unwrap();
    std::fs::write(root.join("..v2/routes.yaml"), "new\n").unwrap();
    std::os::unix::fs::symlink("..v2", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    let routes = root.join("routes.yaml");
    loop {
        let path = next_file(&mut reports).await;
        if Change::File(&path).may_change(|file| file == routes) {
            assert_eq!(path, root.join("..data"));
            break;
        }
    }
}

#[tokio::test]
async fn inotify_reports_a_config_map_swap() {
    reports_a_config_map_swap(inotify).await;
}

#[tokio::test]
async fn notify_reports_a_config_map_swap() {
    reports_a_config_map_swap(notify).await;
}

#[test]
fn a_change_concerns_its_file_a_data_link_swap_or_lost_events() {
    let watched = Path::new("/etc/gateway/routes.yaml");
    let is_watched = |path: &Path| path == watched;
    assert!(Change::File(watched).may_change(is_watched));
    assert!(Change::Lost.may_change(is_watched));
    assert!(Change::File(Path::new("/etc/gateway/..data")).may_change(is_watched));
    assert!(!Change::File(Path::new("/etc/gateway/access.log")).may_change(is_watched));
    assert!(!Change::File(Path::new("/etc/gateway/..data_tmp")).may_change(is_watched));
    assert!(!Change::File(Path::new("/etc/gateway/..2026_12_03")).may_change(is_watched));
}

/// Outside a tokio runtime the Linux backend refuses to start (an error,
/// never a panic): its events are read by a task.
#[test]
fn the_inotify_watch_needs_a_runtime() {
    let (on_change, _reports) = reporter();
    let error = InotifyWatch::start(on_change).unwrap_err();
    assert!(error.to_string().contains("runtime"), "{error}");
}
