//! Collecting results: a latency histogram of the successful measured
//! requests, the errors by kind, and the call count for bytes per request.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Why one call failed; the text is the error's kind ("HTTP 502",
/// "connect: ...", "grpc Unavailable"), so that equal failures group.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CallError(pub String);

impl CallError {
    pub fn new(kind: impl Into<String>) -> CallError {
        CallError(kind.into())
    }
}

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes, with
/// three significant digits.
const HIGHEST_MICROS: u64 = 600_000_000;

/// Shared by every request task of one run.
#[derive(Debug)]
pub struct Recorder {
    latencies: Mutex<Histogram<u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Every completed call, warm-up included (bytes are counted for all).
    calls: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        let histogram =
            Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("valid histogram bounds");
        Recorder {
            latencies: Mutex::new(histogram),
            errors: Mutex::new(BTreeMap::new()),
            calls: AtomicU64::new(0),
        }
    }

    /// Records one finished call; `measured` is false during the warm-up.
    pub fn record(&self, measured: bool, latency: Duration, result: Result<(), CallError>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !measured {
            return;
        }
        match result {
            Ok(()) => {
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                lock(&self.latencies).saturating_record(micros.max(1));
            }
            Err(CallError(kind)) => *lock(&self.errors).entry(kind).or_default() += 1,
        }
    }

    /// Calls completed so far, warm-up included.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// A copy of the measured latencies so far (µs).
    pub fn latencies(&self) -> Histogram<u64> {
        lock(&self.latencies).clone()
    }

    /// The statistics of the measured window of `duration`, given the
    /// bytes the probe's sockets carried during the whole run.
    pub fn finish(&self, duration: Duration, wire_bytes: u64) -> Stats {
        let histogram = lock(&self.latencies).clone();
        let errors = lock(&self.errors).clone();
        let calls = self.calls.load(Ordering::Relaxed);
        Stats::from_parts(&histogram, errors, duration, wire_bytes, calls)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The result of one load run. Latencies in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    /// Successful measured requests.
    pub ok: u64,
    /// Failed measured requests.
    pub errors: u64,
    /// Failed requests by kind.
    pub error_kinds: BTreeMap<String, u64>,
    /// Successful requests per second over the measured window.
    pub throughput: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
    /// Request + response bytes through the client's sockets per request.
    pub bytes_per_request: f64,
    /// `(latency ms, quantile)` points of the latency distribution.
    pub cdf: Vec<(f64, f64)>,
}

impl Stats {
    fn from_parts(
        histogram: &Histogram<u64>,
        error_kinds: BTreeMap<String, u64>,
        duration: Duration,
        wire_bytes: u64,
        calls: u64,
    ) -> Stats {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let at = |q: f64| ms(histogram.value_at_quantile(q));
        let ok = histogram.len();
        Stats {
            ok,
            errors: error_kinds.values().sum(),
            error_kinds,
            throughput: ok as f64 / duration.as_secs_f64().max(f64::EPSILON),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1000.0,
            bytes_per_request: wire_bytes as f64 / calls.max(1) as f64,
            cdf: cdf_points(histogram),
        }
    }
}

/// Quantiles spread evenly up to 0.9, then denser into the tail
/// (0.99, 0.999, 0.9999), then the maximum.
fn cdf_points(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let body = (0..=90).map(|i| f64::from(i) / 100.0);
    let tail = (1..=40).map(|i| 1.0 - 0.1 * 10f64.powf(-f64::from(i) / 10.0));
    body.chain(tail)
        .chain([1.0])
        .map(|q| (histogram.value_at_quantile(q) as f64 / 1000.0, q))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_errors_come_from_measured_calls_only() {
        let recorder = Recorder::new();
        recorder.record(false, Duration::from_secs(9), Ok(()));
        for ms in 1..=100 {
            recorder.record(true, Duration::from_millis(ms), Ok(()));
        }
        recorder.record(
            true,
            Duration::from_millis(1),
            Err(CallError::new("HTTP 502")),
        );
        recorder.record(
            false,
            Duration::from_millis(1),
            Err(CallError::new("HTTP 503")),
        );
        let stats = recorder.finish(Duration::from_secs(2), 1030);
        assert_eq!(stats.ok, 100);
        assert_eq!(stats.errors, 1);
        assert_eq!(stats.error_kinds.keys().collect::<Vec<_>>(), ["HTTP 502"]);
        assert_eq!(stats.throughput, 50.0);
        assert!((stats.p50 - 50.0).abs() < 0.1, "{}", stats.p50);
        assert!((stats.max - 100.0).abs() < 0.1, "{}", stats.max);
        assert_eq!(stats.bytes_per_request, 10.0);
    }

    #[test]
    fn cdf_is_monotonic_and_ends_at_the_maximum() {
        let recorder = Recorder::new();
        for us in [10u64, 20, 30, 5000] {
            recorder.record(true, Duration::from_micros(us), Ok(()));
        }
        let cdf = recorder.finish(Duration::from_secs(1), 0).cdf;
        assert!(cdf.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        assert_eq!(cdf.last().map(|p| p.1), Some(1.0));
        assert!((cdf.last().map_or(0.0, |p| p.0) - 5.0).abs() < 0.01);
    }
}
