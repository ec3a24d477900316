//! The middleware in front of every route of every service: it records the
//! request, then applies the injected latency and error rate. Health
//! checks (`/healthz` and the `grpc.health.v1.Health` methods) are only
//! counted, never delayed, failed or recorded, so they keep working and
//! never pollute what tests assert on.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;

use super::{ControlState, FaultKind};
use crate::rest::api_error::ApiError;

/// The HTTP health path, exempt from injection and recording.
pub const HEALTH_PATH: &str = "/healthz";

/// Whether `path` is a health check (exempt from injection and recording).
pub fn is_health_check(path: &str) -> bool {
    path == HEALTH_PATH || path.starts_with(crate::health::GRPC_HEALTH_PREFIX)
}

/// Records, delays and possibly fails one request.
pub(crate) async fn inject(
    State(control): State<Arc<ControlState>>,
    request: Request,
    next: Next,
) -> Response {
    if is_health_check(request.uri().path()) {
        control.note_health_check();
        return next.run(request).await;
    }
    let guard = control.recorder.open(&request);
    let faults = control.faults();
    let delay = sample_latency(faults.latency, faults.jitter, &mut rand::rng());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = if should_fail(faults.error_rate, &mut rand::rng()) {
        fault_response(faults.error_kind)
    } else {
        next.run(request).await
    };
    guard.attach(response)
}

/// `fixed` plus a uniformly random duration in `[0, jitter]`.
pub fn sample_latency(fixed: Duration, jitter: Duration, rng: &mut impl Rng) -> Duration {
    if jitter.is_zero() {
        return fixed;
    }
    let extra = rng.random_range(0..=jitter.as_nanos().min(u128::from(u64::MAX)) as u64);
    fixed.saturating_add(Duration::from_nanos(extra))
}

/// Whether a request fails, given the error rate in `[0, 1]`.
pub fn should_fail(error_rate: f64, rng: &mut impl Rng) -> bool {
    error_rate > 0.0 && (error_rate >= 1.0 || rng.random_bool(error_rate))
}

/// The response of an injected failure.
pub fn fault_response(kind: FaultKind) -> Response {
    match kind {
        FaultKind::Http(status) => ApiError::new(
            status,
            "INJECTED_FAULT",
            format!(
                "injected failure: this mock service answers {status} at its configured error rate"
            ),
        )
        .into_response(),
        FaultKind::Grpc(code) => {
            tonic::Status::new(code, "injected failure at the configured error rate")
                .into_http::<Body>()
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn latency_stays_within_fixed_plus_jitter() {
        let mut rng = StdRng::seed_from_u64(7);
        let (fixed, jitter) = (Duration::from_millis(30), Duration::from_millis(5));
        let samples: Vec<Duration> = (0..200)
            .map(|_| sample_latency(fixed, jitter, &mut rng))
            .collect();
        assert!(samples.iter().all(|d| *d >= fixed && *d <= fixed + jitter));
        assert!(
            samples.iter().any(|d| *d != samples[0]),
            "jitter varies the delay"
        );
        assert_eq!(sample_latency(fixed, Duration::ZERO, &mut rng), fixed);
    }

    #[test]
    fn error_rate_extremes_are_certain() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..100).all(|_| should_fail(1.0, &mut rng)));
        assert!((0..100).all(|_| !should_fail(0.0, &mut rng)));
        let hits = (0..1000).filter(|_| should_fail(0.5, &mut rng)).count();
        assert!((350..650).contains(&hits), "{hits}");
    }

    #[test]
    fn grpc_faults_are_trailers_only_responses() {
        let response = fault_response(FaultKind::Grpc(tonic::Code::Unavailable));
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], "14");
    }
}
