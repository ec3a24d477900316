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
    fn needs_details(&self) -> bool {
        true
    }

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

/// Counting sinks alone (the metrics) read no details: the exchange then
/// reads no wall clock, copies no path, clones no request id or user
/// agent, and keeps no upstream summary; with a sink that reads them
/// (the access log), it gathers them all.
#[test]
fn details_are_gathered_only_for_a_sink_that_reads_them() {
    #[derive(Debug)]
    struct Counting;
    impl ExchangeSink for Counting {}

    let mut request = Request::get("/v1/orders/7?secret=1")
        .header("user-agent", "curl/8")
        .body(())
        .expect("request");
    crate::context::EdgeContext::of_mut(&mut request).request_id =
        Some(crate::context::RequestId(Arc::from("req-9")));
    let record = || super::UpstreamRecord {
        name: super::EndpointName::new(&Arc::from("orders"), &Arc::from("http://127.0.0.1:1")),
        status: Some(StatusCode::OK),
        duration: std::time::Duration::from_millis(3),
    };

    let counting = Exchange::begin(&request, Arc::new(Observers::new(vec![Arc::new(Counting)])));
    counting.record_upstream(record());
    assert_eq!(counting.started_at, std::time::SystemTime::UNIX_EPOCH);
    assert!(counting.request_id.is_none());
    assert_eq!(counting.path(), "");
    assert!(counting.user_agent.is_none());
    assert_eq!(counting.lock_upstream().attempts, 0);

    let reading = Exchange::begin(
        &request,
        Arc::new(Observers::new(vec![Arc::new(Recording::default())])),
    );
    reading.record_upstream(record());
    assert!(reading.started_at > std::time::SystemTime::UNIX_EPOCH);
    assert_eq!(
        reading.request_id.as_ref().map(|id| id.as_str()),
        Some("req-9")
    );
    assert_eq!(reading.path(), "/v1/orders/7");
    assert_eq!(
        reading.user_agent.as_ref().map(|ua| ua.as_bytes()),
        Some(&b"curl/8"[..])
    );
    assert_eq!(reading.lock_upstream().attempts, 1);
}
