//! TLS session resumption on the listener: a returning client resumes by
//! ticket (TLS 1.3, and TLS 1.2 clients that ask for one) or by session
//! id, as `session_tickets` and `session_cache` allow; a renewed
//! certificate keeps sessions; a change of client-certificate settings
//! does not, so a session made without a certificate never gets in where
//! one is now required.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use mock_backends::seed;
use rustls::{ClientConfig, HandshakeKind, SupportedProtocolVersion};
use tests::gateway::TestGateway;
use tests::tls::{Issued, TestCa, connect, provider, site_yaml};

const TLS12: &SupportedProtocolVersion = &rustls::version::TLS12;
const TLS13: &SupportedProtocolVersion = &rustls::version::TLS13;

fn yaml(dir: &std::path::Path, tls_keys: &str) -> String {
    site_yaml(dir, tls_keys, "")
}

/// A client trusting `ca`, speaking only `version`, with rustls's default
/// client-side resumption (an in-memory store that asks for tickets),
/// shared by every connection made with a clone of it.
fn client(ca: &TestCa, version: &'static SupportedProtocolVersion) -> ClientConfig {
    client_with(ca, version, None)
}

fn client_with(
    ca: &TestCa,
    version: &'static SupportedProtocolVersion,
    identity: Option<&Issued>,
) -> ClientConfig {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(ca.roots());
    let mut config = match identity {
        Some(issued) => builder
            .with_client_auth_cert(vec![issued.cert_der.clone()], issued.key_der())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// One connection: its handshake kind and the status of one GET through
/// it (reading the response also reads the tickets TLS 1.3 sends after
/// the handshake). `Err` when the handshake or the request failed.
async fn visit(
    gateway: &TestGateway,
    config: &ClientConfig,
) -> Result<(HandshakeKind, u16), String> {
    let stream = connect(gateway.gateway.addr, "site.test", config.clone())
        .await
        .map_err(|error| error.to_string())?;
    let kind = stream.get_ref().1.handshake_kind().ok_or("no handshake")?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| error.to_string())?;
    tokio::spawn(connection);
    let request = http::Request::get(format!("/v1/orders/{}", seed::FIRST_ORDER_ID))
        .header("host", "site.test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    response
        .into_body()
        .collect()
        .await
        .map_err(|error| error.to_string())?;
    Ok((kind, status))
}

/// The handshake kind of a client's second visit, after a first one.
async fn second_visit(gateway: &TestGateway, config: &ClientConfig) -> HandshakeKind {
    let first = visit(gateway, config).await.unwrap();
    assert_eq!(first, (HandshakeKind::Full, 200));
    let (kind, status) = visit(gateway, config).await.unwrap();
    assert_eq!(status, 200);
    kind
}

async fn site(ca: &TestCa, dir: &std::path::Path, tls_keys: &str) -> TestGateway {
    ca.server_cert(&["site.test"]).write(dir, "site");
    TestGateway::start(&yaml(dir, tls_keys)).await
}

#[tokio::test]
async fn a_returning_client_resumes_by_ticket_or_by_id_as_configured() {
    let ca = TestCa::new("resumption CA");
    let dir = tempfile::tempdir().unwrap();

    // The defaults: tickets, and a cache for TLS 1.2 clients without them.
    let gateway = site(&ca, dir.path(), "").await;
    for version in [TLS13, TLS12] {
        let kind = second_visit(&gateway, &client(&ca, version)).await;
        assert_eq!(kind, HandshakeKind::Resumed, "{version:?}");
    }
    drop(gateway);

    // No cache: only a ticket can resume a session, so these are tickets.
    let gateway = site(&ca, dir.path(), "    session_cache: 0").await;
    for version in [TLS13, TLS12] {
        let kind = second_visit(&gateway, &client(&ca, version)).await;
        assert_eq!(kind, HandshakeKind::Resumed, "{version:?}");
    }
    drop(gateway);

    // Neither: every visit is a full handshake.
    let gateway = site(
        &ca,
        dir.path(),
        "    session_tickets: false\n    session_cache: 0",
    )
    .await;
    for version in [TLS13, TLS12] {
        let kind = second_visit(&gateway, &client(&ca, version)).await;
        assert_eq!(kind, HandshakeKind::Full, "{version:?}");
    }
    drop(gateway);

    // No tickets, the default cache: TLS 1.3 resumes by id.
    let gateway = site(&ca, dir.path(), "    session_tickets: false").await;
    let kind = second_visit(&gateway, &client(&ca, TLS13)).await;
    assert_eq!(kind, HandshakeKind::Resumed);
}

#[tokio::test]
async fn a_renewed_certificate_keeps_sessions() {
    let ca = TestCa::new("renewal CA");
    let dir = tempfile::tempdir().unwrap();
    let gateway = site(&ca, dir.path(), "").await;
    let config = client(&ca, TLS13);
    assert_eq!(
        visit(&gateway, &config).await.unwrap(),
        (HandshakeKind::Full, 200)
    );
    let renewed = ca.server_cert(&["site.test"]);
    renewed.write_to(&dir.path().join("site.pem"), &dir.path().join("site.key"));
    gateway.assert_reloaded(2).await;
    assert_eq!(
        visit(&gateway, &config).await.unwrap(),
        (HandshakeKind::Resumed, 200)
    );
}

/// rustls resumes a session without asking for a client certificate
/// again; were the ticket keys kept across this reload, the client that
/// came in without a certificate would be let in after `required`.
#[tokio::test]
async fn a_session_made_before_a_client_auth_change_is_not_resumed() {
    let (site_ca, clients_ca) = (TestCa::new("site CA"), TestCa::new("clients CA"));
    let dir = tempfile::tempdir().unwrap();
    clients_ca.write(dir.path(), "clients-ca.pem");
    let auth = |mode: &str| {
        format!(
            "    client_auth:\n      ca: {}/clients-ca.pem\n      mode: {mode}",
            dir.path().display()
        )
    };
    let gateway = site(&site_ca, dir.path(), &auth("optional")).await;
    let anonymous = client(&site_ca, TLS13);
    let tls12_anonymous = client(&site_ca, TLS12);
    for config in [&anonymous, &tls12_anonymous] {
        // A session, resumable while the settings stay as they are.
        assert_eq!(second_visit(&gateway, config).await, HandshakeKind::Resumed);
    }
    let served = gateway.mocks.orders.control.requests().len();
    assert_eq!(served, 4);

    gateway.update_config(&yaml(dir.path(), &auth("required")));
    gateway.assert_reloaded(2).await;
    for config in [&anonymous, &tls12_anonymous] {
        let refused = visit(&gateway, config).await;
        assert!(refused.is_err(), "a resumed session got in: {refused:?}");
    }
    assert_eq!(gateway.mocks.orders.control.requests().len(), served);

    // A client with a certificate gets in, and resumes from then on.
    let member = clients_ca.client_cert("member");
    let with_certificate = client_with(&site_ca, TLS13, Some(&member));
    assert_eq!(
        second_visit(&gateway, &with_certificate).await,
        HandshakeKind::Resumed
    );
}
