//! `https://` backends without `tls.ca` are checked against the system's
//! trust store: a real `gateway serve` process whose store is a CA made
//! for the test (`SSL_CERT_FILE`, which the OS store reader honours as
//! OpenSSL does), in front of two TLS backends on 127.0.0.1 port 0. The
//! one certified by that CA is reached; the one certified by another CA
//! is a 502 `UPSTREAM_UNAVAILABLE` that tells the client nothing of why,
//! and it never gets a request. A store with no usable certificate
//! refuses a config that needs it (the gateway does not start, a reload
//! is refused) with a message that says which backend needs it and what
//! to do; a config that does not need it starts.

// Test-only crate: an `unwrap` that fails is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[path = "support/serve.rs"]
mod serve;
use serve::{Serve, serve_command};

/// A certificate authority made for the test.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A certificate for `localhost` and its key.
    fn localhost(&self) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivatePkcs8KeyDer::from(key.serialize_der());
        (cert.der().clone(), key.into())
    }
}

/// An HTTPS backend answering every request with `200 backend saw PATH`.
struct TlsBackend {
    port: u16,
    /// Requests it answered (so: after a completed handshake).
    requests: Arc<AtomicUsize>,
}

impl TlsBackend {
    async fn start(ca: &Ca) -> TlsBackend {
        let (cert, key) = ca.localhost();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), Arc::clone(&counted));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let answer = service_fn(move |request: hyper::Request<_>| {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let text = format!("backend saw {}", request.uri().path());
                        async move {
                            Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(
                                text,
                            ))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), answer)
                        .await;
                });
            }
        });
        TlsBackend { port, requests }
    }
}

/// Two backends without `tls.ca`, a route to each, in `dir/routes.yaml`.
fn config(dir: &Path, system: &TlsBackend, private: &TlsBackend) -> std::path::PathBuf {
    let yaml = format!(
        r#"listen: 127.0.0.1:0
admin: 127.0.0.1:0
backends:
  system-ca: {{ url: "https://localhost:{system}" }}
  private-ca: {{ url: "https://localhost:{private}" }}
routes:
  - {{ path: "/system/{{*rest}}", backend: system-ca, rewrite: {{ strip_prefix: /system }} }}
  - {{ path: "/private/{{*rest}}", backend: private-ca, rewrite: {{ strip_prefix: /private }} }}
"#,
        system = system.port,
        private = private.port,
    );
    let path = dir.join("routes.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[tokio::test]
async fn a_backend_certified_by_a_ca_of_the_system_store_is_trusted_and_another_is_not() {
    let (system_ca, private_ca) = (Ca::new(), Ca::new());
    let (system, private) = (
        TlsBackend::start(&system_ca).await,
        TlsBackend::start(&private_ca).await,
    );
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("system-store.pem");
    std::fs::write(&store, &system_ca.pem).unwrap();
    let mut command = serve_command(&config(dir.path(), &system, &private));
    command
        .env("SSL_CERT_FILE", &store)
        .env_remove("SSL_CERT_DIR");
    let gateway = Serve::spawn_with(command);
    let client = reqwest::Client::new();
    let base = format!("http://{}", gateway.listen);

    let response = client
        .get(format!("{base}/system/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "backend saw /hello");
    assert_eq!(system.requests.load(Ordering::SeqCst), 1);

    let response = client
        .get(format!("{base}/private/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "UPSTREAM_UNAVAILABLE", "{text}");
    assert_eq!(body["error"]["request_id"], request_id.as_str());
    let port = private.port.to_string();
    for internal in [
        "certificate",
        "Certificate",
        "issuer",
        "localhost",
        port.as_str(),
        "private-ca",
        "tls",
        "TLS",
    ] {
        assert!(!text.contains(internal), "{internal} leaked: {text}");
    }
    assert_eq!(private.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_system_store_without_a_usable_certificate_refuses_the_configs_that_need_it() {
    let ca = Ca::new();
    let (system, private) = (TlsBackend::start(&ca).await, TlsBackend::start(&ca).await);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-bundle.pem");
    let with_bad_store = |command: &mut std::process::Command| {
        command
            .env("SSL_CERT_FILE", &missing)
            .env_remove("SSL_CERT_DIR");
    };
    // A config with no https backend does not read the store: it starts.
    let path = dir.path().join("routes.yaml");
    std::fs::write(
        &path,
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nbackends:\n  plain: { url: \"http://127.0.0.1:9\" }\nroutes:\n  - { path: /plain, backend: plain }\n",
    )
    .unwrap();
    let mut command = serve_command(&path);
    with_bad_store(&mut command);
    let running = Serve::spawn_with(command);
    // Reloading into one that needs the store is refused, and says why.
    let https_config = config(dir.path(), &system, &private);
    let response = reqwest::Client::new()
        .post(format!("http://{}/reload", running.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "CONFIG_REJECTED", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("version 1 keeps serving"),
        "{body}"
    );
    let reason = body["error"]["errors"][0]["message"].as_str().unwrap();
    assert_store_error(reason);
    drop(running);

    // Starting with it fails with the same reason.
    let mut command = serve_command(&https_config);
    with_bad_store(&mut command);
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the gateway exits instead of serving")
        .unwrap();
    assert!(!output.status.success());
    assert_store_error(&String::from_utf8_lossy(&output.stderr));
    assert_eq!(system.requests.load(Ordering::SeqCst), 0);
}

/// `said` names a backend that needs the store, the store, and the fixes.
fn assert_store_error(said: &str) {
    for expected in [
        "has https:// URLs and no tls.ca",
        "the system's trust store (SSL_CERT_FILE=",
        "no-such-bundle.pem",
        "has no usable certificate",
        "set the backend's tls.ca",
    ] {
        assert!(said.contains(expected), "{expected:?} not in: {said}");
    }
    assert!(
        said.contains("backend \"private-ca\"") || said.contains("backend \"system-ca\""),
        "{said}"
    );
}
