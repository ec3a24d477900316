//! The record layouts, field by field, and the writer's bound: a full
//! queue drops records and counts them, and closing writes the rest.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use http::{Method, Request, StatusCode};
use serde_json::Value;

use super::AccessLog;
use super::record::Record;
use super::writer::{self, RateLimitedWarning};
use crate::config::model::log::LogFormat;
use crate::context::{ClientIp, EdgeContext, RequestId};
use crate::observe::{
    EndpointName, Exchange, ExchangeEnd, ExchangeSink, Finished, Observers, RefusedHead,
    UpstreamRecord, UpstreamSummary,
};

/// 2026-11-30T13:33:42.123Z
const TIME: Duration = Duration::from_millis(1_796_045_622_123);

const ROUTES: &str = r#"
backends:
  orders: { url: "http://127.0.0.1:3001" }
routes:
  - path: /v1/orders/{id}
    method: GET
    backend: orders
"#;

/// An exchange for `GET /v1/orders/ord_1` from 203.0.113.7, routed, with
/// two upstream attempts (the first refused, the second answered 200).
fn routed_exchange() -> Exchange {
    let exchange = exchange_for("/v1/orders/ord_1", Some("curl/8.5.0"));
    let config = crate::config::load_str(ROUTES, "routes.yaml").expect("config");
    exchange.set_route(Arc::clone(&config.routes[0]));
    exchange.set_trace_id("4bf92f3577b34da6a3ce929d0e0e4736");
    exchange.add_bytes_in(17);
    for (status, millis) in [(None, 1), (Some(StatusCode::OK), 11)] {
        exchange.record_upstream(UpstreamRecord {
            name: EndpointName::new(&Arc::from("orders"), &Arc::from("http://127.0.0.1:3001")),
            status,
            duration: Duration::from_micros(millis * 1000 + 500),
        });
    }
    exchange
}

fn exchange_for(path: &str, user_agent: Option<&str>) -> Exchange {
    let mut request = Request::builder().method(Method::GET).uri(path);
    if let Some(agent) = user_agent {
        request = request.header("user-agent", agent);
    }
    let mut request = request.body(()).expect("request");
    let mut edge = EdgeContext::new(ClientIp::direct(SocketAddr::from(([203, 0, 113, 7], 5555))));
    edge.request_id = Some(RequestId(Arc::from("req-1")));
    request.extensions_mut().insert(edge);
    Exchange::begin(
        &request,
        Arc::new(Observers::new(vec![Arc::new(ReadsDetails)])),
    )
}

/// A sink that reads a request's details, as the access log does: the
/// exchanges of these tests gather them.
#[derive(Debug)]
struct ReadsDetails;

impl crate::observe::ExchangeSink for ReadsDetails {
    fn needs_details(&self) -> bool {
        true
    }
}

fn finished(status: StatusCode, code: Option<&'static str>, end: ExchangeEnd) -> Finished {
    Finished {
        status,
        error_code: code,
        bytes_out: 312,
        end,
        duration: Duration::ZERO,
    }
}

/// The record with a fixed time and duration.
fn record<'a>(exchange: &'a Exchange, finished: &'a Finished) -> Record<'a> {
    let mut record = Record::of(exchange, finished);
    record.time = SystemTime::UNIX_EPOCH + TIME;
    record.duration = Duration::from_micros(12_345);
    record
}

fn text(record: &Record<'_>) -> String {
    let mut out = Vec::new();
    record.write_text(&mut out);
    String::from_utf8(out).expect("ASCII")
}

fn json(record: &Record<'_>) -> Value {
    let mut out = Vec::new();
    record.write_json(&mut out);
    assert_eq!(out.last(), Some(&b'\n'));
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    serde_json::from_slice(&out).expect("one JSON object")
}

#[test]
fn a_text_line_has_the_documented_layout() {
    let exchange = routed_exchange();
    let finished = finished(StatusCode::OK, None, ExchangeEnd::Completed);
    assert_eq!(
        text(&record(&exchange, &finished)),
        "2026-11-30T13:33:42.123Z 203.0.113.7 req-1 4bf92f3577b34da6a3ce929d0e0e4736 \
         \"GET /v1/orders/ord_1\" 200 - 17 312 12.345 \"GET /v1/orders/{id}\" orders \
         http://127.0.0.1:3001 200 2 13.000 completed \"curl/8.5.0\" -\n"
    );
}

