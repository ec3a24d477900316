//! Shared pieces of the composition tests: the order-details route on the
//! mock backends, with knobs, and helpers over the mocks' request logs.

use mock_backends::RecordedRequest;

/// The order-details composition with the given extra keys on `payment`
/// and on the route itself; the client's `authorization` is propagated
/// to every call.
pub fn order_details(route_extra: &str, payment_extra: &str) -> String {
    format!(
        r#"
propagate:
  all:
    - propagate: {{ named: authorization }}
backends:
  orders: {{ url: $ORDERS }}
  users: {{ url: $USERS }}
  products: {{ url: $PRODUCTS }}
  payments: {{ url: $PAYMENTS }}
routes:
  - path: /v1/orders/{{id}}/details
    method: GET
{route_extra}
    compose:
      calls:
        order:    {{ backend: orders,   path: "/v1/orders/{{id}}" }}
        customer: {{ backend: users,    path: "/v1/users/{{order.customer_id}}" }}
        products: {{ backend: products, path: "/v1/products?ids={{order.items[*].product_id|join}}" }}
        payment:  {{ backend: payments, path: "/v1/payments/{{id}}" {payment_extra} }}
      response:
        order_id: "{{order.id}}"
        status: "{{order.status}}"
        customer: {{ $from: "{{customer}}", $allow: [name, email] }}
        items:
          $from: "{{order.items}}"
          $join: {{ with: "{{products.items}}", on: product_id, as: product }}
        payment: {{ $from: "{{payment}}", $allow: [status] }}
"#
    )
}

/// The only request a service received.
pub fn only(requests: &[RecordedRequest], service: &str) -> RecordedRequest {
    assert_eq!(
        requests.len(),
        1,
        "{service} received {} requests: {requests:?}",
        requests.len()
    );
    requests[0].clone()
}
