//! The load generator: drives one [`Probe`] with a [`LoadPlan`] and returns
//! its [`Stats`].
//!
//! Two modes:
//!
//! * **Open loop** ([`LoadMode::Open`]): requests are *scheduled* at a
//!   constant arrival rate by a pacer thread, whatever the target's state.
//!   Each latency is measured from the request's intended send time, not
//!   from when it was actually sent, so a stalled target is charged for
//!   every request it delayed (no coordinated omission).
//! * **Closed loop** ([`LoadMode::Closed`]): `concurrency` workers each send
//!   their next request as soon as the previous one is answered: the most
//!   throughput the target sustains at that concurrency. Latency is measured
//!   from the actual send.
//!
//! Requests whose (intended) start falls in the warm-up are sent but not
//! recorded. Percentiles come from an HDR histogram in microseconds.

mod closed_loop;
mod open_loop;
mod recorder;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use recorder::{CallError, Recorder, Stats};

/// One logical request against a target: a single HTTP call, a gRPC call,
/// or several calls (a chatty client). `seq` numbers the requests of a
/// run, so a probe can rotate through its inputs.
pub trait Probe: Send + Sync + 'static {
    fn call(&self, seq: u64) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// How load is applied.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// A constant arrival rate, in requests per second.
    Open { rate: f64 },
    /// A fixed number of requests always in flight.
    Closed { concurrency: usize },
}

impl std::fmt::Display for LoadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadMode::Open { rate } => write!(f, "open {rate:.0}/s"),
            LoadMode::Closed { concurrency } => write!(f, "closed c={concurrency}"),
        }
    }
}

/// What to run: mode, measured duration and warm-up before it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LoadPlan {
    pub mode: LoadMode,
    #[serde(with = "secs")]
    pub duration: Duration,
    #[serde(with = "secs")]
    pub warmup: Duration,
}

impl LoadPlan {
    pub fn open(rate: f64, duration: Duration, warmup: Duration) -> LoadPlan {
        LoadPlan {
            mode: LoadMode::Open { rate },
            duration,
            warmup,
        }
    }

    pub fn closed(concurrency: usize, duration: Duration, warmup: Duration) -> LoadPlan {
        LoadPlan {
            mode: LoadMode::Closed { concurrency },
            duration,
            warmup,
        }
    }

    /// Warm-up plus measured time.
    pub fn total(&self) -> Duration {
        self.warmup + self.duration
    }
}

/// The most open-loop requests in flight at once; past it the target is
/// saturated and further requests are counted as errors instead of
/// queueing without bound.
pub const MAX_IN_FLIGHT: usize = 20_000;

/// The results of one target under one kind of load, accumulated over
/// one or more runs (the proxy scenario alternates targets in rounds).
#[derive(Debug, Default)]
pub struct Measurement {
    recorder: Arc<Recorder>,
    measured: Duration,
    wire_bytes: u64,
}

impl Measurement {
    pub fn new() -> Measurement {
        Measurement::default()
    }

    /// Runs `plan` against `probe` and adds the results. `wire_bytes` reads
    /// the probe's byte counter (request + response bytes through its
    /// sockets) so the stats can report bytes per request.
    pub async fn drive<P: Probe>(
        &mut self,
        probe: &Arc<P>,
        plan: LoadPlan,
        wire_bytes: impl Fn() -> u64,
    ) {
        let before = wire_bytes();
        let (probe, recorder) = (Arc::clone(probe), Arc::clone(&self.recorder));
        match plan.mode {
            LoadMode::Open { rate } => open_loop::run(probe, rate, plan, recorder).await,
            LoadMode::Closed { concurrency } => {
                closed_loop::run(probe, concurrency, plan, recorder).await
            }
        }
        self.wire_bytes += wire_bytes().saturating_sub(before);
        self.measured += plan.duration;
    }

    /// Calls completed so far, warm-up included.
    pub fn calls(&self) -> u64 {
        self.recorder.calls()
    }

    /// The statistics of every run so far.
    pub fn stats(&self) -> Stats {
        self.recorder.finish(self.measured, self.wire_bytes)
    }

    /// The latencies measured so far, for [`Measurement::p50_since`].
    pub fn mark(&self) -> LatencyMark {
        LatencyMark(self.recorder.latencies())
    }

    /// The median latency (ms) of the calls measured since `mark` (one
    /// round of the proxy scenario), if there were any.
    pub fn p50_since(&self, mark: &LatencyMark) -> Option<f64> {
        let mut latest = self.recorder.latencies();
        latest.subtract(&mark.0).ok()?;
        (!latest.is_empty()).then(|| latest.value_at_quantile(0.5) as f64 / 1000.0)
    }

    /// How many calls were measured (warm-up excluded) since `mark`.
    pub fn measured_since(&self, mark: &LatencyMark) -> u64 {
        let mut latest = self.recorder.latencies();
        match latest.subtract(&mark.0) {
            Ok(()) => latest.len(),
            Err(_) => 0,
        }
    }
}

/// A copy of a [`Measurement`]'s latencies at one point.
#[derive(Debug, Clone)]
pub struct LatencyMark(hdrhistogram::Histogram<u64>);

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}
