//! Reload decisions and their logs, without sockets: the listener
//! warning, the error list, one log line per error.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use super::*;

fn config(listen: &str) -> config::GatewayConfig {
    config::load_str(&format!("listen: {listen}\n"), "routes.yaml").unwrap()
}

#[test]
fn listeners_move_only_against_the_addresses_bound_at_start() {
    let start = config("127.0.0.1:8080");
    let started = StartAddresses {
        listen: Some(start.listen),
        admin: Some(start.admin),
    };
    assert!(started.moved(&config("127.0.0.1:8081")));
    assert!(
        !started.moved(&config("127.0.0.1:8080")),
        "the file restored"
    );
    let overridden = StartAddresses::default();
    assert!(!overridden.moved(&config("127.0.0.1:8081")));
}

#[test]
fn problems_keep_file_line_and_column_apart() {
    let errors = config::load_str("listen: nowhere\n", "routes.yaml").unwrap_err();
    let problems = ReloadError::Config(errors).problems("routes.yaml");
    assert_eq!(
        (
            problems[0].line,
            problems[0].column,
            problems[0].file.as_str()
        ),
        (Some(1), Some(9), "routes.yaml")
    );
    let task = ReloadError::Task("panicked".into()).problems("routes.yaml");
    assert_eq!((task[0].line, task.len()), (None, 1));
}

/// Captures what the `fmt` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_rejected_reload_logs_one_error_line_per_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, "listen: 127.0.0.1:0\n").unwrap();
    let snapshot = Snapshot::build(config::load_file(&path).unwrap(), 1, None).unwrap();
    let current = Arc::new(ArcSwap::from_pointee(snapshot));
    let reloader = Reloader::new(path.clone(), current, StartAddresses::default());
    std::fs::write(&path, "listen: nowhere\nadmin: nowhere\n").unwrap();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    reloader.reload().await.unwrap_err();
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let errors: Vec<&str> = logged.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(
        errors.len(),
        3,
        "a summary and one line per error:\n{logged}"
    );
    assert!(errors[1].contains("routes.yaml:1:9: listen:"), "{logged}");
    assert!(errors[2].contains("routes.yaml:2:8: admin:"), "{logged}");
    assert_eq!(reloader.status().last_error.map(|e| e.len()), Some(2));
}
