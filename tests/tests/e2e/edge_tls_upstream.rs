//! Upstream TLS through TLS-terminating mock upstreams ([`TlsFront`] in
//! front of the real mock backends): `https://` backends trusted through
//! a configured CA, the SNI name sent (the URL's host, or
//! `tls.server_name`), a client certificate presented, gRPC over TLS
//! (h2 by ALPN) from a tonic client that itself reaches the gateway over
//! TLS, and a backend whose certificate is not trusted (502, nothing
//! internal in the body).

use mock_backends::proto::GetOrderRequest;
use mock_backends::proto::order_service_client::OrderServiceClient;
use mock_backends::seed;
use serde_json::Value;
use tests::gateway::TestGateway;
use tests::tls::{Handshake, TestCa, TlsFront, client_config, reqwest_client};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

#[tokio::test]
async fn https_backends_get_sni_a_client_certificate_and_grpc_over_h2() {
    let mocks = mock_backends::start_all(mock_backends::MockOptions::ephemeral())
        .await
        .unwrap();
    let (backend_ca, client_ca, edge_ca) = (
        TestCa::new("backend CA"),
        TestCa::new("gateway-as-client CA"),
        TestCa::new("edge CA"),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    backend_ca.write(dir.path(), "backend-ca.pem");
    client_ca.client_cert("gateway").write(dir.path(), "client");
    edge_ca
        .server_cert(&["gateway.test"])
        .write(dir.path(), "edge");
    let rest_cert = backend_ca.server_cert(&["orders.internal", "localhost"]);
    let grpc_cert = backend_ca.server_cert(&["grpc.internal"]);
    let http1: &[&[u8]] = &[b"http/1.1"];
    let rest = TlsFront::start(mocks.orders.addr, &rest_cert, Some(&client_ca), http1).await;
    let by_host = TlsFront::start(mocks.orders.addr, &rest_cert, None, http1).await;
    let grpc = TlsFront::start(mocks.orders_grpc.addr, &grpc_cert, None, &[b"h2"]).await;
    let yaml = format!(
        r#"
server:
  tls:
    certificates:
      - {{ cert: {path}/edge.pem, key: {path}/edge.key }}
backends:
  orders-mtls:
    url: https://127.0.0.1:{rest}
    tls:
      ca: {path}/backend-ca.pem
      server_name: orders.internal
      cert: {path}/client.pem
      key: {path}/client.key
  orders-by-host:
    url: https://localhost:{by_host}
    tls: {{ ca: {path}/backend-ca.pem }}
  orders-untrusted:
    url: https://127.0.0.1:{rest}
    tls: {{ server_name: orders.internal }}
  orders-grpc:
    url: https://127.0.0.1:{grpc}
    protocol: h2
    tls: {{ ca: {path}/backend-ca.pem, server_name: grpc.internal }}
grpc:
  protos: [proto/orders.proto]
  include: [proto]
  annotations:
    - backend: orders-grpc
      prefix: /grpc
routes:
  - {{ path: "/mtls/{{*rest}}", method: GET, backend: orders-mtls, rewrite: {{ strip_prefix: /mtls }} }}
  - {{ path: "/host/{{*rest}}", method: GET, backend: orders-by-host, rewrite: {{ strip_prefix: /host }} }}
  - {{ path: "/untrusted/{{*rest}}", method: GET, backend: orders-untrusted, rewrite: {{ strip_prefix: /untrusted }} }}
  - path: "/orders.OrderService/{{*rpc}}"
    method: POST
    grpc: {{ backend: orders-grpc, passthrough: true }}
"#,
        rest = rest.addr.port(),
        by_host = by_host.addr.port(),
        grpc = grpc.addr.port(),
    );
    let gateway = TestGateway::start_with(mocks, &yaml).await;
    let addr = gateway.gateway.addr;
    let client = reqwest_client(
        client_config(&edge_ca, &[b"h2"], None),
        &["gateway.test"],
        addr,
    );
    let base = format!("https://gateway.test:{}", addr.port());
    let order = seed::FIRST_ORDER_ID;

    let response = client
        .get(format!("{base}/mtls/v1/orders/{order}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], order.to_string());
    let seen = rest.handshakes();
    assert_eq!(
        seen,
        vec![Handshake {
            sni: Some("orders.internal".to_owned()),
            alpn: Some(b"http/1.1".to_vec()),
            client_cert: true,
        }]
    );

    let response = client
        .get(format!("{base}/host/v1/orders/{order}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = by_host.handshakes();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].sni.as_deref(), Some("localhost"));
    assert!(!seen[0].client_cert);

    // Transcoded REST → gRPC over TLS (h2 by ALPN).
    let response = client
        .get(format!("{base}/grpc/v1/orders/{order}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], order.to_string());

    // A native gRPC client over TLS to the gateway, passed through to
    // the gRPC backend over TLS.
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&edge_ca.cert_pem))
        .domain_name("gateway.test");
    let channel = Channel::from_shared(format!("https://127.0.0.1:{}", addr.port()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let reply = OrderServiceClient::new(channel)
        .get_order(GetOrderRequest {
            order_id: order.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.id, order.to_string());
    let seen = grpc.handshakes();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(
        |h| h.sni.as_deref() == Some("grpc.internal") && h.alpn.as_deref() == Some(&b"h2"[..])
    ));

    // The system roots do not trust the test CA: the handshake fails,
    // and the client learns nothing of why.
    let before = gateway.mocks.orders.control.requests().len();
    let response = client
        .get(format!("{base}/untrusted/v1/orders/{order}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body = response.text().await.unwrap();
    assert!(body.contains("UPSTREAM_UNAVAILABLE"), "{body}");
    for internal in [
        "certificate",
        "Certificate",
        "127.0.0.1",
        "orders-untrusted",
        "tls",
    ] {
        assert!(!body.contains(internal), "{internal} leaked: {body}");
    }
    assert_eq!(gateway.mocks.orders.control.requests().len(), before);
}
