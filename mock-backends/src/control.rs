//! Runtime control of one service: injected latency, error rate, a "down"
//! switch that really closes the listener, and the log of what the
//! service received. [`Control`] is a cheap clone handed out with every
//! [`crate::ServiceHandle`].

pub mod injection;
pub mod recording;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::StatusCode;
use tokio::sync::watch;

use crate::error::MockError;
use crate::server::ListenerSupervisor;
use recording::Recorder;
pub use recording::{Outcome, RecordedRequest};

/// What an injected failure looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// An HTTP status with a JSON error body (`code: "INJECTED_FAULT"`).
    Http(StatusCode),
    /// A gRPC trailers-only response carrying this code.
    Grpc(tonic::Code),
}

impl Default for FaultKind {
    fn default() -> Self {
        FaultKind::Http(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Injected behaviour of one service. The default injects nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Added before every request (except `/healthz`) is handled.
    pub latency: Duration,
    /// Plus a uniformly random extra delay in `[0, jitter]`.
    pub jitter: Duration,
    /// Probability in `[0, 1]` that a request fails with `error_kind`.
    pub error_rate: f64,
    pub error_kind: FaultKind,
    /// Start with the listener closed.
    pub down: bool,
}

/// The state shared by a service's routes, its middleware and its [`Control`].
#[derive(Debug)]
pub(crate) struct ControlState {
    faults: Mutex<Faults>,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) upload_progress: watch::Sender<u64>,
    health_checks: AtomicUsize,
    /// What `/healthz` and `grpc.health.v1` report (see `crate::health`).
    serving: watch::Sender<bool>,
}

impl ControlState {
    pub(crate) fn new(faults: Faults) -> Arc<ControlState> {
        Arc::new(ControlState {
            faults: Mutex::new(faults),
            recorder: Arc::default(),
            upload_progress: watch::channel(0).0,
            health_checks: AtomicUsize::new(0),
            serving: watch::channel(true).0,
        })
    }

    pub(crate) fn faults(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update_faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.faults.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub(crate) fn note_health_check(&self) {
        self.health_checks.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn is_serving(&self) -> bool {
        *self.serving.borrow()
    }

    pub(crate) fn watch_serving(&self) -> watch::Receiver<bool> {
        self.serving.subscribe()
    }
}

/// The control handle of one running service.
#[derive(Clone, Debug)]
pub struct Control {
    state: Arc<ControlState>,
    listener: Arc<ListenerSupervisor>,
}

impl Control {
    pub(crate) fn new(state: Arc<ControlState>, listener: Arc<ListenerSupervisor>) -> Control {
        Control { state, listener }
    }

    /// Delays every request by `fixed` plus a random `[0, jitter]`.
    pub fn set_latency(&self, fixed: Duration, jitter: Duration) {
        self.state.update_faults(|f| {
            f.latency = fixed;
            f.jitter = jitter;
        });
    }

    /// Fails a `rate` fraction (clamped to `[0, 1]`) of requests with `kind`.
    pub fn set_error_rate(&self, rate: f64, kind: FaultKind) {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self.state.update_faults(|f| {
            f.error_rate = rate;
            f.error_kind = kind;
        });
    }

    /// The current injection settings.
    pub fn faults(&self) -> Faults {
        let mut faults = self.state.faults();
        faults.down = self.listener.is_down();
        faults
    }

    /// Replaces latency, jitter and error settings (not `down`).
    pub fn set_faults(&self, faults: Faults) {
        self.set_latency(faults.latency, faults.jitter);
        self.set_error_rate(faults.error_rate, faults.error_kind);
    }

    /// `true` closes the listener and every open connection, so new
    /// connects are refused; `false` binds the same port again. Returns once
    /// the change is in effect.
    ///
    /// # Panics
    /// If the port cannot be bound again (see [`Control::try_set_down`]).
    pub async fn set_down(&self, down: bool) {
        if let Err(error) = self.try_set_down(down).await {
            panic!("mock service could not come back up: {error}");
        }
    }

    /// [`Control::set_down`], reporting a failed re-bind instead of panicking.
    pub async fn try_set_down(&self, down: bool) -> Result<(), MockError> {
        if down {
            self.listener.go_down().await;
            Ok(())
        } else {
            self.listener.go_up().await
        }
    }

    /// `false` makes the service's health checks fail while it keeps
    /// answering everything else (a backend draining for maintenance):
    /// `/healthz` answers 503 and `grpc.health.v1` reports `NOT_SERVING`
    /// (a `Watch` stream sees the change). `true` (the default) heals.
    pub fn set_serving(&self, serving: bool) {
        self.state.serving.send_replace(serving);
    }

    /// What the health checks report (see [`Control::set_serving`]).
    pub fn is_serving(&self) -> bool {
        self.state.is_serving()
    }

    /// Whether the listener is currently closed.
    pub fn is_down(&self) -> bool {
        self.listener.is_down()
    }

    /// What was received since the start or the last clear, oldest first:
    /// the newest [`recording::RECORD_CAPACITY`] requests. `/healthz` is not
    /// recorded (see [`Control::health_check_count`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorder.snapshot()
    }

    /// Forgets every recorded request.
    pub fn clear_requests(&self) {
        self.state.recorder.clear();
    }

    /// How many requests were received since the start or the last clear
    /// (all of them, even beyond the capacity of [`Control::requests`]).
    pub fn request_count(&self) -> usize {
        self.state.recorder.count()
    }

    /// How many health checks (`/healthz` and `grpc.health.v1` calls)
    /// were served.
    pub fn health_check_count(&self) -> usize {
        self.state.health_checks.load(Ordering::Relaxed)
    }

    /// Waits until the recorded requests satisfy `condition`, then returns
    /// them. Wrap it in `tokio::time::timeout` in tests.
    pub async fn wait_for_requests(
        &self,
        mut condition: impl FnMut(&[RecordedRequest]) -> bool,
    ) -> Vec<RecordedRequest> {
        let mut changes = self.state.recorder.watch_changes();
        loop {
            let requests = self.requests();
            if condition(&requests) {
                return requests;
            }
            if changes.changed().await.is_err() {
                return self.requests();
            }
        }
    }

    /// Bytes received so far by the running (or last) `POST /debug/upload`.
    pub fn upload_progress(&self) -> watch::Receiver<u64> {
        self.state.upload_progress.subscribe()
    }
}
