//! The observe layer finishes every exchange exactly once, with what the
//! wire saw.

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt, service_fn};

use super::{Exchange, ExchangeEnd, ExchangeSink, Finished, ObserveLayer, Observers};
use crate::body::{self, GatewayBody};

#[derive(Debug, Default)]
struct Recording {
    finished: Mutex<Vec<(StatusCode, u64, u64, ExchangeEnd)>>,
}

impl ExchangeSink for Recording {
    fn on_finish(&self, exchange: &Exchange, finished: &Finished) {
        self.finished.lock().expect("lock").push((
            finished.status,
            exchange.bytes_in(),
            finished.bytes_out,
            finished.end,
        ));
    }
}

fn observed(
    recording: &Arc<Recording>,
) -> impl tower::Service<
    Request<GatewayBody>,
    Response = Response<GatewayBody>,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone {
    let observers = Arc::new(Observers::new(vec![
        Arc::clone(recording) as Arc<dyn ExchangeSink>
    ]));
    ObserveLayer::new(observers).layer(service_fn(|request: Request<GatewayBody>| async move {
        let received = request
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Ok(Response::new(body::full(format!(
            "echo {}",
            received.len()
        ))))
    }))
}

#[tokio::test]
async fn a_completed_response_is_finished_once_with_its_byte_counts() {
    let recording = Arc::new(Recording::default());
    let response = observed(&recording)
        .oneshot(Request::new(body::full("hello")))
        .await
        .expect("response");
    assert!(recording.finished.lock().expect("lock").is_empty());
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&bytes[..], b"echo 5");
    let finished = recording.finished.lock().expect("lock").clone();
    assert_eq!(
        finished,
        vec![(StatusCode::OK, 5, 6, ExchangeEnd::Completed)]
    );
}

#[tokio::test]
async fn a_response_dropped_before_its_end_is_finished_as_aborted() {
    let recording = Arc::new(Recording::default());
    let response = observed(&recording)
        .oneshot(Request::new(body::empty()))
        .await
        .expect("response");
    drop(response);
    let finished = recording.finished.lock().expect("lock").clone();
    assert_eq!(finished, vec![(StatusCode::OK, 0, 0, ExchangeEnd::Aborted)]);
}

#[tokio::test]
async fn no_observers_means_no_exchange() {
    let service = ObserveLayer::new(Arc::new(Observers::default())).layer(service_fn(
        |request: Request<GatewayBody>| async move {
            let seen = Exchange::of(&request).is_some();
            Ok::<_, std::convert::Infallible>(Response::new(body::full(seen.to_string())))
        },
    ));
    let response = service
        .oneshot(Request::new(body::empty()))
        .await
        .expect("response");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&bytes[..], b"false");
}