#[test]
fn a_json_record_has_every_field() {
    let exchange = routed_exchange();
    let finished = finished(StatusCode::OK, None, ExchangeEnd::Completed);
    let record = json(&record(&exchange, &finished));
    let expected = serde_json::json!({
        "time": "2026-11-30T13:33:42.123Z",
        "request_id": "req-1",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "client_address": "203.0.113.7",
        "method": "GET",
        "path": "/v1/orders/ord_1",
        "route": "GET /v1/orders/{id}",
        "consumer": null,
        "status": 200,
        "error_code": null,
        "upstream_backend": "orders",
        "upstream_endpoint": "http://127.0.0.1:3001",
        "upstream_status": 200,
        "upstream_attempts": 2,
        "bytes_in": 17,
        "bytes_out": 312,
        "duration_ms": 12.345,
        "upstream_duration_ms": 13.0,
        "user_agent": "curl/8.5.0",
        "end": "completed",
    });
    assert_eq!(record, expected);
}

/// The hand-written JSON is byte for byte what `serde_json` writes for
/// the same fields, escapes and lossy user agents included.
#[test]
fn a_json_record_is_byte_for_byte_what_serde_json_writes() {
    let exchange = exchange_for("/v1/\"quoted\"\\path", None);
    let mut finished = finished(
        StatusCode::BAD_GATEWAY,
        Some("UPSTREAM_FAILED"),
        ExchangeEnd::Aborted,
    );
    finished.bytes_out = u64::MAX;
    let mut record = record(&exchange, &finished);
    record.user_agent = Some(b"agent\t\xff\x01");
    record.duration = Duration::from_micros(1_000);
    let mut line = Vec::new();
    record.write_json(&mut line);
    let expected = serde_json::json!({
        "time": "2026-11-30T13:33:42.123Z",
        "request_id": "req-1",
        "trace_id": null,
        "client_address": "203.0.113.7",
        "method": "GET",
        "path": "/v1/\"quoted\"\\path",
        "route": null,
        "consumer": null,
        "status": 502,
        "error_code": "UPSTREAM_FAILED",
        "upstream_backend": null,
        "upstream_endpoint": null,
        "upstream_status": null,
        "upstream_attempts": 0,
        "bytes_in": 0,
        "bytes_out": u64::MAX,
        "duration_ms": 1.0,
        "upstream_duration_ms": null,
        "user_agent": "agent\t\u{fffd}\u{1}",
        "end": "aborted",
    });
    let expected = format!("{}\n", serde_json::to_string(&expected).expect("json"));
    assert_eq!(String::from_utf8(line).expect("utf-8"), expected);
}

#[test]
fn an_unrouted_request_has_dashes_in_text_and_nulls_in_json() {
    let exchange = exchange_for("/nowhere", None);
    let finished = finished(
        StatusCode::NOT_FOUND,
        Some("NO_ROUTE"),
        ExchangeEnd::Completed,
    );
    let record = record(&exchange, &finished);
    assert_eq!(
        text(&record),
        "2026-11-30T13:33:42.123Z 203.0.113.7 req-1 - \"GET /nowhere\" 404 NO_ROUTE 0 312 \
         12.345 \"-\" - - - 0 - completed \"-\" -\n"
    );
    let json = json(&record);
    for absent in [
        "trace_id",
        "route",
        "upstream_backend",
        "upstream_endpoint",
        "upstream_status",
        "upstream_duration_ms",
        "user_agent",
        "consumer",
    ] {
        assert_eq!(json[absent], Value::Null, "{absent}");
    }
    assert_eq!(json["error_code"], "NO_ROUTE");
    assert_eq!(json["upstream_attempts"], 0);
}

#[test]
fn a_refused_head_has_no_method_path_or_route() {
    let head = RefusedHead {
        peer: "203.0.113.7:40000".parse().expect("an address"),
        status: StatusCode::BAD_REQUEST,
        code: "MALFORMED_REQUEST",
        request_id: "req-9",
        started_at: SystemTime::UNIX_EPOCH + TIME,
        duration: Duration::from_micros(1_500),
        bytes_out: 180,
    };
    let none = Mutex::new(UpstreamSummary::default());
    let record = Record::refused(&head, none.lock().expect("unlocked"));
    assert_eq!(
        text(&record),
        "2026-11-30T13:33:42.123Z 203.0.113.7 req-9 - \"- -\" 400 MALFORMED_REQUEST 0 180 \
         1.500 \"-\" - - - 0 - completed \"-\" -\n"
    );
    let json = json(&record);
    for absent in [
        "method",
        "path",
        "route",
        "trace_id",
        "user_agent",
        "consumer",
    ] {
        assert_eq!(json[absent], Value::Null, "{absent}");
    }
    assert_eq!(json["status"], 400);
    assert_eq!(json["error_code"], "MALFORMED_REQUEST");
    assert_eq!(json["request_id"], "req-9");
}

