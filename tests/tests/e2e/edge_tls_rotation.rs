//! Certificate rotation and client certificates (mTLS) on the listener:
//! a replaced certificate file serves the next handshakes while an open
//! connection keeps going; a bad one is rejected with its position and
//! the running certificate keeps serving; a certificate in a Kubernetes
//! Secret volume rotates when the volume is updated; a client certificate
//! is required or optional against the configured CA.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use mock_backends::seed;
use serde_json::Value;
use tests::config_map;
use tests::gateway::{TestGateway, eventually};
use tests::tls::{Issued, TestCa, client_config, connect, peer_leaf, reqwest_client, site_yaml};

fn yaml(dir: &std::path::Path, client_auth: &str) -> String {
    site_yaml(dir, client_auth, "")
}

/// The config of [`yaml`] with the certificate and key under other names
/// (`tls.crt` / `tls.key`, as cert-manager writes a Secret).
fn yaml_with(cert: &std::path::Path, key: &std::path::Path) -> String {
    yaml(std::path::Path::new("/unused"), "")
        .replace("/unused/site.pem", &cert.display().to_string())
        .replace("/unused/site.key", &key.display().to_string())
}

fn order_path() -> String {
    format!("/v1/orders/{}", seed::FIRST_ORDER_ID)
}

#[tokio::test]
async fn a_rotated_certificate_serves_new_handshakes_and_a_bad_one_keeps_the_old() {
    let ca = TestCa::new("rotation CA");
    let dir = tempfile::tempdir().unwrap();
    let first = ca.server_cert(&["site.test"]);
    let (cert_path, key_path) = first.write(dir.path(), "site");
    let gateway = TestGateway::start(&yaml(dir.path(), "")).await;
    let addr = gateway.gateway.addr;
    let config = || client_config(&ca, &[b"http/1.1"], None);

    // An open HTTP/1.1 keep-alive connection made with the first certificate.
    let stream = connect(addr, "site.test", config()).await.unwrap();
    assert_eq!(peer_leaf(&stream), first.cert_der);
    let (mut open, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    assert_eq!(get(&mut open).await, 200);

    let second = ca.server_cert(&["site.test"]);
    second.write_to(&cert_path, &key_path);
    gateway.assert_reloaded(2).await;
    let fresh = connect(addr, "site.test", config()).await.unwrap();
    assert_eq!(peer_leaf(&fresh), second.cert_der);
    // The connection opened before the rotation was not dropped.
    assert_eq!(get(&mut open).await, 200);

    // A bad certificate is rejected, with its position; the second keeps serving.
    std::fs::write(&cert_path, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    eventually("the bad certificate is rejected", || async {
        config_report(&gateway).await["rejected_reloads"] == 1
    })
    .await;
    let report = config_report(&gateway).await;
    let problem = &report["last_reload_error"][0];
    assert_eq!(problem["line"], 5, "{report}");
    assert_eq!(problem["column"], 15, "{report}");
    let message = problem["message"].as_str().unwrap();
    assert!(
        message.starts_with("server.tls.certificates[0].cert:"),
        "{message}"
    );
    assert_eq!(gateway.gateway.version(), 2);
    let still = connect(addr, "site.test", config()).await.unwrap();
    assert_eq!(peer_leaf(&still), second.cert_der);
    assert_eq!(get(&mut open).await, 200);

    // A certificate whose key is another one's is refused too.
    let third = ca.server_cert(&["site.test"]);
    std::fs::write(&cert_path, &third.cert_pem).unwrap();
    eventually("the mismatched pair is rejected", || async {
        config_report(&gateway).await["rejected_reloads"] == 2
    })
    .await;
    let report = config_report(&gateway).await;
    let message = report["last_reload_error"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("does not belong to the certificate"),
        "{message}"
    );
    let still = connect(addr, "site.test", config()).await.unwrap();
    assert_eq!(peer_leaf(&still), second.cert_der);
}

async fn get(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
) -> http::StatusCode {
    let request = http::Request::get(order_path())
        .header("host", "site.test")
        .body(Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    response.into_body().collect().await.unwrap();
    status
}

async fn config_report(gateway: &TestGateway) -> Value {
    reqwest::get(gateway.admin_url("/config"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn client_certificates_are_required_or_optional_against_the_ca() {
    let (site_ca, clients_ca, stranger_ca) = (
        TestCa::new("site CA"),
        TestCa::new("clients CA"),
        TestCa::new("stranger CA"),
    );
    let dir = tempfile::tempdir().unwrap();
    site_ca
        .server_cert(&["site.test"])
        .write(dir.path(), "site");
    clients_ca.write(dir.path(), "clients-ca.pem");
    let auth = |mode: &str| {
        format!(
            "    client_auth:\n      ca: {}/clients-ca.pem\n      mode: {mode}",
            dir.path().display()
        )
    };
    let gateway = TestGateway::start(&yaml(dir.path(), &auth("required"))).await;
    let addr = gateway.gateway.addr;
    let url = format!("https://site.test:{}{}", addr.port(), order_path());
    let member = clients_ca.client_cert("member");
    let stranger = stranger_ca.client_cert("stranger");
    let status = |identity: Option<tests::tls::Issued>| {
        let client = reqwest_client(
            client_config(&site_ca, &[b"h2"], identity.as_ref()),
            &["site.test"],
            addr,
        );
        let url = url.clone();
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(status(Some(member.clone())).await.unwrap(), 200);
    assert!(status(None).await.is_err(), "no certificate was let in");
    assert!(
        status(Some(stranger.clone())).await.is_err(),
        "a stranger's certificate was let in"
    );
    let refused_before = gateway.mocks.orders.control.requests().len();
    assert_eq!(refused_before, 1);

    // Optional: a client without a certificate is let in, a bad one is not.
    gateway.update_config(&yaml(dir.path(), &auth("optional")));
    gateway.assert_reloaded(2).await;
    assert_eq!(status(None).await.unwrap(), 200);
    assert_eq!(status(Some(member)).await.unwrap(), 200);
    assert!(
        status(Some(stranger)).await.is_err(),
        "a stranger's certificate was let in"
    );
    assert_eq!(gateway.mocks.orders.control.requests().len(), 3);
}

/// A certificate and its key as cert-manager names them in a Secret.
fn secret(issued: &Issued) -> [(&'static str, &str); 2] {
    [("tls.crt", &issued.cert_pem), ("tls.key", &issued.key_pem)]
}

/// cert-manager renews a certificate by updating its Secret; Kubernetes
/// then swaps the volume's `..data` link, and the names `tls.crt` and
/// `tls.key` in the watched directory never change.
#[tokio::test]
async fn a_certificate_in_a_kubernetes_secret_volume_rotates_on_update() {
    let ca = TestCa::new("secret CA");
    let dir = tempfile::tempdir().unwrap();
    let first = ca.server_cert(&["site.test"]);
    let mounted = config_map::mount(dir.path(), &secret(&first));
    let gateway = TestGateway::start(&yaml_with(&mounted[0], &mounted[1])).await;
    let addr = gateway.gateway.addr;
    let config = || client_config(&ca, &[b"http/1.1"], None);
    let stream = connect(addr, "site.test", config()).await.unwrap();
    assert_eq!(peer_leaf(&stream), first.cert_der);

    let second = ca.server_cert(&["site.test"]);
    config_map::update(dir.path(), &secret(&second));
    gateway.assert_reloaded(2).await;
    let fresh = connect(addr, "site.test", config()).await.unwrap();
    assert_eq!(peer_leaf(&fresh), second.cert_der);
}

/// `gateway_tls_certificate_expiry_timestamp_seconds` reads the served
/// certificate's notAfter from the running config: a renewal shows at
/// once.
#[tokio::test]
async fn the_expiry_metric_follows_the_served_certificate() {
    let ca = TestCa::new("expiry CA");
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = ca
        .server_cert_expiring(&["site.test"], (2031, 5, 17))
        .write(dir.path(), "site");
    let gateway = TestGateway::start(&yaml(dir.path(), "")).await;
    let labels = [
        ("certificate", cert_path.to_str().unwrap()),
        ("server_name", "site.test"),
    ];
    let day = |year, month, day| {
        chrono::NaiveDate::from_ymd_opt(year, month, day)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp() as f64
    };
    let expiry = |metrics: &tests::metrics::Metrics| {
        metrics.value("gateway_tls_certificate_expiry_timestamp_seconds", &labels)
    };
    let metrics = tests::metrics::scrape(&gateway).await;
    assert_eq!(expiry(&metrics), day(2031, 5, 17));

    ca.server_cert_expiring(&["site.test"], (2032, 1, 2))
        .write_to(&cert_path, &key_path);
    gateway.assert_reloaded(2).await;
    let metrics = tests::metrics::scrape(&gateway).await;
    assert_eq!(expiry(&metrics), day(2032, 1, 2));
}
