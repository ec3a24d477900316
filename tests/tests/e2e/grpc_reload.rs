//! The gRPC bridge on reload: edited protos and gRPC routes take effect;
//! a proto that does not compile is rejected with its file and line, and
//! the previous routes keep serving. The watcher watches the protos.

use mock_backends::seed;
use tests::gateway::{TestGateway, repo_path};
use tests::grpc::json_call;

const WATCH: &str = "rpc WatchOrder(WatchOrderRequest) returns (stream OrderStatusUpdate);";

fn config(proto: &str) -> String {
    format!(
        "backends:\n  orders-grpc:\n    url: $ORDERS_GRPC\n    protocol: h2c\nroutes: []\ngrpc:\n  protos: [{proto}]\n  include: [proto, .]\n  annotations:\n    - backend: orders-grpc\n      prefix: /grpc\n"
    )
}

/// orders.proto with WatchOrder annotated at `path`.
fn proto_with_watch_at(path: &str) -> String {
    let original = std::fs::read_to_string(repo_path("proto/orders.proto")).unwrap();
    let annotated = format!(
        "rpc WatchOrder(WatchOrderRequest) returns (stream OrderStatusUpdate) {{\n    option (google.api.http) = {{ get: \"{path}\" }};\n  }}"
    );
    original.replace(WATCH, &annotated)
}

async fn status_of(gateway: &TestGateway, path: &str) -> u16 {
    gateway
        .client
        .get(gateway.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn edited_protos_take_effect_and_broken_ones_are_rejected_at_their_line() {
    let gateway = TestGateway::start(&config("proto/orders.proto")).await;
    let dir = gateway.config_path().parent().unwrap().to_owned();
    let watch_v1 = format!("/grpc/v1/watch/{}", seed::DELIVERED_ORDER_ID);
    assert_eq!(
        status_of(&gateway, &watch_v1).await,
        404,
        "not annotated yet"
    );

    std::fs::write(
        dir.join("orders_v2.proto"),
        proto_with_watch_at("/v1/watch/{order_id}"),
    )
    .unwrap();
    gateway.update_config(&config("orders_v2.proto"));
    gateway.assert_reloaded(2).await;
    assert_eq!(
        status_of(&gateway, &watch_v1).await,
        200,
        "the new annotation is a route"
    );

    std::fs::write(
        dir.join("orders_v2.proto"),
        "syntax = \"proto3\";\npackage orders;\nmessage Broken {\n  strin x = 1;\n}\n",
    )
    .unwrap();
    let error = gateway.gateway.reload().await.unwrap_err().to_string();
    assert!(
        error.contains("orders_v2.proto:4:3: proto does not compile"),
        "{error}"
    );
    assert_eq!(gateway.gateway.version(), 2);
    let get = format!("/grpc/v1/orders/{}", seed::FIRST_ORDER_ID);
    let (status, _, _) = json_call(gateway.client.get(gateway.url(&get))).await;
    assert_eq!(status, 200, "the previous routes keep serving");

    std::fs::write(
        dir.join("orders_v2.proto"),
        proto_with_watch_at("/v2/watch/{order_id}"),
    )
    .unwrap();
    // A proto edit alone is a change, and the watcher sees it.
    gateway.assert_reloaded(3).await;
    assert_eq!(
        status_of(
            &gateway,
            &format!("/grpc/v2/watch/{}", seed::DELIVERED_ORDER_ID)
        )
        .await,
        200
    );
    assert_eq!(status_of(&gateway, &watch_v1).await, 404);
}
