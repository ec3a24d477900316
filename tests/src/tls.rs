//! TLS for the end-to-end tests and the TLS benchmark: a test CA that
//! issues server and client certificates (rcgen), rustls client configs
//! that trust it, raw TLS connections, and [`TlsFront`], a TLS-terminating
//! mock upstream: it sits in front of a plain mock backend (HTTP/1.1 or
//! h2c), forwards the decrypted bytes, and records every handshake (the
//! SNI name, the ALPN protocol, whether a client certificate came).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector, client};

/// The one crypto provider (the gateway's too).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
}

/// A certificate issued by a [`TestCa`], with its key.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server_cert(&self, names: &[&str]) -> Issued {
        self.issue(server_params(names))
    }

    /// A server certificate for `names` that expires at the start of
    /// the day `(year, month, day)` (UTC).
    pub fn server_cert_expiring(
        &self,
        names: &[&str],
        (year, month, day): (i32, u8, u8),
    ) -> Issued {
        let mut params = server_params(names);
        params.not_after = rcgen::date_time_ymd(year, month, day);
        self.issue(params)
    }

    /// A client certificate with `name` as its common name.
    pub fn client_cert(&self, name: &str) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert_der.clone()).expect("CA as a root");
        roots
    }

    /// Writes the CA certificate to `dir/name`.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.cert_pem).expect("write CA");
        path
    }
}

impl Issued {
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// Writes `dir/stem.pem` and `dir/stem.key`; returns their paths.
    pub fn write(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = (
            dir.join(format!("{stem}.pem")),
            dir.join(format!("{stem}.key")),
        );
        self.write_to(&cert, &key);
        (cert, key)
    }

    /// Replaces the two files (each written whole, then renamed over the
    /// old one, as deploy tools do).
    pub fn write_to(&self, cert: &Path, key: &Path) {
        for (path, text) in [(key, &self.key_pem), (cert, &self.cert_pem)] {
            let staged = path.with_extension("staged");
            std::fs::write(&staged, text).expect("write PEM");
            std::fs::rename(&staged, path).expect("rename PEM");
        }
    }
}

/// A server certificate's parameters for `names` (DNS names or IPs).
fn server_params(names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("server params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

/// routes.yaml for one TLS site: the certificate `DIR/site.pem` and its
/// key, then `tls_keys` (more lines under `server.tls`, indented four
/// spaces), the orders backend and its `GET /v1/orders/{id}` route, then
/// `routes` (more route entries, indented two spaces).
pub fn site_yaml(dir: &Path, tls_keys: &str, routes: &str) -> String {
    let dir = dir.display();
    format!(
        r#"
server:
  tls:
    certificates:
      - cert: {dir}/site.pem
        key: {dir}/site.key
{tls_keys}
backends:
  orders:
    url: $ORDERS
routes:
  - path: /v1/orders/{{id}}
    method: GET
    backend: orders
{routes}
"#
    )
}

/// A rustls client config trusting `ca`, offering `alpn`, presenting
/// `identity` when asked for a client certificate.
pub fn client_config(ca: &TestCa, alpn: &[&[u8]], identity: Option<&Issued>) -> ClientConfig {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(ca.roots());
    let mut config = match identity {
        Some(issued) => builder
            .with_client_auth_cert(vec![issued.cert_der.clone()], issued.key_der())
            .expect("client certificate"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// A TLS connection to `addr` with `server_name` as SNI.
pub async fn connect(
    addr: SocketAddr,
    server_name: &str,
    config: ClientConfig,
) -> std::io::Result<client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(server_name.to_owned()).expect("server name");
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// The leaf certificate the server presented on `stream`.
pub fn peer_leaf(stream: &client::TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .expect("a server certificate")[0]
        .clone()
}

/// A reqwest client over `config`, with `names` resolved to `addr`.
pub fn reqwest_client(config: ClientConfig, names: &[&str], addr: SocketAddr) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .redirect(reqwest::redirect::Policy::none());
    for name in names {
        builder = builder.resolve(name, addr);
    }
    builder.build().expect("reqwest client")
}

/// What a [`TlsFront`] saw of one handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
    pub client_cert: bool,
}

/// A TLS-terminating mock upstream in front of a plain backend.
pub struct TlsFront {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Handshake>>>,
}

impl TlsFront {
    /// Listens on 127.0.0.1:0 with `cert`, offering `alpn`, asking for
    /// a client certificate signed by `client_ca` when given (optional:
    /// the handshake is recorded either way), and forwards to `target`.
    pub async fn start(
        target: SocketAddr,
        cert: &Issued,
        client_ca: Option<&TestCa>,
        alpn: &[&[u8]],
    ) -> TlsFront {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = match client_ca {
            Some(ca) => builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(Arc::new(ca.roots()), provider())
                    .allow_unauthenticated()
                    .build()
                    .expect("client verifier"),
            ),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(vec![cert.cert_der.clone()], cert.key_der())
            .expect("front certificate");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind front");
        let addr = listener.local_addr().expect("front address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(Arc::new(config)),
            target,
            Arc::clone(&seen),
        ));
        TlsFront { addr, seen }
    }

    /// Every completed handshake so far.
    pub fn handshakes(&self) -> Vec<Handshake> {
        self.seen.lock().expect("handshakes").clone()
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    target: SocketAddr,
    seen: Arc<Mutex<Vec<Handshake>>>,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        let (acceptor, seen) = (acceptor.clone(), Arc::clone(&seen));
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return;
            };
            let session = tls.get_ref().1;
            seen.lock().expect("handshakes").push(Handshake {
                sni: session.server_name().map(str::to_owned),
                alpn: session.alpn_protocol().map(<[u8]>::to_vec),
                client_cert: session.peer_certificates().is_some_and(|c| !c.is_empty()),
            });
            let Ok(mut backend) = TcpStream::connect(target).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut backend).await;
        });
    }
}