#[test]
fn a_field_never_breaks_the_text_layout() {
    let exchange = exchange_for("/a\"b", Some("evil\" agent\\ \u{e9}"));
    let finished = finished(StatusCode::OK, None, ExchangeEnd::Aborted);
    let line = text(&record(&exchange, &finished));
    assert!(line.contains(r#""GET /a\x22b""#), "{line}");
    assert!(
        line.ends_with("aborted \"evil\\x22 agent\\x5C \\xC3\\xA9\" -\n"),
        "{line}"
    );
    assert_eq!(line.matches('\n').count(), 1);
    // The JSON record keeps the agent as text.
    let json = json(&record(&exchange, &finished));
    assert_eq!(json["user_agent"], "evil\" agent\\ \u{e9}");
    assert_eq!(json["end"], "aborted");
}

/// Whether the gate is open, and what was written through it.
type Gate = (Mutex<(bool, Vec<u8>)>, Condvar);

/// A writer that blocks until released, then keeps what it is given.
#[derive(Clone, Default)]
struct GatedWriter {
    state: Arc<Gate>,
}

impl GatedWriter {
    fn open(&self) {
        let (lock, gate) = &*self.state;
        lock.lock().expect("lock").0 = true;
        gate.notify_all();
    }

    fn lines(&self) -> usize {
        let (lock, _) = &*self.state;
        let written = &lock.lock().expect("lock").1;
        written.iter().filter(|&&b| b == b'\n').count()
    }
}

impl Write for GatedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (lock, gate) = &*self.state;
        let mut state = gate
            .wait_while(lock.lock().expect("lock"), |(open, _)| !*open)
            .expect("lock");
        state.1.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn log_records(log: &AccessLog, count: usize) {
    let exchange = routed_exchange();
    let finished = finished(StatusCode::OK, None, ExchangeEnd::Completed);
    for _ in 0..count {
        log.on_finish(&exchange, &finished);
    }
}

#[test]
fn a_full_queue_drops_records_and_counts_them() {
    let sink = GatedWriter::default();
    let (log, guard) = AccessLog::over(Box::new(sink.clone()), LogFormat::Json, 2);
    // The writer thread holds at most one batch (two records) while
    // blocked, and the buffer two more: of ten, at least six are dropped,
    // without waiting.
    log_records(&log, 10);
    let dropped = log.dropped();
    assert!(dropped >= 6, "dropped {dropped}");
    assert_eq!(log.dropped_records().get(), dropped);
    sink.open();
    drop(guard);
    assert_eq!(sink.lines() as u64 + dropped, 10);
}

#[test]
fn closing_the_writer_writes_every_queued_record() {
    let sink = GatedWriter::default();
    let (log, guard) = AccessLog::over(Box::new(sink.clone()), LogFormat::Text, 100);
    log_records(&log, 5);
    sink.open();
    drop(guard);
    assert_eq!(sink.lines(), 5);
    assert_eq!(log.dropped(), 0);
}

/// A writer that keeps what it is given and says so on each flush.
#[derive(Clone)]
struct SignallingWriter {
    written: Arc<Mutex<Vec<u8>>>,
    flushed: std::sync::mpsc::SyncSender<()>,
}

impl Write for SignallingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.flushed.try_send(());
        Ok(())
    }
}

#[test]
fn a_full_buffer_is_handed_to_the_writer_before_its_round() {
    let (flushed, on_flush) = std::sync::mpsc::sync_channel(16);
    let sink = SignallingWriter {
        written: Arc::default(),
        flushed,
    };
    // The writer's rounds are an hour apart: only the hand-off can wake it.
    let period = Duration::from_secs(3600);
    let (log, guard) = AccessLog::over_every(
        Box::new(sink.clone()),
        None,
        LogFormat::Json,
        1_000_000,
        period,
    );
    let exchange = routed_exchange();
    let finished = finished(StatusCode::OK, None, ExchangeEnd::Completed);
    let mut one = Vec::new();
    Record::of(&exchange, &finished).write_json(&mut one);
    let count = writer::HANDOFF_BYTES.div_ceil(one.len());
    log_records(&log, count);
    on_flush
        .recv_timeout(Duration::from_secs(60))
        .expect("the writer was woken by the full buffer");
    let written = sink.written.lock().expect("lock").clone();
    assert_eq!(written.len(), count * one.len());
    assert_eq!(written.iter().filter(|&&b| b == b'\n').count(), count);
    drop(guard);
}

