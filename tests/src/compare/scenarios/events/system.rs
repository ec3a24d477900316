//! The system of the anti-pattern comparisons: service A (the orders
//! mock, with the seed's 50 ms), consumers B and C (the inventory and
//! notification subscribers, 40 and 30 ms of processing per event), all
//! on a runtime of their own in this process, so that the timestamps they
//! record share the load generator's monotonic clock; and a gateway child
//! process on an embedded store serving every route both comparisons
//! use: the synchronous chain A→B→C (a sequential composed route), A's
//! route emitting `OrderPlaced` to a topic B and C subscribe to, the
//! topic's publish route, and a synchronous and an `async:` route to A.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mock_backends::{
    Faults, ServiceHandle, ServiceKind, Store, SubscriberFaults, SubscriberHandle, SubscriberKind,
    SubscriberOptions, start_service, start_subscriber,
};

use crate::compare::gateway_process::GatewayProcess;
use crate::compare::scenarios::MocksRuntime;

/// The synchronous chain: `POST` runs A, then B, then C, one at a time.
pub const CHAIN_PATH: &str = "/compare/chain";
/// A's route (`POST /v1/orders`), emitting `OrderPlaced` on a 201.
pub const EMIT_PATH: &str = "/compare/orders";
/// The topic's publish route.
pub const PUBLISH_PATH: &str = "/compare/events/orders";
/// A synchronous proxy route to A.
pub const SYNC_PATH: &str = "/compare/sync/orders";
/// An `async:` route to A (202 Accepted, delivered later).
pub const ASYNC_PATH: &str = "/compare/async/orders";
/// The body field the async route orders by (`order_key`).
pub const LANE_FIELD: &str = "lane";

/// What B and C spend on each event they are handed. The seed gives the
/// two services no latency of their own; they take those of the services
/// owning what they act on: inventory the products' 40 ms, notification
/// the users' (customers') 30 ms.
pub fn processing(kind: SubscriberKind) -> Duration {
    match kind {
        SubscriberKind::Inventory => ServiceKind::Products.seed_latency(),
        _ => ServiceKind::Users.seed_latency(),
    }
}

/// The running mocks and gateway; dropping it stops them.
pub struct System {
    /// Service A.
    pub orders: ServiceHandle,
    /// Consumer B.
    pub inventory: SubscriberHandle,
    /// Consumer C.
    pub notification: SubscriberHandle,
    pub gateway: GatewayProcess,
    runtime: MocksRuntime,
}

impl System {
    /// Starts the mocks, then `program --serve-gateway` on a config (and
    /// an embedded store) written into `dir`.
    pub async fn start(program: &Path, dir: &Path) -> Result<System, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("compare-events-mocks")
            .enable_all()
            .build()
            .map_err(|e| format!("mocks runtime: {e}"))?;
        let runtime = MocksRuntime(Some(runtime));
        let on = runtime.0.as_ref().ok_or("no mocks runtime")?;
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let faults = Faults {
            latency: ServiceKind::OrdersRest.seed_latency(),
            ..Faults::none_for(ServiceKind::OrdersRest)
        };
        let orders = on
            .spawn(start_service(
                ServiceKind::OrdersRest,
                any_port,
                Arc::new(Store::seeded()),
                faults,
            ))
            .await
            .map_err(|e| format!("orders mock: {e}"))?
            .map_err(|e| format!("orders mock: {e}"))?;
        let subscriber = |kind: SubscriberKind| {
            let options = SubscriberOptions {
                publish_url: None,
                faults: SubscriberFaults {
                    delay_ms: processing(kind).as_millis() as u64,
                    ..SubscriberFaults::default()
                },
            };
            on.spawn(start_subscriber(kind, any_port, options))
        };
        let inventory = subscriber(SubscriberKind::Inventory)
            .await
            .map_err(|e| format!("inventory mock: {e}"))?
            .map_err(|e| format!("inventory mock: {e}"))?;
        let notification = subscriber(SubscriberKind::Notification)
            .await
            .map_err(|e| format!("notification mock: {e}"))?
            .map_err(|e| format!("notification mock: {e}"))?;
        let data = dir.join("antipatterns-data");
        let _ = std::fs::remove_dir_all(&data);
        let yaml = config(&data, &orders.url(), &inventory.url(), &notification.url());
        let path = dir.join("routes-antipatterns.yaml");
        std::fs::write(&path, yaml).map_err(|e| format!("write {}: {e}", path.display()))?;
        let gateway = GatewayProcess::start(program, &path, &dir.join("antipatterns.output.log"))
            .map_err(|e| e.to_string())?;
        Ok(System {
            orders,
            inventory,
            notification,
            gateway,
            runtime,
        })
    }

    /// `http://gateway{path}`.
    pub fn uri(&self, path: &str) -> http::Uri {
        format!("{}{path}", self.gateway.base())
            .parse()
            .expect("a valid URI")
    }

    /// Takes A down (its listener closed: connections are refused) or
    /// brings it back on the same port, on the mocks' runtime (where its
    /// new listener then runs).
    pub async fn set_orders_down(&self, down: bool) -> Result<(), String> {
        let runtime = self.runtime.0.as_ref().ok_or("no mocks runtime")?;
        let control = self.orders.control.clone();
        runtime
            .spawn(async move { control.try_set_down(down).await })
            .await
            .map_err(|e| format!("orders mock: {e}"))?
            .map_err(|e| format!("orders mock: {e}"))
    }

    /// Forgets what A, B and C recorded.
    pub fn clear_recordings(&self) {
        self.orders.control.clear_requests();
        self.inventory.clear();
        self.notification.clear();
    }
}

