//! Every injection knob has an effect: latency, jitter, error rate (HTTP
//! and gRPC), the down switch, and the request records. Timing is asserted
//! from recorded instants and lower bounds only, never from wall-clock limits.

use std::sync::Arc;
use std::time::Duration;

use mock_backends::proto::GetOrderRequest;
use mock_backends::{FaultKind, Faults, Outcome, ServiceKind, Store, seed, start_service};
use tests::mocks::{
    error_code, get_status, grpc_client, http, send_json, start_mocks, url, within,
};

fn duration(record: &mock_backends::RecordedRequest) -> Duration {
    record.finished_at.expect("finished") - record.arrived_at
}

#[tokio::test]
async fn latency_delays_only_the_configured_service() {
    let mocks = start_mocks().await;
    let latency = Duration::from_millis(300);
    mocks.users.control.set_latency(latency, Duration::ZERO);
    let slow = tokio::spawn(get_status(url(&mocks.users, "/v1/users")));
    let arrived = mocks.users.control.wait_for_requests(|r| !r.is_empty());
    within("the slow request to arrive", arrived).await;
    assert_eq!(get_status(url(&mocks.products, "/v1/products")).await, 200);
    assert_eq!(within("the slow response", slow).await.unwrap(), 200);
    let slow_record = &mocks.users.control.requests()[0];
    let fast_record = &mocks.products.control.requests()[0];
    let (slow_time, fast_time) = (duration(slow_record), duration(fast_record));
    assert!(slow_time >= latency, "{slow_time:?}");
    assert!(fast_time < slow_time, "{fast_time:?} vs {slow_time:?}");
    let overlap = slow_record.overlaps(fast_record);
    assert!(overlap, "the fast call ran while the slow one waited");
}

#[tokio::test]
async fn jitter_adds_a_random_extra_delay() {
    let mocks = start_mocks().await;
    mocks
        .payments
        .control
        .set_latency(Duration::ZERO, Duration::from_millis(200));
    for _ in 0..8 {
        http()
            .get(url(
                &mocks.payments,
                &format!("/v1/payments/{}", seed::FIRST_ORDER_ID),
            ))
            .send()
            .await
            .unwrap();
    }
    let durations: Vec<Duration> = mocks
        .payments
        .control
        .requests()
        .iter()
        .map(duration)
        .collect();
    // Each delay is uniform in [0, 200 ms]: all eight under 20 ms has probability 1e-8.
    assert!(
        durations.iter().any(|d| *d >= Duration::from_millis(20)),
        "{durations:?}"
    );
}

#[tokio::test]
async fn grpc_calls_are_delayed_and_recorded_with_metadata() {
    let mocks = start_mocks().await;
    let latency = Duration::from_millis(150);
    mocks
        .orders_grpc
        .control
        .set_latency(latency, Duration::ZERO);
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let mut request = tonic::Request::new(GetOrderRequest {
        order_id: seed::FIRST_ORDER_ID.to_string(),
    });
    request
        .metadata_mut()
        .insert("x-caller", "test".parse().unwrap());
    client.get_order(request).await.unwrap();
    let records = mocks.orders_grpc.control.requests();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(
        (record.method.as_str(), record.path.as_str()),
        ("POST", "/orders.OrderService/GetOrder")
    );
    assert_eq!(record.headers["x-caller"], "test");
    assert_eq!(record.outcome, Outcome::Completed(http::StatusCode::OK));
    assert_eq!(record.grpc_status, Some(tonic::Code::Ok));
    assert!(duration(record) >= latency);
}

#[tokio::test]
async fn error_rate_fails_http_requests_but_not_healthz() {
    use http::StatusCode as S;
    let mocks = start_mocks().await;
    let control = &mocks.products.control;
    let path = url(&mocks.products, "/v1/products");
    control.set_error_rate(1.0, FaultKind::Http(S::SERVICE_UNAVAILABLE));
    let (status, error) = send_json(http().get(&path)).await;
    assert_eq!(
        (status, error_code(&error)),
        (S::SERVICE_UNAVAILABLE, "INJECTED_FAULT")
    );
    assert_eq!(get_status(url(&mocks.products, "/healthz")).await, 200);
    control.set_error_rate(1.0, FaultKind::Http(S::INTERNAL_SERVER_ERROR));
    assert_eq!(get_status(path.clone()).await, 500);
    control.set_error_rate(0.0, FaultKind::default());
    assert_eq!(get_status(path).await, 200);
    let outcomes: Vec<Outcome> = control.requests().iter().map(|r| r.outcome).collect();
    let expected =
        [S::SERVICE_UNAVAILABLE, S::INTERNAL_SERVER_ERROR, S::OK].map(Outcome::Completed);
    assert_eq!(outcomes, expected);
    let health_checks = control.health_check_count();
    assert_eq!(health_checks, 1, "healthz is counted, not recorded");
}

