//! HTTP/1.1 over TLS for the load generator: hyper's pooled client over
//! hyper-rustls over counted TCP connections (the byte count is what the
//! sockets carry: TLS records, handshakes included).
//!
//! The client config trusts the benchmark's CA only, offers ALPN
//! `http/1.1` and sends `server_name` as SNI. Three ways to use it:
//! kept-alive connections ([`Reuse::KeepAlive`]), a new connection per
//! request with a full handshake each ([`Reuse::FullHandshake`]: the
//! client keeps no session, so it cannot resume), or a new connection per
//! request resuming a session ([`Reuse::Resumed`]: rustls's default
//! in-memory session store, which keeps the server's TLS 1.3 tickets).

use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};

use super::http::HttpClient;
use super::wire::CountingConnector;

/// The connector of a TLS [`HttpClient`].
pub type TlsConnector = HttpsConnector<CountingConnector>;

/// How a TLS client uses its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// Kept alive, one per request in flight.
    KeepAlive,
    /// A new connection per request, no session resumption.
    FullHandshake,
    /// A new connection per request, resuming a session the server gave.
    Resumed,
}

impl HttpClient<TlsConnector> {
    /// An HTTP/1.1 client over TLS trusting `roots`, with `server_name`
    /// as SNI and as the name checked in the certificate.
    pub fn tls(roots: RootCertStore, server_name: &str, reuse: Reuse) -> Self {
        let mut config = ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("rustls's default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        if reuse == Reuse::FullHandshake {
            config.resumption = Resumption::disabled();
        }
        let name = ServerName::try_from(server_name.to_owned()).expect("a DNS name");
        let counting = CountingConnector::default();
        let counter = counting.counter.clone();
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_only()
            .with_server_name_resolver(FixedServerNameResolver::new(name))
            .enable_http1()
            .wrap_connector(counting);
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_max_idle_per_host(match reuse {
            Reuse::KeepAlive => usize::MAX,
            Reuse::FullHandshake | Reuse::Resumed => 0,
        });
        HttpClient {
            client: builder.build(connector),
            counter,
        }
    }
}
