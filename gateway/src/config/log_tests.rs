//! The `log:` section: what it compiles to, and its mistakes reported
//! with their positions.

use std::path::{Path, PathBuf};

use super::model::log::{AccessLogTarget, DEFAULT_ACCESS_LOG_BUFFER, LogFormat, LogSettings};
use super::*;

fn log_of(source: &str) -> LogSettings {
    load_str_in(source, "routes.yaml", Path::new("/etc/gateway"))
        .unwrap_or_else(|errors| panic!("config rejected:\n{errors}"))
        .log
}

#[test]
fn without_a_log_section_the_defaults_apply() {
    let log = log_of("routes: []\n");
    assert_eq!(log, LogSettings::default());
    assert_eq!(log.format, LogFormat::Text);
    assert_eq!(log.level, None);
    assert_eq!(log.access_log.enabled, None);
    assert_eq!(log.access_log.target, AccessLogTarget::Stdout);
    assert_eq!(log.access_log.buffer_records, DEFAULT_ACCESS_LOG_BUFFER);
}

#[test]
fn every_key_compiles() {
    let log = log_of(
        r#"
log:
  format: json
  level: "debug,hyper=warn"
  access_log:
    enabled: true
    format: json
    path: logs/access.log
    buffer_records: 1000
"#,
    );
    assert_eq!(log.format, LogFormat::Json);
    assert_eq!(log.level.as_deref(), Some("debug,hyper=warn"));
    assert_eq!(log.access_log.enabled, Some(true));
    assert_eq!(log.access_log.format, LogFormat::Json);
    assert_eq!(
        log.access_log.target,
        AccessLogTarget::File(PathBuf::from("/etc/gateway/logs/access.log"))
    );
    assert_eq!(log.access_log.buffer_records, 1000);
    let log = log_of("log: { access_log: { path: stderr } }\n");
    assert_eq!(log.access_log.target, AccessLogTarget::Stderr);
}

fn errors_of(source: &str) -> String {
    match load_str(source, "routes.yaml") {
        Ok(_) => panic!("expected errors, but the config compiled"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn bad_log_values_are_all_reported_with_their_positions() {
    insta::assert_snapshot!(errors_of(
        r#"
log:
  level: "info,=="
  access_log:
    path: ""
    buffer_records: 0
"#
    ));
}

#[test]
fn unknown_log_keys_and_formats_are_refused() {
    insta::assert_snapshot!(errors_of("log: { access_log: { colour: true } }\n"));
    insta::assert_snapshot!(errors_of("log: { format: yaml }\n"));
}

#[test]
fn the_log_settings_are_read_alone_and_default_on_any_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("routes.yaml");
    std::fs::write(
        &path,
        "log: { format: json, access_log: { path: access.log } }\nroutes: [ { bad: key } ]\n",
    )
    .expect("write");
    let log = load_log_settings(&path);
    assert_eq!(log.format, LogFormat::Json);
    assert_eq!(
        log.access_log.target,
        AccessLogTarget::File(dir.path().join("access.log"))
    );
    std::fs::write(&path, "log: { format: xml }\n").expect("write");
    assert_eq!(load_log_settings(&path), LogSettings::default());
    assert_eq!(
        load_log_settings(&dir.path().join("missing.yaml")),
        LogSettings::default()
    );
}