#[test]
fn a_growing_count_is_warned_about_once_per_period() {
    let warning = RateLimitedWarning::default();
    assert!(!warning.due(0), "nothing dropped, nothing to say");
    assert!(warning.due(3));
    assert!(!warning.due(3), "no news");
    assert!(!warning.due(9), "within the period: quiet");
}

fn file_settings(path: &std::path::Path) -> crate::config::model::log::AccessLogSettings {
    crate::config::model::log::AccessLogSettings {
        enabled: Some(true),
        format: LogFormat::Json,
        target: crate::config::model::log::AccessLogTarget::File(path.to_path_buf()),
        ..Default::default()
    }
}

fn lines_in(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

/// logrotate renames the file, then SIGUSR1 (or `POST /reopen_logs`)
/// has the writer write what the old file was owed and open a new one.
#[tokio::test]
async fn a_reopened_log_writes_to_a_new_file_at_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let (path, rotated) = (
        dir.path().join("access.log"),
        dir.path().join("access.log.1"),
    );
    let (log, guard) = AccessLog::start(&file_settings(&path)).unwrap();
    let handle = log.reopen_handle().expect("a file can be reopened");
    log_records(&log, 3);
    std::fs::rename(&path, &rotated).unwrap();
    let reopens = handle.reopen(super::REOPEN_PATIENCE).await.unwrap();
    assert_eq!(
        reopens,
        super::Reopens {
            done: 1,
            last_failed: false
        }
    );
    // The records logged before the reopen went to the renamed file.
    assert_eq!(lines_in(&rotated), 3);
    log_records(&log, 2);
    guard.close().await;
    assert_eq!(lines_in(&path), 2);
    assert_eq!(lines_in(&rotated), 3);
}

/// A reopen that fails (the directory is gone) keeps the old file.
#[tokio::test]
async fn a_failed_reopen_keeps_writing_to_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let path = logs.join("access.log");
    let (log, guard) = AccessLog::start(&file_settings(&path)).unwrap();
    let handle = log.reopen_handle().unwrap();
    let moved = dir.path().join("moved");
    std::fs::rename(&logs, &moved).unwrap();
    let reopens = handle.reopen(super::REOPEN_PATIENCE).await.unwrap();
    assert!(reopens.last_failed);
    log_records(&log, 2);
    guard.close().await;
    assert_eq!(lines_in(&moved.join("access.log")), 2);
}

#[test]
fn standard_output_has_nothing_to_reopen() {
    let settings = crate::config::model::log::AccessLogSettings {
        target: crate::config::model::log::AccessLogTarget::Stdout,
        ..file_settings(std::path::Path::new("unused"))
    };
    let (log, _guard) = AccessLog::start(&settings).unwrap();
    assert!(log.reopen_handle().is_none());
}

/// Takes at most `per_call` bytes a call (across buffers, as `writev`
/// may), and is interrupted once, on its second call.
struct TrickleWriter {
    written: Vec<u8>,
    per_call: usize,
    calls: usize,
}

impl Write for TrickleWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls == 2 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let mut taken = 0;
        for buf in bufs {
            let take = buf.len().min(self.per_call - taken);
            self.written.extend_from_slice(&buf[..take]);
            taken += take;
            if taken == self.per_call {
                break;
            }
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_round_writes_every_buffer_whole_and_in_order_across_short_writes() {
    let buffers = vec![
        b"first worker's records\n".to_vec(),
        Vec::new(),
        b"second\n".to_vec(),
        b"third worker's, longer than one call takes\n".to_vec(),
    ];
    let mut sink = TrickleWriter {
        written: Vec::new(),
        per_call: 5,
        calls: 0,
    };
    writer::write_all_vectored(&mut sink, &buffers).expect("all written");
    assert_eq!(sink.written, buffers.concat());
    assert!(sink.calls > 2, "short writes were resumed");
}

#[test]
fn a_sink_that_takes_nothing_is_an_error_not_a_busy_loop() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Ok(0)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let error = writer::write_all_vectored(&mut Full, &[b"record\n".to_vec()])
        .expect_err("nothing was taken");
    assert_eq!(error.kind(), io::ErrorKind::WriteZero);
}
