//! Dependency order and overlap, proven from the mocks' recorded arrival
//! and finish instants (never from wall-clock limits).

use std::time::Duration;

use mock_backends::seed::FIRST_ORDER_ID;
use tests::gateway::TestGateway;

use super::compose_support::{only, order_details};

async fn compose_once(gw: &TestGateway) {
    let url = gw.url(&format!("/v1/orders/{FIRST_ORDER_ID}/details"));
    let response = gw.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

fn slow_everything(gw: &TestGateway) {
    for service in [
        &gw.mocks.orders,
        &gw.mocks.users,
        &gw.mocks.products,
        &gw.mocks.payments,
    ] {
        service
            .control
            .set_latency(Duration::from_millis(40), Duration::ZERO);
    }
}

#[tokio::test]
async fn dependents_start_after_their_input_and_independent_calls_overlap() {
    let gw = TestGateway::start(&order_details("", "")).await;
    slow_everything(&gw);
    compose_once(&gw).await;
    let order = only(&gw.mocks.orders.control.requests(), "orders");
    let customer = only(&gw.mocks.users.control.requests(), "users");
    let products = only(&gw.mocks.products.control.requests(), "products");
    let payment = only(&gw.mocks.payments.control.requests(), "payments");
    let order_done = order.finished_at.expect("order finished");
    assert!(
        customer.arrived_at >= order_done,
        "customer waits for order"
    );
    assert!(
        products.arrived_at >= order_done,
        "products waits for order"
    );
    assert!(
        payment.overlaps(&order),
        "payment needs only {{id}}: it runs next to order"
    );
    assert!(
        customer.overlaps(&products),
        "customer and products run together"
    );
    assert!(
        payment.arrived_at < order_done,
        "payment did not wait for order"
    );
}

#[tokio::test]
async fn sequential_runs_one_call_at_a_time_in_dependency_order() {
    let gw = TestGateway::start(
        &order_details("", "").replace("    compose:\n", "    compose:\n      sequential: true\n"),
    )
    .await;
    slow_everything(&gw);
    compose_once(&gw).await;
    let mut all: Vec<_> = [
        &gw.mocks.orders,
        &gw.mocks.users,
        &gw.mocks.products,
        &gw.mocks.payments,
    ]
    .iter()
    .map(|service| only(&service.control.requests(), "service"))
    .collect();
    all.sort_by_key(|request| request.arrived_at);
    assert!(
        all[0].path.starts_with("/v1/orders/"),
        "order runs first: {:?}",
        all[0].path
    );
    for pair in all.windows(2) {
        let done = pair[0].finished_at.expect("finished");
        assert!(
            pair[1].arrived_at >= done,
            "{} started before {} finished",
            pair[1].path,
            pair[0].path
        );
    }
}
