//! Readiness through the rescue layer: pending stays pending, ready is
//! ready, and a readiness error becomes the next call's response.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures::future::{BoxFuture, FutureExt};
use http::{Request, Response, StatusCode};
use tower::{Layer, Service};

use super::RescueLayer;
use crate::body::{self, GatewayBody};
use crate::edge_error::GatewayError;

/// Pending for its first `pending` polls, then as `ready` says; counts calls.
#[derive(Clone)]
struct Gate {
    pending: Arc<AtomicUsize>,
    fail: bool,
    calls: Arc<AtomicUsize>,
}

impl Gate {
    fn new(pending: usize, fail: bool) -> Self {
        Self {
            pending: Arc::new(AtomicUsize::new(pending)),
            fail,
            calls: Arc::default(),
        }
    }
}

impl Service<Request<GatewayBody>> for Gate {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<Response<GatewayBody>, GatewayError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        if self.pending.load(Ordering::SeqCst) > 0 {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return Poll::Pending;
        }
        if self.fail {
            return Poll::Ready(Err(GatewayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "OVERLOADED",
                "the route is at its limit",
            )));
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<GatewayBody>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        futures::future::ready(Ok(Response::new(body::empty()))).boxed()
    }
}

fn poll_ready<S: Service<Request<GatewayBody>>>(service: &mut S) -> Poll<Result<(), S::Error>> {
    let waker = futures::task::noop_waker();
    service.poll_ready(&mut Context::from_waker(&waker))
}

#[test]
fn pending_inner_readiness_is_passed_through() {
    let gate = Gate::new(2, false);
    let mut service = RescueLayer.layer(gate);
    assert!(poll_ready(&mut service).is_pending());
    assert!(poll_ready(&mut service).is_pending());
    assert!(matches!(poll_ready(&mut service), Poll::Ready(Ok(()))));
}

#[tokio::test]
async fn a_readiness_error_answers_the_next_call_without_calling_inner() {
    let gate = Gate::new(0, true);
    let calls = Arc::clone(&gate.calls);
    let mut service = RescueLayer.layer(gate);
    assert!(matches!(poll_ready(&mut service), Poll::Ready(Ok(()))));
    let response = service
        .call(Request::new(body::empty()))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "inner was not ready");
}

#[tokio::test]
async fn a_ready_inner_is_called() {
    let gate = Gate::new(0, false);
    let calls = Arc::clone(&gate.calls);
    let mut service = RescueLayer.layer(gate);
    assert!(matches!(poll_ready(&mut service), Poll::Ready(Ok(()))));
    let response = service
        .call(Request::new(body::empty()))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
