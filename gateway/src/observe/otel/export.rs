//! The OTLP exporter and the thread it runs on. An `https://` endpoint
//! is reached with the TLS client the gateway's `https://` backends use
//! (rustls on ring: `tracing.exporter.tls`'s CA, else the system's trust
//! store; its SNI name and client certificate), over tonic's channel for
//! gRPC (ALPN `h2`) and the hyper client for OTLP/HTTP.
//!
//! The batch span processor exports from a thread of its own, outside any
//! tokio runtime, while both OTLP clients need one: tonic's channel and
//! the gateway's hyper client. So the pipeline starts one small
//! current-thread runtime on a dedicated thread (`otel-export`) that
//! serves every export; a serving worker never does export I/O, and the
//! runtime outlives whichever runtime installed the pipeline (tests start
//! one per test).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::{
    Protocol, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::OtelError;
use crate::config::model::{ExporterSettings, OtlpProtocol};
use crate::tls::{system_roots, upstream};

/// A collector's answer is small; anything larger is refused.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The `otel-export` thread and its runtime; stopped when dropped.
#[derive(Debug)]
pub(super) struct ExportRuntime {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ExportRuntime {
    pub(super) fn start() -> Result<Self, OtelError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(OtelError::Runtime)?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("otel-export".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(OtelError::Runtime)?;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Builds the configured exporter inside the runtime (tonic's channel
    /// spawns its worker there).
    pub(super) fn exporter(&self, settings: &ExporterSettings) -> Result<SpanExporter, OtelError> {
        let _entered = self.handle.enter();
        let built = match settings.protocol {
            OtlpProtocol::Grpc if settings.uses_tls() => {
                // The channel is given the `http://` form of the URL, so
                // that tonic (which has a TLS layer of its own in some
                // builds) leaves the connection to this connector, which
                // speaks TLS whatever the scheme.
                let connector = TlsWhateverTheScheme(connector(settings, b"h2")?);
                let channel = tonic::transport::Endpoint::from(cleartext_form(&settings.endpoint)?)
                    .connect_timeout(settings.timeout)
                    .timeout(settings.timeout)
                    .connect_with_connector_lazy(connector);
                SpanExporter::builder()
                    .with_tonic()
                    .with_channel(channel)
                    .with_timeout(settings.timeout)
                    .with_metadata(metadata(&settings.headers))
                    .build()
            }
            OtlpProtocol::Grpc => SpanExporter::builder()
                .with_tonic()
                .with_endpoint(settings.endpoint.clone())
                .with_timeout(settings.timeout)
                .with_metadata(metadata(&settings.headers))
                .build(),
            OtlpProtocol::HttpProtobuf => SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(settings.endpoint.clone())
                .with_timeout(settings.timeout)
                .with_headers(settings.headers.iter().cloned().collect::<HashMap<_, _>>())
                .with_http_client(RuntimeHttpClient {
                    handle: self.handle.clone(),
                    client: Client::builder(TokioExecutor::new())
                        .build(connector(settings, b"http/1.1")?),
                    timeout: settings.timeout,
                })
                .build(),
        };
        built.map_err(|error| OtelError::Exporter(error.to_string()))
    }
}

/// `endpoint` with the `http` scheme (see [`TlsWhateverTheScheme`]).
fn cleartext_form(endpoint: &str) -> Result<http::Uri, OtelError> {
    let invalid = |error: &dyn std::fmt::Display| OtelError::Exporter(error.to_string());
    let mut parts = endpoint
        .parse::<http::Uri>()
        .map_err(|error| invalid(&error))?
        .into_parts();
    parts.scheme = Some(http::uri::Scheme::HTTP);
    http::Uri::from_parts(parts).map_err(|error| invalid(&error))
}

/// TCP, and TLS for an `https://` endpoint with `tls:`'s CA (else the
/// system's trust store), SNI name and client certificate, offering
/// `alpn`: the same TLS client the gateway's `https://` backends use.
fn connector(
    settings: &ExporterSettings,
    alpn: &[u8],
) -> Result<HttpsConnector<HttpConnector>, OtelError> {
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(settings.timeout));
    tcp.enforce_http(false);
    let roots = match (&settings.tls.ca, settings.uses_tls()) {
        (None, true) => Some(
            system_roots::load()
                .map_err(|error| OtelError::Exporter(format!("tracing.exporter: {error}")))?,
        ),
        // A configured CA, or a cleartext endpoint (no handshake).
        _ => None,
    };
    let config = upstream::tls_client_config(&settings.tls, roots, alpn, "the trace exporter");
    Ok(upstream::https_connector(
        tcp,
        Arc::new(config),
        settings.tls.server_name.as_deref(),
    ))
}

/// The TLS connector for URLs given to tonic in their `http://` form: it
/// connects as to the `https://` one.
#[derive(Debug, Clone)]
struct TlsWhateverTheScheme(HttpsConnector<HttpConnector>);

impl tower::Service<http::Uri> for TlsWhateverTheScheme {
    type Response = <HttpsConnector<HttpConnector> as tower::Service<http::Uri>>::Response;
    type Error = <HttpsConnector<HttpConnector> as tower::Service<http::Uri>>::Error;
    type Future = <HttpsConnector<HttpConnector> as tower::Service<http::Uri>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let mut parts = uri.into_parts();
        parts.scheme = Some(http::uri::Scheme::HTTPS);
        match http::Uri::from_parts(parts) {
            Ok(uri) => self.0.call(uri),
            // A URL that was valid with `http` is valid with `https`.
            Err(error) => Box::pin(std::future::ready(Err(error.into()))),
        }
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn metadata(headers: &[(String, String)]) -> MetadataMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        // Both were validated when the config was compiled.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    MetadataMap::from_headers(map)
}

/// OTLP/HTTP through a hyper client (TLS as the gateway's backends have
/// it), each request run on the export runtime (the caller, the batch
/// processor's thread, has none).
#[derive(Debug, Clone)]
struct RuntimeHttpClient {
    handle: Handle,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let exchange = async move {
            let response = client.request(request.map(Full::new)).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await?
                .to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        self.handle
            .spawn(async move {
                tokio::time::timeout(timeout, exchange)
                    .await
                    .map_err(|_| HttpError::from("the OTLP/HTTP export timed out"))?
            })
            .await?
    }
}
