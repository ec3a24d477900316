//! The mocks' health endpoints follow their injected state: `/healthz`
//! and `grpc.health.v1` (Check and Watch) report `set_serving`, and
//! nothing answers while the service is down.

use futures::StreamExt;
use tests::mocks::{get_status, start_mocks, url, within};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

async fn health_client(service_url: String) -> HealthClient<Channel> {
    let channel = Channel::from_shared(service_url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
}

fn ask(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

async fn check(client: &mut HealthClient<Channel>, service: &str) -> ServingStatus {
    let reply = client.check(ask(service)).await.unwrap().into_inner();
    ServingStatus::try_from(reply.status).unwrap()
}

#[tokio::test]
async fn healthz_follows_the_serving_state_while_other_routes_still_answer() {
    let mocks = start_mocks().await;
    let users = &mocks.users;
    assert_eq!(get_status(url(users, "/healthz")).await, 200);
    users.control.set_serving(false);
    assert_eq!(get_status(url(users, "/healthz")).await, 503);
    let user = format!("/v1/users/{}", mock_backends::seed::FIRST_CUSTOMER_ID);
    assert_eq!(get_status(url(users, &user)).await, 200);
    users.control.set_serving(true);
    assert_eq!(get_status(url(users, "/healthz")).await, 200);
    // Health checks are counted, never recorded.
    assert_eq!(users.control.health_check_count(), 3);
    assert_eq!(users.control.request_count(), 1);
}

#[tokio::test]
async fn grpc_health_check_reports_serving_then_not_serving() {
    let mocks = start_mocks().await;
    let orders = &mocks.orders_grpc;
    let mut client = health_client(orders.url()).await;
    assert_eq!(check(&mut client, "").await, ServingStatus::Serving);
    assert_eq!(
        check(&mut client, "orders.OrderService").await,
        ServingStatus::Serving
    );
    let unknown = client.check(ask("nope.Service")).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    orders.control.set_serving(false);
    assert_eq!(check(&mut client, "").await, ServingStatus::NotServing);
    assert_eq!(
        check(&mut client, "orders.OrderService").await,
        ServingStatus::NotServing
    );
    assert_eq!(
        orders.control.request_count(),
        0,
        "health calls are not recorded"
    );
    assert_eq!(orders.control.health_check_count(), 5);
}

#[tokio::test]
async fn grpc_health_watch_streams_each_change() {
    let mocks = start_mocks().await;
    let orders = &mocks.orders_grpc;
    let mut client = health_client(orders.url()).await;
    let mut updates = client.watch(ask("")).await.unwrap().into_inner();
    let mut next = async || {
        let reply = within("a health update", updates.next()).await;
        ServingStatus::try_from(reply.unwrap().unwrap().status).unwrap()
    };
    assert_eq!(next().await, ServingStatus::Serving);
    orders.control.set_serving(false);
    assert_eq!(next().await, ServingStatus::NotServing);
    orders.control.set_serving(true);
    assert_eq!(next().await, ServingStatus::Serving);
}

#[tokio::test]
async fn rest_services_answer_grpc_health_over_h2c_and_nothing_while_down() {
    let mocks = start_mocks().await;
    let products = &mocks.products;
    let mut client = health_client(products.url()).await;
    assert_eq!(check(&mut client, "").await, ServingStatus::Serving);
    products.control.set_down(true).await;
    // A new connection is refused (the old one was closed with the listener).
    let channel = Channel::from_shared(products.url()).unwrap().connect_lazy();
    let refused = HealthClient::new(channel).check(ask("")).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable);
    products.control.set_down(false).await;
    assert_eq!(get_status(url(products, "/healthz")).await, 200);
}