/// A new order for the seed's first customer and product (A's input).
pub fn new_order() -> serde_json::Value {
    serde_json::json!({
        "customer_id": mock_backends::seed::FIRST_CUSTOMER_ID,
        "items": [{"product_id": mock_backends::seed::FIRST_PRODUCT_ID, "quantity": 1, "unit_price": 29.99}],
    })
}

/// `OrderPlaced` to consumer `call` of the chain: the CloudEvents binary
/// binding the gateway's deliveries use, built from A's answer; `after`
/// names the call it must wait for (its answer is in a header), which
/// makes the chain A→B→C.
fn chain_call(backend: &str, after: &str) -> String {
    format!(
        "          backend: {backend}
          method: POST
          path: /events
          headers:
            ce-specversion: \"1.0\"
            ce-id: \"{{a.id}}\"
            ce-type: OrderPlaced
            ce-source: /orders-service
            ce-subject: \"{{a.id}}\"
            x-after: \"{{{after}}}\"
          body: {{ order_id: \"{{a.id}}\", customer_id: \"{{a.customer_id}}\", total: \"{{a.total}}\" }}
"
    )
}

fn config(data_dir: &Path, orders: &str, inventory: &str, notification: &str) -> String {
    let order = new_order();
    let customer = &order["customer_id"];
    let product = &order["items"][0]["product_id"];
    let b = chain_call("inventory", "a.id");
    let c = chain_call("notification", "b.received");
    format!(
        "listen: 127.0.0.1:0
admin: 127.0.0.1:0
log:
  level: warn
metrics:
  enabled: false
backends:
  orders: {{ url: \"{orders}\" }}
  orders-sync: {{ url: \"{orders}\" }}
  orders-async: {{ url: \"{orders}\" }}
  inventory: {{ url: \"{inventory}\" }}
  notification: {{ url: \"{notification}\" }}
events:
  store: {{ kind: embedded, data_dir: \"{data}\" }}
  topics:
    orders: {{ default_source: /orders-service }}
  subscriptions:
    - {{ name: inventory, topic: orders, backend: inventory, path: /events, types: [OrderPlaced] }}
    - {{ name: notification, topic: orders, backend: notification, path: /events, types: [OrderPlaced] }}
routes:
  - path: {CHAIN_PATH}
    method: POST
    timeout: 5s
    compose:
      sequential: true
      calls:
        a:
          backend: orders
          method: POST
          path: /v1/orders
          body: {{ customer_id: \"{customer}\", items: [{{ product_id: \"{product}\", quantity: 1, unit_price: 29.99 }}] }}
        b:
{b}        c:
{c}  - path: {EMIT_PATH}
    method: POST
    backend: orders
    rewrite: {{ template: /v1/orders }}
    emit:
      - topic: orders
        type: OrderPlaced
        statuses: [201]
        subject: \"{{response.id}}\"
        source: /orders-service
        data: {{ order_id: \"{{response.id}}\", customer_id: \"{{response.customer_id}}\", total: \"{{response.total}}\" }}
  - path: {PUBLISH_PATH}
    publish: orders
  - path: {SYNC_PATH}
    method: POST
    backend: orders-sync
    rewrite: {{ template: /v1/orders }}
  - path: {ASYNC_PATH}
    method: POST
    backend: orders-async
    rewrite: {{ template: /v1/orders }}
    async:
      order_key: \"{{request.{LANE_FIELD}}}\"
      backoff: {{ base: 100ms, max: 1s }}
      max_attempts: 50
",
        data = data_dir.display(),
        customer = customer.as_str().unwrap_or_default(),
        product = product.as_str().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_is_a_valid_gateway_config_with_every_route() {
        let yaml = config(
            Path::new("/tmp/antipatterns"),
            "http://127.0.0.1:1",
            "http://127.0.0.1:2",
            "http://127.0.0.1:3",
        );
        let config = gateway::config::load_str(&yaml, "routes.yaml")
            .unwrap_or_else(|errors| panic!("{errors}\n{yaml}"));
        for path in [CHAIN_PATH, EMIT_PATH, PUBLISH_PATH, SYNC_PATH, ASYNC_PATH] {
            assert!(
                config.routes.iter().any(|route| route.name.ends_with(path)),
                "no route {path}"
            );
        }
        let events = config.events.as_ref().expect("an event bus");
        assert_eq!(events.subscriptions.len(), 2);
    }

    #[test]
    fn consumers_take_the_seed_latencies_of_what_they_act_on() {
        assert_eq!(
            processing(SubscriberKind::Inventory),
            Duration::from_millis(40)
        );
        assert_eq!(
            processing(SubscriberKind::Notification),
            Duration::from_millis(30)
        );
    }
}