#[tokio::test]
async fn error_rate_fails_grpc_calls_with_unavailable() {
    let mocks = start_mocks().await;
    mocks
        .orders_grpc
        .control
        .set_error_rate(1.0, FaultKind::Grpc(tonic::Code::Unavailable));
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let request = GetOrderRequest {
        order_id: seed::FIRST_ORDER_ID.to_string(),
    };
    assert_eq!(
        client.get_order(request.clone()).await.unwrap_err().code(),
        tonic::Code::Unavailable
    );
    assert_eq!(
        mocks.orders_grpc.control.requests()[0].grpc_status,
        Some(tonic::Code::Unavailable)
    );
    mocks
        .orders_grpc
        .control
        .set_error_rate(0.0, FaultKind::Grpc(tonic::Code::Unavailable));
    assert!(client.get_order(request).await.is_ok());
}

#[tokio::test]
async fn down_refuses_connections_until_up_again() {
    let mocks = start_mocks().await;
    let service = &mocks.users;
    let client = http();
    let path = url(service, "/healthz");
    assert_eq!(
        client.get(&path).send().await.unwrap().status(),
        200,
        "a pooled connection exists"
    );
    service.control.set_down(true).await;
    assert!(service.control.is_down());
    let refused = tokio::net::TcpStream::connect(service.addr)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(
        client.get(&path).send().await.is_err(),
        "the pooled connection was closed too"
    );
    service.control.set_down(false).await;
    assert_eq!(client.get(&path).send().await.unwrap().status(), 200);
    assert_eq!(
        http()
            .get(url(&mocks.products, "/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "others stayed up"
    );
}

#[tokio::test]
async fn down_cuts_a_running_grpc_stream() {
    let mocks = start_mocks().await;
    let mut client = grpc_client(&mocks.orders_grpc).await;
    let request = mock_backends::proto::WatchOrderRequest {
        order_id: seed::PENDING_ORDER_ID.to_string(),
    };
    let mut updates = client.watch_order(request).await.unwrap().into_inner();
    mocks.orders_grpc.control.set_down(true).await;
    assert!(
        within("the stream to break", updates.message())
            .await
            .is_err()
    );
    let records = mocks.orders_grpc.control.requests();
    assert_eq!(records[0].outcome, Outcome::Cancelled);
}

#[tokio::test]
async fn services_start_alone_and_record_separately() {
    let store = Arc::new(Store::seeded());
    let mut instances = Vec::new();
    for _ in 0..3 {
        let addr = "127.0.0.1:0".parse().unwrap();
        instances.push(
            start_service(
                ServiceKind::Users,
                addr,
                Arc::clone(&store),
                Faults::none_for(ServiceKind::Users),
            )
            .await
            .unwrap(),
        );
    }
    for (i, instance) in instances.iter().enumerate() {
        for _ in 0..=i {
            http()
                .get(url(
                    instance,
                    &format!("/v1/users/{}", seed::FIRST_CUSTOMER_ID),
                ))
                .send()
                .await
                .unwrap();
        }
    }
    let counts: Vec<usize> = instances
        .iter()
        .map(|i| i.control.request_count())
        .collect();
    assert_eq!(counts, [1, 2, 3]);
    instances[0].control.clear_requests();
    assert_eq!(instances[0].control.request_count(), 0);
    let addr = instances[1].addr;
    instances.remove(1).shutdown().await;
    let refused = tokio::net::TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn initial_faults_and_seed_latencies_apply_from_the_start() {
    let mut options = mock_backends::MockOptions::ephemeral().with_seed_latencies();
    options.faults.payments.down = true;
    let mocks = mock_backends::start_all(options).await.unwrap();
    assert_eq!(
        mocks.users.control.faults().latency,
        Duration::from_millis(30)
    );
    assert!(
        tokio::net::TcpStream::connect(mocks.payments.addr)
            .await
            .is_err()
    );
    http()
        .get(url(&mocks.orders, "/v1/orders?page_size=1"))
        .send()
        .await
        .unwrap();
    assert!(duration(&mocks.orders.control.requests()[0]) >= Duration::from_millis(50));
    mocks.payments.control.set_down(false).await;
    assert_eq!(
        http()
            .get(url(&mocks.payments, "/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_client_leaving_during_the_delay_is_recorded_as_cancelled() {
    let mocks = start_mocks().await;
    let control = &mocks.users.control;
    control.set_latency(Duration::from_secs(30), Duration::ZERO);
    for client in [http(), tests::mocks::h2c()] {
        control.clear_requests();
        let request = tokio::spawn(client.get(url(&mocks.users, "/v1/users")).send());
        within(
            "the request to arrive",
            control.wait_for_requests(|r| !r.is_empty()),
        )
        .await;
        request.abort();
        drop(client);
        let records = within(
            "the cancellation",
            control.wait_for_requests(|r| r[0].outcome != Outcome::InFlight),
        )
        .await;
        assert_eq!(records[0].outcome, Outcome::Cancelled);
    }
}
